"""`GapwatchCallback` in a real Lightning trainer: one fit per task, boundaries from the
datamodule, per-update continual evaluation through ContinualEvaluator, logged to a live API."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("lightning")
import lightning.pytorch as pl  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import gapwatch  # noqa: E402
from gapwatch.client import GapwatchClient  # noqa: E402
from gapwatch.lightning import GapwatchCallback  # noqa: E402
from gapwatch.torch import ContinualEvaluator  # noqa: E402

pytestmark = pytest.mark.integration
STEPS_PER_TASK = 12


def two_tasks() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Task k: points around +-(k+1) on its own axis, labelled 2k and 2k+1."""
    generator = torch.Generator().manual_seed(0)
    tasks = []
    for k in range(2):
        x = torch.randn(96, 4, generator=generator) * 0.3
        y = torch.arange(96) % 2
        x[:, k] += torch.where(y == 0, -1.0, 1.0) * (k + 1)
        tasks.append((x, y + 2 * k))
    return tasks


class Classifier(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _index: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.5)


class TaskData(pl.LightningDataModule):
    def __init__(self, task: int, data: tuple[torch.Tensor, torch.Tensor]) -> None:
        super().__init__()
        self.current_task = task
        self.data = data

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(*self.data), batch_size=8, shuffle=False)


def fit(module: Classifier, datamodule: TaskData, callback: GapwatchCallback) -> None:
    trainer = pl.Trainer(
        max_steps=STEPS_PER_TASK,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback],
    )
    trainer.fit(module, datamodule=datamodule)


def test_one_fit_per_task_logs_boundaries_and_every_update_evaluated(
    live_api: str, live_key: str
) -> None:
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    tasks = two_tasks()
    torch.manual_seed(0)
    module = Classifier()
    evaluator = ContinualEvaluator(None, tasks, subset_size=32, seed=0)
    callback = GapwatchCallback(
        evaluator, url=live_api, api_key=live_key, name="lightning", config={"lr": 0.5}
    )
    for k, data in enumerate(tasks):
        fit(module, TaskData(k, data), callback)
    callback.finish()

    assert isinstance(callback.run, gapwatch.Run) and callback.run.id is not None
    run_id = callback.run.id
    with GapwatchClient(live_api, api_key=live_key) as client:
        run = client.get_run(run_id)
        assert run["status"] == "succeeded" and run["config"] == {"lr": 0.5}
        events = [(e["kind"], e["step"], e["payload"]["task"]) for e in client.get_events(run_id)]
        assert events == [
            ("task_start", 0, 0),
            ("task_end", STEPS_PER_TASK, 0),
            ("task_start", STEPS_PER_TASK, 1),
            ("task_end", 2 * STEPS_PER_TASK, 1),
        ]
        series = client.get_metrics(run_id)
        steps = list(range(1, 2 * STEPS_PER_TASK + 1))
        assert series["eval/acc/task_0"][0] == steps
        assert series["eval/acc/task_1"][0] == steps[STEPS_PER_TASK:]
        assert series["train/loss"][0] == steps
        # The logged accuracy is the evaluator's on the trained module.
        final = evaluator.scores(module, 2).accuracy
        assert series["eval/acc/task_0"][1][-1] == pytest.approx(final[0])
        assert series["eval/acc/task_1"][1][-1] == pytest.approx(final[1])
        assert final[1] > 0.9  # it really learnt the second task
        assert client.get_gaps(run_id)["boundaries"]


def test_an_exception_in_a_fit_fails_the_run(live_api: str, live_key: str) -> None:
    class Broken(Classifier):
        def training_step(self, batch, index):  # type: ignore[no-untyped-def]
            if index == 3:
                raise RuntimeError("diverged: loss is nan")
            return super().training_step(batch, index)

    callback = GapwatchCallback(url=live_api, api_key=live_key, name="broken")
    with pytest.raises(RuntimeError, match="diverged"):
        fit(Broken(), TaskData(0, two_tasks()[0]), callback)
    assert callback.run is not None
    with GapwatchClient(live_api, api_key=live_key) as client:
        run = client.get_run(callback.run.id)
    assert run["status"] == "failed" and "diverged: loss is nan" in run["error"]
