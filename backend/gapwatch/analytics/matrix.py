"""End-of-task metrics from the accuracy matrix R (METRICS.md, "Standard end-of-task metrics").

R[k][j] = a_j(e_k): accuracy on task j right after training task k. Tasks are 0-based here, so
the last of T tasks is T-1 and the formulas' R[T][j] is `R[T-1, j]`. A cell is NaN when task j
was not evaluated at exactly e_k; a metric that needs a NaN cell is NaN (undefined), never an
average over fewer tasks than its definition names.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gapwatch.analytics.curves import Curve, FloatArray

ACC = "average_accuracy"
BWT = "backward_transfer"
FWT = "forward_transfer"
FORGETTING_CHAUDHRY = "chaudhry_max_minus_final"
FORGETTING_FROM_LEARNED = "learned_minus_final"
LEARNING_ACCURACY = "learning_accuracy"


def accuracy_matrix(curves: Sequence[Curve], ends: Sequence[int]) -> FloatArray:
    """The accuracy matrix R of the tasks that have ended.

    Definition (METRICS.md): R[k][j] = a_j(e_k), accuracy on task j right after training task k.

    Args:
        curves: a_j for j = 0 .. at least len(ends)-1 (extra curves are ignored).
        ends: e_k of each ended task, in task order.

    Returns:
        A T x T array, T = len(ends); NaN where task j has no evaluation at step e_k (for
        j > k that is the rule unless unseen tasks were evaluated).
    """
    n = len(ends)
    matrix = np.full((n, n), np.nan)
    for k, end in enumerate(ends):
        for j in range(n):
            if j < len(curves):
                matrix[k, j] = curves[j].at(int(end))
    return matrix


def average_accuracy(matrix: FloatArray, k: int | None = None) -> float:
    """ACC after task k: (1/(k+1)) Σ_{j<=k} R[k][j]; the final ACC when k is None.

    Definition (METRICS.md): ACC = (1/T) Σ_j R[T][j].
    """
    if matrix.shape[0] == 0:
        return float("nan")
    k = matrix.shape[0] - 1 if k is None else k
    return float(np.mean(matrix[k, : k + 1]))


def average_accuracy_per_boundary(matrix: FloatArray) -> FloatArray:
    """ACC at the end of each task k = 0 .. T-1 (average over the tasks seen so far)."""
    return np.array([average_accuracy(matrix, k) for k in range(matrix.shape[0])])


def backward_transfer(matrix: FloatArray) -> float:
    """BWT = 1/(T-1) Σ_{j<T} (R[T][j] − R[j][j]) (Lopez-Paz & Ranzato); NaN when T < 2."""
    n = matrix.shape[0]
    if n < 2:
        return float("nan")
    j = np.arange(n - 1)
    return float(np.mean(matrix[n - 1, j] - matrix[j, j]))


def initial_accuracies(curves: Sequence[Curve], n_tasks: int, first_step: int = 0) -> FloatArray:
    """b_j: accuracy of the untrained model on task j, a_j at the first task's start.

    Only runs that evaluate tasks before training them (evaluation.include_unseen) have b_j for
    j >= 1; otherwise it is NaN.
    """
    return np.array(
        [curves[j].at(first_step) if j < len(curves) else np.nan for j in range(n_tasks)]
    )


def forward_transfer(matrix: FloatArray, initial: FloatArray) -> float:
    """FWT = 1/(T-1) Σ_{j>1} (R[j-1][j] − b_j), b_j the untrained model's accuracy on task j.

    0-based: the mean over j = 1 .. T-1 of R[j-1, j] − initial[j]. NaN when T < 2 or a term is
    missing (R[j-1][j] needs task j evaluated at e_{j-1}, b_j needs it evaluated at step 0).
    """
    n = matrix.shape[0]
    if n < 2:
        return float("nan")
    j = np.arange(1, n)
    return float(np.mean(matrix[j - 1, j] - initial[j]))


def forgetting_per_task(matrix: FloatArray) -> FloatArray:
    """Forgetting of each task j < T, as Chaudhry et al. (2018) define it.

    Definition (METRICS.md): f_j = max_{k∈[j, T-1]} R[k][j] − R[T][j] (1-based), i.e. the best
    accuracy task j had at the end of any task before the last, minus its final accuracy.

    Returns:
        T-1 values (empty when T < 2).
    """
    n = matrix.shape[0]
    out = np.full(max(n - 1, 0), np.nan)
    for j in range(n - 1):
        out[j] = np.max(matrix[j : n - 1, j]) - matrix[n - 1, j]
    return out


def forgetting_from_learned_per_task(matrix: FloatArray) -> FloatArray:
    """The other common forgetting: R[j][j] − R[T][j] for each task j < T (learned − final)."""
    n = matrix.shape[0]
    j = np.arange(max(n - 1, 0))
    return matrix[j, j] - matrix[n - 1, j] if n > 1 else np.empty(0)


def learning_accuracy(matrix: FloatArray) -> FloatArray:
    """Learning accuracy of each task k: R[k][k], its accuracy right after it was trained."""
    return np.diag(matrix).copy()


def mean_or_nan(values: FloatArray) -> float:
    """The mean, NaN if empty or any value is NaN (a metric over missing cells is undefined)."""
    return float(np.mean(values)) if values.size else float("nan")
