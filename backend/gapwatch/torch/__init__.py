"""Gapwatch for PyTorch training loops: continual evaluation as a library call.

Install with the `torch` extra (`pip install 'gapwatch[torch]'`). Only this package imports
torch: `import gapwatch` and the SDK do not.

    from gapwatch.torch import ContinualEvaluator

    evaluator = ContinualEvaluator(model, [(x0, y0), (x1, y1)], subset_size=1000, seed=0)
    for k, loader in enumerate(train_loaders):
        evaluator.task_start(k)
        for x, y in loader:
            ...  # one update
            step += 1
            evaluator.maybe_evaluate(step, run=run)  # accuracy and loss of tasks 0..k

`ContinualEvaluator(..., diagnostics=True)` also logs the plasticity diagnostics (diag/...
keys; `evaluator.measure_update(x, y)` around an update adds its plasticity), computed by
`gapwatch.torch.diagnostics`.

The Gapwatch engine runs this same code: for the same seed, a user's loop evaluates the same
test rows as an engine run, scored the same way.
"""

from .diagnostics import ProbeDiagnostics
from .evaluation import (
    MAX_EVAL_ROWS,
    ContinualEvaluator,
    DiagnosticsRun,
    EvalRun,
    EvalSet,
    TaskScores,
    draw_eval_subset,
)
from .masking import MASK_VALUE, mask_logits, output_units_table
from .seeding import derive_seed, make_generator

__all__ = [
    "MASK_VALUE",
    "MAX_EVAL_ROWS",
    "ProbeDiagnostics",
    "ContinualEvaluator",
    "DiagnosticsRun",
    "EvalRun",
    "EvalSet",
    "TaskScores",
    "derive_seed",
    "draw_eval_subset",
    "make_generator",
    "mask_logits",
    "output_units_table",
]
