"""The dataset cache: official files verified by their content, and a parsed copy that says which
content it was built from.

Layout under `<data_dir>/datasets/<dataset>/`:
- the official containers as downloaded (`train-images-idx3-ubyte.gz`, `cifar-10-python.tar.gz`),
  or the logical files themselves as `gapwatch datasets import` stores them (uncompressed:
  `train-images-idx3-ubyte`, `cifar-10-batches-py/data_batch_1`; a `.gz` beside the name is
  read too). A file is used only once the digest of its *decompressed* bytes (of each member,
  for an archive) equals the official one, so the official content passes in any compression
  and anything else is refused. An archive holding two members under one name is refused;
- `<file>.verified`, a marker with the digests a file was found to have and its size and mtime
  then, so that a later run skips re-hashing 170 MB unless the file changed. An official
  container passes at once by the SHA-256 of its own bytes (the fast path); any other one is
  checked member by member. A marker only spares the check of a whole file: the parser's
  reader (`ContentReader`) hashes the bytes it hands over once more, so what is parsed is
  always what the official digest names;
- `parsed-v<N>-<digest>.npz`, the arrays parsed from verified files, recording the content
  digest they were built from (`content_digest`) and the digest of the arrays themselves
  (`arrays_digest`, as `arrays.array_digest` computes it). It is used only when the first
  equals the content the dataset's source expects, the second equals the arrays it holds, and
  the arrays have the structure the source knows its data to have (`DatasetSource.expected`:
  row counts, image shape, label range; dtypes and ranks always). Otherwise it is ignored and
  rebuilt from the verified files (or, without them, the error names it).

What these checks are for: a cache that is not what it claims to be, by mistake or damage: a
file of another dataset or another version under the expected name, a parse copied from
elsewhere or made by hand (the issue's 8,004 foreign images as "mnist"), a file edited,
truncated or changed under its marker. They are not a defence against someone who may write
the cache folder on purpose: whoever can plant a parse there can also write markers, and the
code that reads them. The digests in a parse are recorded beside the arrays, so they prove its
integrity, not its origin; the known structure is what keeps a foreign parse that records the
right (public, constant) content digest from being used.

Several workers may share one cache: every write goes to a temporary file in the same folder and
is renamed into place, so a reader sees a whole file or none.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np

from . import content
from .arrays import array_digest
from .content import ContentReader, Location

log = logging.getLogger(__name__)

DATA_DIR_ENV = "GAPWATCH_DATA_DIR"
DEFAULT_DATA_DIR = Path(".gapwatch")
# Base URLs tried before the official ones: `<mirror>/<dataset>/<file>`; file:// works, so an
# offline site can point it at a folder. Several may be given, separated by commas or spaces.
MIRROR_ENV = "GAPWATCH_DATASET_MIRROR"
# "1": download only from the mirrors, never from the official hosts (air-gapped sites, tests).
OFFLINE_ENV = "GAPWATCH_DATASET_OFFLINE"
# 3: the parsed cache also records the digest of its arrays; 2 recorded only the content digest
# it was built from, 1 nothing.
PARSED_FORMAT = 3
MARKER_FORMAT = 2
DOWNLOAD_TIMEOUT_S = 60
# A mirror may serve the official content compressed otherwise (or not at all): a download may
# be this many times the official container's size before it is cut off.
DOWNLOAD_SLACK = 8
_CHUNK = 1 << 20


def import_command(dataset: str) -> str:
    """The command that puts a copy of a dataset's files into the cache."""
    return f"gapwatch datasets import {dataset} PATH"


class DatasetError(RuntimeError):
    """A dataset cannot be provided; the message says why and is meant for the run's error."""


class DatasetUnavailable(DatasetError):
    """A dataset file is neither in the cache nor downloadable.

    The message is "dataset <name> not in cache and download failed: <reason>; to use a copy of
    its files, run: gapwatch datasets import <name> PATH" (the dashboard recognises its start).
    """

    def __init__(self, dataset: str, reason: str):
        super().__init__(
            f"dataset {dataset} not in cache and download failed: {reason}; to use a copy of its "
            f"files, run: {import_command(dataset)}"
        )
        self.dataset = dataset
        self.reason = reason


class ChecksumMismatch(DatasetError):
    """A file in the cache does not hold the content its official digest says it should.

    Attributes:
        paths: The files at fault (for a short listing; the message names each digest).
    """

    def __init__(self, message: str, paths: Iterable[Path] = ()):
        super().__init__(message)
        self.paths = sorted(set(paths))


