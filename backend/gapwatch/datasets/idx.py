"""MNIST and Fashion-MNIST: IDX files (http://yann.lecun.com/exdb/mnist/ describes them).

An IDX file is a big-endian header, 0x00 0x00 <type> <dims>, one uint32 size per dimension, then
the values. MNIST's images are type 0x08 (unsigned byte) with 3 dimensions (magic 2051), its
labels type 0x08 with 1 dimension (magic 2049). They are served gzipped; the parser reads the
decompressed bytes, whatever container they came in (see `content`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .content import ContentReader, decompressed
from .store import ImageArrays

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
UBYTE = 0x08

# The logical files of an MNIST-format dataset, by split: (images, labels).
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def parse_idx(data: bytes, name: str, expected_magic: int) -> np.ndarray:
    """Reads IDX bytes of unsigned bytes.

    Args:
        data: The file's (decompressed) bytes.
        name: For messages.
        expected_magic: IMAGES_MAGIC or LABELS_MAGIC.

    Returns:
        A uint8 array of the shape the header gives.

    Raises:
        ValueError: If the magic number, the value type or the length is not as expected.
    """
    if len(data) < 4:
        raise ValueError(f"{name}: too short for an IDX header")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise ValueError(f"{name}: IDX magic number {magic:#010x}, expected {expected_magic:#010x}")
    dims = data[3]
    if data[2] != UBYTE:
        raise ValueError(f"{name}: IDX value type {data[2]:#04x}, expected unsigned byte")
    header = 4 + 4 * dims
    if len(data) < header:
        raise ValueError(f"{name}: too short for an IDX header of {dims} dimensions")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    if len(data) != header + int(np.prod(shape)):
        raise ValueError(f"{name}: {len(data) - header} values for shape {shape}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Reads an IDX file, gzipped or not (see `parse_idx`)."""
    with path.open("rb") as raw:
        return parse_idx(decompressed(raw).read(), path.name, expected_magic)


def parse_mnist_files(reader: ContentReader) -> ImageArrays:
    """Parses the four MNIST-format files (MNIST_FILES) into (N, 1, 28, 28) images and int64
    labels."""
    read = reader.read
    splits = {}
    for split, (images_name, labels_name) in MNIST_FILES.items():
        images = parse_idx(read(images_name), images_name, IMAGES_MAGIC)
        labels = parse_idx(read(labels_name), labels_name, LABELS_MAGIC)
        if len(images) != len(labels):
            raise ValueError(f"{split}: {len(images)} images but {len(labels)} labels")
        splits[split] = (images[:, None, :, :].copy(), labels.astype(np.int64))
    return ImageArrays(*splits["train"], *splits["test"])
