"""Every METRICS.md number on small curves computed by hand; the expected values are written out.

Tasks are 0-based (task j is `eval/acc/task_<j>`); e_k is where task k's training ended.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gapwatch.analytics import (
    Curve,
    Schedule,
    across_runs,
    gap_row,
    largest_drop,
    stability_gaps,
    standard_error,
    summarize,
    windowed_forgetting,
)

approx = pytest.approx


def nan(value: float) -> bool:
    return math.isnan(value)


def test_plateau_no_dip_wc_acc_equals_acc() -> None:
    # Task 0 trained on [0, 4), task 1 on [4, 8); evaluations every 2 iterations.
    a0 = Curve.of([0, 2, 4, 6, 8], [0.1, 0.5, 0.8, 0.8, 0.8])
    a1 = Curve.of([4, 6, 8], [0.2, 0.6, 0.9])
    s = summarize([a0, a1], Schedule((0, 4), (4, 8)), [100, 100], windows=(2, 10))

    assert s.accuracy_matrix.tolist() == [[0.8, 0.2], [0.8, 0.9]]
    assert s.acc == approx(0.85)
    assert s.bwt == approx(0.0)
    assert nan(s.fwt)  # task 1 was not evaluated before training: no b_1
    assert s.forgetting_per_task.tolist() == approx([0.0])
    assert s.forgetting_from_learned_per_task.tolist() == approx([0.0])
    assert s.learning_accuracy_per_task.tolist() == [0.8, 0.9]
    assert s.min_acc_per_task.tolist() == [0.8, 0.9]
    assert s.min_acc == approx(0.8)
    assert s.wc_acc_per_boundary.tolist() == approx([0.8, 0.85])
    assert s.wc_acc == approx(s.acc)  # no evaluation ever below its end-of-training value
    wf2, wf10 = s.wf
    assert wf10.per_task[0] == 0.0 and nan(wf10.per_task[1]) and wf10.mean == 0.0
    wp2, wp10 = s.wp
    assert wp10.per_task.tolist() == approx([0.7, 0.7])  # 0.1 -> 0.8 and 0.2 -> 0.9
    assert wp2.per_task.tolist() == approx([0.4, 0.4])  # largest rise between neighbours

    (boundary,) = stability_gaps([a0, a1], Schedule((0, 4), (4, 8)))
    ((task, row),) = boundary.rows
    assert task == 0 and row is not None
    # The window (s_1, s_1 + w] = (4, 8] holds steps 6 and 8; s_1 itself is `before`.
    assert (row.before, row.trough, row.trough_at, row.depth) == (0.8, 0.8, 2, 0.0)
    assert (row.gap, row.forgetting, row.area) == (0.0, 0.0, 0.0)
    assert row.recovered_at == 2  # a trough within one point of before: no dip to recover


def test_single_dip_that_recovers() -> None:
    # Task 0 on [0, 4), task 1 on [4, 10); every iteration evaluated.
    a0 = Curve.of(range(11), [0.2, 0.4, 0.6, 0.8, 0.9, 0.5, 0.3, 0.6, 0.85, 0.9, 0.88])
    a1 = Curve.of(range(4, 11), [0.1, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9])
    schedule = Schedule((0, 4), (4, 10))
    s = summarize([a0, a1], schedule, [100, 100], windows=(2, 3, 10))

    assert s.accuracy_matrix.tolist() == [[0.9, 0.1], [0.88, 0.9]]
    assert s.acc == approx(0.89)
    assert s.acc_se == approx(0.022113344387495983)  # sqrt(.88*.12/100 + .9*.1/100) / 2
    assert s.bwt == approx(-0.02)
    assert s.forgetting == approx(0.02)
    assert s.min_acc_per_task.tolist() == [0.3, 0.9]
    assert s.min_acc == 0.3
    assert s.wc_acc == approx(0.6)  # 1/2 * 0.9 + 1/2 * 0.3, far below ACC = 0.89
    assert s.wc_acc_se == approx(0.027386127875258306)  # sqrt((.5*.03)^2 + (.5*.0458)^2)
    wf2, wf3, wf10 = s.wf
    assert wf2.mean == approx(0.4)  # 0.9 -> 0.5 between neighbours
    assert wf3.mean == approx(0.6)  # 0.9 -> 0.3 two evaluations apart
    assert wf10.mean == approx(0.6)
    assert s.wp[2].per_task.tolist() == approx([0.7, 0.8])
    assert s.wp[2].mean == approx(0.75)

    ((_, row),) = stability_gaps([a0, a1], schedule)[0].rows
    assert row is not None
    assert row.before == 0.9 and row.trough == 0.3
    assert row.trough_at == 2
    assert row.depth == approx(0.6)
    assert row.after == 0.88 and row.forgetting == approx(0.02)
    assert row.gap == approx(0.58)  # min(depth 0.6, after − trough 0.58): what came back
    assert row.recovered_at == 5  # step 9 (0.9 >= 0.89); step 8 (0.85) is not
    assert row.area == approx(0.4 + 0.6 + 0.3 + 0.05 + 0.0 + 0.02)
    assert row.evaluations == 6  # steps 5..10 of the window (4, 10]


def test_a_dip_that_comes_back_only_in_part_splits_into_gap_and_forgetting() -> None:
    a0 = Curve.of(range(9), [0.2, 0.4, 0.6, 0.7, 0.8, 0.4, 0.5, 0.6, 0.7])
    a1 = Curve.of(range(4, 9), [0.1, 0.3, 0.5, 0.7, 0.9])
    schedule = Schedule((0, 4), (4, 8))
    s = summarize([a0, a1], schedule, windows=(10,))

    ((_, row),) = stability_gaps([a0, a1], schedule)[0].rows
    assert row is not None
    assert (row.before, row.trough, row.trough_at) == (0.8, 0.4, 1)
    assert row.depth == approx(0.4)
    assert row.after == 0.7 and row.forgetting == approx(0.1) and row.gap == approx(0.3)
    assert row.recovered_at is None
    assert row.area == approx(0.4 + 0.3 + 0.2 + 0.1)
    assert s.forgetting == approx(0.1)  # 0.8 at e_0, 0.7 at the end
    assert s.acc == approx(0.8)
    assert s.min_acc == 0.4
    assert s.wc_acc == approx(0.65)
    assert s.wf[0].mean == approx(0.4)
    assert nan(s.acc_se)  # no subset size given: no standard error


def test_recovery_after_the_task_ended_does_not_count() -> None:
    # Back within one point only at step 9, after e_k = 8: the loss stayed within the task.
    curve = Curve.of(range(4, 10), [0.8, 0.5, 0.6, 0.7, 0.75, 0.8])
    row = gap_row(curve, start=4, end=8, task=0)
    assert row is not None and row.recovered_at is None and row.evaluations == 4
    assert gap_row(curve, start=4, end=None, task=0).recovered_at == 5  # live: window open
    assert gap_row(curve, start=4, end=3, task=0) is None  # e_k before s_k: no window, no row


def test_a_task_never_evaluated_after_training_leaves_its_metrics_undefined() -> None:
    # Three tasks on [0,2), [2,4), [4,6). Task 1's points stop at step 3, before e_1 = 4.
    a0 = Curve.of(range(7), [0.1, 0.5, 0.9, 0.8, 0.85, 0.6, 0.7])
    a1 = Curve.of([2, 3], [0.3, 0.6])
    a2 = Curve.of([4, 5, 6], [0.2, 0.5, 0.9])
    schedule = Schedule((0, 2, 4), (2, 4, 6))
    s = summarize([a0, a1, a2], schedule, [100, 100, 100])

    r = s.accuracy_matrix
    assert r[0, 0] == 0.9 and r[0, 1] == 0.3 and r[1, 0] == 0.85 and r[2, 0] == 0.7
    assert nan(r[1, 1]) and nan(r[2, 1]) and r[2, 2] == 0.9
    # A mean over a missing cell is undefined, not a mean over fewer tasks.
    assert nan(s.acc) and nan(s.bwt) and nan(s.min_acc) and nan(s.wc_acc)
    assert s.forgetting_per_task[0] == approx(0.2) and nan(s.forgetting_per_task[1])
    assert nan(s.forgetting)
    assert s.min_acc_per_task[0] == 0.6 and nan(s.min_acc_per_task[1])
    assert s.min_acc_per_task[2] == 0.9
    assert s.min_acc_per_boundary[1] == 0.8  # min of task 0 over [e_0, e_1] = [2, 4]
    assert nan(s.wc_acc_per_boundary[1])  # needs R[1][1]
    assert nan(s.wf[0].per_task[1])  # nothing evaluated at i >= e_1
    assert s.wp[0].per_task[1] == approx(0.3)  # 0.3 -> 0.6 while it was trained

    first, second = stability_gaps([a0, a1, a2], schedule)
    ((_, row),) = first.rows
    assert row is not None and row.trough_at == 1 and row.depth == approx(0.1)
    assert row.recovered_at is None and row.area == approx(0.1 + 0.05)
    assert row.forgetting == approx(0.05) and row.gap == approx(0.05)
    (_, row0), (_, row1) = second.rows
    assert row0 is not None and row0.depth == approx(0.25) and row0.area == approx(0.25 + 0.15)
    assert row1 is None  # task 1 was not evaluated at s_2
    # Means are over the rows that could be measured and are eligible.
    assert second.mean_depth == approx(0.25) and second.max_depth == approx(0.25)


def test_uneven_evaluation_spacing_weights_the_area_by_iterations() -> None:
    # Task 1 on [10, 30), evaluated at 10, 11, 13, 20 and 30; task 0 also at 0 and 5.
    a0 = Curve.of([0, 5, 10, 11, 13, 20, 30], [0.3, 0.7, 0.9, 0.6, 0.5, 0.7, 0.9])
    a1 = Curve.of([10, 11, 13, 20, 30], [0.1, 0.3, 0.5, 0.7, 0.8])
    schedule = Schedule((0, 10), (10, 30))
    ((_, row),) = stability_gaps([a0, a1], schedule)[0].rows
    assert row is not None
    assert row.trough == 0.5 and row.trough_at == 3  # iterations, not evaluations
    assert row.depth == approx(0.4) and row.gap == approx(0.4) and row.forgetting == 0.0
    assert row.recovered_at == 20
    # 0.3 lost for 1 iteration, 0.4 for 2, 0.2 for 7, nothing at 10 and 30.
    assert row.area == approx(0.3 * 1 + 0.4 * 2 + 0.2 * 7)
    assert windowed_forgetting(a0, 10, 2) == approx(0.3)
    assert windowed_forgetting(a0, 10, 3) == approx(0.4)
    s = summarize([a0, a1], schedule)
    assert s.acc == approx(0.85) and s.min_acc == 0.5 and s.wc_acc == approx(0.65)


def test_three_tasks_with_unseen_evaluations_give_fwt_and_both_forgettings() -> None:
    # include_unseen: every task evaluated from step 0. Tasks on [0,2), [2,4), [4,6).
    curves = [
        Curve.of([0, 2, 4, 6], [0.1, 0.9, 0.95, 0.7]),
        Curve.of([0, 2, 4, 6], [0.2, 0.3, 0.8, 0.6]),
        Curve.of([0, 2, 4, 6], [0.15, 0.1, 0.35, 0.9]),
    ]
    schedule = Schedule((0, 2, 4), (2, 4, 6))
    s = summarize(curves, schedule, [100, 100, 100], windows=(10,))

    assert s.accuracy_matrix.tolist() == [[0.9, 0.3, 0.1], [0.95, 0.8, 0.35], [0.7, 0.6, 0.9]]
    assert s.acc == approx(2.2 / 3)
    assert s.acc_per_boundary.tolist() == approx([0.9, 0.875, 2.2 / 3])
    assert s.bwt == approx(-0.2)  # ((0.7 - 0.9) + (0.6 - 0.8)) / 2
    assert s.initial_accuracy.tolist() == [0.1, 0.2, 0.15]
    assert s.fwt == approx(0.15)  # ((0.3 - 0.2) + (0.35 - 0.15)) / 2
    assert s.forgetting_per_task.tolist() == approx([0.25, 0.2])  # best 0.95 before the end
    assert s.forgetting == approx(0.225)
    assert s.forgetting_from_learned_per_task.tolist() == approx([0.2, 0.2])
    assert s.forgetting_from_learned == approx(0.2)
    assert s.learning_accuracy_per_task.tolist() == [0.9, 0.8, 0.9]
    assert nan(s.min_acc_per_boundary[0])
    assert s.min_acc_per_boundary[1:].tolist() == approx([0.9, 0.65])
    assert s.wc_acc_per_boundary.tolist() == approx([0.9, 0.85, 0.9 / 3 + 2 / 3 * 0.65])
    assert s.wf[0].per_task[:2].tolist() == approx([0.25, 0.2])
    assert s.wp[0].per_task.tolist() == approx([0.8, 0.5, 0.55])

    _, second = stability_gaps(curves, schedule)
    (_, row0), (_, row1) = second.rows
    assert row0 is not None and row1 is not None
    assert (row0.before, row0.depth, row0.area) == (0.95, approx(0.25), approx(0.5))
    assert (row1.before, row1.depth, row1.area) == (0.8, approx(0.2), approx(0.4))
    assert second.mean_depth == approx(0.225)


def test_a_running_run_is_summarized_at_its_last_ended_task() -> None:
    a0 = Curve.of(range(7), [0.5, 0.7, 0.9, 0.4, 0.6, 0.2, 0.3])
    a1 = Curve.of(range(2, 7), [0.1, 0.5, 0.8, 0.7, 0.6])
    schedule = Schedule((0, 2, 4), (2, 4, None))  # task 2 is being trained
    s = summarize([a0, a1], schedule)
    assert s.tasks_completed == 2 and s.as_of_step == 4
    assert s.min_acc == 0.4  # the 0.2 at step 5 comes after e_1: not yet in the snapshot
    gaps = stability_gaps([a0, a1], schedule)
    assert [g.end for g in gaps] == [4, None]
    live = gaps[1]
    assert live.evaluated_until == 6
    assert [row.trough for _, row in live.rows] == [0.2, 0.6]  # already seen in the open window


def test_standard_errors_and_spread_across_runs() -> None:
    assert standard_error(0.9, 100) == approx(0.03)
    assert standard_error(0.5, 400) == approx(0.025)
    assert nan(standard_error(0.5, None)) and nan(standard_error(float("nan"), 10))
    spread = across_runs([0.8, 0.9, None, float("nan"), 1.0])
    assert (spread.mean, spread.std, spread.n) == (approx(0.9), approx(0.1), 3)
    single = across_runs([0.7])
    assert single.mean == 0.7 and nan(single.std) and single.n == 1


def test_largest_drop_window_counts_consecutive_evaluations() -> None:
    values = np.array([0.9, 0.8, 0.7, 0.6, 0.95, 0.1])
    assert largest_drop(values, 2) == approx(0.85)  # 0.95 -> 0.1
    assert largest_drop(np.array([0.9, 0.8, 0.7, 0.6]), 2) == approx(0.1)
    assert largest_drop(np.array([0.9, 0.8, 0.7, 0.6]), 3) == approx(0.2)
    assert largest_drop(np.array([0.9, 0.8, 0.7, 0.6]), 4) == approx(0.3)
    assert largest_drop(np.array([0.9, 0.8, 0.7, 0.6]), 1000) == approx(0.3)
    assert largest_drop(np.array([0.1, 0.2, 0.3]), 10) == 0.0  # only rises
    assert nan(largest_drop(np.array([0.5]), 10))
    with pytest.raises(ValueError):
        largest_drop(values, 1)