@dataclass(frozen=True)
class ContentFile:
    """One logical file of a dataset, named and verified by its decompressed bytes.

    Attributes:
        name: "train-images-idx3-ubyte", or a member path inside an archive
            ("cifar-10-batches-py/data_batch_1"); also its name in the cache once imported.
        digest: Hex digest of its bytes, uncompressed.
        algorithm: hashlib name of that digest ("sha256"; "md5" where that is all that is
            published).
    """

    name: str
    digest: str
    algorithm: str = "sha256"

    @property
    def key(self) -> str:
        """The digest as markers record it: "<algorithm>:<hex>"."""
        return f"{self.algorithm}:{self.digest}"


@dataclass(frozen=True)
class RemoteFile:
    """One official file of a dataset as it is served, and the logical files it holds.

    Attributes:
        name: File name, the same in the cache, on the official server and on mirrors.
        sha256: Hex digest of the whole file as served (the fast path: such a file passes
            without being decompressed).
        size: Size in bytes as served.
        members: What it holds: for a `.gz`, its one decompressed file; for a tarball, the
            members a parser reads.
    """

    name: str
    sha256: str
    size: int
    members: tuple[ContentFile, ...] = field(default=())

    @property
    def archive_kind(self) -> str | None:
        """The archive kind: "tar" for a tarball, None for a single (gzipped) file."""
        return content.archive_kind(Path(self.name))

    @property
    def is_archive(self) -> bool:
        return self.archive_kind is not None


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


# Reads the source's logical files (ContentReader.read(name) -> bytes) and returns the arrays.
Parser = Callable[[ContentReader], ImageArrays]


@dataclass(frozen=True)
class Structure:
    """What a dataset's arrays are known to be, beyond uint8 images (N, C, H, W) and int64
    labels (N,).

    Attributes:
        train: Rows of train_x and train_y.
        test: Rows of test_x and test_y.
        sample: Shape of one image, (channels, height, width).
        classes: Labels lie in 0 .. classes - 1.
    """

    train: int
    test: int
    sample: tuple[int, ...]
    classes: int


@dataclass(frozen=True)
class DatasetSource:
    """Where a dataset comes from and how its files become arrays.

    Attributes:
        name: Cache folder and name in messages ("mnist").
        files: The official files, with their digests and the logical files they hold.
        base_urls: Official locations, tried in order after any mirror; each ends with "/".
        parse: Turns the verified logical files into arrays.
        expected: The structure of its arrays (a parse that differs is refused); None checks
            only dtypes and ranks (a source whose sizes are not fixed, such as a test's).
    """

    name: str
    files: tuple[RemoteFile, ...]
    base_urls: tuple[str, ...]
    parse: Parser
    expected: Structure | None = None

    @property
    def contents(self) -> tuple[ContentFile, ...]:
        return tuple(member for file in self.files for member in file.members)

    @property
    def algorithms(self) -> frozenset[str]:
        return frozenset(member.algorithm for member in self.contents)


def content_digest(source: DatasetSource) -> str:
    """One hex SHA-256 naming a dataset's whole content: over each logical file's name and
    digest, in name order. Containers do not enter it: re-compressed files give the same."""
    lines = sorted(f"{m.name} {m.key}" for m in source.contents)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def resolve_data_dir(data_dir: Path | str | None = None) -> Path:
    """The folder whose `datasets/` subfolder is the cache: the argument, else $GAPWATCH_DATA_DIR,
    else ./.gapwatch (the embedded service's default data directory)."""
    if data_dir is not None:
        return Path(data_dir)
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def dataset_folder(source: DatasetSource, data_dir: Path | str | None = None) -> Path:
    """`<data_dir>/datasets/<name>/`, the dataset's cache."""
    return resolve_data_dir(data_dir) / "datasets" / source.name


def parsed_path(source: DatasetSource, folder: Path) -> Path:
    """The parsed cache's file: its name holds the format and the start of the content digest,
    so a new format or new content never reuses an old parse."""
    return folder / f"parsed-v{PARSED_FORMAT}-{content_digest(source)[:16]}.npz"


