"""A dataset as four arrays, and the content digest that names it wherever it is stored.

An uploaded dataset is `x_train, y_train, x_test, y_test`. Its digest is computed from the
arrays, not from the file that carried them, so the same arrays uploaded as .npz or .pt, or
compressed differently, have one digest; the worker checks it before it trains on them.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

ARRAY_NAMES: tuple[str, ...] = ("x_train", "y_train", "x_test", "y_test")
DIGEST_FORMAT = b"gapwatch-arrays-v1"
UPLOADS_FOLDER = "uploads"


def array_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """Hex SHA-256 over, for each of ARRAY_NAMES in order, its name, dtype, shape and its
    C-ordered bytes. Equal arrays give equal digests whatever file they came in."""
    digest = hashlib.sha256(DIGEST_FORMAT)
    for name in ARRAY_NAMES:
        array = np.ascontiguousarray(arrays[name])
        header = f"{name}|{array.dtype.str}|{','.join(map(str, array.shape))}|"
        digest.update(header.encode())
        # memoryview: no copy of a large array.
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def dataset_path(data_dir: Path, digest: str) -> Path:
    """Where a worker (or the API's artifact store) keeps the canonical .npz of a dataset:
    `<data_dir>/datasets/uploads/<digest>.npz`, named by content so runs share one copy."""
    return Path(data_dir) / "datasets" / UPLOADS_FOLDER / f"{digest}.npz"


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The four arrays of a canonical .npz (no pickles are loaded).

    Raises:
        ValueError: If the file is not an .npz holding ARRAY_NAMES.
        OSError: If it cannot be read.
    """
    with np.load(path, allow_pickle=False) as data:
        missing = [name for name in ARRAY_NAMES if name not in data.files]
        if missing:
            raise ValueError(f"{path.name} lacks {', '.join(missing)}")
        return {name: data[name] for name in ARRAY_NAMES}


def read_verified(path: Path, digest: str) -> dict[str, np.ndarray]:
    """The four arrays of the canonical .npz at `path`, if their content digest is `digest`.

    Raises:
        ValueError: If the file cannot be read as a canonical .npz (missing included), or
            holds arrays of another digest; the message names the file and the digests.
    """
    try:
        arrays = read_arrays(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"cannot read {path}: {error}") from None
    found = array_digest(arrays)
    if found != digest:
        raise ValueError(f"{path} holds content with digest {found}, not digest {digest}")
    return arrays
