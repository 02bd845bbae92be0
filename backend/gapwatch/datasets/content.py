"""Reading a dataset file for what it holds: its decompressed bytes, wherever they lie.

The same content arrives in many containers: the official `.gz`, the same file re-compressed
by a package (another gzip header timestamp, another level), uncompressed, or as a member of a
tar or zip archive, itself compressed or not. A digest of the container would refuse all but one
of them, so the cache and `gapwatch datasets import` hash what `open_content` yields instead:
the bytes after gzip is undone (detected by its magic number, not by the file name).

An archive that holds two regular files under one name (as `member_name` spells it: "./x" and
"x" are one name) is refused wherever it is read (`DuplicateMember`): a check that hashed one
copy and a reader that returned the other would let unverified bytes through. And the reader
that parsers use (`ContentReader`) hashes the bytes it returns against the digest they must
have, whatever checked the file before: what is parsed is what was verified.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

GZIP_MAGIC = b"\x1f\x8b"
# Archive file names that `gapwatch datasets import` opens to look at their members; tarfile
# reads every one of these compressions by itself ("r:*").
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
ZIP_SUFFIXES = (".zip",)
CHUNK = 1 << 20


def member_name(name: str) -> str:
    """A member's name as the dataset sources spell it: no leading "./" or "/"."""
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


class DuplicateMember(OSError):
    """An archive holds two regular files under one name (see `member_name`)."""

    def __init__(self, path: Path, name: str):
        super().__init__(
            f'{path.name}: more than one member is named {name} ("./{name}" and "{name}" '
            "are one name); such an archive is refused, since which copy is meant is ambiguous"
        )
        self.path = path
        self.name = name


class ContentMismatch(OSError):
    """The bytes read for a logical file are not those its digest names (the file changed
    after it was checked, or the check looked at other bytes).

    Attributes:
        location: Where they were read.
        name: The logical file.
    """

    def __init__(self, location: Location, name: str, algorithm: str, actual: str, digest: str):
        super().__init__(
            f"{location} has {algorithm.upper()} {actual} (of the bytes read), expected "
            f"{digest}, the official {name}"
        )
        self.location = location
        self.name = name


def _claim(path: Path, raw_name: str, seen: set[str]) -> str:
    """`raw_name` as `member_name` spells it, added to the names `seen` in archive `path`.

    Raises:
        DuplicateMember: It was seen already.
    """
    name = member_name(raw_name)
    if name in seen:
        raise DuplicateMember(path, name)
    seen.add(name)
    return name


def _tar_files(path: Path, tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    """The regular files of an open tar archive by name (reads every header).

    Raises:
        DuplicateMember: Two share a name.
    """
    seen: set[str] = set()
    return {_claim(path, m.name, seen): m for m in tar.getmembers() if m.isfile()}


def _zip_files(path: Path, archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The files of an open zip archive by name, in archive order.

    Raises:
        DuplicateMember: Two share a name.
    """
    seen: set[str] = set()
    return {_claim(path, i.filename, seen): i for i in archive.infolist() if not i.is_dir()}


def archive_kind(path: Path) -> str | None:
    """The archive kind by the file name: "tar", "zip", or None for a single file."""
    lowered = path.name.lower()
    if lowered.endswith(TAR_SUFFIXES):
        return "tar"
    if lowered.endswith(ZIP_SUFFIXES):
        return "zip"
    return None


def decompressed(stream: IO[bytes]) -> IO[bytes]:
    """`stream` itself, or a gzip reader over it when it starts with gzip's magic number."""
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream)  # type: ignore[arg-type]
    if buffered.peek(2)[:2] == GZIP_MAGIC:  # type: ignore[attr-defined]
        return gzip.GzipFile(fileobj=buffered, mode="rb")
    return buffered


def new_hash(algorithm: str) -> hashlib._Hash:
    """A hashlib object; MD5 is only ever a content fingerprint here (CIFAR publishes no
    other), never a security decision, which FIPS-mode Pythons want said."""
    return hashlib.new(algorithm, usedforsecurity=False)


def hash_stream(stream: IO[bytes], algorithms: Iterable[str]) -> dict[str, str]:
    """Hex digests of everything `stream` yields, with each algorithm, in one pass."""
    hashes = {name: new_hash(name) for name in sorted(set(algorithms))}
    while chunk := stream.read(CHUNK):
        for digest in hashes.values():
            digest.update(chunk)
    return {name: digest.hexdigest() for name, digest in hashes.items()}


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's own bytes (the container, not its content)."""
    with path.open("rb") as handle:
        return hash_stream(handle, ["sha256"])["sha256"]


def content_digests(path: Path, algorithms: Iterable[str]) -> dict[str, str]:
    """Hex digests of a single file's decompressed bytes.

    Raises:
        OSError: It cannot be read, or it is a broken gzip stream (gzip.BadGzipFile, EOFError
            are reported as OSError).
    """
    try:
        with path.open("rb") as raw:
            return hash_stream(decompressed(raw), algorithms)
    except EOFError as error:
        raise OSError(f"{path.name}: truncated gzip stream: {error}") from None


@dataclass(frozen=True)
class Location:
    """Where a logical file's bytes are: a file (gzip or not), or a member of a tar archive.

    Attributes:
        path: The file on disk.
        member: The member of the tar archive at `path` (as `member_name` spells it), or None.
    """

    path: Path
    member: str | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)


