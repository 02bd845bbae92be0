"""The stability gap of METRICS.md ("per boundary"), kept apart from forgetting, by hand.

Three runs the issue names: a fine-tuned run (a deep drop that stays: gap 0, forgetting =
before), an ER run whose dip comes back (gap = depth), and a task already at chance (not
eligible, out of every mean). Then the window, chance levels, the aligned view, the 95%
intervals and the registry that turns all of it into a run's headline numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gapwatch.analytics import (
    HEADLINE_METRICS,
    METRICS,
    Analysis,
    Curve,
    RunData,
    Schedule,
    TaskClasses,
    aligned_band,
    aligned_rows,
    chance_level,
    gap_row,
    mean_ci,
    metric,
    stability_gaps,
)
from gapwatch.analytics.uncertainty import t_quantile_975

approx = pytest.approx

# Task 0 on [0, 10), task 1 on [10, 20); every iteration evaluated.
SCHEDULE = Schedule((0, 10), (10, 20))
LEARNER = Curve.of(range(10, 21), [0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])


def task0(tail: list[float]) -> Curve:
    """a_0: learned to 0.9 by step 10, then `tail` at steps 11..20."""
    return Curve.of(range(21), [*np.linspace(0.1, 0.9, 11).tolist(), *tail])


def test_fine_tuning_drops_for_good_which_is_forgetting_not_a_gap() -> None:
    forgotten = task0([0.4, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    (boundary,) = stability_gaps([forgotten, LEARNER], SCHEDULE)
    ((_, row),) = boundary.rows
    assert row is not None and row.eligible
    assert (row.before, row.trough, row.trough_at, row.after) == (approx(0.9), 0.0, 3, 0.0)
    assert row.depth == approx(0.9)
    assert row.forgetting == approx(0.9)  # = before: nothing came back
    assert row.gap == 0.0
    assert row.recovered_at is None


def test_a_dip_that_recovers_is_all_gap() -> None:
    dip = task0([0.6, 0.4, 0.7, 0.85, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    ((_, row),) = stability_gaps([dip, LEARNER], SCHEDULE)[0].rows
    assert row is not None and row.eligible
    assert (row.trough, row.trough_at) == (0.4, 2)
    assert row.depth == approx(0.5) and row.gap == approx(0.5)  # gap = depth
    assert row.forgetting == approx(0.0)
    assert row.recovered_at == 5  # 0.9 ≥ 0.9 − 0.01 at step 15; 0.85 at 14 is not
    # Area over (10, 20]: 0.3 + 0.5 + 0.2 + 0.05 point-iterations lost.
    assert row.area == approx(0.3 + 0.5 + 0.2 + 0.05)


def test_a_task_at_chance_is_listed_but_not_eligible_and_left_out_of_the_means() -> None:
    # Two classes per task, class-incremental: at s_1 the head answers 4 classes, chance 0.25.
    at_chance = Curve.of(range(21), [0.25] * 11 + [0.0] * 10)
    classes = TaskClasses(((0, 1), (2, 3)), class_incremental=True)
    (boundary,) = stability_gaps([at_chance, LEARNER], SCHEDULE, classes=classes)
    ((_, row),) = boundary.rows
    assert row is not None
    assert row.chance == 0.25 and not row.eligible
    assert row.depth == approx(0.25)  # still measured and shown
    assert math.isnan(boundary.mean_depth) and math.isnan(boundary.mean_gap)
    analysis = Analysis(RunData([at_chance, LEARNER], SCHEDULE, classes=classes))
    gap = metric("gap").function(analysis)
    assert math.isnan(gap.value) and gap.n == 0  # not "0.0 pp": no eligible row at all


def test_chance_depends_on_the_scenario() -> None:
    classes = [(0, 1), (2, 3), (4, 5)]
    assert chance_level(classes, 0, 2, class_incremental=True) == approx(1 / 6)
    assert chance_level(classes, 0, 2, class_incremental=False) == 0.5
    assert chance_level([(0, 1), None], 0, 1, class_incremental=True) == 0.0  # unknown


def test_the_trough_is_looked_for_in_the_window_only() -> None:
    # A quick dip of 0.2 at step 12, then a slow decline to 0.3 at step 20 (outside w = 5).
    curve = task0([0.8, 0.7, 0.85, 0.9, 0.88, 0.6, 0.5, 0.4, 0.35, 0.3])
    row = gap_row(curve, 10, 20, 0, gap_window=5)
    assert row is not None
    assert (row.trough, row.trough_at, row.evaluations) == (0.7, 2, 5)
    assert row.depth == approx(0.2)
    assert row.after == 0.3 and row.forgetting == approx(0.6)
    assert row.gap == 0.0  # after − trough < 0: the decline is forgetting, not a gap
    whole = gap_row(curve, 10, 20, 0, gap_window=200)  # w_k = min(L_k = 10, 200)
    assert whole is not None and whole.trough == 0.3 and whole.evaluations == 10


def test_run_headlines_pool_the_eligible_rows_of_ended_boundaries() -> None:
    # Three tasks on [0,10), [10,20), [20,30).
    a0 = Curve.of(range(31), [*[0.9] * 11, 0.5, *[0.9] * 9, 0.9, 0.2, *[0.2] * 8])
    a1 = Curve.of(range(10, 31), [0.0, *[0.8] * 10, 0.7, *[0.8] * 9])
    a2 = Curve.of(range(20, 31), [0.0, *[0.9] * 10])
    schedule = Schedule((0, 10, 20), (10, 20, 30))
    analysis = Analysis(RunData([a0, a1, a2], schedule))
    # Rows: (j=0, k=1) depth 0.4 gap 0.4; (0, 2) depth 0.7, forgotten; (1, 2) depth 0.1 gap 0.1.
    values = {m.id: m.function(analysis) for m in METRICS}
    assert values["gap"].value == approx((0.4 + 0.0 + 0.1) / 3) and values["gap"].n == 3
    assert values["gap_depth"].value == approx((0.4 + 0.7 + 0.1) / 3)
    assert values["gap_forgetting"].value == approx((0.0 + 0.7 + 0.0) / 3)
    assert values["gap_recovered"].value == approx(2 / 3)
    assert values["acc"].value == approx((0.2 + 0.8 + 0.9) / 3)


def test_a_running_boundary_is_left_out_of_the_headlines() -> None:
    schedule = Schedule((0, 10), (10, None))
    dip = task0([0.6, 0.4, 0.7, 0.85, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    analysis = Analysis(RunData([dip, LEARNER], schedule))
    assert analysis.gaps[0].rows[0][1] is not None  # shown live
    assert metric("gap").function(analysis).n == 0  # but not a headline until task 1 ends


def test_the_registry_is_complete_and_unique() -> None:
    ids = [m.id for m in METRICS]
    assert len(ids) == len(set(ids))
    assert {"acc", "gap", "gap_depth", "gap_forgetting", "gap_recovered"} <= {
        m.id for m in HEADLINE_METRICS
    }
    for m in METRICS:
        assert m.definition and m.formula and m.label
    with pytest.raises(KeyError):
        metric("nope")


def test_the_aligned_view_averages_rows_then_seeds() -> None:
    dip = task0([0.6, 0.4, 0.7, 0.85, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    rows = aligned_rows([dip, LEARNER], SCHEDULE, gap_window=4, margin=2)
    assert rows.offsets.tolist() == [-2, -1, 0, 1, 2, 3, 4]
    assert rows.rows[0].tolist() == approx([-0.16, -0.08, 0.0, -0.3, -0.5, -0.2, -0.05])
    one = aligned_band([rows])
    assert one.n.tolist() == [1] * 7 and np.isnan(one.lower).all()  # one row: no band
    shallower = aligned_rows(
        [task0([0.8, 0.7, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]), LEARNER],
        SCHEDULE,
        gap_window=4,
        margin=2,
    )
    band = aligned_band([rows, shallower])
    assert band.mean[4] == approx((-0.5 + -0.2) / 2)  # offset 2
    half = t_quantile_975(1) * np.std([-0.5, -0.2], ddof=1) / math.sqrt(2)
    assert band.upper[4] - band.mean[4] == approx(half)
    assert band.n[4] == 2


def test_mean_ci_uses_student_t_over_the_values_that_contribute() -> None:
    spread = mean_ci([0.8, 0.9, None, float("nan"), 1.0])
    assert spread.n == 3 and spread.mean == approx(0.9)
    assert spread.half_width == approx(4.303 * 0.1 / math.sqrt(3))
    assert mean_ci([0.5]).half_width is None and mean_ci([]).n == 0
    assert t_quantile_975(30) == 2.042 and t_quantile_975(40) == approx(2.021)
    assert 1.96 < t_quantile_975(10_000) < 1.961