def load_arrays(source: DatasetSource, data_dir: Path | str | None = None) -> ImageArrays:
    """Returns a dataset's arrays, downloading, verifying and parsing only what is not cached.

    Args:
        source: The dataset.
        data_dir: See `resolve_data_dir`.

    Raises:
        DatasetUnavailable: If a file is missing and no URL delivered the official content
            (the message also names a parsed cache that was there and refused).
        ChecksumMismatch: If a file already in the cache holds other content (found by its
            check, or as the parser's reader hashed what it read).
        DatasetError: If verified files cannot be parsed, or do not parse to the source's
            known structure.
    """
    folder = dataset_folder(source, data_dir)
    parsed = parsed_path(source, folder)
    rejected = None
    if parsed.is_file():
        arrays, why = read_parsed_cache(source, parsed)
        if arrays is not None:
            return arrays
        rejected = f"the parsed cache {parsed} is not used: {why}"
        log.warning("dataset %s: %s", source.name, rejected)
    try:
        locations = locate_contents(source, folder)
    except DatasetUnavailable as error:
        if rejected is None:
            raise
        raise DatasetUnavailable(source.name, f"{error.reason}; {rejected}") from None
    digests = {m.name: (m.algorithm, m.digest) for m in source.contents}
    try:
        with ContentReader(locations, digests) as reader:
            arrays = source.parse(reader)
    except content.ContentMismatch as error:  # changed since it was checked (or marked)
        path = error.location.path
        with contextlib.suppress(OSError):  # the next check hashes it again
            _marker_path(path).unlink(missing_ok=True)
        raise ChecksumMismatch(
            f"dataset {source.name}: {error}. Delete such a file to download the official one "
            f"again, or run: {import_command(source.name)}",
            [path],
        ) from None
    except (OSError, ValueError, KeyError, EOFError) as error:
        raise DatasetError(f"dataset {source.name}: cannot parse its files: {error}") from error
    problem = structure_problem(arrays, source.expected)
    if problem is not None:
        raise DatasetError(
            f"dataset {source.name}: its verified files do not parse to its known structure: "
            f"{problem}"
        )
    try:
        _write_parsed(parsed, arrays, content_digest(source))
    except OSError as error:  # a read-only or full cache still serves this run
        log.warning("could not cache the parsed %s at %s: %s", source.name, parsed, error)
    return arrays


_ARRAY_NAMES: Sequence[str] = ("train_x", "train_y", "test_x", "test_y")
_DIGEST_KEY = "content_digest"
_ARRAYS_DIGEST_KEY = "arrays_digest"


def arrays_digest(arrays: ImageArrays) -> str:
    """`arrays.array_digest` of the four arrays (train_x as its x_train, and so on): a SHA-256
    over each one's name, dtype, shape and bytes."""
    return array_digest(
        {
            "x_train": arrays.train_x,
            "y_train": arrays.train_y,
            "x_test": arrays.test_x,
            "y_test": arrays.test_y,
        }
    )


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def structure_problem(arrays: ImageArrays, expected: Structure | None) -> str | None:
    """What is wrong with the arrays as a dataset of structure `expected`, or None.

    Always: uint8 images of rank 4 (N, C, H, W) with one shape of image for train and test,
    int64 labels of rank 1, one label per image. With `expected`, also its row counts, its image
    shape and its label range.
    """
    splits = {"training": (arrays.train_x, arrays.train_y), "test": (arrays.test_x, arrays.test_y)}
    for split, (x, y) in splits.items():
        prefix = "train" if split == "training" else "test"
        if x.dtype != np.uint8 or x.ndim != 4:
            return f"{prefix}_x is {x.dtype} of shape {x.shape}, expected uint8 (N, C, H, W)"
        if y.dtype != np.int64 or y.ndim != 1:
            return f"{prefix}_y is {y.dtype} of shape {y.shape}, expected int64 (N,)"
        if len(x) != len(y):
            return f"{len(x)} {split} images but {len(y)} labels"
    if arrays.train_x.shape[1:] != arrays.test_x.shape[1:]:
        return (
            f"training images of {_shape(arrays.train_x.shape[1:])} but test images of "
            f"{_shape(arrays.test_x.shape[1:])}"
        )
    if expected is None:
        return None
    rows = {"training": expected.train, "test": expected.test}
    for split, (x, y) in splits.items():
        if len(x) != rows[split]:
            return f"{len(x)} {split} images, expected {rows[split]}"
        if x.shape[1:] != tuple(expected.sample):
            return f"{split} images of {_shape(x.shape[1:])}, expected {_shape(expected.sample)}"
        if len(y) and (y.min() < 0 or y.max() >= expected.classes):
            return (
                f"{split} labels from {y.min()} to {y.max()}, expected 0 to {expected.classes - 1}"
            )
    return None


