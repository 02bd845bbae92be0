"""Append-only files that survive a crash mid-write: framed binary records and JSON lines.

A framed record is a 12-byte header, little-endian: the magic `GWR1`, uint32 payload length,
uint32 CRC-32 of the payload; then the payload. Each record is written with one `write` call at
the end of the file, so a crash can only cut the last one short. Reading stops at a torn last
record and ignores it (its header or payload cut short, or zeros where a power loss left the
file longer than its data); a damaged record with intact records after it is corruption, an
error naming the file and offset. JSON lines work the same way: a last line without its newline
or unreadable is torn and ignored.

Points travel in these files as the API's columnar layout (`gapwatch.client.encode_columnar`),
decoded here without the server.
"""

from __future__ import annotations

import array
import json
import os
import struct
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from gapwatch.client import COLUMNAR_MAGIC, Series

MAGIC = b"GWR1"
HEADER = struct.Struct("<4sII")


class CorruptFile(ValueError):
    """A record in the middle of a file is damaged: data after it cannot be trusted to be
    what was written."""


def frame(payload: bytes) -> bytes:
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def append_record(file: IO[bytes], payload: bytes) -> None:
    """Append one record and hand it to the OS (a crash of this process loses nothing)."""
    file.write(frame(payload))
    file.flush()


def read_records(path: Path) -> Iterator[bytes]:
    """The payloads of the intact records of `path`, in order; a torn last one is skipped."""
    with path.open("rb") as file:
        offset = 0
        while True:
            head = file.read(HEADER.size)
            if len(head) < HEADER.size:
                return  # the end, or a header cut short
            magic, length, crc = HEADER.unpack(head)
            payload = file.read(length) if magic == MAGIC else b""
            if magic == MAGIC and len(payload) < length:
                return  # payload cut short
            if magic != MAGIC or zlib.crc32(payload) != crc:
                if MAGIC in file.read():
                    raise CorruptFile(f"{path}: damaged record at byte {offset}")
                return  # the damaged record is the last one: torn
            yield payload
            offset += HEADER.size + length


def append_line(file: IO[bytes], item: dict[str, Any]) -> None:
    file.write(json.dumps(item, separators=(",", ":"), allow_nan=False).encode() + b"\n")
    file.flush()


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON-lines file, in order; a torn last line is skipped."""
    with path.open("rb") as file:
        lines = file.read().split(b"\n")
    for number, line in enumerate(lines[:-1], start=1):  # the part after the last \n is torn
        try:
            item = json.loads(line)
        except ValueError:
            if number == len(lines) - 1 and not any(lines[number:]):
                return  # a last line garbled by a crash
            raise CorruptFile(f"{path}: line {number} is not JSON") from None
        yield item


def decode_columnar(body: bytes) -> Series:
    """A columnar batch (`gapwatch.client.encode_columnar`) back to {key: (steps, values)}."""
    if body[:4] != COLUMNAR_MAGIC:
        raise ValueError("not a columnar batch")
    (count,) = struct.unpack_from("<I", body, 4)
    offset, heads = 8, []
    for _ in range(count):
        n, length = struct.unpack_from("<IH", body, offset)
        heads.append((body[offset + 6 : offset + 6 + length].decode(), n))
        offset += 6 + length
    offset += -offset % 8
    total = sum(n for _, n in heads)
    steps = array.array("q", body[offset : offset + 8 * total])
    values = array.array("d", body[offset + 8 * total : offset + 16 * total])
    if sys.byteorder == "big":
        steps.byteswap()
        values.byteswap()
    series: Series = {}
    at = 0
    for key, n in heads:
        known = series.setdefault(key, ([], []))
        known[0].extend(steps[at : at + n])
        known[1].extend(values[at : at + n])
        at += n
    return series


def write_json_atomically(path: Path, document: dict[str, Any], mode: int = 0o644) -> None:
    """Replace `path` with `document` in one step: a reader (or a crash) sees the old file or
    the new one, never half of one. The file is created with `mode` (never chmod-ed later)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)  # O_EXCL: the mode applies to a file made now
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(json.dumps(document, indent=2, allow_nan=False).encode() + b"\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
