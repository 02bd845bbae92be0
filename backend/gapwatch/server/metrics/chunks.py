"""The columnar chunk encoding of metric points, and M4 downsampling. Pure numpy, no database.

A chunk is one stored row: a run of a series' points that lies inside one aligned window of
WINDOW_STEPS steps, as two little-endian arrays (uint16 offsets from the chunk's first step,
float64 values) plus the M4 summary of every SUMMARY_STEPS-step block. Ingestion only appends
chunks (each batch adds at most one per window and series, so a write is about as cheap as a
COPY of the same bytes); when a window holds more than MAX_CHUNKS_PER_WINDOW chunks, the next
write into it merges them into one, which bounds both the rows a read touches and the bytes
rewritten (1 + WINDOW_STEPS / (2 * MAX_CHUNKS_PER_WINDOW * batch) times the points written).

M4 (Jugel et al., VLDB 2014) keeps, per bucket, the first, last, minimum and maximum point:
what a line chart of that bucket's pixel column can show. Striding or random sampling would
drop a short dip; M4 never does, since every bucket keeps its minimum. M4 composes: the M4 of a
union of point sets is the M4 of the union of their M4 points, so summaries of 64-step blocks
answer any bucketing whose edges are multiples of 64, exactly as the raw points would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

WINDOW_STEPS = 4096
"""A chunk never spans two aligned windows of this many steps (its offsets fit in uint16)."""
MAX_CHUNKS_PER_WINDOW = 4
SUMMARY_STEPS = 64
"""Steps per block of the stored M4 summary: at most 4 of 64 points, 1/16 of the bytes."""
SUMMARY_MIN_BUCKET_STEPS = 8 * SUMMARY_STEPS
"""Downsampling reads summaries when a bucket spans at least this many steps; bucket edges are
then moved to multiples of SUMMARY_STEPS, which changes a bucket's width by < 1/8."""

OFFSET_DTYPE = np.dtype("<u2")
VALUE_DTYPE = np.dtype("<f8")
assert WINDOW_STEPS <= 2**16 and WINDOW_STEPS % SUMMARY_STEPS == 0

Int64s = npt.NDArray[np.int64]
Float64s = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Points:
    """Steps (int64, strictly increasing) and their values (float64)."""

    steps: Int64s
    values: Float64s

    @classmethod
    def empty(cls) -> Points:
        return cls(np.empty(0, np.int64), np.empty(0, np.float64))

    def __len__(self) -> int:
        return int(self.steps.size)

    def window(self, start: int | None, end: int | None) -> Points:
        """The points with start <= step < end (None: unbounded)."""
        lo = 0 if start is None else int(np.searchsorted(self.steps, start, "left"))
        hi = len(self) if end is None else int(np.searchsorted(self.steps, end, "left"))
        return Points(self.steps[lo:hi], self.values[lo:hi])

    def head(self, count: int) -> Points:
        return Points(self.steps[:count], self.values[:count])

    @staticmethod
    def union(parts: list[Points]) -> Points:
        """The points of disjoint parts, sorted by step (parts may interleave)."""
        if not parts:
            return Points.empty()
        if len(parts) == 1:
            return parts[0]
        steps = np.concatenate([p.steps for p in parts])
        values = np.concatenate([p.values for p in parts])
        if steps.size > 1 and not (steps[1:] > steps[:-1]).all():
            order = np.argsort(steps, kind="stable")
            steps, values = steps[order], values[order]
        return Points(steps, values)


@dataclass(frozen=True)
class EncodedChunk:
    """One chunk row's columns."""

    n: int
    first_step: int
    last_step: int
    m4_offsets: bytes
    m4_values: bytes
    raw_offsets: bytes
    raw_values: bytes


def split_by_window(points: Points) -> Iterator[tuple[int, Points]]:
    """(window, its points) for sorted points, in window order."""
    if not len(points):
        return
    windows = points.steps // WINDOW_STEPS
    cuts = np.flatnonzero(windows[1:] != windows[:-1]) + 1
    bounds = np.concatenate([[0], cuts, [len(points)]])
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        yield int(windows[lo]), Points(points.steps[lo:hi], points.values[lo:hi])


