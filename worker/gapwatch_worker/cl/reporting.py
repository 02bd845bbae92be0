"""Where a run's points, events and progress go.

The training loop only knows the `Reporter` protocol. The Celery task implements it over the REST
client; `MemoryReporter` keeps everything in memory for tests and benchmarks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class Reporter(Protocol):
    """Receives what a run produces. Calls must be cheap: the loop makes them on its hot path."""

    def report_scalars(self, step: int, values: Mapping[str, float]) -> None:
        """Records metric points `(key, step, value)` for every item of `values`."""
        ...

    def report_event(self, step: int, kind: str, payload: Mapping[str, object]) -> None:
        """Records a discrete happening, such as a task boundary, at `step`."""
        ...

    def report_progress(self, step: int, total_steps: int) -> None:
        """Says that `step` of `total_steps` updates are done (called now and then)."""
        ...

    def flush(self) -> None:
        """Returns once everything reported so far is delivered (before each checkpoint)."""
        ...


@dataclass(frozen=True)
class Event:
    """One run event as `MemoryReporter` keeps it."""

    step: int
    kind: str
    payload: dict[str, object]


@dataclass
class MemoryReporter:
    """A `Reporter` that keeps everything in memory.

    Attributes:
        series: For each metric key, its steps and values, in the order reported.
        events: Every event, in the order reported.
        progress: The last `(step, total_steps)` reported, or None.
        progress_calls: How many times progress was reported.
    """

    series: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    progress: tuple[int, int] | None = None
    progress_calls: int = 0

    def report_scalars(self, step: int, values: Mapping[str, float]) -> None:
        """Appends one point per key.

        Raises:
            ValueError: If a key gets a step that is not after its previous one. The service keeps
                one value per (key, step), so a repeated step is a bug of the caller.
        """
        for key, value in values.items():
            steps, points = self.series.setdefault(key, ([], []))
            if steps and step <= steps[-1]:
                raise ValueError(f"{key}: step {step} reported after step {steps[-1]}")
            steps.append(step)
            points.append(float(value))

    def report_event(self, step: int, kind: str, payload: Mapping[str, object]) -> None:
        """Appends one event (the payload is copied)."""
        self.events.append(Event(step, kind, dict(payload)))

    def report_progress(self, step: int, total_steps: int) -> None:
        """Keeps the latest progress."""
        self.progress = (step, total_steps)
        self.progress_calls += 1

    def flush(self) -> None:
        """Nothing to deliver: everything is already in memory."""

    def steps(self, key: str) -> list[int]:
        """The steps at which `key` was reported (empty if never)."""
        return self.series.get(key, ([], []))[0]

    def values(self, key: str) -> list[float]:
        """The values reported for `key` (empty if never)."""
        return self.series.get(key, ([], []))[1]

    def value_at(self, key: str, step: int) -> float:
        """The value of `key` at `step`.

        Raises:
            KeyError: If `key` has no point at `step`.
        """
        steps, values = self.series.get(key, ([], []))
        for at, value in zip(steps, values, strict=True):
            if at == step:
                return value
        raise KeyError(f"{key} has no point at step {step}")