def iter_members(path: Path, kind: str | None = None) -> Iterator[tuple[str, IO[bytes]]]:
    """Each regular file of a tar or zip archive, in archive order: (member name, its
    decompressed bytes). One sequential pass, so a .tar.gz is decompressed once.

    A zip's names are all checked before the first member is yielded; a tar's can only be
    checked as they are reached, so a duplicate raises after the members before it were
    yielded: a caller that acts on members reads the whole archive before acting on any (as
    `archive_digests` does: it returns nothing for such an archive).

    Args:
        path: The archive.
        kind: "tar" or "zip"; default by the file name, else tar.

    Raises:
        DuplicateMember: Two regular files share a name.
        OSError: It cannot be read or is not an archive of its kind (tarfile.TarError and
            zipfile.BadZipFile are reported as OSError).
    """
    kind = kind or archive_kind(path) or "tar"
    seen: set[str] = set()
    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as archive:
                for name, info in _zip_files(path, archive).items():
                    with archive.open(info) as handle:
                        yield name, decompressed(handle)
            return
        with tarfile.open(path, "r:*") as tar:
            for tar_info in tar:
                if not tar_info.isfile():
                    continue
                name = _claim(path, tar_info.name, seen)
                handle = tar.extractfile(tar_info)
                if handle is not None:
                    yield name, decompressed(handle)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as error:
        raise OSError(f"{path.name}: not a readable {kind} archive: {error}") from None


def archive_digests(
    path: Path, wanted: Iterable[str], algorithms: Iterable[str], kind: str | None = None
) -> dict[str, dict[str, str]]:
    """Digests of the decompressed bytes of the `wanted` members of a tar or zip archive (those
    it holds), in one pass: {member: {algorithm: hex}}.

    Raises:
        DuplicateMember: Two regular files share a name (nothing is returned for the archive).
        OSError: It cannot be read.
    """
    wanted = set(wanted)
    algorithms = list(algorithms)
    found: dict[str, dict[str, str]] = {}
    for name, stream in iter_members(path, kind):
        if name in wanted:  # each name occurs once (iter_members refuses the archive otherwise)
            found[name] = hash_stream(stream, algorithms)
    return found


class ContentReader:
    """Reads logical files from their `Location`s, each checked against its digest as it is
    read; keeps each tar archive open while in use, so that reading its members in archive
    order decompresses it about once.

    Args:
        locations: Where each logical file lies.
        digests: What each must hash to: {name: (hashlib algorithm, hex digest)}. A file
            without one is never read.
    """

    def __init__(
        self, locations: Mapping[str, Location], digests: Mapping[str, tuple[str, str]]
    ) -> None:
        self._locations = dict(locations)
        self._digests = dict(digests)
        self._stack = ExitStack()
        self._tars: dict[Path, tuple[tarfile.TarFile, dict[str, tarfile.TarInfo]]] = {}

    def __enter__(self) -> ContentReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stack.close()

    def read(self, name: str) -> bytes:
        """The decompressed bytes of logical file `name`, once they hash to its digest.

        Raises:
            KeyError: No location or no digest was given for `name`.
            ContentMismatch: The bytes are not those its digest names.
            DuplicateMember: Its archive holds two regular files under one name.
            OSError: It cannot be read.
        """
        location = self._locations[name]
        if name not in self._digests:
            raise KeyError(f"no digest for {name}: it is not read unverified")
        algorithm, digest = self._digests[name]
        data = self._read(location)
        hashed = new_hash(algorithm)
        hashed.update(data)
        if hashed.hexdigest() != digest:
            raise ContentMismatch(location, name, algorithm, hashed.hexdigest(), digest)
        return data

    def _read(self, location: Location) -> bytes:
        try:
            if location.member is None:
                with location.path.open("rb") as raw:
                    return decompressed(raw).read()
            tar, members = self._tar(location.path)
            if location.member not in members:
                raise OSError(f"{location.path.name} lacks {location.member}")
            handle = tar.extractfile(members[location.member])
            if handle is None:
                raise OSError(f"{location} is not a regular file")
            return decompressed(handle).read()
        except (tarfile.TarError, EOFError) as error:
            raise OSError(f"{location}: {error}") from None

    def _tar(self, path: Path) -> tuple[tarfile.TarFile, dict[str, tarfile.TarInfo]]:
        if path not in self._tars:
            tar = self._stack.enter_context(tarfile.open(path, "r:*"))
            self._tars[path] = (tar, _tar_files(path, tar))
        return self._tars[path]


@contextmanager
def open_location(location: Location) -> Iterator[IO[bytes]]:
    """A stream of one location's decompressed bytes (for copying it without holding it).

    Raises:
        DuplicateMember: The location is a member of an archive that holds two regular files
            under one name (every name is read before the member's bytes are).
        OSError: It cannot be read, or the archive lacks the member.
    """
    if location.member is None:
        with location.path.open("rb") as raw:
            yield decompressed(raw)
        return
    path, member = location.path, location.member
    kind = archive_kind(path) or "tar"
    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as archive:
                infos = _zip_files(path, archive)
                if member in infos:
                    with archive.open(infos[member]) as handle:
                        yield decompressed(handle)
                    return
        else:
            with tarfile.open(path, "r:*") as tar:
                files = _tar_files(path, tar)
                handle = tar.extractfile(files[member]) if member in files else None
                if handle is not None:
                    yield decompressed(handle)
                    return
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as error:
        raise OSError(f"{path.name}: not a readable {kind} archive: {error}") from None
    raise OSError(f"{path.name} holds no {member}")
