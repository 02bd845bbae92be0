"""Cost accounting of a run: what continual learning spent (METRICS.md "Cost of a run").

Harun et al., "How efficient are today's continual learning algorithms?" (CVPR-W 2023) compare
methods by updates, samples, FLOPs, memory and time against retraining; the engine counts the
same quantities (`gapwatch.components.COST_QUANTITIES`) for every run, per task and per run.

How each is counted:
- updates: `observe` calls (one step of the loop each).
- samples_new: rows of the batch passed to `observe` (a strategy that trains on rows of its
  own choosing, as `joint` does, says how many of them were the current task's through
  `Strategy.last_new_rows`).
- samples_replayed: rows that went through the top-level model while training beyond the new
  batch: a forward pre-hook on the model counts every row it receives inside `observe`,
  `begin_task` and `end_task`, so plugins are covered without cooperation. It counts memory
  rows (ER, DER, A-GEM's reference batch) and any extra pass a method makes with the model
  (EWC's Fisher rows at a task's end, a second forward of the new batch). Forwards of a copy of
  the model (LwF's teacher) are not rows of this model; their FLOPs are counted.
- train_flops / eval_flops: `torch.utils.flop_counter.FlopCounterMode` (matmul, convolution
  and attention FLOPs, forward and backward; element-wise work and bias additions are not
  counted). Counting slows an update about 2x, so only a sample of updates is counted exactly:
  the first `EXACT_FIRST` of each task (in this process), every `EXACT_EVERY`-th of the run,
  and the next one whenever the rows signature the hook saw (the row counts of every forward of
  an update) differs from that of the last counted update; the updates in between are credited
  with the last exact count. `begin_task` and `end_task` are always counted. An evaluation's
  FLOPs depend only on shapes: each distinct evaluation (key) is counted once and cached. With
  diagnostics, eval_flops include the plasticity's two forwards of the update's batch, not the
  small rank computations (Gram matrices, eigenvalue solves: the solver has no FLOP formula,
  and under the counter's dispatch mode their float32 results differed in the last bits, which
  would make a resumed run's diagnostics differ from an uninterrupted one's).
- peak_accelerator_bytes: `torch.cuda.max_memory_allocated`, reset at each task's start; 0 on
  a CPU.
- peak_host_bytes: the process's resident set size, sampled at evaluations and task ends
  (`/proc/self/statm`; elsewhere the `resource` module's peak RSS).
- replay_bytes: `Strategy.memory_bytes()` at the task's end: by default the bytes of every
  tensor in the strategy's `state_dict()` (memories, their labels and logits, anchors, old
  models; generator states are bookkeeping and left out), each tensor counted once; `joint`
  holds every seen task's train split, and says so.
- train_seconds / eval_seconds / wall_seconds: host wall-clock time of the updates (with
  `begin_task` and `end_task`), of the evaluations (with the diagnostics), and of the whole task.
  On CUDA the device is synchronised when an evaluation starts and that wait is training time.
  The exactly counted updates and evaluations include the FLOP counter's own overhead.

Peaks (the three byte counts) combine by maximum, everything else by sum.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from gapwatch.components import COST_QUANTITIES, cost_key

T = TypeVar("T")

EXACT_FIRST = 2  # updates of each task counted exactly (in this process)
EXACT_EVERY = 50  # and every this-many-th update of the run
PEAK_QUANTITIES = frozenset({"peak_accelerator_bytes", "peak_host_bytes", "replay_bytes"})
# Measured, not counted: they differ between two runs of one spec (and across a resume).
MEASURED_QUANTITIES = frozenset(
    {"peak_accelerator_bytes", "peak_host_bytes", "train_seconds", "eval_seconds", "wall_seconds"}
)


def is_measured_cost_key(key: str) -> bool:
    """True for a cost/... key of a measured quantity (time, memory), which no two runs share;
    the counted ones (updates, samples, FLOPs, replay bytes) are the same for the same spec."""
    return key.startswith("cost/") and key.rsplit("/", 1)[-1] in MEASURED_QUANTITIES


def _zeros() -> dict[str, float]:
    return dict.fromkeys(COST_QUANTITIES, 0.0)


def _combine(total: Mapping[str, float], part: Mapping[str, float]) -> dict[str, float]:
    return {
        q: max(total[q], part[q]) if q in PEAK_QUANTITIES else total[q] + part[q]
        for q in COST_QUANTITIES
    }


def host_resident_bytes() -> int:
    """The process's resident memory now (Linux), else its peak resident memory."""
    try:
        with open("/proc/self/statm") as file:
            return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS: bytes; Linux: KiB


