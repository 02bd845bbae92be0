"""Checkpoints: everything a run needs to continue bit for bit where it stopped.

A checkpoint is one explicit dict (nanoGPT-style): model, optimizer, strategy state (buffers,
Fisher, anchors...), the batch sampler's permutation, position and generator, torch's RNG
states, the iteration and the task. It is written atomically (temporary file, then rename), so
a worker killed while writing leaves the previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from gapwatch.spec import RunSpec

log = logging.getLogger(__name__)

CHECKPOINT_VERSION = 1
FILE_NAME = "checkpoint.pt"


def spec_fingerprint(spec: RunSpec) -> str:
    """SHA-256 of the spec's JSON: a checkpoint is only resumed by the spec that wrote it."""
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def rng_states(device: torch.device) -> dict[str, Any]:
    """torch's global CPU RNG state and, on CUDA, the device's."""
    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def restore_rng_states(states: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(states["torch"])
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)


class CheckpointStore:
    """The latest checkpoint of one run, in a directory of its own."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / FILE_NAME

    def save(self, state: dict[str, Any]) -> None:
        """Write `state` atomically, replacing the previous checkpoint."""
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(f".tmp-{os.getpid()}")
        with open(temporary, "wb") as file:
            torch.save({"version": CHECKPOINT_VERSION, **state}, file)
            file.flush()
            os.fsync(file.fileno())  # the rename must never publish a half-written file
        os.replace(temporary, self.path)

    def load(self, fingerprint: str) -> dict[str, Any] | None:
        """The stored checkpoint if it was written by the same spec, else None.

        Tensors stay on the CPU: RNG states must be CPU byte tensors, and `load_state_dict`
        moves model, optimizer and strategy tensors to their device. An unreadable file is
        treated as no checkpoint, so a torn file cannot make every retry of the run fail.
        """
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - any unreadable checkpoint means start over
            log.warning("ignoring unreadable checkpoint %s: %s", self.path, error)
            return None
        if state.get("version") != CHECKPOINT_VERSION or state.get("spec") != fingerprint:
            return None
        return state

    def clear(self) -> None:
        """Forget the checkpoint (a finished run needs none)."""
        self.path.unlink(missing_ok=True)
