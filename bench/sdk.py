"""What Gapwatch costs inside a user's own training loop: the logging path, and the evaluator.

(1) The logging path. The same PyTorch loop (an MLP 784-400-400-10 on preloaded MNIST-shaped
    data, SGD, batch 128, `loss.item()` every update) three ways: bare; with `run.log` of the
    loss and `run.log_eval` of five task accuracies at every update, online against a real
    `gapwatch serve` process on a throwaway PostgreSQL database; and the same, offline (a run
    directory). The accuracies are fixed numbers in all three: evaluation arithmetic is
    excluded from both sides, so the ratio is the logging path alone. Target: at most 1.05.
(2) The evaluator. `ContinualEvaluator.evaluate` on five tasks' fixed subsets (1,000 rows
    each) against the same work written by hand (one forward over the same rows, per-task
    accuracy and mean cross-entropy by index arithmetic, one host copy). The ratio says what
    the library call costs beyond the arithmetic itself.

Each pair alternates over --rounds rounds after a warm-up; figures are ratios of medians.

Usage: .venv/bin/python bench/sdk.py [--rounds 5] [--steps 1000] [--device cpu]
Needs PostgreSQL at GAPWATCH_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import gapwatch
from gapwatch.torch import ContinualEvaluator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import api_server, create_database, drop_database, seed_account  # noqa: E402

TASKS = 5
ACCURACIES = {j: 0.9 - 0.01 * j for j in range(TASKS)}  # what an evaluation would have said


def make_model(device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(784, 400), nn.ReLU(), nn.Linear(400, 400), nn.ReLU(), nn.Linear(400, 10)
    ).to(device)


def make_data(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(6000, 784, generator=generator)
    y = torch.randint(10, (6000,), generator=generator)
    return x.to(device), y.to(device)


def training_loop(
    steps: int, device: torch.device, log: Callable[[int, float], None] | None
) -> float:
    """Seconds for `steps` updates; `log(step, loss)` after each when given."""
    model = make_model(device)
    x, y = make_data(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(1)
    started = time.perf_counter()
    for step in range(1, steps + 1):
        index = torch.randint(len(y), (128,), generator=generator).to(device)
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x[index]), y[index])
        loss.backward()
        optimizer.step()
        value = loss.item()
        if log is not None:
            log(step, value)
    return time.perf_counter() - started


def logged_loop(steps: int, device: torch.device, **init: object) -> float:
    """The loop with a run that logs the loss and five accuracies per update; the run's
    opening is outside the timing, its finish (the last points delivered) inside."""
    run = gapwatch.init(name="bench-sdk", config={"steps": steps}, quiet=True, **init)
    for task in range(TASKS):
        run.task_start(task, step=0)

    def log(step: int, loss: float) -> None:
        run.log({"train/loss": loss}, step=step)
        run.log_eval(ACCURACIES, step)

    started = time.perf_counter()
    training_loop(steps, device, log)
    run.finish()
    return time.perf_counter() - started


def bare_evaluation(model: nn.Module, evaluator: ContinualEvaluator) -> list[list[float]]:
    """The same work by hand: one forward over the same rows, per-task accuracy and mean
    cross-entropy by index arithmetic, one host copy."""
    with torch.inference_mode():
        logits = model(evaluator.x)
        correct = (logits.argmax(1) == evaluator.y).to(torch.float64)
        loss = nn.functional.cross_entropy(logits, evaluator.y, reduction="none")
        per_row = torch.stack([correct, loss.to(torch.float64)], dim=1)
        totals = torch.zeros((TASKS, 2), dtype=torch.float64, device=correct.device)
        totals.index_add_(0, evaluator.task_index, per_row)
        counts = torch.bincount(evaluator.task_index, minlength=TASKS).to(torch.float64)
        return (totals / counts[:, None]).cpu().tolist()


def evaluator_times(rounds: int, calls: int, device: torch.device) -> tuple[float, float]:
    model = make_model(device).eval()
    x, y = make_data(device)
    sets = [(x[k * 1200 : (k + 1) * 1200], y[k * 1200 : (k + 1) * 1200]) for k in range(TASKS)]
    evaluator = ContinualEvaluator(model, sets, subset_size=1000, seed=0)
    for task in range(TASKS):
        evaluator.task_start(task)

    def time_calls(call: Callable[[], object]) -> float:
        started = time.perf_counter()
        for _ in range(calls):
            call()
        return (time.perf_counter() - started) / calls

    bare, library = [], []
    time_calls(lambda: bare_evaluation(model, evaluator))  # warm-up
    time_calls(lambda: evaluator.evaluate(0))
    for _ in range(rounds):
        bare.append(time_calls(lambda: bare_evaluation(model, evaluator)))
        library.append(time_calls(lambda: evaluator.evaluate(0)))
    return statistics.median(bare), statistics.median(library)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1000, help="updates per timed loop")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)

    database, url = create_database()
    try:
        with api_server(url) as base_url, tempfile.TemporaryDirectory() as offline_dir:
            key = seed_account(url, "bench").key
            online = {"url": base_url, "api_key": key}
            offline = {"mode": "offline", "dir": offline_dir}
            training_loop(50, device, None)  # warm-up: allocator, kernels, the SDK's imports
            logged_loop(50, device, **online)
            logged_loop(50, device, **offline)
            times: dict[str, list[float]] = {"bare": [], "online": [], "offline": []}
            for round_ in range(args.rounds):
                times["bare"].append(training_loop(args.steps, device, None))
                times["online"].append(logged_loop(args.steps, device, **online))
                times["offline"].append(logged_loop(args.steps, device, **offline))
                print(
                    f"round {round_ + 1}: "
                    + "   ".join(f"{k} {args.steps / v[-1]:7.1f} it/s" for k, v in times.items())
                )
    finally:
        drop_database(database)
    bare = statistics.median(times["bare"])
    print(f"device: {device}, torch threads: {torch.get_num_threads()}, {args.steps} updates")
    print(f"bare loop: {bare:.3f} s; points per update logged: {1 + TASKS}")
    for mode in ("online", "offline"):
        median = statistics.median(times[mode])
        print(f"logging path ({mode}): {median:.3f} s, ratio {median / bare:.3f} (target <= 1.05)")

    bare_eval, library_eval = evaluator_times(args.rounds, 200, device)
    print(
        f"evaluator: {library_eval * 1e3:.3f} ms per call vs bare batched eval "
        f"{bare_eval * 1e3:.3f} ms, ratio {library_eval / bare_eval:.3f}"
    )
    print(f"ratio: {statistics.median(times['online']) / bare:.3f}")


if __name__ == "__main__":
    main()