def m4_indices(values: Float64s, starts: Int64s) -> Int64s:
    """Indices of the first, last, minimum and maximum point of each segment, sorted, unique.

    Segment s is values[starts[s] : starts[s+1]] (the last runs to the end); segments must be
    non-empty. Ties keep the earliest minimum and maximum.
    """
    n = values.size
    if n == 0:
        return np.empty(0, np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.append(starts[1:], n)
    lengths = ends - starts
    if lengths.size and (lengths == lengths[0]).all() and starts[0] == 0:
        # Equal segments (dense steps): one reshape instead of per-point bookkeeping.
        grid = values.reshape(lengths.size, int(lengths[0]))
        base = starts
        picks = [starts, ends - 1, base + grid.argmin(axis=1), base + grid.argmax(axis=1)]
        return np.unique(np.concatenate(picks))
    segment = np.repeat(np.arange(starts.size), lengths)
    picks = [starts, ends - 1]
    for reduce in (np.minimum, np.maximum):
        extreme = reduce.reduceat(values, starts)
        hits = np.flatnonzero(values == extreme[segment])
        first_hit = np.ones(hits.size, dtype=bool)
        first_hit[1:] = segment[hits[1:]] != segment[hits[:-1]]
        picks.append(hits[first_hit])
    return np.unique(np.concatenate(picks))


def block_starts(steps: Int64s, block: int) -> Int64s:
    """Index of the first point of each aligned block of `block` steps that holds points."""
    blocks = steps // block
    return np.flatnonzero(np.concatenate([[True], blocks[1:] != blocks[:-1]]))


def summary_indices(points: Points) -> Int64s:
    """Indices of the M4 points of every aligned SUMMARY_STEPS block (sorted, unique)."""
    return np.flatnonzero(summary_mask(points.steps, points.values[np.newaxis, :])[0])


def summary_mask(steps: Int64s, values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Per row of `values` (rows x len(steps), sharing the sorted unique `steps`): True at the
    first, last, earliest minimum and earliest maximum point of every aligned SUMMARY_STEPS
    block. Rows are done together: a batch's keys usually share their steps, and one pass
    over all of them costs about what one key alone did."""
    rows, n = values.shape
    mask = np.zeros((rows, n), dtype=bool)
    if n == 0:
        return mask
    if steps[-1] - steps[0] + 1 == n:
        # Consecutive steps (a point every iteration, the usual case): the blocks are the
        # rows of a grid padded to whole blocks, and argmin/argmax run per block.
        lead = int(steps[0]) % SUMMARY_STEPS
        blocks = -(-(lead + n) // SUMMARY_STEPS)
        grid = np.full((rows, blocks * SUMMARY_STEPS), np.inf)
        grid[:, lead : lead + n] = values
        cells = grid.reshape(rows, blocks, SUMMARY_STEPS)
        base = np.arange(blocks) * SUMMARY_STEPS - lead
        lowest = base + cells.argmin(axis=2)
        grid[:, :lead] = -np.inf  # the padding never wins: values are finite
        grid[:, lead + n :] = -np.inf
        highest = base + cells.argmax(axis=2)
        starts = np.maximum(base, 0)
        lasts = np.minimum(base + SUMMARY_STEPS - 1, n - 1)
    else:
        starts = block_starts(steps, SUMMARY_STEPS)
        lasts = np.append(starts[1:], n) - 1
        lengths = lasts - starts + 1
        position = np.arange(n)
        extremes = []
        for reduce in (np.minimum, np.maximum):
            extreme = np.repeat(reduce.reduceat(values, starts, axis=1), lengths, axis=1)
            # The earliest index holding the block's extreme: the smallest matching position.
            hits = np.where(values == extreme, position, n)
            extremes.append(np.minimum.reduceat(hits, starts, axis=1))
        lowest, highest = extremes
    row = np.arange(rows)[:, np.newaxis]
    mask[:, starts] = True
    mask[:, lasts] = True
    mask[row, lowest] = True
    mask[row, highest] = True
    return mask


def encode(points: Points) -> EncodedChunk:
    """The row of a chunk holding `points` (sorted, unique, inside one window)."""
    return encode_rows(points.steps, points.values[np.newaxis, :])[0]


def encode_rows(steps: Int64s, values: npt.NDArray[np.float64]) -> list[EncodedChunk]:
    """The chunk rows of several series that share `steps` (sorted, unique, inside one
    window), one per row of `values`, in one pass of numpy."""
    first = int(steps[0])
    offsets = (steps - first).astype(OFFSET_DTYPE)
    values = np.ascontiguousarray(values, dtype=VALUE_DTYPE)
    keep = summary_mask(steps, values)
    counts = keep.sum(axis=1)
    rows, columns = np.nonzero(keep)
    m4_offsets = offsets[columns].tobytes()
    m4_values = values[rows, columns].tobytes()
    raw_offsets = offsets.tobytes()
    raw_values = values.tobytes()
    n = int(steps.size)
    ends = np.cumsum(counts).tolist()
    out = []
    for row, (lo, hi) in enumerate(zip([0, *ends[:-1]], ends, strict=True)):
        out.append(
            EncodedChunk(
                n=n,
                first_step=first,
                last_step=int(steps[-1]),
                m4_offsets=m4_offsets[lo * OFFSET_DTYPE.itemsize : hi * OFFSET_DTYPE.itemsize],
                m4_values=m4_values[lo * VALUE_DTYPE.itemsize : hi * VALUE_DTYPE.itemsize],
                raw_offsets=raw_offsets,
                raw_values=raw_values[
                    row * n * VALUE_DTYPE.itemsize : (row + 1) * n * VALUE_DTYPE.itemsize
                ],
            )
        )
    return out


def encode_many(pieces: Sequence[Points]) -> list[EncodedChunk]:
    """The chunk rows of several pieces (each inside one window), in their order; pieces with
    the same steps (a batch's keys logged together) are encoded together by `encode_rows`."""
    groups: dict[bytes, list[int]] = {}
    for number, piece in enumerate(pieces):
        groups.setdefault(piece.steps.tobytes(), []).append(number)
    out: list[EncodedChunk | None] = [None] * len(pieces)
    for members in groups.values():
        steps = pieces[members[0]].steps
        values = np.stack([pieces[m].values for m in members])
        for member, chunk in zip(members, encode_rows(steps, values), strict=True):
            out[member] = chunk
    return out  # type: ignore[return-value]


def decode_many(rows: list[tuple[int, bytes, bytes]]) -> Points:
    """Points of several chunks of one series, from (first_step, offsets, values) rows (raw
    or M4 summary columns), sorted by step."""
    if not rows:
        return Points.empty()
    counts = np.fromiter((len(r[1]) // OFFSET_DTYPE.itemsize for r in rows), np.int64, len(rows))
    steps = np.frombuffer(b"".join(r[1] for r in rows), OFFSET_DTYPE).astype(np.int64)
    steps += np.repeat(np.fromiter((r[0] for r in rows), np.int64, len(rows)), counts)
    values = np.frombuffer(b"".join(r[2] for r in rows), VALUE_DTYPE).astype(np.float64)
    return _sorted(steps, values)


def _sorted(steps: Int64s, values: Float64s) -> Points:
    if steps.size > 1 and not (steps[1:] > steps[:-1]).all():
        order = np.argsort(steps, kind="stable")
        return Points(steps[order], values[order])
    return Points(steps, values)


def decode_steps(rows: list[tuple[int, bytes]]) -> Int64s:
    """The steps of chunks from (first_step, raw offsets) rows, sorted."""
    if not rows:
        return np.empty(0, np.int64)
    counts = np.fromiter((len(r[1]) // OFFSET_DTYPE.itemsize for r in rows), np.int64, len(rows))
    steps = np.frombuffer(b"".join(r[1] for r in rows), OFFSET_DTYPE).astype(np.int64)
    steps += np.repeat(np.fromiter((r[0] for r in rows), np.int64, len(rows)), counts)
    return np.sort(steps)


def not_stored(incoming: Points, stored_steps: Int64s) -> Points:
    """The incoming points whose steps are not among `stored_steps` (sorted).

    A step already stored keeps its stored value: ingestion is idempotent per (run, key,
    step), so a replayed batch changes nothing, and a conflicting value is not an overwrite.
    """
    if not stored_steps.size or not len(incoming):
        return incoming
    position = np.searchsorted(stored_steps, incoming.steps)
    inside = position < stored_steps.size
    present = np.zeros(len(incoming), dtype=bool)
    present[inside] = stored_steps[position[inside]] == incoming.steps[inside]
    if not present.any():
        return incoming
    return Points(incoming.steps[~present], incoming.values[~present])


def bucket_starts(steps: Int64s, lo: int, hi: int, buckets: int, align: int = 1) -> Int64s:
    """Index of the first point of each non-empty bucket of [lo, hi) split into `buckets`.

    Bucket b covers steps [edge_b, edge_{b+1}), edges equally spaced; with `align` > 1 the
    inner edges move to the nearest multiple of `align`. `steps` must lie in [lo, hi).
    """
    if steps.size == 0:
        return np.empty(0, np.int64)
    inner = lo + np.floor(np.arange(1, buckets) * ((hi - lo) / buckets)).astype(np.int64)
    if align > 1:
        inner = np.clip((inner + align // 2) // align * align, lo, hi)
    cuts = np.searchsorted(steps, inner, "left")
    starts = np.unique(np.concatenate([[0], cuts]))
    return starts[starts < steps.size]


def m4(points: Points, lo: int, hi: int, buckets: int, align: int = 1) -> Points:
    """M4 downsampling of `points` (all in [lo, hi)) into at most 4 * buckets points."""
    starts = bucket_starts(points.steps, lo, hi, buckets, align)
    keep = m4_indices(points.values, starts)
    return Points(points.steps[keep], points.values[keep])
