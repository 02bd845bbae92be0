"""Metric ingestion (idempotent appends of chunks) and series reads (raw pages or M4)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import orjson
from sqlalchemy.orm import Session, sessionmaker

from gapwatch.server.access.service import check_run_token, require_writable
from gapwatch.server.access.tokens import hash_secret
from gapwatch.server.metrics import repository
from gapwatch.server.metrics.chunks import (
    MAX_CHUNKS_PER_WINDOW,
    SUMMARY_MIN_BUCKET_STEPS,
    SUMMARY_STEPS,
    WINDOW_STEPS,
    EncodedChunk,
    Points,
    decode_many,
    decode_steps,
    encode,
    encode_many,
    m4,
    not_stored,
    split_by_window,
)
from gapwatch.server.metrics.schemas import IngestResult, SeriesPoints


def check_writer(session: Session, run_id: int, token: str) -> None:
    """403 unless `token` is the run's (see `check_run_token`)."""
    access = repository.lock_for_write(session, run_id, [], hash_secret(token))
    check_run_token(run_id, access.token_hash, token)


def ingest(
    session: Session, run_id: int, token: str, batch: Sequence[SeriesPoints]
) -> IngestResult:
    """Store a batch as the holder of `token`; points already stored (same run, key, step)
    are kept as they were.

    The first statement checks the token and the run's status and write-locks the batch's
    series. Under those locks: look up the chunks of the windows the batch touches (their
    step ranges only), drop the incoming steps already stored (reading the offsets of the few
    chunks whose range overlaps the batch; none when a worker appends), and append one chunk
    per window, or merge the window's chunks into one when it would hold too many.

    Raises:
        Forbidden: `token` is not the run's (or there is no such run).
        Conflict: The run is not running.
    """
    keys = [s.key for s in batch]
    access = repository.lock_for_write(session, run_id, keys, hash_secret(token))
    check_run_token(run_id, access.token_hash, token)
    require_writable(run_id, access.status)
    received = sum(len(s.points) for s in batch)
    ids = dict(access.series)
    missing = [key for key in keys if key not in ids]
    if missing:
        ids.update(repository.create_series(session, run_id, missing))
    incoming = [(ids[s.key], s.points) for s in batch if len(s.points)]
    if not incoming:
        return IngestResult(received=received, stored=0)
    # One range for all keys (a batch's keys share their steps); filtered per key below.
    known = repository.chunks_between(
        session,
        [series_id for series_id, _ in incoming],
        min(int(p.steps[0]) for _, p in incoming) // WINDOW_STEPS * WINDOW_STEPS,
        (max(int(p.steps[-1]) for _, p in incoming) // WINDOW_STEPS + 1) * WINDOW_STEPS,
    )
    stored = 0
    appended: list[tuple[int, Points]] = []
    merged: list[tuple[int, EncodedChunk]] = []
    deletes: dict[int, list[int]] = {}
    for series_id, points in incoming:
        lo, hi = int(points.steps[0]), int(points.steps[-1])
        window_lo, window_hi = lo // WINDOW_STEPS, hi // WINDOW_STEPS
        chunks = [
            c
            for c in known.get(series_id, [])
            if window_lo <= c.first_step // WINDOW_STEPS <= window_hi
        ]
        overlapping = [c.first_step for c in chunks if c.first_step <= hi and c.last_step >= lo]
        if overlapping:
            stored_steps = decode_steps(repository.read_offsets(session, series_id, overlapping))
            points = not_stored(points, stored_steps)
        stored += len(points)
        by_window: dict[int, list[int]] = {}
        for chunk in chunks:
            by_window.setdefault(chunk.first_step // WINDOW_STEPS, []).append(chunk.first_step)
        for window, piece in split_by_window(points):
            present = by_window.get(window, [])
            if len(present) < MAX_CHUNKS_PER_WINDOW:
                appended.append((series_id, piece))
                continue
            old = decode_many(repository.read_raw(session, series_id, present))
            deletes.setdefault(series_id, []).extend(present)
            merged.append((series_id, encode(Points.union([old, piece]))))
    # The appended pieces of keys logged together share their steps: encoded in one pass.
    encoded = encode_many([piece for _, piece in appended])
    inserts = [(sid, chunk) for (sid, _), chunk in zip(appended, encoded, strict=True)]
    repository.delete_chunks(session, deletes)
    repository.insert_chunks(session, inserts + merged)
    return IngestResult(received=received, stored=stored)


@dataclass(frozen=True)
class SeriesSlice:
    """What a read returns for one key.

    Attributes:
        points: The points returned (all in range, a page of them, or the M4 selection).
        in_range: How many points the store holds in [start, end).
        downsampled: True if `points` is the M4 selection.
        next_start: For a raw page cut at its limit, the first step of the next page.
    """

    points: Points
    in_range: int
    downsampled: bool = False
    next_start: int | None = None


def _inside(
    chunk: repository.ChunkInfo | repository.ChunkSummary, start: int | None, end: int | None
) -> bool:
    return (start is None or chunk.first_step >= start) and (end is None or chunk.last_step < end)


def _read(
    session: Session,
    series_id: int,
    chunks: Sequence[repository.ChunkInfo | repository.ChunkSummary],
) -> Points:
    if not chunks:
        return Points.empty()
    rows = repository.read_chunks(session, series_id, chunks[0].first_step, chunks[-1].first_step)
    return decode_many(rows)


def read_series(
    session: Session,
    series_id: int,
    *,
    start: int | None = None,
    end: int | None = None,
    points: int | None = None,
    limit: int | None = None,
    bucket_range: tuple[int, int] | None = None,
) -> SeriesSlice:
    """One series' points with start <= step < end.

    Args:
        session: The request's session.
        series_id: The series.
        start: First step (inclusive); None from the first point.
        end: Last step (exclusive); None to the last point.
        points: If the range holds more points than this, return its M4 downsampling into
            points // 4 step buckets instead; None for raw points.
        limit: Raw reads only: return at most this many points, and where the next page starts.
        bucket_range: Downsampling only: split this step range into the buckets instead of
            the range's own first to last point, so that several series share bucket edges.
            It must hold every point of [start, end).
    """
    if start is not None and end is not None and end <= start:
        return SeriesSlice(Points.empty(), 0)
    chunks = repository.chunk_summaries(session, series_id, start, end)
    if not chunks:
        return SeriesSlice(Points.empty(), 0)
    straddling = [c.first_step for c in chunks if not _inside(c, start, end)]
    edges = (
        decode_many(repository.read_raw(session, series_id, straddling)).window(start, end)
        if straddling
        else Points.empty()
    )
    in_range = sum(c.n for c in chunks if _inside(c, start, end)) + len(edges)
    if points is None or in_range <= points:
        return _raw_page(session, series_id, chunks, start, end, in_range, limit)

    lo, hi = bucket_range or extent(chunks, start, end)
    buckets = max(1, points // 4)
    if (hi - lo) / buckets >= SUMMARY_MIN_BUCKET_STEPS:
        # Wide buckets: the stored M4 summaries of the chunks inside the range, with bucket
        # edges on multiples of SUMMARY_STEPS, give the same answer as every point would.
        inside = [
            (c.first_step, c.m4_offsets, c.m4_values) for c in chunks if _inside(c, start, end)
        ]
        data = Points.union([decode_many(inside), edges])
        align = SUMMARY_STEPS
    else:
        data = _read(session, series_id, chunks).window(start, end)
        align = 1
    lo, hi = bucket_range or (int(data.steps[0]), int(data.steps[-1]) + 1)
    return SeriesSlice(m4(data, lo, hi, buckets, align), in_range, downsampled=True)


def extent(
    chunks: Sequence[repository.ChunkInfo | repository.ChunkSummary],
    start: int | None,
    end: int | None,
) -> tuple[int, int]:
    """A step range [lo, hi) that holds every point of these chunks inside [start, end)."""
    lo = max(chunks[0].first_step, start or 0)
    hi = min(max(c.last_step for c in chunks) + 1, end if end is not None else 2**63 - 1)
    return lo, hi


def read_aligned(
    session: Session,
    run_ids: Sequence[int],
    key: str,
    *,
    start: int | None,
    end: int | None,
    points: int,
) -> list[SeriesSlice | None]:
    """`key` of each run (None where a run lacks it), downsampled over one shared step range
    so that the runs' M4 buckets line up."""
    by_run = repository.series_ids_of_runs(session, list(run_ids), key)
    ids = [by_run.get(run_id) for run_id in run_ids]
    extents = []
    for series_id in ids:
        if series_id is not None:
            chunks = repository.chunk_index(session, series_id, start, end)
            if chunks:
                extents.append(extent(chunks, start, end))
    shared = (min(e[0] for e in extents), max(e[1] for e in extents)) if extents else None
    return [
        read_series(session, series_id, start=start, end=end, points=points, bucket_range=shared)
        if series_id is not None
        else None
        for series_id in ids
    ]


def _raw_page(
    session: Session,
    series_id: int,
    chunks: Sequence[repository.ChunkInfo | repository.ChunkSummary],
    start: int | None,
    end: int | None,
    in_range: int,
    limit: int | None,
) -> SeriesSlice:
    if limit is None or in_range <= limit:
        return SeriesSlice(_read(session, series_id, chunks).window(start, end), in_range)
    firsts = np.array([c.first_step for c in chunks], dtype=np.int64)
    count = min(int(np.searchsorted(np.cumsum([c.n for c in chunks]), limit + 1)) + 1, len(chunks))
    while True:
        data = _read(session, series_id, chunks[:count]).window(start, end)
        if count == len(chunks):
            break
        if len(data) > limit:
            # Chunks may interleave: every chunk that starts before the next page's first step
            # must be in, or a point of this page could be missing.
            needed = int(np.searchsorted(firsts, data.steps[limit], "right"))
            if needed <= count:
                break
            count = needed
        else:
            count = min(len(chunks), 2 * count)
    if len(data) <= limit:
        return SeriesSlice(data, in_range)
    return SeriesSlice(data.head(limit), in_range, next_start=int(data.steps[limit]))


def read_all(session: Session, series_id: int) -> Points:
    """Every point of a series (for the analytics)."""
    return _read(session, series_id, repository.chunk_index(session, series_id, None, None))


def read_all_of(session: Session, series_ids: Collection[int]) -> dict[int, Points]:
    """Every point of each of several series, in one query (for many short series)."""
    return {
        series_id: decode_many(rows) if rows else Points.empty()
        for series_id, rows in repository.raw_chunks_of(session, series_ids).items()
    }


def iter_pages(session: Session, series_id: int, windows_per_page: int = 64) -> Iterator[Points]:
    """Every point of a series, a few windows at a time, in step order (for exports)."""
    chunks = repository.chunk_index(session, series_id, None, None)
    page: list[repository.ChunkInfo] = []
    windows = 0
    for i, chunk in enumerate(chunks):
        page.append(chunk)
        last_of_window = (
            i + 1 == len(chunks)
            or chunks[i + 1].first_step // WINDOW_STEPS != chunk.first_step // WINDOW_STEPS
        )
        if last_of_window:
            windows += 1
            if windows == windows_per_page or i + 1 == len(chunks):
                yield _read(session, series_id, page)
                page, windows = [], 0


@dataclass(frozen=True)
class SeriesAnswer:
    key: str
    slice: SeriesSlice


def read(
    session: Session,
    run_id: int,
    keys: list[str] | None,
    *,
    start: int | None,
    end: int | None,
    points: int | None = None,
    limit: int | None = None,
) -> list[SeriesAnswer]:
    """Series of `keys` (all the run's keys when None); a key with no points yet is empty."""
    ids = repository.series_ids(session, run_id, keys)
    wanted = keys if keys is not None else sorted(ids)
    return [
        SeriesAnswer(
            key,
            read_series(session, ids[key], start=start, end=end, points=points, limit=limit)
            if key in ids
            else SeriesSlice(Points.empty(), 0),
        )
        for key in wanted
    ]


# --- export ---------------------------------------------------------------------------------

_NUMPY_JSON = orjson.OPT_SERIALIZE_NUMPY


def _series_pages(
    session_factory: sessionmaker[Session], run_id: int
) -> Iterator[tuple[str, Iterator[Points]]]:
    """(key, its points a few windows at a time) for each series, on a session of its own:
    the request's session has committed and closed by the time a streamed body is sent."""
    with session_factory() as session:
        ids = repository.series_ids(session, run_id, None)
        for key in sorted(ids):
            yield key, iter_pages(session, ids[key])


def export_csv(session_factory: sessionmaker[Session], run_id: int) -> Iterator[bytes]:
    """Every point of a run as CSV rows `key,step,value`, series by series."""
    yield b"key,step,value\n"
    for key, pages in _series_pages(session_factory, run_id):
        prefix = key.encode() + b","  # keys match METRIC_KEY_PATTERN: no comma, no quote
        for page in pages:
            # orjson writes each float's shortest exact form, a million points in milliseconds.
            steps = orjson.dumps(page.steps, option=_NUMPY_JSON)[1:-1].split(b",")
            values = orjson.dumps(page.values, option=_NUMPY_JSON)[1:-1].split(b",")
            yield b"".join(
                prefix + s + b"," + v + b"\n" for s, v in zip(steps, values, strict=True)
            )


def export_json(session_factory: sessionmaker[Session], run_id: int) -> Iterator[bytes]:
    """Every point of a run as one JSON document (MetricsExport), one series at a time."""
    yield b'{"run_id":' + str(run_id).encode() + b',"series":['
    for number, (key, pages) in enumerate(_series_pages(session_factory, run_id)):
        points = Points.union(list(pages))
        series = {"key": key, "steps": points.steps, "values": points.values}
        yield (b"," if number else b"") + orjson.dumps(series, option=_NUMPY_JSON)
    yield b"]}"
