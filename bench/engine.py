"""The cost of Gapwatch's continual evaluation against a bare PyTorch loop doing the same work.

(a) A bare loop: the same MLP (2x400) on the same preloaded data, SGD with batch 128, and after
    every update one batched forward over the fixed evaluation subsets of the tasks seen so far,
    per-task accuracy on the device, one copy to the host.
(b) The Gapwatch engine (`run_experiment`) on the same spec with `every: 1`, `subset_size: 1000`,
    reporting to a collector that discards every point.

(c) The engine on the same spec with `evaluation.diagnostics` on (plasticity diagnostics at
    every evaluation, METRICS.md): its cost is `diagnostics ratio: <(c)/(b)>`, target <= 1.15.

The engine always meters the run's cost (cost/... points, worker/gapwatch_worker/cl/cost.py),
so (b) includes it.

All run in this process, alternately, several rounds; the figures are ratios of the medians.
The data are the offline `synthetic` benchmark shaped like MNIST (784 features, 5 tasks x 2
classes, 1,000 test samples per task), so no download is needed.

Usage: .venv/bin/python bench/engine.py [--rounds 3] [--iterations 200] [--device cpu]
The second-last line is `diagnostics ratio: <(c)/(b)>`; the last line is
`ratio: <(b)/(a)>`, whose target is at most 1.3.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Mapping

import torch
from torch import nn

from gapwatch.spec import RunSpec
from gapwatch_worker.cl.benchmarks import build_benchmark
from gapwatch_worker.cl.benchmarks.base import build_evaluator
from gapwatch_worker.cl.loop import resolve_device, run_experiment
from gapwatch_worker.cl.models import build_model
from gapwatch_worker.cl.seeding import derive_seed


class DiscardingReporter:
    """Receives every point and keeps none: measures the engine, not a store."""

    def report_scalars(self, step: int, values: Mapping[str, float]) -> None:
        pass

    def report_event(self, step: int, kind: str, payload: Mapping[str, object]) -> None:
        pass

    def report_progress(self, step: int, total_steps: int) -> None:
        pass

    def flush(self) -> None:
        pass


def bench_spec(iterations: int, device: str, diagnostics: bool = False) -> RunSpec:
    return RunSpec.model_validate(
        {
            "benchmark": {
                "name": "synthetic",
                "n_tasks": 5,
                "classes_per_task": 2,
                "dim": 784,
                "train_per_class": 3000,
                "test_per_class": 500,
            },
            "model": {"name": "mlp", "hidden_sizes": [400, 400]},
            "strategy": {"name": "finetune"},
            "optimizer": {"name": "sgd", "lr": 0.01},
            "training": {"iterations_per_task": iterations, "batch_size": 128},
            "evaluation": {"every": 1, "subset_size": 1000, "diagnostics": diagnostics},
            "checkpoint_every": None,
            "device": device,
            "seed": 0,
        }
    )


def bare_loop(spec: RunSpec) -> float:
    """The same training and per-iteration accuracy, written as plainly as PyTorch allows."""
    device = resolve_device(spec.device)
    torch.manual_seed(derive_seed(spec.seed, "torch"))
    benchmark = build_benchmark(spec.benchmark, spec.seed, device)
    model = build_model(spec.model, benchmark.input_shape, benchmark.n_outputs).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=spec.optimizer.lr)
    evaluator = build_evaluator(benchmark.tasks, spec.evaluation.subset_size, spec.seed)
    eval_x, eval_y, eval_task = evaluator.x, evaluator.y, evaluator.task_index
    ends = torch.tensor([len(s) for s in evaluator.subsets]).cumsum(0).tolist()
    generator = torch.Generator().manual_seed(spec.seed)
    batch = spec.training.batch_size
    iterations = spec.training.iterations_per_task or 1
    started = time.perf_counter()
    for task_id, task in enumerate(benchmark.tasks):
        rows = ends[task_id]
        counts = torch.bincount(eval_task[:rows], minlength=task_id + 1).float()
        for _ in range(iterations):
            index = torch.randint(len(task.train_y), (batch,), generator=generator).to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(task.train_x[index]), task.train_y[index])
            loss.backward()
            optimizer.step()
            with torch.inference_mode():
                correct = (model(eval_x[:rows]).argmax(1) == eval_y[:rows]).float()
                accuracy = torch.zeros(task_id + 1, device=device)
                accuracy.index_add_(0, eval_task[:rows], correct)
                (accuracy / counts).cpu()
    return time.perf_counter() - started


def engine(spec: RunSpec) -> float:
    """The Gapwatch engine's time for training and evaluation, building excluded like (a)."""
    outcome = run_experiment(spec, DiscardingReporter())
    return outcome.seconds - outcome.build_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=200, help="per task")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    spec = bench_spec(args.iterations, args.device)
    diagnosed_spec = bench_spec(args.iterations, args.device, diagnostics=True)
    total = 5 * args.iterations
    # warm-up: allocator, kernels, dataset generation
    bare_loop(spec), engine(spec), engine(diagnosed_spec)
    bare_times, engine_times, diagnosed_times = [], [], []
    for round_ in range(args.rounds):
        bare_times.append(bare_loop(spec))
        engine_times.append(engine(spec))
        diagnosed_times.append(engine(diagnosed_spec))
        print(
            f"round {round_ + 1}: bare {total / bare_times[-1]:7.1f} it/s   "
            f"engine {total / engine_times[-1]:7.1f} it/s   "
            f"with diagnostics {total / diagnosed_times[-1]:7.1f} it/s"
        )
    bare, gapwatch = statistics.median(bare_times), statistics.median(engine_times)
    diagnosed = statistics.median(diagnosed_times)
    print(f"device: {resolve_device(args.device)}, torch threads: {torch.get_num_threads()}")
    print(
        f"bare loop: {bare:.2f} s ({total / bare:.1f} it/s), engine: {gapwatch:.2f} s, "
        f"with diagnostics: {diagnosed:.2f} s"
    )
    print(f"diagnostics ratio: {diagnosed / gapwatch:.3f}")
    print(f"ratio: {gapwatch / bare:.3f}")


if __name__ == "__main__":
    main()
