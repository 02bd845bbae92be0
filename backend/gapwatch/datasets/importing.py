"""Putting official files that one already has into the cache, and saying what the cache holds.

`gapwatch datasets import NAME PATH...` takes files, folders and archives (tar, tar.gz, tgz,
zip), each file gzipped or not, and recognises the dataset's logical files by the digest of
their decompressed bytes, whatever they are called. An official container (the `.gz` or the
tarball exactly as served) is copied as it is; any other match is stored uncompressed under its
logical name (`store` explains the layout). A file named like a logical file whose content is
not the official one is reported and not stored. Once the dataset is complete it is parsed once,
so the first run starts from the parsed cache, offline.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import content
from .content import Location
from .store import (
    ChecksumMismatch,
    ContentFile,
    DatasetError,
    DatasetSource,
    ImageArrays,
    RemoteFile,
    copy_container,
    dataset_folder,
    find_cached,
    load_arrays,
    parsed_path,
    read_parsed_cache,
    write_verified,
)

# Files inside a folder that are never dataset files: the cache's own bookkeeping.
_SKIPPED = re.compile(r"^\.|\.verified$|\.part$|^parsed-v\d+-.*\.npz$")


@dataclass(frozen=True)
class _Candidate:
    """A file, or a member of an archive, that may hold one of the dataset's logical files."""

    label: str
    location: Location
    digests: dict[str, str]


