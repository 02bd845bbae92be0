"""A PyTorch Lightning continual-learning loop logged by Gapwatch: fine-tuning on Split-Digits,
one `Trainer.fit` per task, boundaries from the datamodule, every update evaluated.

    GAPWATCH_API_KEY=gw_... python examples/lightning_loop.py
"""

import argparse

import lightning.pytorch as pl
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gapwatch.lightning import GapwatchCallback
from gapwatch.torch import ContinualEvaluator

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=200, help="updates per task")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--project", default=None)
parser.add_argument("--name", default="lightning-finetune")
args = parser.parse_args()


class Classifier(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: list[torch.Tensor], _index: int) -> torch.Tensor:
        return nn.functional.cross_entropy(self(batch[0]), batch[1])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


class DigitsTask(pl.LightningDataModule):
    """One task of Split-Digits; `current_task` tells the callback where the boundary is."""

    def __init__(self, task: int, x: torch.Tensor, y: torch.Tensor) -> None:
        super().__init__()
        self.current_task, self.x, self.y = task, x, y

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(args.seed + self.current_task)
        data = TensorDataset(self.x, self.y)
        return DataLoader(data, batch_size=10, shuffle=True, generator=generator)


pl.seed_everything(args.seed, verbose=False)
digits = load_digits()
x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
y = torch.tensor(digits.target)
test = torch.arange(len(y)) % 4 == 0
splits = [(y == 2 * k) | (y == 2 * k + 1) for k in range(5)]
model = Classifier()
evaluator = ContinualEvaluator(model, [(x[s & test], y[s & test]) for s in splits], seed=args.seed)
callback = GapwatchCallback(
    evaluator, project=args.project, name=args.name, config={"lr": 0.1, "steps": args.steps}
)
for task, split in enumerate(splits):
    trainer = pl.Trainer(
        max_steps=args.steps,
        max_epochs=-1,
        accelerator="auto",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback],
    )
    trainer.fit(model, datamodule=DigitsTask(task, x[split & ~test], y[split & ~test]))
callback.finish()
print(f"run {callback.run.id}: {callback.run.url}")
