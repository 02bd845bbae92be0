"""MNIST and Fashion-MNIST: gzipped IDX files (http://yann.lecun.com/exdb/mnist/ describes them).

An IDX file is a big-endian header, 0x00 0x00 <type> <dims>, one uint32 size per dimension, then
the values. MNIST's images are type 0x08 (unsigned byte) with 3 dimensions (magic 2051), its
labels type 0x08 with 1 dimension (magic 2049).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from .store import ImageArrays

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
UBYTE = 0x08


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Reads a gzipped IDX file of unsigned bytes.

    Args:
        path: The .gz file.
        expected_magic: IMAGES_MAGIC or LABELS_MAGIC.

    Returns:
        A uint8 array of the shape the header gives.

    Raises:
        ValueError: If the magic number, the value type or the length is not as expected.
    """
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4:
        raise ValueError(f"{path.name}: too short for an IDX header")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise ValueError(
            f"{path.name}: IDX magic number {magic:#010x}, expected {expected_magic:#010x}"
        )
    dims = data[3]
    if data[2] != UBYTE:
        raise ValueError(f"{path.name}: IDX value type {data[2]:#04x}, expected unsigned byte")
    header = 4 + 4 * dims
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    if len(data) != header + int(np.prod(shape)):
        raise ValueError(f"{path.name}: {len(data) - header} values for shape {shape}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def parse_mnist_files(paths: dict[str, Path]) -> ImageArrays:
    """Parses the four MNIST-format files into (N, 1, 28, 28) images and int64 labels."""
    splits = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(paths[f"{prefix}-images-idx3-ubyte.gz"], IMAGES_MAGIC)
        labels = read_idx(paths[f"{prefix}-labels-idx1-ubyte.gz"], LABELS_MAGIC)
        if len(images) != len(labels):
            raise ValueError(f"{prefix}: {len(images)} images but {len(labels)} labels")
        splits[split] = (images[:, None, :, :].copy(), labels.astype(np.int64))
    return ImageArrays(*splits["train"], *splits["test"])
