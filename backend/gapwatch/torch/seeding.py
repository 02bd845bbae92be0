"""One run seed, many independent random streams.

Each stream (model init, batch order, evaluation subsets, replay buffer...) gets its own seed
derived from the run's seed and the stream's name, so that adding a draw to one stream never
shifts another: changing the buffer policy must not change which test samples are evaluated.
All generators here live on the CPU, so a CPU run and a CUDA run of the same spec draw the same
batches, subsets and buffer slots. The Gapwatch engine draws every stream from here too.
"""

from __future__ import annotations

import hashlib

import torch


def derive_seed(seed: int, stream: str) -> int:
    """Derives a stable 63-bit seed for one named random stream of a run.

    Args:
        seed: The run's seed.
        stream: A name unique to the consumer, for example "batches" or "eval_subset/3".

    Returns:
        A non-negative integer below 2**63, the same in every process and on every platform
        (unlike `hash()`, which is salted per process).
    """
    digest = hashlib.blake2b(f"{seed}/{stream}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def make_generator(
    seed: int, stream: str, device: torch.device | str | None = None
) -> torch.Generator:
    """Returns a `torch.Generator` seeded for one named stream of a run: on the CPU (the
    default, so that CPU and CUDA runs draw alike), or on `device` for noise drawn where the
    weights are (on the CPU both are the same stream)."""
    generator = torch.Generator() if device is None else torch.Generator(device=device)
    return generator.manual_seed(derive_seed(seed, stream))
