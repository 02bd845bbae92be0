"""The chunk encoding, the idempotent merge and M4 downsampling (pure numpy, no database)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.exceptions import RequestValidationError
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gapwatch.server.metrics.chunks import (
    SUMMARY_STEPS,
    WINDOW_STEPS,
    Points,
    bucket_starts,
    decode_many,
    encode,
    m4,
    m4_indices,
    not_stored,
    split_by_window,
    summary_indices,
)
from gapwatch.server.metrics.schemas import MetricBatch, _fast_parse, parse_batch


@st.composite
def point_sets(draw: st.DrawFn, max_step: int = 3 * WINDOW_STEPS) -> Points:
    steps = draw(st.sets(st.integers(0, max_step), min_size=1, max_size=400))
    values = draw(st.lists(st.integers(0, 20), min_size=len(steps), max_size=len(steps)))
    return Points(np.array(sorted(steps), dtype=np.int64), np.array(values, dtype=float) / 20)


def brute_force_m4(values: np.ndarray, starts: np.ndarray) -> list[int]:
    keep: set[int] = set()
    bounds = [*starts.tolist(), values.size]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        segment = values[lo:hi].tolist()
        keep |= {lo, hi - 1, lo + segment.index(min(segment)), lo + segment.index(max(segment))}
    return sorted(keep)


@settings(max_examples=200, deadline=None)
@given(point_sets(), st.data())
def test_m4_keeps_exactly_the_first_last_min_and_max_of_each_segment(points: Points, data) -> None:
    cuts = data.draw(st.sets(st.integers(1, max(1, len(points) - 1)), max_size=30))
    starts = np.array(sorted({0, *(c for c in cuts if c < len(points))}), dtype=np.int64)
    assert m4_indices(points.values, starts).tolist() == brute_force_m4(points.values, starts)
    blocks = np.array(sorted({0, *range(0, len(points), 7)}), dtype=np.int64)  # equal segments
    assert m4_indices(points.values, blocks).tolist() == brute_force_m4(points.values, blocks)


@settings(max_examples=200, deadline=None)
@given(point_sets(), st.integers(1, 300), st.sampled_from([1, SUMMARY_STEPS]))
def test_buckets_split_the_range_evenly(points: Points, buckets: int, align: int) -> None:
    lo, hi = int(points.steps[0]), int(points.steps[-1]) + 1
    starts = bucket_starts(points.steps, lo, hi, buckets, align)
    assert starts[0] == 0 and len(starts) <= buckets
    width = (hi - lo) / buckets
    for a, b in zip(starts.tolist(), [*starts[1:].tolist(), len(points)], strict=True):
        span = points.steps[b - 1] - points.steps[a]
        assert span < width + align + 1  # a bucket never spans much more than its width
    out = m4(points, lo, hi, buckets, align)
    assert len(out) <= 4 * buckets
    assert out.values.min() == points.values.min() and out.values.max() == points.values.max()


@settings(max_examples=150, deadline=None)
@given(point_sets(max_step=WINDOW_STEPS - 1), st.integers(1, 4), st.data())
def test_m4_of_stored_summaries_equals_m4_of_every_point(points: Points, parts: int, data) -> None:
    """The claim the wide downsampled read rests on: M4 composes over 64-step blocks."""
    owner = np.array(data.draw(st.lists(st.integers(0, parts - 1), min_size=len(points),
                                        max_size=len(points))))  # fmt: skip
    summaries = []
    for part in range(parts):
        mine = owner == part
        if mine.any():
            chunk = encode(Points(points.steps[mine], points.values[mine]))
            summaries.append((chunk.first_step, chunk.m4_offsets, chunk.m4_values))
    merged = decode_many(summaries)  # chunks interleave: decode_many sorts
    lo, hi = int(points.steps[0]), int(points.steps[-1]) + 1
    buckets = data.draw(st.integers(1, 40))
    expected = m4(points, lo, hi, buckets, SUMMARY_STEPS)
    got = m4(merged, lo, hi, buckets, SUMMARY_STEPS)
    assert got.steps.tolist() == expected.steps.tolist()
    assert got.values.tolist() == expected.values.tolist()


@settings(max_examples=200, deadline=None)
@given(point_sets())
def test_encode_decode_round_trip_and_window_split(points: Points) -> None:
    rows = []
    for window, piece in split_by_window(points):
        assert (piece.steps // WINDOW_STEPS == window).all()
        chunk = encode(piece)
        assert (chunk.n, chunk.first_step, chunk.last_step) == (
            len(piece),
            piece.steps[0],
            piece.steps[-1],
        )
        rows.append((chunk.first_step, chunk.raw_offsets, chunk.raw_values))
        assert summary_indices(piece).tolist() == brute_force_m4(
            piece.values,
            np.flatnonzero(np.r_[True, np.diff(piece.steps // SUMMARY_STEPS) != 0]),
        )
    back = decode_many(rows)
    assert back.steps.tolist() == points.steps.tolist()
    assert back.values.tolist() == points.values.tolist()


def test_not_stored_keeps_only_new_steps() -> None:
    incoming = Points(np.array([1, 2, 3, 9]), np.array([0.1, 0.2, 0.3, 0.9]))
    fresh = not_stored(incoming, np.array([2, 3, 5]))
    assert fresh.steps.tolist() == [1, 9] and fresh.values.tolist() == [0.1, 0.9]


def test_a_short_dip_survives_any_placement() -> None:
    rng = np.random.default_rng(0)
    n = 10_000
    for at in rng.integers(0, n - 20, 200).tolist() + [0, n - 20]:
        values = np.full(n, 0.9)
        values[at : at + 20] = 0.2
        out = m4(Points(np.arange(n), values), 0, n, 75)
        assert len(out) <= 300 and 0.2 in out.values.tolist()


# --- the ingest parser: its fast path never accepts what the contract refuses --------------

json_items = st.one_of(
    st.integers(-3, 2**53 + 3),
    st.integers(2**63, 2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["eval/acc/task_0", "train/loss", "bad key", "", "a" * 200]),
            st.lists(st.one_of(st.integers(0, 50), json_items), max_size=6),
            st.lists(st.one_of(st.floats(0, 1), json_items), max_size=6),
        ),
        min_size=0,
        max_size=3,
    ),
    st.booleans(),
)
def test_fast_parse_agrees_with_the_metric_batch_model(series, extra_field: bool) -> None:
    document: dict = {"series": [{"key": k, "steps": s, "values": v} for k, s, v in series]}
    if extra_field:
        document["series"].append({"key": "x", "steps": [], "values": [], "unit": "%"})
    body = json.dumps(document).encode()  # NaN and Infinity as their JavaScript tokens
    try:
        model = MetricBatch.model_validate(json.loads(body))
    except ValidationError as error:
        assert _fast_parse(body) is None
        with pytest.raises(RequestValidationError) as raised:
            parse_batch(body, "application/json")
        assert [e["loc"] for e in raised.value.errors()] == [
            ("body", *e["loc"]) for e in error.errors()
        ]
        return
    parsed = parse_batch(body, "application/json")
    assert [p.key for p in parsed] == [s.key for s in model.series]
    for p, s in zip(parsed, model.series, strict=True):
        order = np.argsort(s.steps, kind="stable")
        assert p.points.steps.tolist() == np.asarray(s.steps, dtype=np.int64)[order].tolist()
        assert p.points.values.tolist() == np.asarray(s.values, dtype=float)[order].tolist()


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 3 * WINDOW_STEPS), st.integers(1, 300), st.data())
def test_the_dense_summary_shortcut_matches_the_general_one(first: int, n: int, data) -> None:
    """A point every step takes the padded-grid path; it must pick what the general one does."""
    values = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), float)
    points = Points(np.arange(first, first + n, dtype=np.int64), values)
    starts = np.flatnonzero(np.r_[True, np.diff(points.steps // SUMMARY_STEPS) != 0])
    assert summary_indices(points).tolist() == brute_force_m4(values, starts)