def read_parsed_cache(source: DatasetSource, path: Path) -> tuple[ImageArrays | None, str]:
    """The arrays of a parsed cache if it records the source's content digest, they have the
    source's structure and they match the digest of them it records; else None and why it is
    not used ("it was not built from the official content: ...", "its arrays are not mnist's:
    ...", "its arrays do not match the digest it records ...")."""
    expected = content_digest(source)
    try:
        with np.load(path, allow_pickle=False) as data:
            recorded = str(data[_DIGEST_KEY][()]) if _DIGEST_KEY in data.files else None
            if recorded != expected:
                said = f"content {recorded}, expected {expected}" if recorded else "no digest"
                return None, f"it was not built from the official content: it records {said}"
            arrays = ImageArrays(**{name: data[name] for name in _ARRAY_NAMES})
            has_arrays_digest = _ARRAYS_DIGEST_KEY in data.files
            recorded_arrays = str(data[_ARRAYS_DIGEST_KEY][()]) if has_arrays_digest else None
    # Damaged (a truncated .npz is a BadZipFile): parse again.
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        return None, f"it cannot be read: {error}"
    problem = structure_problem(arrays, source.expected)
    if problem is not None:
        return None, f"its arrays are not {source.name}'s: {problem}"
    if recorded_arrays is None:
        return None, "it records no digest of its arrays"
    if arrays_digest(arrays) != recorded_arrays:
        return None, "its arrays do not match the digest it records (a damaged or edited file)"
    return arrays, ""


def _write_parsed(path: Path, arrays: ImageArrays, digest: str) -> None:
    def write(out: IO[bytes]) -> None:
        named = {name: getattr(arrays, name) for name in _ARRAY_NAMES}
        recorded = {
            _DIGEST_KEY: np.array(digest),
            _ARRAYS_DIGEST_KEY: np.array(arrays_digest(arrays)),
        }
        np.savez(out, **named, **recorded)

    atomic_write(path, write)


# --- finding verified files -------------------------------------------------------------------


def locate_contents(source: DatasetSource, folder: Path) -> dict[str, Location]:
    """Where each logical file of the dataset lies, verified; downloads the official files that
    hold what the cache lacks.

    Raises:
        ChecksumMismatch: A file in the cache holds other content (it is left for a human).
        DatasetUnavailable: Something is missing and could not be downloaded.
    """
    found = find_cached(source, folder)
    lacking = [f for f in source.files if any(m.name not in found for m in f.members)]
    if not lacking:
        return found
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatasetUnavailable(source.name, f"cannot create {folder}: {error}") from None
    for file in lacking:
        located = _download_file(source, file, folder)
        found.update({name: where for name, where in located.items() if name not in found})
    return found


def find_cached(source: DatasetSource, folder: Path) -> dict[str, Location]:
    """The verified locations of the logical files the cache holds (imported files first, then
    the official containers); what it lacks is simply absent from the answer.

    Raises:
        ChecksumMismatch: A logical file is present only in files that hold other content.
    """
    found: dict[str, Location] = {}
    problems: dict[str, list[tuple[Path, str]]] = {}
    containers = {folder / f.name for f in source.files}
    for file in source.files:
        for member in file.members:
            for path in (folder / member.name, folder / f"{member.name}.gz"):
                if path in containers or not path.is_file():
                    continue
                problem = _verify_single(path, member)
                if problem is None:
                    found[member.name] = Location(path)
                    break
                problems.setdefault(member.name, []).append((path, problem))
        wanted = [m for m in file.members if m.name not in found]
        container = folder / file.name
        if wanted and container.is_file():
            located, failed = verify_container(container, file, wanted)
            found.update(located)
            for name, problem in failed.items():
                problems.setdefault(name, []).append((container, problem))
    refused = [p for name, listed in problems.items() if name not in found for p in listed]
    if refused:
        reasons = "; ".join(dict.fromkeys(p for _, p in refused))  # one file: said once
        raise ChecksumMismatch(
            f"dataset {source.name}: {reasons}. Delete such a file to "
            f"download the official one again, or run: {import_command(source.name)}",
            [path for path, _ in refused],
        )
    return found


