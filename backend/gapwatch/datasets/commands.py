"""`gapwatch datasets import | list | upload`.

`import` and `list` work on the local cache that workers read (`<data_dir>/datasets/`, the
data directory of the current settings: GAPWATCH_DATA_DIR, else ./.gapwatch), so run them on
the worker's host, or in its container (`docker compose run --rm worker gapwatch datasets
import mnist /in`). `upload` sends one's own arrays to the API. The parser imports nothing
heavy; each command imports numpy, rich or the client when it runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

OFFICIAL = ("mnist", "fashion_mnist", "cifar10", "cifar100")
# `datasets list` asks the API for uploads with this timeout: an unreachable server must not
# hold up a listing of the local cache.
LIST_TIMEOUT_S = 5.0


def register(subparsers: Any) -> None:
    """Add `datasets` (import, list, upload) to `gapwatch`'s subcommands."""
    datasets = subparsers.add_parser(
        "datasets",
        help="official datasets in the local cache (import, list) and uploads of your own arrays",
    )
    actions = datasets.add_subparsers(dest="action", required=True)

    imported = actions.add_parser(
        "import",
        help="verify a dataset's files by content and put them in the local cache",
        description="PATHs are the dataset's files, folders holding them or archives (.tar, "
        ".tar.gz, .tgz, .zip), each file gzipped or not. They are recognised by the digest of "
        "their decompressed bytes, so the official content passes whatever its compression, "
        "and nothing else does. Afterwards runs load the dataset offline.",
    )
    imported.add_argument("name", metavar="NAME", help=", ".join(OFFICIAL))
    imported.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    _data_dir_argument(imported)
    imported.set_defaults(func=cmd_import)

    listing = actions.add_parser(
        "list",
        help="each official dataset's state in the local cache, and the project's uploads",
    )
    _data_dir_argument(listing)
    _server_arguments(listing)
    listing.add_argument("--project", help="whose uploads (default: as for runs)")
    listing.set_defaults(func=cmd_list)

    upload = actions.add_parser(
        "upload",
        help="upload your own arrays (.npz or .pt holding x_train, y_train, x_test, y_test)",
    )
    upload.add_argument("path", type=Path, metavar="PATH")
    upload.add_argument("--name", help="its name in the project (default: from the file name)")
    upload.add_argument("--project", help="default: the API key's project, else 'default'")
    _server_arguments(upload)
    upload.set_defaults(func=cmd_upload)


def _data_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="the data directory whose datasets/ is the cache (default: GAPWATCH_DATA_DIR, as "
        "the worker's, else ./.gapwatch)",
    )


def _server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="API base URL (default GAPWATCH_URL, then the login config)")
    parser.add_argument("--api-key", help="default GAPWATCH_API_KEY, then the login config")


def _data_dir(args: argparse.Namespace) -> Path:
    from gapwatch.config import get_settings

    return Path(args.data_dir) if args.data_dir else get_settings().data_dir


def _fail(action: str, message: str) -> int:
    print(f"gapwatch datasets {action}: {message}", file=sys.stderr)
    return 2


