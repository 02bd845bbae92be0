"""Receiving a dataset upload: a multipart/form-data body streamed into a file, never into memory.

The body is parsed as it arrives (python-multipart's streaming parser): the `file` part goes to
a temporary file in the artifact store's dataset folder, the short text parts (`name`,
`project`) are kept, and the whole is refused with a 413 as soon as the file passes
GAPWATCH_MAX_DATASET_BYTES, or before a byte is read when the Content-Length says it would.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from anyio import to_thread
from fastapi.exceptions import RequestValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from gapwatch.server.datasets.content import too_large

FILE_FIELD = "file"
TEXT_FIELDS = ("name", "project")
# Bytes of a text part: a name or a project name is at most 64 characters.
MAX_TEXT_BYTES = 1024
# Bytes of a body besides the file's: boundaries, each part's headers, the text parts.
ENVELOPE_BYTES = 64 * 2**10
MAX_PARTS = 16


def invalid(loc: tuple[str, ...], message: str, value: Any = None) -> RequestValidationError:
    """A 422 at `loc`, shaped as FastAPI's own."""
    return RequestValidationError(
        [{"type": "value_error", "loc": loc, "msg": message, "input": value}]
    )


@dataclass
class ReceivedUpload:
    """An upload's file (on disk, to be discarded once read) and its text parts."""

    path: Path
    filename: str | None
    size: int
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class _Parts:
    """python-multipart's callbacks: which part is being read, its bytes routed to the file
    (handed out per chunk, so that the writes happen off the event loop) or to a text field."""

    def __init__(self, max_file_bytes: int) -> None:
        self.max_file_bytes = max_file_bytes
        self.fields: dict[str, bytearray] = {}
        self.filename: str | None = None
        self.file_bytes = 0
        self.saw_file = False
        self.ended = False
        self.parts = 0
        self._pending: list[bytes] = []
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._target: str | None = None  # FILE_FIELD, a text field, or None (ignored)

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._part_begin,
            "on_part_data": self._part_data,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_part,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_end": self._end,
        }

    def take_file_data(self) -> list[bytes]:
        pending, self._pending = self._pending, []
        return pending

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise invalid(("body",), f"at most {MAX_PARTS} parts: file, name, project")
        self._disposition = b""
        self._target = None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("latin-1")
        if name == FILE_FIELD:
            if self.saw_file:
                raise invalid(("body", FILE_FIELD), "one file per upload")
            self.saw_file = True
            filename = options.get(b"filename")
            self.filename = filename.decode("utf-8", "replace") if filename else None
            self._target = FILE_FIELD
        elif name in TEXT_FIELDS:
            if name in self.fields:
                raise invalid(("body", name), f"{name} is given twice")
            self.fields[name] = bytearray()
            self._target = name
        # Any other part is read past and left out.

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._target == FILE_FIELD:
            self.file_bytes += end - start
            if self.file_bytes > self.max_file_bytes:
                raise too_large("the file", self.max_file_bytes)
            self._pending.append(data[start:end])
        elif self._target is not None:
            text = self.fields[self._target]
            text += data[start:end]
            if len(text) > MAX_TEXT_BYTES:
                raise invalid(("body", self._target), f"at most {MAX_TEXT_BYTES} bytes")

    def _end(self) -> None:
        self.ended = True

    def text_fields(self) -> dict[str, str]:
        decoded = {}
        for name, raw in self.fields.items():
            try:
                decoded[name] = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise invalid(("body", name), "not UTF-8 text") from None
        return decoded


def check_declared_length(content_length: str | None, max_file_bytes: int) -> None:
    """A 413 before reading, when the Content-Length alone is over the limit."""
    if content_length and content_length.isascii() and content_length.isdigit():
        declared = int(content_length)
        if declared > max_file_bytes + ENVELOPE_BYTES:
            raise too_large("the upload", max_file_bytes, declared)


async def receive_upload(
    content_type: str | None,
    content_length: str | None,
    stream: AsyncIterator[bytes],
    folder: Path,
    max_file_bytes: int,
) -> ReceivedUpload:
    """Stream a multipart/form-data body into a temporary file under `folder`.

    Raises:
        RequestValidationError: Not multipart, malformed, no `file` part, an empty file, or a
            text part that is too long or not UTF-8.
        ContentTooLarge: The file is larger than `max_file_bytes`.
    """
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise invalid(("body",), "send multipart/form-data with a file part (and name, project)")
    check_declared_length(content_length, max_file_bytes)
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            parts = await _stream_parts(boundary, stream, out, max_file_bytes)
        if not parts.saw_file:
            raise invalid(("body", FILE_FIELD), "a file part is required")
        if parts.file_bytes == 0:
            raise invalid(("body", FILE_FIELD), "the file is empty")
        return ReceivedUpload(path, parts.filename, parts.file_bytes, parts.text_fields())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise


async def _stream_parts(
    boundary: bytes, stream: AsyncIterator[bytes], out: BinaryIO, max_file_bytes: int
) -> _Parts:
    parts = _Parts(max_file_bytes)
    try:
        parser = MultipartParser(boundary, parts.callbacks())  # type: ignore[arg-type]
        body_bytes = 0
        async for chunk in stream:
            body_bytes += len(chunk)
            if body_bytes > max_file_bytes + ENVELOPE_BYTES:
                raise too_large("the upload", max_file_bytes)
            parser.write(chunk)
            pending = parts.take_file_data()
            if pending:
                await to_thread.run_sync(out.writelines, pending)
        parser.finalize()
    except FormParserError as error:
        raise invalid(("body",), f"malformed multipart/form-data ({error})") from None
    if not parts.ended:
        raise invalid(("body",), "the multipart body ends before its closing boundary")
    return parts
