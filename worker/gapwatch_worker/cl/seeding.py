"""One run seed, many independent random streams: the engine's names for `gapwatch.torch`'s.

Each stream (model init, batch order, evaluation subsets, replay buffer...) gets its own seed
derived from the run's seed and the stream's name, so that adding a draw to one stream never
shifts another. The code lives in `gapwatch.torch.seeding`, where users' own training loops
(and `gapwatch.torch.ContinualEvaluator`) draw from the same streams as the engine.
"""

from __future__ import annotations

from gapwatch.torch.seeding import derive_seed, make_generator

__all__ = ["derive_seed", "make_generator"]
