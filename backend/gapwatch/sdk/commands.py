"""The SDK's commands: `gapwatch login`, `gapwatch logout`, `gapwatch sync`.

They need only the core (no server extras): the parser imports nothing heavy, and each command
imports what it uses when it runs.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add login, logout and sync to `gapwatch`'s subcommands."""
    login = subparsers.add_parser(
        "login", help="check an API key against a server and keep both for the SDK"
    )
    login.add_argument("--url", help="the server (default $GAPWATCH_URL, else the stored one)")
    given = login.add_mutually_exclusive_group()
    given.add_argument("--key", help="the API key (visible in `ps`: prefer --key-stdin)")
    given.add_argument("--key-stdin", action="store_true", help="read the key from stdin")
    login.set_defaults(func=cmd_login)

    logout = subparsers.add_parser("logout", help="forget the stored server and API key")
    logout.set_defaults(func=cmd_logout)

    sync = subparsers.add_parser(
        "sync", help="upload offline runs (run directories, or directories holding them)"
    )
    sync.add_argument("paths", nargs="+", type=Path, metavar="DIR")
    sync.add_argument("--url", help="the server (default $GAPWATCH_URL, else the stored one)")
    sync.add_argument("-j", "--jobs", type=int, default=4, help="runs uploaded at once")
    sync.set_defaults(func=cmd_sync)


def _fail(command: str, message: str) -> int:
    print(f"gapwatch {command}: {message}", file=sys.stderr)
    return 2


def _read_key(args: argparse.Namespace) -> str | None:
    if args.key:
        return str(args.key).strip()
    if args.key_stdin:
        return sys.stdin.readline().strip()
    if sys.stdin.isatty():
        return getpass.getpass("API key: ").strip()
    return None


def cmd_login(args: argparse.Namespace) -> int:
    import httpx

    from gapwatch.client import GapwatchAPIError, GapwatchClient, NotAuthenticated
    from gapwatch.sdk.credentials import Login, resolve, save_login

    url, _stored_key = resolve(args.url)  # the server only: the key is the one given here
    key = _read_key(args)
    if not key:
        return _fail("login", "no key: give --key-stdin (or --key), or run it in a terminal")
    try:
        with GapwatchClient(url, api_key=key, timeout_s=15.0) as client:
            me = client.me()
    except NotAuthenticated:
        return _fail("login", f"{url} refused the key (invalid, expired or revoked)")
    except (httpx.HTTPError, GapwatchAPIError, ValueError) as error:
        return _fail("login", f"could not check the key at {url}: {error}")
    path = save_login(Login(url=url, api_key=key))
    projects = ", ".join(f"{p['name']} ({p['role']})" for p in me.get("projects", [])) or "none"
    print(f"signed in to {url} as {me['user']['name']}; projects: {projects}")
    print(f"key stored in {path}")
    return 0


def cmd_logout(_args: argparse.Namespace) -> int:
    from gapwatch.sdk.credentials import config_path, remove_login

    if remove_login():
        print(f"removed {config_path()}")
    else:
        print("not signed in")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from gapwatch.sdk.sync import sync_all

    try:
        results = sync_all(args.paths, url=args.url, jobs=args.jobs)
    except ValueError as error:
        return _fail("sync", str(error))
    return 1 if any(r.outcome == "error" for r in results) else 0