def _verify_single(path: Path, member: ContentFile) -> str | None:
    """None if the file (gzip or not) holds `member`'s content; else what it holds instead."""
    marker = _read_marker(path)
    if marker is not None and marker["contents"].get(member.name) == member.key:
        return None
    try:
        actual = content.content_digests(path, [member.algorithm])[member.algorithm]
    except OSError as error:
        return f"cached file {path} cannot be read: {error}"
    if actual != member.digest:
        return _differs(path, member, actual)
    _write_marker(path, sha256=None, contents={member.name: member.key})
    return None


def _differs(where: Path | Location, member: ContentFile, actual: str) -> str:
    return (
        f"cached file {where} has {member.algorithm.upper()} {actual} (of its decompressed "
        f"content), expected {member.digest}, the official {member.name}"
    )


def verify_container(
    path: Path, file: RemoteFile, wanted: Iterable[ContentFile], *, mark: bool = True
) -> tuple[dict[str, Location], dict[str, str]]:
    """Which of the `wanted` logical files an official file's copy holds: by its own SHA-256
    when it is the official container, else by the digest of each member's content.

    Returns:
        {name: location} of those it holds, and {name: why not} of the others.
    """
    wanted = list(wanted)

    def where(member: ContentFile) -> Location:
        return _member_location(path, file, member)

    marker = _read_marker(path)
    if marker is not None:
        if marker["sha256"] == file.sha256 or all(
            marker["contents"].get(m.name) == m.key for m in wanted
        ):
            return {m.name: where(m) for m in wanted}, {}
    try:
        sha256 = content.file_sha256(path)
        if sha256 == file.sha256:
            if mark:
                _write_marker(path, sha256=sha256, contents={})
            return {m.name: where(m) for m in wanted}, {}
        algorithms = {m.algorithm for m in wanted}
        if file.is_archive:
            names = [m.name for m in wanted]
            digests = content.archive_digests(path, names, algorithms, kind=file.archive_kind)
        else:  # a .gz holds one file, gzip or not
            digests = {m.name: content.content_digests(path, algorithms) for m in wanted}
    except OSError as error:
        return {}, {m.name: f"cached file {path} cannot be read: {error}" for m in wanted}
    located: dict[str, Location] = {}
    failed: dict[str, str] = {}
    for member in wanted:
        actual = digests.get(member.name, {}).get(member.algorithm)
        if actual == member.digest:
            located[member.name] = where(member)
        elif actual is None:
            failed[member.name] = f"cached file {path} lacks {member.name}"
        else:
            failed[member.name] = _differs(where(member), member, actual)
    if located and mark:
        _write_marker(
            path, sha256=sha256, contents={m.name: m.key for m in wanted if m.name in located}
        )
    return located, failed


def _member_location(path: Path, file: RemoteFile, member: ContentFile) -> Location:
    return Location(path, member.name if file.is_archive else None)


# --- downloads --------------------------------------------------------------------------------


def candidate_urls(source: DatasetSource, file: RemoteFile) -> list[str]:
    """Mirrors from $GAPWATCH_DATASET_MIRROR first, then the official URLs (unless offline)."""
    mirrors = os.environ.get(MIRROR_ENV, "").replace(",", " ").split()
    urls = [f"{m.rstrip('/')}/{source.name}/{file.name}" for m in mirrors]
    if os.environ.get(OFFLINE_ENV, "").lower() in ("1", "true", "yes"):
        return urls
    return urls + [base + file.name for base in source.base_urls]


def _download_file(source: DatasetSource, file: RemoteFile, folder: Path) -> dict[str, Location]:
    """Downloads `file` from the first URL that delivers its official content.

    Raises:
        DatasetUnavailable: No URL did.
    """
    path = folder / file.name
    failures = []
    for url in candidate_urls(source, file):
        try:
            return _download(url, path, file)
        except _DownloadFailed as failure:
            failures.append(f"{url}: {failure}")
            log.warning("dataset %s: %s: %s", source.name, url, failure)
    raise DatasetUnavailable(source.name, "; ".join(failures) or "no URL to download from")


class _DownloadFailed(Exception):
    pass


