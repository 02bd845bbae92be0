"""Reading a dataset saved with `torch.save` without running its pickle's code.

A `.pt` upload is a dict of `x_train, y_train, x_test, y_test`, each a tensor or a numpy array.
`torch.load(weights_only=True)` rebuilds tensors and plain containers only; numpy arrays are let
through by naming the few numpy globals that rebuild an array of plain numbers, nothing that
calls arbitrary code (an object array's items would need globals that stay refused).
"""

from __future__ import annotations

import re
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

# numpy's array and dtype constructors as its pickles name them (numpy 1 and 2 differ in where
# `_reconstruct` lives, so it is taken from an array's own pickle).
_RECONSTRUCT = np.zeros(1).__reduce__()[0]
_DTYPE_CODES = ("u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", "f2", "f4", "f8", "b1")
SAFE_NUMPY_GLOBALS: list[Any] = [
    _RECONSTRUCT,
    np.ndarray,
    np.dtype,
    *(type(np.dtype(code)) for code in _DTYPE_CODES),
]
# torch's allow-list is process-wide state that `safe_globals` sets and restores: two loads
# at once in two threads would restore each other's.
_LOAD_LOCK = threading.Lock()


def load_torch_arrays(path: Path) -> dict[str, Any]:
    """The top-level dict of a `torch.save` file, tensors turned into numpy arrays (on the CPU,
    detached); other values are returned as they were loaded.

    Raises:
        ValueError: The file is not a `torch.save` file of a dict with string keys, holds
            something `weights_only` refuses, a tensor numpy cannot hold (bfloat16), or a
            tensor that is a view whose values the file does not hold (expanded, strided).
        MemoryError: A storage it declares could not be allocated.
    """
    try:
        with (
            _LOAD_LOCK,
            torch.serialization.safe_globals(SAFE_NUMPY_GLOBALS),
            warnings.catch_warnings(),
        ):
            # An old-format file warns of its pickle protocol: nothing the server can act on.
            warnings.simplefilter("ignore", UserWarning)
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise  # too large, not malformed: the caller answers that (a 413 for an upload)
    except Exception as error:  # noqa: BLE001 - any failure to read is the file's fault
        raise ValueError(
            f"not a torch.save file of tensors and arrays ({_refusal(error)})"
        ) from None
    if not isinstance(loaded, dict) or not all(isinstance(k, str) for k in loaded):
        raise ValueError(
            f"a .pt dataset is a dict of arrays by name, not a {type(loaded).__name__}"
        )
    arrays: dict[str, Any] = {}
    for name, value in loaded.items():
        if isinstance(value, torch.Tensor):
            _check_owns_its_values(name, value)
            try:
                value = value.detach().cpu().numpy()
            except (TypeError, RuntimeError) as error:
                raise ValueError(
                    f"{name}: a {value.dtype} tensor has no numpy dtype ({error})"
                ) from None
        arrays[name] = value
    return arrays


def _check_owns_its_values(name: str, tensor: torch.Tensor) -> None:
    """Refuse a tensor that is a view whose values are not all in the file.

    `torch.save` keeps views as they are: `torch.zeros(1).expand(10**8, 1)` is stored as one
    element with a stride of 0, and any numpy operation on it (a finiteness check, the digest,
    the canonical copy) would materialise its 10**8 rows from a file of a few kilobytes. A
    contiguous tensor's values take exactly numel * itemsize bytes of its storage, which the
    file holds: only those are loaded.

    Raises:
        ValueError: The tensor is not contiguous, or its values take more bytes than its
            storage holds (an expanded or overlapping view).
    """
    needed = tensor.numel() * tensor.element_size()
    held = tensor.untyped_storage().nbytes() - tensor.storage_offset() * tensor.element_size()
    if needed > held:
        raise ValueError(
            f"{name} is a view of {needed:,} bytes over a storage of {held:,} bytes (an "
            f"expanded or overlapping tensor): save {name}.contiguous().clone()"
        )
    if not tensor.is_contiguous():
        raise ValueError(
            f"{name} is a non-contiguous tensor (shape {tuple(tensor.shape)}, strides "
            f"{tensor.stride()}): save {name}.contiguous()"
        )


_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)")
_BUILD = re.compile(r"but got (<class '[^']+'>)")


def _refusal(error: Exception) -> str:
    """Why torch refused the file, in a few words (its own message tells the reader to allow
    the global, which is no advice for an upload)."""
    text = str(error)
    if found := _GLOBAL.search(text):
        return f"it needs {found.group(1)}, which is not loaded from an upload"
    if found := _BUILD.search(text):
        return f"it holds a {found.group(1)}; object arrays are not loaded"
    return type(error).__name__
