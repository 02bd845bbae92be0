"""ER's memory policies on Split-Digits: the stability gap at the first boundary, same seeds.

`reservoir` offers every batch to the memory, so the task being learnt is replayed too;
`task_end` (De Lange et al.'s) fills the memory at each task's end and replays earlier tasks
only. Everything else is the offline `split_digits_er` preset (or the options below). Runs in
process (no server), like gap_headlines.py, and prints per policy, as mean ± 95% CI over seeds
(the same seeds for every policy), in accuracy points:
- at boundary 1 (the start of the second task; METRICS.md's s_2, the first task its only
  earlier task): gap, depth and forgetting;
- over all boundaries: the mean gap and mean depth (the registry's headlines), and ACC;
then the ratio of the policies' means.

    .venv/bin/python bench/replay_policies.py --seeds 3
    .venv/bin/python bench/replay_policies.py --momentum 0.9 --lr 0.01 --replay-weight 0.7
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from gapwatch import analytics
from gapwatch.spec import RunSpec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gap_headlines import analysis_of, cell, preset_with  # noqa: E402

COLUMNS = ("gap@b1", "depth@b1", "forget@b1", "mean gap", "mean depth", "ACC")


def run_numbers(spec: RunSpec) -> dict[str, float]:
    """One run's boundary-1 row and headline numbers, as fractions."""
    analysis = analysis_of(spec)
    first = next(b for b in analysis.gaps if b.task == 1)
    headline = {m.id: m.function(analysis).value for m in analytics.HEADLINE_METRICS}
    return {
        "gap@b1": first.mean_gap,
        "depth@b1": first.mean_depth,
        "forget@b1": first.mean_forgetting,
        "mean gap": headline["gap"],
        "mean depth": headline["gap_depth"],
        "ACC": headline["acc"],
    }


def base_spec(args: argparse.Namespace) -> dict[str, Any]:
    """The split_digits_er preset with the command line's changes."""
    return preset_with(
        "split_digits_er",
        (
            ("optimizer", "lr", args.lr),
            ("optimizer", "momentum", args.momentum),
            ("strategy", "replay_weight", args.replay_weight),
            ("strategy", "buffer_size", args.buffer_size),
            ("training", "iterations_per_task", args.iterations),
            ("training", "batch_size", args.batch_size),
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--policies", default="reservoir,task_end")
    parser.add_argument("--lr", type=float)
    parser.add_argument("--momentum", type=float)
    parser.add_argument("--replay-weight", type=float)
    parser.add_argument("--buffer-size", type=int)
    parser.add_argument("--iterations", type=int, help="per task")
    parser.add_argument("--batch-size", type=int)
    args = parser.parse_args()
    policies = args.policies.split(",")
    base = base_spec(args)
    shown = {k: base[k] for k in ("strategy", "optimizer", "training")}
    print(f"split_digits, seeds 0..{args.seeds - 1}, every iteration evaluated: {shown}")
    print(f"{'policy':<12}" + "".join(f"{c:>16}" for c in COLUMNS))
    means: dict[str, dict[str, float]] = {}
    for policy in policies:
        runs = [
            run_numbers(
                RunSpec.model_validate(
                    {**base, "strategy": {**base["strategy"], "buffer_policy": policy}, "seed": s}
                )
            )
            for s in range(args.seeds)
        ]
        means[policy] = {c: analytics.mean_ci(r[c] for r in runs).mean for c in COLUMNS}
        print(f"{policy:<12}" + "".join(f"{cell(r[c] for r in runs):>16}" for c in COLUMNS))
    if len(policies) == 2:
        first, second = policies
        ratios = [means[second][c] / means[first][c] if means[first][c] else math.nan
                  for c in COLUMNS]  # fmt: skip
        label = f"{second}/{first}"
        print(f"{label[:12]:<12}" + "".join(f"{r:>16.2f}" for r in ratios))
    print(f"(points; mean ± 95% CI over {args.seeds} seeds; gap_window = 200; b1 = boundary 1)")


if __name__ == "__main__":
    main()
