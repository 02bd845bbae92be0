"""A RunLogger's overflow on disk: what the training loop logs while the server is out of reach
goes to files once memory holds `max_buffered_points`, and comes back oldest first.

Each chunk is one file `chunk-<n>.bin` of framed records (see `records`): one record `E` + the
events as JSON, one record `P` + the points in the columnar layout. A chunk is written under a
temporary name and renamed, so the sender never reads half of one.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from gapwatch.client import Series, encode_columnar
from gapwatch.sdk.records import decode_columnar, frame, read_records


class DiskSpill:
    """Chunks of series and events in `directory` (a new temporary one by default)."""

    def __init__(self, directory: Path | None = None) -> None:
        self._owned = directory is None
        self.directory = (
            Path(tempfile.mkdtemp(prefix="gapwatch-spill-")) if directory is None else directory
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._chunks: list[Path] = []
        self._next = 0
        self.points_spilled = 0

    def __len__(self) -> int:
        return len(self._chunks)

    def put(self, series: Series, events: list[dict[str, Any]]) -> None:
        with self._lock:
            path = self.directory / f"chunk-{self._next:08d}.bin"
            self._next += 1
        body = [frame(b"E" + json.dumps(events, allow_nan=False).encode())]
        if series:
            batch = [{"key": k, "steps": s, "values": v} for k, (s, v) in series.items()]
            body.append(frame(b"P" + encode_columnar(batch)))
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(b"".join(body))
        temporary.replace(path)
        with self._lock:
            self._chunks.append(path)
            self.points_spilled += sum(len(steps) for steps, _ in series.values())

    def peek(self) -> tuple[Series, list[dict[str, Any]]] | None:
        """The oldest chunk, still held until `pop`."""
        with self._lock:
            if not self._chunks:
                return None
            path = self._chunks[0]
        series: Series = {}
        events: list[dict[str, Any]] = []
        for payload in read_records(path):
            if payload[:1] == b"E":
                events = json.loads(payload[1:])
            else:
                series = decode_columnar(payload[1:])
        return series, events

    def pop(self) -> None:
        with self._lock:
            path = self._chunks.pop(0)
        path.unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete the chunks (and the directory, if this spill made it)."""
        with self._lock:
            chunks, self._chunks = self._chunks, []
        for path in chunks:
            path.unlink(missing_ok=True)
        if self._owned:
            shutil.rmtree(self.directory, ignore_errors=True)
