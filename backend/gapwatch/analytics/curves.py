"""Accuracy curves and the task schedule that every metric of METRICS.md is computed from.

Tasks are indexed from 0, as in the metric keys (`eval/acc/task_0`); METRICS.md writes its
formulas from 1. A curve a_j holds task j's accuracy (a fraction in [0, 1]) at every evaluated
iteration i, where a step is the number of updates done.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Curve:
    """a_j(i): one task's accuracy at its evaluated iterations.

    Attributes:
        steps: Evaluated iterations, strictly increasing (int64).
        values: Accuracy at each of them (float64), aligned with `steps`.
    """

    steps: IntArray
    values: FloatArray

    @classmethod
    def of(cls, steps: Sequence[int] | IntArray, values: Sequence[float] | FloatArray) -> Curve:
        """A curve from any sequences; sorts by step.

        Raises:
            ValueError: If lengths differ or a step repeats.
        """
        s = np.asarray(steps, dtype=np.int64).reshape(-1)
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if s.shape != v.shape:
            raise ValueError(f"{s.size} steps but {v.size} values")
        order = np.argsort(s, kind="stable")
        s, v = s[order], v[order]
        if s.size > 1 and not np.all(np.diff(s) > 0):
            raise ValueError("a step repeats within one curve")
        return cls(s, v)

    @classmethod
    def empty(cls) -> Curve:
        return cls(np.empty(0, np.int64), np.empty(0, np.float64))

    def __len__(self) -> int:
        return int(self.steps.size)

    def at(self, step: int) -> float:
        """a_j(step), or NaN if the task was not evaluated at exactly that step."""
        index = int(np.searchsorted(self.steps, step))
        if index < self.steps.size and self.steps[index] == step:
            return float(self.values[index])
        return float("nan")

    def between(self, first: int | None, last: int | None) -> Curve:
        """The evaluations with first <= i <= last (either bound may be None: open)."""
        lo = 0 if first is None else int(np.searchsorted(self.steps, first, "left"))
        hi = self.steps.size if last is None else int(np.searchsorted(self.steps, last, "right"))
        return Curve(self.steps[lo:hi], self.values[lo:hi])

    def previous_step(self, step: int) -> int | None:
        """The last evaluated iteration strictly before `step`, if any."""
        index = int(np.searchsorted(self.steps, step, "left"))
        return int(self.steps[index - 1]) if index > 0 else None


@dataclass(frozen=True)
class Schedule:
    """When each task was trained: task k on iterations [starts[k], ends[k]).

    Attributes:
        starts: s_k, the step of task k's first update (its `task_start` event).
        ends: e_k, the step after its last update (its `task_end` event); None while task k is
            still being trained.
    """

    starts: tuple[int, ...]
    ends: tuple[int | None, ...]

    def __post_init__(self) -> None:
        if len(self.starts) != len(self.ends):
            raise ValueError("one start and one end (or None) per task")

    @property
    def n_tasks(self) -> int:
        return len(self.starts)

    @property
    def completed(self) -> int:
        """How many leading tasks have ended: the T of the end-of-task metrics so far."""
        count = 0
        for end in self.ends:
            if end is None:
                break
            count += 1
        return count

    def finished_ends(self) -> list[int]:
        """e_k of the completed leading tasks."""
        return [int(e) for e in self.ends[: self.completed] if e is not None]
