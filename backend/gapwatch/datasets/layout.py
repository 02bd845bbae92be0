"""How the engine lays out a dataset's inputs, and the normalisation that fits them: rules
that the API checks a spec against and the worker applies, in one place.

No numpy: `gapwatch.resources` (which must not import it) uses these too.
"""

from __future__ import annotations

import math


def input_shape(sample_shape: tuple[int, ...]) -> tuple[int, ...]:
    """One input as the engine lays it out, channels first: (H, W) -> (1, H, W); (C, H, W)
    and (D,) as they are; () -> (1,); a higher rank flattened to (D,)."""
    shape = tuple(int(d) for d in sample_shape)
    if len(shape) == 2:
        return (1, *shape)
    if len(shape) in (1, 3):
        return shape
    return (math.prod(shape),)


def normalization_problem(n_values: int, input_shape: tuple[int, ...], what: str) -> str | None:
    """Why `n_values` mean/std values do not fit inputs of `input_shape` (as `input_shape`
    lays them out), or None when they fit. Images (C, H, W) take exactly C values, one per
    channel: a count that differs is a mistake (grey statistics on colour images, or the
    reverse), never silently broadcast. Vectors (D,) take one value for all features, or D.

    `what` names the inputs, as the subject of "... has images of ...".
    """
    if len(input_shape) == 3:
        if n_values == input_shape[0]:
            return None
        return (
            f"normalize gives {n_values} mean/std values, but {what} has images of "
            f"{input_shape[0]} channel(s) {input_shape}: give one value per channel"
        )
    if n_values in (1, input_shape[-1]):
        return None
    return (
        f"normalize gives {n_values} mean/std values, but {what} has vectors of "
        f"{input_shape[-1]} features: give one value for all features, or one per feature"
    )
