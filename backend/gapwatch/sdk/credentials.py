"""Where the SDK finds its server and API key, and where `gapwatch login` keeps them.

The login is `config.json` ({"url", "api_key"}) in `$GAPWATCH_CONFIG_DIR`, else
`$XDG_CONFIG_HOME/gapwatch`, else `~/.config/gapwatch`. The file is created readable by its
owner only (0600, from the `open` call itself: there is no moment when others could read it)
in a directory of mode 0700.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from gapwatch.client import API_KEY_ENV
from gapwatch.sdk.records import write_json_atomically

CONFIG_DIR_ENV = "GAPWATCH_CONFIG_DIR"
URL_ENV = "GAPWATCH_URL"
DEFAULT_URL = "http://127.0.0.1:8000"
CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class Login:
    url: str
    api_key: str


def config_dir() -> Path:
    if os.environ.get(CONFIG_DIR_ENV):
        return Path(os.environ[CONFIG_DIR_ENV])
    if os.environ.get("XDG_CONFIG_HOME"):
        return Path(os.environ["XDG_CONFIG_HOME"]) / "gapwatch"
    return Path.home() / ".config" / "gapwatch"


def config_path() -> Path:
    return config_dir() / CONFIG_FILE


def load_login() -> Login | None:
    """The stored login, or None when there is none (or it is unreadable)."""
    try:
        stored = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or not stored.get("url") or not stored.get("api_key"):
        return None
    return Login(url=str(stored["url"]), api_key=str(stored["api_key"]))


def save_login(login: Login) -> Path:
    """Store the login (replacing any), readable by its owner only; returns the file."""
    directory = config_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / CONFIG_FILE
    write_json_atomically(path, {"url": login.url, "api_key": login.api_key}, mode=0o600)
    return path


def remove_login() -> bool:
    """Forget the stored login; False if there was none."""
    try:
        config_path().unlink()
    except FileNotFoundError:
        return False
    return True


def resolve(url: str | None = None, api_key: str | None = None) -> tuple[str, str | None]:
    """The server and the key to use.

    The server: `url`, else $GAPWATCH_URL, else the login's, else the local default. The key:
    `api_key`, else $GAPWATCH_API_KEY, else the login's, but only for the server it was
    checked against (a key of one server is never sent to another).
    """
    login = load_login()
    chosen = url or os.environ.get(URL_ENV) or (login.url if login else None) or DEFAULT_URL
    chosen = chosen.rstrip("/")
    key = api_key or os.environ.get(API_KEY_ENV)
    if not key and login is not None and login.url.rstrip("/") == chosen:
        key = login.api_key
    return chosen, key or None
