"""The chunk encoding, the idempotent merge and M4 downsampling (pure numpy, no database)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.exceptions import RequestValidationError
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gapwatch.client import encode_columnar
from gapwatch.server.metrics.chunks import (
    SUMMARY_STEPS,
    WINDOW_STEPS,
    EncodedChunk,
    Points,
    bucket_starts,
    decode_many,
    encode,
    encode_many,
    m4,
    m4_indices,
    not_stored,
    split_by_window,
    summary_indices,
)
from gapwatch.server.metrics.schemas import (
    COLUMNAR_MEDIA_TYPE,
    MetricBatch,
    _fast_parse,
    parse_batch,
)


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


# --- keys logged together are encoded together, exactly as each alone --------------------


def reference_chunk(points: Points) -> EncodedChunk:
    """A chunk row built point by point: brute-force M4 of every aligned 64-step block."""
    first = int(points.steps[0])
    offsets = [int(s) - first for s in points.steps]
    blocks = np.flatnonzero(np.r_[True, np.diff(points.steps // SUMMARY_STEPS) != 0])
    keep = brute_force_m4(points.values, blocks)
    return EncodedChunk(
        n=len(points),
        first_step=first,
        last_step=int(points.steps[-1]),
        m4_offsets=np.array([offsets[i] for i in keep], "<u2").tobytes(),
        m4_values=np.array([points.values[i] for i in keep], "<f8").tobytes(),
        raw_offsets=np.array(offsets, "<u2").tobytes(),
        raw_values=np.array(points.values, "<f8").tobytes(),
    )


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 2 * WINDOW_STEPS),
    st.integers(1, 700),
    st.booleans(),
    st.integers(1, 4),
    st.data(),
)
def test_encode_many_matches_a_point_by_point_encoding(
    first: int, n: int, dense: bool, keys: int, data
) -> None:
    """Pieces sharing their steps take the grouped path (dense grid or block reductions);
    a piece with steps of its own stays alone. Every row is what one key alone would give."""
    if dense:
        steps = np.arange(first, first + n, dtype=np.int64)
    else:
        steps = np.array(
            sorted(data.draw(st.sets(st.integers(first, first + 3 * n), min_size=1, max_size=n))),
            dtype=np.int64,
        )
    shared = [
        Points(steps, np.array(data.draw(st.lists(st.integers(0, 5), min_size=steps.size,
                                                  max_size=steps.size)), float) / 5)
        for _ in range(keys)
    ]  # fmt: skip
    alone = Points(steps[::2].copy(), np.linspace(0, 1, steps[::2].size))
    pieces = [piece for p in [*shared, alone] for _, piece in split_by_window(p)]
    assert encode_many(pieces) == [reference_chunk(p) for p in pieces]


# --- the binary body: what the client packs, the server reads as the JSON contract does -----


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["eval/acc/task_0", "train/loss", "bad key", "", "a" * 200, "é"]),
            st.lists(st.integers(-3, 2**53 + 3), max_size=6),
            st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=6),
        ),
        min_size=0,
        max_size=3,
    )
)
def test_the_binary_body_is_read_as_the_json_body_would_be(series) -> None:
    """Same points, same 422s: the first problem the binary parser names is one the model
    names for the same batch in JSON, at the same location."""
    items = []
    for key, steps, values in series:
        size = min(len(steps), len(values))  # the layout has one count per key
        items.append({"key": key, "steps": steps[:size], "values": values[:size]})
    body = encode_columnar(items)
    document = json.dumps({"series": items}).encode()
    try:
        expected = parse_batch(document, "application/json")
    except RequestValidationError as json_error:
        with pytest.raises(RequestValidationError) as raised:
            parse_batch(body, COLUMNAR_MEDIA_TYPE)
        (error,) = raised.value.errors()
        assert error["loc"] in [e["loc"] for e in json_error.errors()], (error, json_error)
        return
    got = parse_batch(body, f"{COLUMNAR_MEDIA_TYPE}; charset=binary")
    assert [p.key for p in got] == [p.key for p in expected]
    for g, e in zip(got, expected, strict=True):
        assert g.points.steps.tolist() == e.points.steps.tolist()
        assert g.points.values.tolist() == e.points.values.tolist()


def test_a_malformed_binary_body_is_a_422_that_says_why() -> None:
    good = encode_columnar([{"key": "train/loss", "steps": [1, 2], "values": [0.5, 0.25]}])
    assert [p.key for p in parse_batch(good, COLUMNAR_MEDIA_TYPE)] == ["train/loss"]
    cases = [
        (b"", "Field required"),
        (b'{"series": []}', "must start with 'GWC1'"),
        (good[:-8], "the headers announce"),  # a value missing
        (good + bytes(8), "the headers announce"),  # trailing bytes
        (good[:12], "cut short"),
        (b"GWC1" + (0).to_bytes(4, "little"), "0 series"),
        (
            encode_columnar(
                [{"key": "k", "steps": list(range(200_001)), "values": [0.0] * 200_001}]
            ),
            "at most 200000",
        ),
    ]
    for body, needle in cases:
        with pytest.raises(RequestValidationError) as raised:
            parse_batch(body, COLUMNAR_MEDIA_TYPE)
        assert needle in raised.value.errors()[0]["msg"], (body[:20], raised.value.errors())
    # A bad point is named by its series and its index within that series.
    first = {"key": "a", "steps": [0, 1], "values": [0.1, float("inf")]}
    for second, loc in [
        ({"key": "b", "steps": [5, -1, 7], "values": [0.1, 0.2, 0.3]}, ("series", 1, "steps", 1)),
        ({"key": "b", "steps": [5, 6, 7], "values": [0.1, 0.2, float("nan")]},
         ("series", 1, "values", 2)),
        ({"key": "b", "steps": [5, 6, 5], "values": [0.1, 0.2, 0.3]}, ("series", 1)),
    ]:  # fmt: skip
        body = encode_columnar([{**first, "values": [0.1, 0.2]}, second])
        with pytest.raises(RequestValidationError) as raised:
            parse_batch(body, COLUMNAR_MEDIA_TYPE)
        assert raised.value.errors()[0]["loc"] == ("body", *loc)
    with pytest.raises(RequestValidationError) as raised:
        parse_batch(encode_columnar([first, second]), COLUMNAR_MEDIA_TYPE)
    assert raised.value.errors()[0]["loc"] == ("body", "series", 0, "values", 1)


def test_the_client_packs_numpy_arrays_and_lists_alike() -> None:
    steps, values = np.arange(5, dtype=np.int64), np.linspace(0, 1, 5)
    from_numpy = encode_columnar([{"key": "k", "steps": steps, "values": values}])
    from_lists = encode_columnar([{"key": "k", "steps": steps.tolist(), "values": values.tolist()}])
    assert from_numpy == from_lists
    # 4 magic + 4 count + 6 header + 1 key = 15 bytes, padded to 16, then 5 + 5 numbers.
    assert len(from_numpy) == 16 + 80
    (parsed,) = parse_batch(from_numpy, COLUMNAR_MEDIA_TYPE)
    assert parsed.points.values.tolist() == values.tolist()
    with pytest.raises(TypeError):
        encode_columnar([{"key": "k", "steps": [2.0], "values": [0.5]}])
    with pytest.raises(ValueError, match="differ in length"):
        encode_columnar([{"key": "k", "steps": [1, 2], "values": [0.5]}])
