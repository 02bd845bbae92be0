"""The stability-gap headlines of fine-tuning and replay on the same Split-Digits spec.

Runs the two offline presets in process (no server) over a few seeds, keeps every point, and
prints the registry's headline numbers (METRICS.md, "The stability gap, per boundary") per
strategy as mean ± 95% CI over seeds: what the runs list and a sweep would show.

    .venv/bin/python bench/gap_headlines.py --seeds 3
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from gapwatch import analytics
from gapwatch.server.specs.presets import PRESETS
from gapwatch.spec import EVENT_TASK_END, EVENT_TASK_START, RunSpec
from gapwatch_worker.cl.loop import run_experiment

ACCURACY = "eval/acc/task_"


class CollectingReporter:
    """Keeps every accuracy point and every task boundary."""

    def __init__(self) -> None:
        self.points: dict[int, list[tuple[int, float]]] = defaultdict(list)
        self.starts: dict[int, int] = {}
        self.ends: dict[int, int] = {}
        self.classes: dict[int, tuple[int, ...]] = {}

    def report_scalars(self, step: int, values: Mapping[str, float]) -> None:
        for key, value in values.items():
            if key.startswith(ACCURACY):
                self.points[int(key.removeprefix(ACCURACY))].append((step, value))

    def report_event(self, step: int, kind: str, payload: Mapping[str, object]) -> None:
        task = payload["task"]
        assert isinstance(task, int)
        if kind == EVENT_TASK_START:
            self.starts[task] = step
            classes = payload.get("classes")
            if isinstance(classes, list):
                self.classes[task] = tuple(int(c) for c in classes)
        elif kind == EVENT_TASK_END:
            self.ends[task] = step

    def report_progress(self, step: int, total_steps: int) -> None:
        pass

    def flush(self) -> None:
        pass

    def run_data(self, scenario: str) -> analytics.RunData:
        n = len(self.starts)
        curves = [
            analytics.Curve.of([s for s, _ in self.points[j]], [v for _, v in self.points[j]])
            for j in range(n)
        ]
        schedule = analytics.Schedule(
            tuple(self.starts[k] for k in range(n)), tuple(self.ends.get(k) for k in range(n))
        )
        classes = analytics.TaskClasses(
            tuple(self.classes.get(k) for k in range(n)), scenario == "class_incremental"
        )
        return analytics.RunData(curves, schedule, classes=classes)


def preset_with(
    preset_id: str, changes: Iterable[tuple[str, str, object | None]]
) -> dict[str, Any]:
    """A preset's spec (sections copied) with (section, key, value) changes; None changes
    nothing (an option not given on the command line)."""
    preset = next(p for p in PRESETS if p.id == preset_id).spec
    spec = {key: dict(value) if isinstance(value, dict) else value for key, value in preset.items()}
    for section, key, value in changes:
        if value is not None:
            spec[section][key] = value
    return spec


def analysis_of(spec: RunSpec) -> analytics.Analysis:
    """One run of `spec`, in process on the CPU, analysed."""
    reporter = CollectingReporter()
    run_experiment(spec, reporter, device="cpu")
    return analytics.Analysis(reporter.run_data(spec.benchmark.scenario))


def headlines(spec: RunSpec) -> dict[str, float]:
    analysis = analysis_of(spec)
    return {m.id: m.function(analysis).value for m in analytics.HEADLINE_METRICS}


def cell(values: Iterable[float]) -> str:
    """Mean ± 95% CI of fractions, in points ("7.5 ± 3.7")."""
    spread = analytics.mean_ci(values)
    half = f" ± {100 * spread.half_width:.1f}" if spread.half_width is not None else ""
    return f"{100 * spread.mean:.1f}{half}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--presets", default="split_digits_finetune,split_digits_er")
    args = parser.parse_args()
    wanted = args.presets.split(",")
    print(f"{'preset':<24}" + "".join(f"{m.id:>18}" for m in analytics.HEADLINE_METRICS))
    for preset in (p for p in PRESETS if p.id in wanted):
        per_seed = [
            headlines(RunSpec.model_validate({**preset.spec, "seed": seed}))
            for seed in range(args.seeds)
        ]
        cells = [cell(run[m.id] for run in per_seed) for m in analytics.HEADLINE_METRICS]
        print(f"{preset.id:<24}" + "".join(f"{c:>18}" for c in cells))
    print(f"(points; mean ± 95% CI over {args.seeds} seeds; gap_window = 200)")


if __name__ == "__main__":
    main()
