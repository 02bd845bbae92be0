"""CIFAR-10 and CIFAR-100: the "python version" tarballs (https://www.cs.toronto.edu/~kriz/cifar.html).

Each batch is a pickled dict with bytes keys: b"data", a uint8 array of shape (n, 3072) holding
the red, green and blue 32x32 planes of each image in turn, and b"labels" (CIFAR-10) or
b"fine_labels" (CIFAR-100), a list of ints.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from .store import ImageArrays

CIFAR10_TRAIN = tuple(f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST = ("cifar-10-batches-py/test_batch",)
CIFAR100_TRAIN = ("cifar-100-python/train",)
CIFAR100_TEST = ("cifar-100-python/test",)

# The batches are pickles. Their digest is checked before they are opened, and on top of that
# only what a pickled numpy array needs may be loaded: no other callable can run.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("copyreg", "_reconstructor"),
    ("_codecs", "encode"),  # how Python 3 writes bytes in a protocol-2 pickle
    ("__builtin__", "object"),
    ("builtins", "object"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")
        if module == "numpy.core.multiarray":  # the files predate numpy 2's numpy._core
            module = "numpy._core.multiarray"
        if module == "__builtin__":
            module = "builtins"
        return super().find_class(module, name)


def _read_batch(
    archive: tarfile.TarFile, member: str, label_key: bytes
) -> tuple[np.ndarray, np.ndarray]:
    handle = archive.extractfile(member)
    if handle is None:
        raise ValueError(f"{member} is not a regular file")
    try:
        batch = _ArrayUnpickler(io.BytesIO(handle.read()), encoding="bytes").load()
    except pickle.UnpicklingError as error:
        raise ValueError(f"{member}: {error}") from error
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise ValueError(f"{member}: data {data.shape} and {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32), labels


def _read_splits(
    path: Path, train: tuple[str, ...], test: tuple[str, ...], label_key: bytes
) -> ImageArrays:
    with tarfile.open(path, "r:gz") as archive:
        names = set(archive.getnames())
        missing = [m for m in train + test if m not in names]
        if missing:
            raise ValueError(f"{path.name} lacks {', '.join(missing)}")
        parts = [[_read_batch(archive, m, label_key) for m in members] for members in (train, test)]
    (train_x, train_y), (test_x, test_y) = (
        (np.concatenate([x for x, _ in p]), np.concatenate([y for _, y in p])) for p in parts
    )
    return ImageArrays(train_x, train_y, test_x, test_y)


def parse_cifar10(paths: dict[str, Path]) -> ImageArrays:
    """Parses cifar-10-python.tar.gz into (N, 3, 32, 32) uint8 images and int64 labels."""
    return _read_splits(paths["cifar-10-python.tar.gz"], CIFAR10_TRAIN, CIFAR10_TEST, b"labels")


def parse_cifar100(paths: dict[str, Path]) -> ImageArrays:
    """Parses cifar-100-python.tar.gz; the labels are the 100 fine classes."""
    return _read_splits(
        paths["cifar-100-python.tar.gz"], CIFAR100_TRAIN, CIFAR100_TEST, b"fine_labels"
    )