def cmd_import(args: argparse.Namespace) -> int:
    from .importing import import_files
    from .official import get_source
    from .store import DatasetError

    try:
        source = get_source(args.name)
        report = import_files(source, args.paths, _data_dir(args))
    except (ValueError, DatasetError, OSError) as error:
        return _fail("import", str(error))
    for name, origin in report.stored:
        print(f"stored {name} (from {origin})")
    for reason in report.refused:
        print(f"gapwatch datasets import: refused {reason}", file=sys.stderr)
    if report.missing:
        return _fail(
            "import",
            f"{report.dataset} still lacks {', '.join(report.missing)} (in {report.folder}); "
            "give the files, folders or archives that hold them",
        )
    arrays = report.arrays
    assert arrays is not None  # complete: parsed
    shape = "×".join(str(n) for n in arrays.train_x.shape[1:])
    classes = len(set(arrays.train_y.tolist()) | set(arrays.test_y.tolist()))
    print(
        f"{report.dataset} ready in {report.folder}: {len(arrays.train_x):,} training and "
        f"{len(arrays.test_x):,} test images of {shape}, {classes} classes"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from .importing import cache_state
    from .official import SOURCES

    data_dir = _data_dir(args)
    table = Table(title=f"datasets in {data_dir / 'datasets'}", title_justify="left")
    for column in ("dataset", "state", "folder", "detail"):
        table.add_column(column, overflow="fold")
    colours = {"ready": "green", "missing": "yellow", "invalid": "red"}
    for source in SOURCES.values():
        state = cache_state(source, data_dir)
        mark = f"[{colours[state.state]}]{state.state}[/]"
        table.add_row(state.dataset, mark, str(state.folder), state.detail)
    console = Console()
    console.print(table)
    _print_uploads(console, args)
    return 0


def _print_uploads(console: Any, args: argparse.Namespace) -> None:
    """The project's uploaded datasets when an API key is configured and the API answers; else
    one line saying why they are not listed."""
    import httpx

    from gapwatch.client import GapwatchAPIError, GapwatchClient
    from gapwatch.sdk.credentials import resolve

    url, key = resolve(args.url, args.api_key)
    if key is None:
        console.print("uploads: not listed (no API key: `gapwatch login`, or --api-key)")
        return
    try:
        with GapwatchClient(url, api_key=key, timeout_s=LIST_TIMEOUT_S) as client:
            uploads = client.list_datasets(project=args.project)
    except httpx.TransportError as error:
        console.print(f"uploads: not listed (the API at {url} is not reachable: {error})")
        return
    except GapwatchAPIError as error:
        console.print(f"uploads: not listed ({url} answered {error})")
        return
    if not uploads:
        where = f" in project {args.project}" if args.project else ""
        console.print(f"uploads: none at {url}{where}")
        return
    from rich.table import Table

    table = Table(title=f"uploaded datasets at {url}", title_justify="left")
    for column in ("id", "project", "name", "x_train", "train", "test", "classes", "digest"):
        table.add_column(column, overflow="fold")
    for dataset in uploads:
        table.add_row(
            str(dataset["id"]),
            str(dataset.get("project", "")),
            dataset["name"],
            f"{_shape(dataset['shapes']['x_train'])} {dataset.get('dtype', '')}".strip(),
            f"{dataset['n_train']:,}",
            f"{dataset['n_test']:,}",
            str(len(dataset["classes"])),
            dataset["digest"][:12],
        )
    console.print(table)


def _shape(shape: list[int]) -> str:
    return "×".join(str(n) for n in shape)


def cmd_upload(args: argparse.Namespace) -> int:
    import httpx

    from gapwatch.cli import _api_client, _refusal
    from gapwatch.client import GapwatchAPIError

    if not args.path.is_file():
        return _fail("upload", f"{args.path}: no such file")
    client, url = _api_client(args)
    with client:
        try:
            dataset = client.upload_dataset(args.path, name=args.name, project=args.project)
        except GapwatchAPIError as error:
            return _refusal("datasets upload", error)
        except httpx.TransportError as error:
            return _fail("upload", f"the API at {url} is not reachable: {error}")
    print(
        f"dataset {dataset['id']} {dataset['name']!r} in project {dataset['project']}: "
        f"digest {dataset['digest']}"
    )
    for name in ("x_train", "y_train", "x_test", "y_test"):
        print(f"  {name}: {_shape(dataset['shapes'][name])}")
    classes = dataset["classes"]
    shown = ", ".join(str(c) for c in classes[:20]) + (", …" if len(classes) > 20 else "")
    print(f"  classes ({len(classes)}): {shown}")
    print(f'  in a run spec: {{"name": "custom", "dataset": {dataset["id"]}, ...}}')
    return 0
