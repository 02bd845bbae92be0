"""Gapwatch: continual-learning experiment tracking that shows the stability gap.

`gapwatch.init(...)` starts a run of one's own training loop (see `gapwatch.sdk`); the SDK is
imported on first use, so `import gapwatch` stays light for the server and the worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gapwatch.sdk import Run, init

__all__ = ["Run", "init"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from gapwatch import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'gapwatch' has no attribute {name!r}")