@dataclass
class ImportReport:
    """What `import_files` did.

    Attributes:
        dataset: Its name.
        folder: The cache folder.
        stored: (what was stored, where it came from) pairs: a logical file's name or an official
            container's.
        refused: Why files that look like the dataset's were not stored.
        missing: Logical files the cache still lacks after the import.
        arrays: The parsed arrays once the dataset is complete, else None.
    """

    dataset: str
    folder: Path
    stored: list[tuple[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    arrays: ImageArrays | None = None


def import_files(
    source: DatasetSource, paths: Sequence[Path], data_dir: Path | str | None = None
) -> ImportReport:
    """Verifies the dataset's files among `paths` by content and stores them in the cache.

    Args:
        source: The dataset.
        paths: Files, folders (searched recursively) and archives.
        data_dir: See `store.resolve_data_dir`.

    Returns:
        The report; `missing` is empty and `arrays` set once the cache holds the whole dataset.

    Raises:
        DatasetError: A path does not exist, or the complete dataset cannot be parsed.
    """
    folder = dataset_folder(source, data_dir)
    report = ImportReport(source.name, folder)
    containers: dict[str, tuple[RemoteFile, Path]] = {}
    members: dict[str, tuple[ContentFile, _Candidate]] = {}
    for path in _expand(paths):
        container = _official_container(source, path)
        if container is not None:
            containers.setdefault(container.name, (container, path))
            continue
        for candidate in _candidates(path, source.algorithms, report.refused):
            _match(source, candidate, members, report.refused)
    for file, path in containers.values():
        copy_container(path, folder / file.name, file)
        report.stored.append((file.name, str(path)))
    covered = {m.name for file, _ in containers.values() for m in file.members}
    _store_members(folder, [mc for name, mc in members.items() if name not in covered], report)
    try:
        found = find_cached(source, folder)
    except ChecksumMismatch as error:  # something else in the cache is wrong
        report.refused.append(str(error))
        found = {}
    report.missing = [m.name for m in source.contents if m.name not in found]
    if not report.missing:
        report.arrays = load_arrays(source, data_dir)
    return report


def _expand(paths: Iterable[Path]) -> Iterator[Path]:
    """Each file named, and each file under each folder named (sorted, hidden ones skipped)."""
    for path in paths:
        if path.is_dir():
            for root, folders, files in os.walk(path):
                folders[:] = sorted(f for f in folders if not f.startswith("."))
                for name in sorted(files):
                    if not _SKIPPED.search(name):
                        yield Path(root) / name
        elif path.is_file():
            yield path
        else:
            raise DatasetError(f"{path}: no such file or folder")


def _official_container(source: DatasetSource, path: Path) -> RemoteFile | None:
    """The official file that `path` is byte for byte (size first, then SHA-256), if any."""
    size = path.stat().st_size
    sized = [file for file in source.files if file.size == size]
    if not sized:
        return None  # no official file has its size: nothing to hash
    sha256 = content.file_sha256(path)
    return next((file for file in sized if file.sha256 == sha256), None)


def _candidates(path: Path, algorithms: Iterable[str], refused: list[str]) -> list[_Candidate]:
    """`path` itself, or each member of it when it is an archive, with its content digests.
    An archive is read whole first: one that cannot be (two members under one name, say) is
    refused with none of its members taken."""
    try:
        if content.archive_kind(path) is None:
            digests = content.content_digests(path, algorithms)
            return [_Candidate(str(path), Location(path), digests)]
        return [
            _Candidate(
                f"{path}:{name}", Location(path, name), content.hash_stream(stream, algorithms)
            )
            for name, stream in content.iter_members(path)
        ]
    except OSError as error:
        refused.append(f"{path}: cannot be read: {error}")
        return []


def _normal(name: str) -> str:
    """A file name compared loosely: base name, no .gz, '.' and '-' alike, lower case
    ("train-images.idx3-ubyte.gz" and "train-images-idx3-ubyte" are the same name)."""
    base = name.rsplit("/", 1)[-1].lower()
    base = base.removesuffix(".gz")
    return base.replace(".", "-")


def _match(
    source: DatasetSource,
    candidate: _Candidate,
    members: dict[str, tuple[ContentFile, _Candidate]],
    refused: list[str],
) -> None:
    """Records which logical file `candidate` holds; a candidate named like one but holding
    other content is refused with both digests."""
    for member in source.contents:
        if candidate.digests.get(member.algorithm) == member.digest:
            members.setdefault(member.name, (member, candidate))
            return
    for member in source.contents:
        if _normal(candidate.label) == _normal(member.name):
            actual = candidate.digests[member.algorithm]
            refused.append(
                f"{candidate.label}: {member.algorithm.upper()} of its content is {actual}, not "
                f"the official {member.name}'s {member.digest}"
            )
            return


def _store_members(
    folder: Path, matched: list[tuple[ContentFile, _Candidate]], report: ImportReport
) -> None:
    """Writes each matched logical file into the cache, one pass per archive."""
    by_archive: dict[Path, dict[str, ContentFile]] = {}
    for member, candidate in matched:
        if candidate.location.member is None:
            with content.open_location(candidate.location) as stream:
                write_verified(folder / member.name, stream, member)
            report.stored.append((member.name, candidate.label))
        else:
            wanted = by_archive.setdefault(candidate.location.path, {})
            wanted[candidate.location.member] = member
    for archive, wanted in by_archive.items():
        for name, stream in content.iter_members(archive):
            member = wanted.pop(name, None)
            if member is not None:
                write_verified(folder / member.name, stream, member)
                report.stored.append((member.name, f"{archive}:{name}"))


@dataclass(frozen=True)
class CacheState:
    """What the cache holds of one dataset.

    Attributes:
        dataset: Its name.
        folder: Its cache folder.
        state: "ready" (a run loads it offline), "missing" (files are absent: a run would try
            to download them) or "invalid" (something there is not the official content).
        detail: In words.
    """

    dataset: str
    folder: Path
    state: str
    detail: str


def cache_state(source: DatasetSource, data_dir: Path | str | None = None) -> CacheState:
    """The dataset's state in the cache, without downloading anything (hashing only files that
    have no current `.verified` marker)."""
    folder = dataset_folder(source, data_dir)
    parsed = parsed_path(source, folder)
    foreign = None
    if parsed.is_file():
        arrays, foreign = read_parsed_cache(source, parsed)
        if arrays is not None:
            return CacheState(source.name, folder, "ready", "parsed, from the official content")
    try:
        found = find_cached(source, folder)
    except ChecksumMismatch as error:
        files = ", ".join(str(p.relative_to(folder)) for p in error.paths)
        detail = f"other content than the official in {files} (delete, or import)"
        return CacheState(source.name, folder, "invalid", detail)
    missing = [m.name for m in source.contents if m.name not in found]
    if not missing:
        return CacheState(source.name, folder, "ready", "verified files (parsed at first use)")
    if foreign:
        detail = f"{parsed.name} is not used ({foreign}), and no files to rebuild it from"
        return CacheState(source.name, folder, "invalid", detail)
    if not found:
        return CacheState(source.name, folder, "missing", "nothing cached")
    return CacheState(source.name, folder, "missing", f"lacks {', '.join(missing)}")
