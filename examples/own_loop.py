"""Your own continual-learning loop, logged by Gapwatch: experience replay on Split-Digits.

    GAPWATCH_API_KEY=gw_... python examples/own_loop.py      # or `gapwatch login` first
    GAPWATCH_MODE=offline python examples/own_loop.py        # then `gapwatch sync gapwatch-runs`

Plain PyTorch; Gapwatch adds the run, the boundaries and per-iteration continual evaluation.
"""

import argparse
import random

import torch
from sklearn.datasets import load_digits
from torch import nn

import gapwatch
from gapwatch.torch import ContinualEvaluator

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=300, help="updates per task")
parser.add_argument("--memory", type=int, default=200, help="replay buffer size")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--project", default=None)
parser.add_argument("--name", default="own-loop-er")
args = parser.parse_args()

torch.manual_seed(args.seed)
rng = random.Random(args.seed)
digits = load_digits()
x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
y = torch.tensor(digits.target)
test = torch.arange(len(y)) % 4 == 0  # a quarter of the samples are held out
tasks = [(2 * k, 2 * k + 1) for k in range(5)]  # five tasks of two digits
train_sets, test_sets = [], []
for classes in tasks:
    member = (y == classes[0]) | (y == classes[1])
    train_sets.append((x[member & ~test], y[member & ~test]))
    test_sets.append((x[member & test], y[member & test]))

model = nn.Sequential(nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
evaluator = ContinualEvaluator(model, test_sets, subset_size=1000, seed=args.seed)
memory: list[tuple[torch.Tensor, torch.Tensor]] = []
seen_samples = 0
config = {"strategy": "er", "lr": 0.1, "memory": args.memory, "steps": args.steps}

with gapwatch.init(project=args.project, name=args.name, config=config, tags=["example"]) as run:
    step = 0
    for task, (train_x, train_y) in enumerate(train_sets):
        # The classes and the scenario give the analysis its chance levels (one shared head).
        run.task_start(task, step=step, classes=list(tasks[task]), scenario="class_incremental")
        evaluator.task_start(task)
        for _ in range(args.steps):
            batch = torch.randint(len(train_y), (10,))
            inputs, labels = train_x[batch], train_y[batch]
            if memory:  # replay as many stored samples as new ones
                replayed = rng.sample(memory, min(10, len(memory)))
                inputs = torch.cat([inputs, torch.stack([m[0] for m in replayed])])
                labels = torch.cat([labels, torch.stack([m[1] for m in replayed])])
            loss = nn.functional.cross_entropy(model(inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            for sample in zip(train_x[batch], train_y[batch], strict=True):  # reservoir
                seen_samples += 1
                slot = rng.randrange(seen_samples)
                if len(memory) < args.memory:
                    memory.append(sample)
                elif slot < args.memory:
                    memory[slot] = sample
            step += 1
            run.log({"train/loss": loss.item()}, step=step)
            evaluator.evaluate(step, run=run)
        run.task_end(task, step=step)
    print(f"run {run.id}: {run.url or run.dir}")
