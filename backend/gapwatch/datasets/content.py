"""Reading a dataset file for what it holds: its decompressed bytes, wherever they lie.

The same content arrives in many containers: the official `.gz`, the same file re-compressed
by a package (another gzip header timestamp, another level), uncompressed, or as a member of a
tar or zip archive, itself compressed or not. A digest of the container would refuse all but one
of them, so the cache and `gapwatch datasets import` hash what `open_content` yields instead:
the bytes after gzip is undone (detected by its magic number, not by the file name).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, closing, contextmanager
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

    Args:
        path: The archive.
        kind: "tar" or "zip"; default by the file name, else tar.

    Raises:
        OSError: It cannot be read or is not an archive of its kind (tarfile.TarError and
            zipfile.BadZipFile are reported as OSError).
    """
    kind = kind or archive_kind(path) or "tar"
    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if not info.is_dir():
                        with archive.open(info) as handle:
                            yield member_name(info.filename), decompressed(handle)
            return
        with tarfile.open(path, "r:*") as tar:
            for tar_info in tar:
                if not tar_info.isfile():
                    continue
                handle = tar.extractfile(tar_info)
                if handle is not None:
                    yield member_name(tar_info.name), decompressed(handle)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as error:
        raise OSError(f"{path.name}: not a readable {kind} archive: {error}") from None


def archive_digests(
    path: Path, wanted: Iterable[str], algorithms: Iterable[str], kind: str | None = None
) -> dict[str, dict[str, str]]:
    """Digests of the decompressed bytes of the `wanted` members of a tar or zip archive (those
    it holds), in one pass: {member: {algorithm: hex}}."""
    wanted = set(wanted)
    algorithms = list(algorithms)
    found: dict[str, dict[str, str]] = {}
    for name, stream in iter_members(path, kind):
        if name in wanted and name not in found:
            found[name] = hash_stream(stream, algorithms)
    return found


class ContentReader:
    """Reads logical files from their `Location`s; keeps each tar archive open while in use, so
    that reading its members in archive order decompresses it about once."""

    def __init__(self, locations: dict[str, Location]) -> None:
        self._locations = locations
        self._stack = ExitStack()
        self._tars: dict[Path, tuple[tarfile.TarFile, dict[str, tarfile.TarInfo]]] = {}

    def __enter__(self) -> ContentReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stack.close()

    def read(self, name: str) -> bytes:
        """The decompressed bytes of logical file `name`.

        Raises:
            KeyError: No location was given for `name`.
            OSError: It cannot be read.
        """
        location = self._locations[name]
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
            members = {member_name(m.name): m for m in tar.getmembers() if m.isfile()}
            self._tars[path] = (tar, members)
        return self._tars[path]


@contextmanager
def open_location(location: Location) -> Iterator[IO[bytes]]:
    """A stream of one location's decompressed bytes (for copying it without holding it)."""
    if location.member is None:
        with location.path.open("rb") as raw:
            yield decompressed(raw)
        return
    with closing(iter_members(location.path)) as members:
        for name, stream in members:
            if name == location.member:
                yield stream
                return
    raise OSError(f"{location.path.name} holds no {location.member}")
