"""Task-incremental logit masking: each row is scored within its own task's output units.

In the task-incremental scenario (multi-head, as heads of one shared last layer), task k owns
the output units [start_k, end_k). Logits outside the row's task's units are replaced by
MASK_VALUE before any loss or argmax. The value is finite so that softmax, log_softmax and KL
never produce NaN. In the class- and domain-incremental scenarios nothing is masked.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

MASK_VALUE = -1e9


def output_units_table(
    output_units: Sequence[tuple[int, int] | None],
    device: torch.device | str | None = None,
) -> torch.Tensor | None:
    """The (n_tasks, 2) int64 table of each task's [start, end) output units, on `device`.

    Args:
        output_units: Per task, its [start, end) output units, or None when it has none.
        device: Where the table lives (the device of the logits it will mask); default CPU.

    Returns:
        The table, or None (no mask applies) unless every task has output units.
    """
    rows = list(output_units)
    if not rows or any(units is None for units in rows):
        return None
    return torch.tensor(rows, dtype=torch.int64, device=device)


def mask_logits(
    logits: torch.Tensor, task_ids: int | torch.Tensor, units_table: torch.Tensor | None
) -> torch.Tensor:
    """Replaces the logits outside each row's task's output units by MASK_VALUE.

    Args:
        logits: (n, n_outputs).
        task_ids: One task for the whole batch, or an int64 tensor (n,) of per-row tasks.
        units_table: From `output_units_table`; None returns `logits` unchanged.

    Returns:
        A new tensor (autograd flows through the kept logits); no host synchronisation.
    """
    if units_table is None:
        return logits
    bounds = units_table[task_ids]  # (2,) or (n, 2); indexing on the device, no sync
    columns = torch.arange(logits.shape[-1], device=logits.device)
    if bounds.ndim == 2:
        keep = (columns >= bounds[:, :1]) & (columns < bounds[:, 1:])
    else:
        keep = (columns >= bounds[0]) & (columns < bounds[1])
    fill = max(MASK_VALUE, torch.finfo(logits.dtype).min)  # half precision tops out at -65504
    return logits.masked_fill(~keep, fill)
