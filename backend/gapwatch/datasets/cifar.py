"""CIFAR-10 and CIFAR-100: the "python version" (https://www.cs.toronto.edu/~kriz/cifar.html).

Each batch is a pickled dict with bytes keys: b"data", a uint8 array of shape (n, 3072) holding
the red, green and blue 32x32 planes of each image in turn, and b"labels" (CIFAR-10) or
b"fine_labels" (CIFAR-100), a list of ints. The batches are members of the official tarballs;
the parser reads them by their member names wherever they lie (the tarball, or files imported
from an extracted copy).
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

from .content import ContentReader
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


def _read_batch(data: bytes, member: str, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _ArrayUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as error:
        raise ValueError(f"{member}: {error}") from error
    images = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if images.ndim != 2 or images.shape[1] != 3 * 32 * 32 or len(images) != len(labels):
        raise ValueError(f"{member}: data {images.shape} and {len(labels)} labels")
    return images.reshape(-1, 3, 32, 32), labels


def _read_splits(
    reader: ContentReader, train: tuple[str, ...], test: tuple[str, ...], label_key: bytes
) -> ImageArrays:
    parts = [
        [_read_batch(reader.read(m), m, label_key) for m in members] for members in (train, test)
    ]
    (train_x, train_y), (test_x, test_y) = (
        (np.concatenate([x for x, _ in p]), np.concatenate([y for _, y in p])) for p in parts
    )
    return ImageArrays(train_x, train_y, test_x, test_y)


def parse_cifar10(reader: ContentReader) -> ImageArrays:
    """Parses CIFAR-10's six batches into (N, 3, 32, 32) uint8 images and int64 labels."""
    return _read_splits(reader, CIFAR10_TRAIN, CIFAR10_TEST, b"labels")


def parse_cifar100(reader: ContentReader) -> ImageArrays:
    """Parses CIFAR-100's train and test batches; the labels are the 100 fine classes."""
    return _read_splits(reader, CIFAR100_TRAIN, CIFAR100_TEST, b"fine_labels")
