"""The dataset cache: download once, verify SHA-256, keep the verified files and a parsed copy.

Layout under `<data_dir>/datasets/<dataset>/`:
- the original files, each written by an atomic rename only after its size and SHA-256 matched;
- `<file>.verified`, a marker with the digest, size and mtime the file had when it was hashed, so
  that a later run skips re-hashing 170 MB unless the file changed;
- `parsed-v<N>-<digest>.npz`, the uint8 arrays parsed from the verified files (the digest names
  the sources, so new source files never reuse an old parse); loading it takes well under a
  second, parsing gzip or pickles takes several.

Several workers may share one cache: every write goes to a temporary file in the same folder and
is renamed into place, so a reader sees a whole file or none.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DATA_DIR_ENV = "GAPWATCH_DATA_DIR"
DEFAULT_DATA_DIR = Path(".gapwatch")
# Base URLs tried before the official ones: `<mirror>/<dataset>/<file>`; file:// works, so an
# offline site can point it at a folder. Several may be given, separated by commas or spaces.
MIRROR_ENV = "GAPWATCH_DATASET_MIRROR"
# "1": download only from the mirrors, never from the official hosts (air-gapped sites, tests).
OFFLINE_ENV = "GAPWATCH_DATASET_OFFLINE"
PARSED_FORMAT = 1
DOWNLOAD_TIMEOUT_S = 60
_CHUNK = 1 << 20


class DatasetError(RuntimeError):
    """A dataset cannot be provided; the message says why and is meant for the run's error."""


class DatasetUnavailable(DatasetError):
    """A dataset file is neither in the cache nor downloadable."""

    def __init__(self, dataset: str, reason: str):
        super().__init__(f"dataset {dataset} not in cache and download failed: {reason}")
        self.dataset = dataset
        self.reason = reason


class ChecksumMismatch(DatasetError):
    """A file in the cache is not the file its SHA-256 says it should be."""


