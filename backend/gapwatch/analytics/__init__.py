"""Pure functions over accuracy curves: every number that METRICS.md defines.

No database and no HTTP here: arrays in, numbers out. Tasks are 0-based, as in the metric keys;
each function's docstring quotes the definition it implements.
"""

from gapwatch.analytics.continual import (
    DEFAULT_WINDOWS,
    largest_drop,
    largest_rise,
    min_acc_at_boundary,
    min_acc_of_task,
    min_acc_per_task,
    wc_acc,
    windowed_forgetting,
    windowed_plasticity,
)
from gapwatch.analytics.curves import Curve, Schedule
from gapwatch.analytics.gap import RECOVERY_TOLERANCE, GapRow, gap_row, gap_table
from gapwatch.analytics.matrix import (
    accuracy_matrix,
    average_accuracy,
    average_accuracy_per_boundary,
    backward_transfer,
    forgetting_from_learned_per_task,
    forgetting_per_task,
    forward_transfer,
    initial_accuracies,
    learning_accuracy,
)
from gapwatch.analytics.summary import (
    BoundaryGaps,
    Summary,
    Windowed,
    stability_gaps,
    summarize,
)
from gapwatch.analytics.uncertainty import (
    Spread,
    across_runs,
    standard_error,
    standard_error_of_mean,
)

__all__ = [
    "DEFAULT_WINDOWS",
    "RECOVERY_TOLERANCE",
    "BoundaryGaps",
    "Curve",
    "GapRow",
    "Schedule",
    "Spread",
    "Summary",
    "Windowed",
    "accuracy_matrix",
    "across_runs",
    "average_accuracy",
    "average_accuracy_per_boundary",
    "backward_transfer",
    "forgetting_from_learned_per_task",
    "forgetting_per_task",
    "forward_transfer",
    "gap_row",
    "gap_table",
    "initial_accuracies",
    "largest_drop",
    "largest_rise",
    "learning_accuracy",
    "min_acc_at_boundary",
    "min_acc_of_task",
    "min_acc_per_task",
    "stability_gaps",
    "standard_error",
    "standard_error_of_mean",
    "summarize",
    "wc_acc",
    "windowed_forgetting",
    "windowed_plasticity",
]