# Entries of a strategy's state that are bookkeeping, not memory: random generators' states.
NOT_MEMORY_KEYS = frozenset({"rng"})


def tensor_bytes(state: Any) -> int:
    """Bytes of the tensors in a nested structure of dicts, lists and tuples, each counted once;
    dict entries named in NOT_MEMORY_KEYS (generator states) are left out."""
    seen: set[int] = set()
    total = 0
    stack = [state]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            if id(item) not in seen:
                seen.add(id(item))
                total += item.nbytes
        elif isinstance(item, Mapping):
            stack.extend(v for k, v in item.items() if k not in NOT_MEMORY_KEYS)
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return total


class CostMeter:
    """Counts a run's cost; the loop drives it (see the module docstring for each quantity).

    Args:
        model: The top-level model: a forward pre-hook on it counts training rows.
        device: Where the model runs (CUDA: peak memory and synchronisation).
    """

    def __init__(self, model: nn.Module, device: torch.device):
        self.model = model
        self.device = device
        self.task = _zeros()  # the current task's cost so far
        self.done = _zeros()  # the completed tasks' cost
        self._training = False
        self._rows: list[int] = []
        self._task_updates = 0  # updates of the current task made by this process
        self._exact_flops = 0  # the last exactly counted update's FLOPs
        self._exact_signature: tuple[int, ...] | None = None
        self._count_next = True
        self._eval_flops: dict[Hashable, int] = {}
        self._mark = time.perf_counter()  # wall_seconds counted up to here

        # A plain function, not a bound method: a strategy's deepcopy of the model (LwF's
        # teacher) then shares it instead of copying this meter, and its rows are not counted.
        def count_rows(module: nn.Module, args: tuple[Any, ...]) -> None:
            self._count_rows(module, args)

        self._handle = model.register_forward_pre_hook(count_rows)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

    def close(self) -> None:
        """Removes the hook from the model."""
        self._handle.remove()

    def _count_rows(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        if self._training and module is self.model and args and torch.is_tensor(args[0]):
            self._rows.append(int(args[0].shape[0]))

    def update(
        self,
        observe: Callable[[], T],
        new_rows: int,
        own_rows: Callable[[], int | None] | None = None,
    ) -> T:
        """Runs one update (`observe`) and counts it; `own_rows()`, asked after it, overrides
        `new_rows` when the strategy chose its own rows (None: it did not)."""
        run_updates = int(self.done["updates"] + self.task["updates"])
        exact = (
            self._count_next or self._task_updates < EXACT_FIRST or run_updates % EXACT_EVERY == 0
        )
        result, flops, seconds = self._training_work(observe, exact)
        signature = tuple(self._rows)
        if exact:
            self._exact_flops, self._exact_signature = flops, signature
            self._count_next = False
        else:
            flops = self._exact_flops
            self._count_next = signature != self._exact_signature
        self._task_updates += 1
        chosen = None if own_rows is None else own_rows()
        if chosen is not None:
            new_rows = chosen
        task = self.task
        task["updates"] += 1
        task["samples_new"] += new_rows
        task["samples_replayed"] += max(sum(signature) - new_rows, 0)
        task["train_flops"] += flops
        task["train_seconds"] += seconds
        return result

    def task_work(self, work: Callable[[], T]) -> T:
        """Runs a strategy's `begin_task` or `end_task`, its FLOPs always counted exactly and
        its rows as replayed."""
        result, flops, seconds = self._training_work(work, exact=True)
        self.task["samples_replayed"] += sum(self._rows)
        self.task["train_flops"] += flops
        self.task["train_seconds"] += seconds
        return result

    def _training_work(self, work: Callable[[], T], exact: bool) -> tuple[T, int, float]:
        self._rows = []
        self._training = True
        started = time.perf_counter()
        try:
            if exact:
                with FlopCounterMode(display=False) as counter:
                    result = work()
                flops = int(counter.get_total_flops())
            else:
                result, flops = work(), 0
        finally:
            self._training = False
        return result, flops, time.perf_counter() - started

    def start_task(self) -> None:
        """A task's training starts in this process (fresh or resumed)."""
        self._task_updates = 0
        self._count_next = True
        # A task's start may change the model (LoRA adapters switched on, a cosine head):
        # evaluations are counted afresh.
        self._eval_flops.clear()

    @contextmanager
    def evaluating(self) -> Iterator[None]:
        """Times an evaluation span (its forward, diagnostics and host copy) as evaluation.
        On CUDA the queued updates are waited for first, and that wait is training time."""
        if self.device.type == "cuda":
            started = time.perf_counter()
            torch.cuda.synchronize(self.device)
            self.task["train_seconds"] += time.perf_counter() - started
        started = time.perf_counter()
        try:
            yield
        finally:
            self.task["eval_seconds"] += time.perf_counter() - started

    def eval_flops(self, key: Hashable, work: Callable[[], T]) -> T:
        """Runs evaluation work (a forward), its FLOPs counted the first time `key` is seen in
        this task (the same key must mean the same shapes) and reused after."""
        flops = self._eval_flops.get(key)
        if flops is None:
            with FlopCounterMode(display=False) as counter:
                result = work()
            flops = self._eval_flops[key] = int(counter.get_total_flops())
        else:
            result = work()
        self.task["eval_flops"] += flops
        return result

    def sample_host_memory(self) -> None:
        """Takes a resident-memory sample (the loop calls it at every evaluation)."""
        self.task["peak_host_bytes"] = max(self.task["peak_host_bytes"], host_resident_bytes())

    def end_task(self, memory_bytes: int) -> dict[str, float]:
        """Closes the current task; returns its cost/task/<q> and cost/run/<q> values.

        Args:
            memory_bytes: What the strategy keeps now (`Strategy.memory_bytes()`).
        """
        self.sample_host_memory()
        self._fold_wall()
        task = self.task
        task["replay_bytes"] = float(memory_bytes)
        if self.device.type == "cuda":
            task["peak_accelerator_bytes"] = float(torch.cuda.max_memory_allocated(self.device))
            torch.cuda.reset_peak_memory_stats(self.device)
        run = _combine(self.done, task)
        values = {cost_key("task", q): task[q] for q in COST_QUANTITIES}
        values.update({cost_key("run", q): run[q] for q in COST_QUANTITIES})
        self.done, self.task = run, _zeros()
        return values

    def _fold_wall(self) -> None:
        now = time.perf_counter()
        self.task["wall_seconds"] += now - self._mark
        self._mark = now

    def state_dict(self) -> dict[str, Any]:
        """The counts so far (the current task's and the completed tasks'), for checkpoints."""
        self._fold_wall()
        return {"task": dict(self.task), "done": dict(self.done)}

    def load_state_dict(self, state: Mapping[str, Any] | None) -> None:
        """Continues from `state_dict()`'s counts; None (an older checkpoint) starts at zero."""
        self.task, self.done = _zeros(), _zeros()
        if state is not None:
            for part, target in (("task", self.task), ("done", self.done)):
                for q in COST_QUANTITIES:
                    target[q] = float(state.get(part, {}).get(q, 0.0))
        self._mark = time.perf_counter()


class NoCost:
    """A meter that counts nothing, for `run_experiment(measure_cost=False)`: the loop drives
    it exactly as it drives a `CostMeter`, with no branch of its own."""

    def update(
        self,
        observe: Callable[[], T],
        new_rows: int,
        own_rows: Callable[[], int | None] | None = None,
    ) -> T:
        return observe()

    def task_work(self, work: Callable[[], T]) -> T:
        return work()

    def start_task(self) -> None:
        pass

    def evaluating(self) -> nullcontext[None]:
        return nullcontext()

    def eval_flops(self, key: Hashable, work: Callable[[], T]) -> T:
        return work()

    def sample_host_memory(self) -> None:
        pass

    def end_task(self, memory_bytes: int) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any] | None) -> None:
        pass

    def close(self) -> None:
        pass
