"""GEM: gradient episodic memory (Lopez-Paz & Ranzato, NeurIPS 2017)."""

from __future__ import annotations

from typing import Any

import numpy as np
import quadprog
import torch
from torch import nn

from gapwatch.components import GEMSpec

from ..benchmarks.base import TaskData
from .base import BuildContext, Strategy, flat_gradient
from .buffer import distinct_indices, to_device

QP_EPS = 1e-3
"""Added to the diagonal of the dual's G G^T, as both released codes do: it keeps the matrix
positive definite when two memories' gradients are (nearly) parallel."""


class GEM(Strategy):
    """Projects each update so that, to first order, no earlier task's memory loss rises.

    Per update: g is the gradient on the new batch and G_k the gradient on the whole memory of
    each earlier task k. If some g . G_k < 0, the update is the solution of the paper's dual
    quadratic program (`project_to_cone`, with memory_strength as its margin), else g itself.
    Both gradients and the conflict test are taken before the step; the run's optimizer
    (momentum included) then steps on the chosen gradient.

    Memory: at each task's end, `memories_per_task` rows of its train set, drawn uniformly at
    random with a seeded generator (all of them if the task has fewer). The released codes
    keep a fixed set of the task's rows that is read only once the task is over: the first
    rows of the experience's dataset in dataset order (De Lange et al.'s GEMStandardPlugin,
    github.com/mattdl/ContinualEvaluation, src/methods/gem_standard.py: update_memory in
    after_training_exp) or the last rows of the task's stream (Lopez-Paz & Ranzato,
    github.com/facebookresearch/GradientEpisodicMemory, model/gem.py: a ring buffer per task).
    A uniform sample is what either is for data in random order. The memory is allocated for
    every task at the first task's end, (tasks, memories_per_task) rows, as model/gem.py does.

    Unlike the other strategies, an update with a memory reads values back to the host: the
    quadratic program is solved there with quadprog, as in both released codes.

    Attributes:
        memories_per_task: Rows kept of each finished task.
        memory_strength: The margin gamma of the dual program (see `project_to_cone`).
        generator: Draws the rows each finished task keeps.
        memory_x: Inputs, shape (tasks, memories_per_task, *input), None before the first end.
        memory_y: Targets, shape (tasks, memories_per_task).
        memory_counts: Rows held per task (0 for a task not finished yet).
        n_tasks: Tasks of the benchmark (rows of the memory).
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        memories_per_task: int,
        memory_strength: float,
        n_tasks: int,
        generator: torch.Generator,
        *,
        units_table: torch.Tensor | None = None,
    ):
        super().__init__(model, optimizer, device, units_table=units_table)
        self.memories_per_task = memories_per_task
        self.memory_strength = memory_strength
        self.n_tasks = n_tasks
        self.generator = generator
        self.memory_x: torch.Tensor | None = None
        self.memory_y: torch.Tensor | None = None
        self.memory_counts = [0] * n_tasks

    @classmethod
    def from_spec(cls, spec: GEMSpec, ctx: BuildContext) -> GEM:
        """Builds GEM with a memory of memories_per_task rows for each of the benchmark's tasks."""
        return cls(
            ctx.model,
            ctx.optimizer,
            ctx.device,
            spec.memories_per_task,
            spec.memory_strength,
            len(ctx.benchmark.tasks),
            ctx.generator("gem/memory"),
            units_table=ctx.units_table,
        )

    def remembered_tasks(self, current: int) -> list[int]:
        """The tasks other than `current` whose memory holds rows, in task order."""
        return [k for k, n in enumerate(self.memory_counts) if n > 0 and k != current]

    def observe(self, x: torch.Tensor, y: torch.Tensor, task_id: int) -> torch.Tensor:
        """One update along the new batch's gradient, projected when it conflicts with memory."""
        earlier = self.remembered_tasks(task_id)
        if not earlier:
            return self.cross_entropy_step(x, y, task_id)
        assert self.memory_x is not None and self.memory_y is not None
        params = [p for p in self.model.parameters() if p.requires_grad]
        # The memories' gradients first, then the batch's, in the order of both released codes
        # (it matters to batch-norm running statistics).
        memories = []
        for k in earlier:
            n = self.memory_counts[k]
            memory_loss = nn.functional.cross_entropy(
                self.logits(self.memory_x[k, :n], k), self.memory_y[k, :n]
            )
            memories.append(flat_gradient(memory_loss, params))
        loss = nn.functional.cross_entropy(self.logits(x, task_id), y)
        gradient = flat_gradient(loss, params)
        constraints = torch.stack(memories)
        dots = constraints @ gradient
        # A non-finite gradient is stepped on unprojected, so the loop reports the divergence
        # (quadprog would fail on it with a less helpful message).
        if bool((dots < 0).any() & torch.isfinite(dots).all()):
            gradient = project_to_cone(gradient, constraints, self.memory_strength)
        self.step_on_flat_gradient(params, gradient)
        return loss.detach()

    def end_task(self, task_id: int, task_data: TaskData) -> None:
        """Keeps a uniform sample of memories_per_task rows of the finished task's train set."""
        if self.memory_counts[task_id] > 0:  # kept already (a task is ended once)
            return
        n_train = len(task_data.train_y)
        if self.memory_x is None or self.memory_y is None:
            shape = (self.n_tasks, self.memories_per_task)
            self.memory_x = torch.zeros(
                (*shape, *task_data.train_x.shape[1:]),
                dtype=task_data.train_x.dtype,
                device=self.device,
            )
            self.memory_y = torch.zeros(shape, dtype=task_data.train_y.dtype, device=self.device)
        rows = distinct_indices(n_train, min(self.memories_per_task, n_train), self.generator)
        index = to_device(rows, task_data.train_y.device)
        self.memory_x[task_id, : len(rows)] = task_data.train_x[index].to(self.device)
        self.memory_y[task_id, : len(rows)] = task_data.train_y[index].to(self.device)
        self.memory_counts[task_id] = len(rows)

    def state_dict(self) -> dict[str, Any]:
        """The memory, its row counts and the generator that draws it."""
        return {
            "memory_x": self.memory_x,
            "memory_y": self.memory_y,
            "memory_counts": list(self.memory_counts),
            "rng": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the memory on this strategy's device."""
        memory_x, memory_y = state["memory_x"], state["memory_y"]
        self.memory_x = None if memory_x is None else memory_x.to(self.device).clone()
        self.memory_y = None if memory_y is None else memory_y.to(self.device).clone()
        self.memory_counts = [int(n) for n in state["memory_counts"]]
        self.generator.set_state(state["rng"])


def project_to_cone(
    gradient: torch.Tensor, memories: torch.Tensor, margin: float, eps: float = QP_EPS
) -> torch.Tensor:
    """GEM's projected gradient: the released code's `project2cone2`, in float64.

    With G the memories' gradients (one per row) and g the gradient, it solves the dual of
    min_z ||z - g||^2 / 2 s.t. G z >= 0, namely

        min_v  v^T (G G^T + eps I) v / 2 + (G g)^T v   s.t.  v >= margin,

    and returns z = G^T v + g. With margin = 0 and eps = 0 this is the exact Euclidean
    projection of g onto the cone {z : G z >= 0} (the paper's equations 10-11); with one row
    it is then A-GEM's projection. The released code's margin (memory_strength, "gamma")
    bounds the dual variables from below, pushing the update further into the cone; eps only
    regularises. At the solution G z = lambda - eps v with KKT multipliers lambda >= 0, so each
    constraint holds up to eps * v_k.

    Args:
        gradient: The flat gradient g, shape (p,).
        memories: The flat memory gradients G, shape (t, p).
        margin: The lower bound of every dual variable (memory_strength).
        eps: Added to the diagonal of G G^T.

    Returns:
        z, with gradient's dtype and device.
    """
    # Only the t x t Gram matrix and the t-vectors cross to the host for quadprog; the
    # p-sized gradients stay on their device (p is millions for a ResNet).
    g = gradient.detach().double()
    rows = memories.detach().double()
    t = rows.shape[0]
    gram = (rows @ rows.T).cpu().numpy()
    gram = 0.5 * (gram + gram.T) + np.eye(t) * eps
    linear = -(rows @ g).cpu().numpy()
    v = quadprog.solve_qp(gram, linear, np.eye(t), np.full(t, margin, dtype=np.float64))[0]
    projected = torch.from_numpy(v).to(rows.device) @ rows + g
    return projected.to(dtype=gradient.dtype)