@dataclass(frozen=True)
class RemoteFile:
    """One original file of a dataset.

    Attributes:
        name: File name, the same in the cache, on the official server and on mirrors.
        sha256: Hex digest of the whole file.
        size: Size in bytes.
    """

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ImageArrays:
    """A dataset's images and labels as parsed from its original files.

    Attributes:
        train_x: uint8, shape (n_train, channels, height, width).
        train_y: int64 class ids, shape (n_train,).
        test_x: uint8, shape (n_test, channels, height, width).
        test_y: int64 class ids, shape (n_test,).
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


Parser = Callable[[dict[str, Path]], ImageArrays]


@dataclass(frozen=True)
class DatasetSource:
    """Where a dataset comes from and how its files become arrays.

    Attributes:
        name: Cache folder and name in messages ("mnist").
        files: The original files, with their digests.
        base_urls: Official locations, tried in order after any mirror; each ends with "/".
        parse: Turns {file name: verified local path} into arrays.
    """

    name: str
    files: tuple[RemoteFile, ...]
    base_urls: tuple[str, ...]
    parse: Parser


def resolve_data_dir(data_dir: Path | str | None = None) -> Path:
    """The folder whose `datasets/` subfolder is the cache: the argument, else $GAPWATCH_DATA_DIR,
    else ./.gapwatch (the embedded service's default data directory)."""
    if data_dir is not None:
        return Path(data_dir)
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def load_arrays(source: DatasetSource, data_dir: Path | str | None = None) -> ImageArrays:
    """Returns a dataset's arrays, downloading, verifying and parsing only what is not cached.

    Args:
        source: The dataset.
        data_dir: See `resolve_data_dir`.

    Raises:
        DatasetUnavailable: If a file is missing and no URL delivered it with the right digest.
        ChecksumMismatch: If a file already in the cache has the wrong digest.
        DatasetError: If a verified file cannot be parsed.
    """
    folder = resolve_data_dir(data_dir) / "datasets" / source.name
    parsed = folder / _parsed_name(source)
    if parsed.is_file():
        try:
            return _read_parsed(parsed)
        except (OSError, ValueError, KeyError) as error:  # damaged: parse again
            log.warning("ignoring unreadable parsed cache %s: %s", parsed, error)
    paths = {file.name: ensure_file(source, file, folder) for file in source.files}
    try:
        arrays = source.parse(paths)
    except (OSError, ValueError, KeyError, EOFError) as error:
        raise DatasetError(f"dataset {source.name}: cannot parse its files: {error}") from error
    try:
        _write_parsed(parsed, arrays)
    except OSError as error:  # a read-only or full cache still serves this run
        log.warning("could not cache the parsed %s at %s: %s", source.name, parsed, error)
    return arrays


def ensure_file(source: DatasetSource, file: RemoteFile, folder: Path) -> Path:
    """Returns the path of a verified copy of `file`, downloading it if it is not cached.

    Raises:
        DatasetUnavailable: If it is not cached and no URL delivered the right bytes.
        ChecksumMismatch: If the cached copy's digest is wrong (it is left for a human to see).
    """
    path = folder / file.name
    if path.is_file():
        if _marker_matches(path, file):
            return path
        actual = sha256_of(path)
        if actual != file.sha256:
            raise ChecksumMismatch(
                f"dataset {source.name}: cached file {path} has SHA-256 {actual}, expected "
                f"{file.sha256}; delete it to download it again"
            )
        _write_marker(path, file)
        return path
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatasetUnavailable(source.name, f"cannot create {folder}: {error}") from None
    failures = []
    for url in candidate_urls(source, file):
        try:
            _download(url, path, file)
        except _DownloadFailed as failure:
            failures.append(f"{url}: {failure}")
            log.warning("dataset %s: %s: %s", source.name, url, failure)
            continue
        _write_marker(path, file)
        return path
    raise DatasetUnavailable(source.name, "; ".join(failures) or "no URL to download from")


def candidate_urls(source: DatasetSource, file: RemoteFile) -> list[str]:
    """Mirrors from $GAPWATCH_DATASET_MIRROR first, then the official URLs (unless offline)."""
    mirrors = os.environ.get(MIRROR_ENV, "").replace(",", " ").split()
    urls = [f"{m.rstrip('/')}/{source.name}/{file.name}" for m in mirrors]
    if os.environ.get(OFFLINE_ENV, "").lower() in ("1", "true", "yes"):
        return urls
    return urls + [base + file.name for base in source.base_urls]


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _DownloadFailed(Exception):
    pass


def _download(url: str, path: Path, file: RemoteFile) -> None:
    """Streams `url` to a temporary file beside `path`, checks size and digest, renames it."""
    log.info("downloading %s (%d bytes) from %s", file.name, file.size, url)
    request = urllib.request.Request(url, headers={"User-Agent": "gapwatch-worker"})
    try:
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{file.name}.", suffix=".part"
        )
    except OSError as error:
        raise _DownloadFailed(f"cannot write to {path.parent}: {error}") from None
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(handle, "wb") as out:
            try:
                with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
                    while chunk := response.read(_CHUNK):
                        size += len(chunk)
                        if size > file.size:
                            raise _DownloadFailed(f"more than the expected {file.size} bytes")
                        digest.update(chunk)
                        out.write(chunk)
            except _DownloadFailed:
                raise
            # URLError/HTTPError (OSError), http.client errors, ValueError for a malformed URL, a
            # full disk: all mean "this URL did not work", reported in one line, no traceback.
            except Exception as error:  # noqa: BLE001
                raise _DownloadFailed(_describe(error)) from None
        if size != file.size:
            raise _DownloadFailed(f"got {size} bytes, expected {file.size}")
        if digest.hexdigest() != file.sha256:
            raise _DownloadFailed(
                f"SHA-256 mismatch: got {digest.hexdigest()}, expected {file.sha256}"
            )
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return f"{type(error).__name__}: {error}"


def _marker_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _write_marker(path: Path, file: RemoteFile) -> None:
    stat = path.stat()
    marker = {"sha256": file.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        _atomic_write_bytes(_marker_path(path), json.dumps(marker).encode())
    except OSError as error:  # the file is verified all the same; the next run hashes again
        log.warning("could not mark %s as verified: %s", path, error)


def _marker_matches(path: Path, file: RemoteFile) -> bool:
    """True if the file was hashed to `file.sha256` and has not changed size or mtime since."""
    try:
        marker = json.loads(_marker_path(path).read_text())
        stat = path.stat()
    except (OSError, ValueError):
        return False
    return marker == {"sha256": file.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _parsed_name(source: DatasetSource) -> str:
    digests = hashlib.sha256("".join(f.sha256 for f in source.files).encode()).hexdigest()
    return f"parsed-v{PARSED_FORMAT}-{digests[:16]}.npz"


_ARRAY_NAMES: Sequence[str] = ("train_x", "train_y", "test_x", "test_y")


def _read_parsed(path: Path) -> ImageArrays:
    with np.load(path, allow_pickle=False) as data:
        return ImageArrays(**{name: data[name] for name in _ARRAY_NAMES})


def _write_parsed(path: Path, arrays: ImageArrays) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, **{name: getattr(arrays, name) for name in _ARRAY_NAMES})
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