def _download(url: str, path: Path, file: RemoteFile) -> dict[str, Location]:
    """Streams `url` to a temporary file beside `path`, checks its digest (the container's, else
    its members' content), renames it into place and marks it verified."""
    limit = file.size * DOWNLOAD_SLACK
    log.info("downloading %s (%d bytes) from %s", file.name, file.size, url)
    request = urllib.request.Request(url, headers={"User-Agent": "gapwatch-worker"})
    try:
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{file.name}.", suffix=".part")
    except OSError as error:
        raise _DownloadFailed(f"cannot write to {path.parent}: {error}") from None
    temporary = Path(name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(handle, "wb") as out:
            try:
                with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
                    while chunk := response.read(_CHUNK):
                        size += len(chunk)
                        if size > limit:
                            raise _DownloadFailed(
                                f"more than {limit} bytes, expected {file.size} (or the same "
                                "content compressed otherwise)"
                            )
                        digest.update(chunk)
                        out.write(chunk)
            except _DownloadFailed:
                raise
            # URLError/HTTPError (OSError), http.client errors, ValueError for a malformed URL, a
            # full disk: all mean "this URL did not work", reported in one line, no traceback.
            except Exception as error:  # noqa: BLE001
                raise _DownloadFailed(_describe(error)) from None
        sha256 = digest.hexdigest()
        official = sha256 == file.sha256
        if not official:  # accepted only if it holds the official content, otherwise packed
            _, failed = verify_container(temporary, file, file.members, mark=False)
            if failed:  # said once each, of what was served rather than the temporary file
                reasons = "; ".join(dict.fromkeys(failed.values()))
                reasons = reasons.replace(str(temporary), url).replace(temporary.name, file.name)
                raise _DownloadFailed(
                    f"SHA-256 mismatch: got {sha256}, expected {file.sha256}, and its content "
                    f"is not the official one ({reasons})"
                )
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _write_marker(
        path, sha256=sha256, contents={} if official else {m.name: m.key for m in file.members}
    )
    return {m.name: _member_location(path, file, m) for m in file.members}


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return f"{type(error).__name__}: {error}"


# --- markers and atomic writes ----------------------------------------------------------------


def _marker_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _read_marker(path: Path) -> dict | None:
    """The file's marker if it was written for the file as it is now (same size and mtime)."""
    try:
        marker = json.loads(_marker_path(path).read_text())
        stat = path.stat()
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("format") != MARKER_FORMAT:
        return None
    if (marker.get("size"), marker.get("mtime_ns")) != (stat.st_size, stat.st_mtime_ns):
        return None
    if not isinstance(marker.get("contents"), dict):
        return None
    return marker


def _write_marker(path: Path, *, sha256: str | None, contents: dict[str, str]) -> None:
    """Records what `path` was found to hold (merged with what an earlier marker recorded for
    the same bytes)."""
    earlier = _read_marker(path) or {"contents": {}, "sha256": None}
    stat = path.stat()
    marker = {
        "format": MARKER_FORMAT,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": sha256 or earlier["sha256"],
        "contents": {**earlier["contents"], **contents},
    }
    try:
        atomic_write(_marker_path(path), lambda out: out.write(json.dumps(marker).encode()))
    except OSError as error:  # the file is verified all the same; the next run hashes again
        log.warning("could not mark %s as verified: %s", path, error)


def write_verified(path: Path, source: IO[bytes], member: ContentFile) -> None:
    """Writes a logical file's bytes to `path` and marks it as holding `member`, hashing the
    bytes as they are written: what lands in the cache is what was verified.

    Raises:
        ChecksumMismatch: The bytes are not `member`'s (nothing is left behind).
    """
    path.parent.mkdir(parents=True, exist_ok=True)

    def copy(out: IO[bytes]) -> None:
        digest = content.new_hash(member.algorithm)
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
        if digest.hexdigest() != member.digest:
            raise ChecksumMismatch(_differs(path, member, digest.hexdigest()))

    atomic_write(path, copy)
    _write_marker(path, sha256=None, contents={member.name: member.key})


def copy_container(source: Path, path: Path, file: RemoteFile) -> None:
    """Copies an official container into the cache, checking its SHA-256 on the way.

    Raises:
        ChecksumMismatch: It is not the official file (nothing is left behind).
    """
    path.parent.mkdir(parents=True, exist_ok=True)

    def copy(out: IO[bytes]) -> None:
        digest = hashlib.sha256()
        with source.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != file.sha256:
            raise ChecksumMismatch(
                f"{source} has SHA-256 {digest.hexdigest()}, not the official {file.name}'s"
            )

    atomic_write(path, copy)
    _write_marker(path, sha256=file.sha256, contents={})


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Writes `path` through `write(out)` into a temporary file beside it, then renames it in:
    a reader sees the whole file or none. If `write` raises, nothing is left behind."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
