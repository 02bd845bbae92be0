"""Properties that hold for every run: hypothesis draws schedules, evaluation plans and curves."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.analytics import (
    Curve,
    Schedule,
    largest_drop,
    stability_gaps,
    summarize,
    windowed_forgetting,
)

EPS = 1e-12


@dataclass
class Run:
    curves: list[Curve]
    schedule: Schedule


@st.composite
def runs(draw: st.DrawFn, constant: bool = False) -> Run:
    """1-4 tasks of 1-6 iterations, evaluated every 1-3 iterations and at every boundary."""
    n_tasks = draw(st.integers(1, 4))
    length = draw(st.integers(1, 6))
    every = draw(st.integers(1, 3))
    unseen = draw(st.booleans())
    total = n_tasks * length
    evaluated = sorted({*range(0, total + 1, every), *(k * length for k in range(n_tasks + 1))})
    level = draw(st.integers(0, 100)) / 100
    curves = []
    for j in range(n_tasks):
        steps = [s for s in evaluated if unseen or s >= j * length]
        values = (
            [level] * len(steps)
            if constant
            else draw(st.lists(st.integers(0, 100), min_size=len(steps), max_size=len(steps)))
        )
        curves.append(Curve.of(steps, np.asarray(values, dtype=float) / (1 if constant else 100)))
    schedule = Schedule(
        tuple(k * length for k in range(n_tasks)), tuple((k + 1) * length for k in range(n_tasks))
    )
    return Run(curves, schedule)


@settings(max_examples=150, deadline=None)
@given(runs(), st.integers(2, 12))
def test_worst_case_and_minimum_accuracy_never_exceed_what_they_bound(run: Run, w: int) -> None:
    s = summarize(run.curves, run.schedule, windows=(w, 10_000))
    t = s.tasks_completed
    assert s.wc_acc <= s.acc + EPS
    for k in range(t):
        assert s.wc_acc_per_boundary[k] <= s.acc_per_boundary[k] + EPS
    for j in range(t):
        assert s.min_acc_per_task[j] <= s.accuracy_matrix[t - 1, j] + EPS  # its final accuracy
        assert s.min_acc_per_task[j] <= s.accuracy_matrix[j, j] + EPS  # and its learned one
    # Chaudhry's max over k in [j, T-1] includes k = j: never below learned-minus-final.
    assert np.all(s.forgetting_per_task >= s.forgetting_from_learned_per_task - EPS)
    # A window as long as the run sees every drop, the end-of-task one included.
    short, whole = s.wf
    assert np.all(short.per_task[: t - 1] <= whole.per_task[: t - 1] + EPS)
    assert np.all(whole.per_task[: t - 1] >= s.forgetting_per_task - EPS)
    assert np.all(s.wp[0].per_task >= 0)


@settings(max_examples=150, deadline=None)
@given(runs())
def test_gap_rows_are_consistent(run: Run) -> None:
    for boundary in stability_gaps(run.curves, run.schedule):
        for _, row in boundary.rows:
            if row is None:  # no evaluation inside the window (s_k, s_k + w_k]
                continue
            assert row.depth >= 0 and row.area >= 0 and row.forgetting >= 0
            assert row.depth == max(0.0, row.before - row.trough)
            assert 0 <= row.gap <= row.depth  # a gap is the part of the drop that came back
            assert row.gap <= max(0.0, row.after - row.trough)
            assert 1 <= row.trough_at <= boundary.window <= boundary.end - boundary.start
            if row.recovered_at is not None:
                assert row.trough_at <= row.recovered_at <= boundary.end - boundary.start
            if row.area == 0:
                assert row.depth == 0 and row.forgetting == 0


@settings(max_examples=80, deadline=None)
@given(runs(constant=True), st.integers(2, 50))
def test_a_constant_curve_has_no_gap_and_no_windowed_forgetting(run: Run, w: int) -> None:
    s = summarize(run.curves, run.schedule, windows=(w,))
    t = s.tasks_completed
    assert all(v == 0 for v in s.wf[0].per_task[: t - 1])
    assert all(v == 0 for v in s.wp[0].per_task if not math.isnan(v))
    if t > 1:
        assert s.bwt == 0 and s.forgetting == 0 and abs(s.wc_acc - s.acc) <= EPS
    for boundary in stability_gaps(run.curves, run.schedule):
        for _, row in boundary.rows:
            assert row is None or (row.depth == 0 and row.area == 0 and row.gap == 0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 1000), min_size=2, max_size=60),
    st.integers(2, 70),
)
def test_largest_drop_matches_the_pairwise_definition(values: list[int], w: int) -> None:
    a = np.asarray(values, dtype=float) / 1000
    expected = max(
        [a[i] - a[j] for i in range(a.size) for j in range(i + 1, min(a.size, i + w))] + [0.0]
    )
    assert largest_drop(a, w) == expected
    curve = Curve.of(range(a.size), a)
    assert windowed_forgetting(curve, 0, w) == expected
