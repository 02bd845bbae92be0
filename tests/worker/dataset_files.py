"""Tiny datasets written in the exact original formats, and a cache that knows their digests.

MNIST-family: gzipped IDX files with the original names and magic numbers. CIFAR: the python
tarballs with the original member names, each batch a protocol-2 pickle of a dict with bytes
keys (b"data", b"labels" / b"fine_labels", b"coarse_labels"), as the originals are.

`register` makes a dataset expect the files a test wrote, as the official sources expect theirs:
the container's SHA-256 and size, the digest of each logical file's decompressed bytes (the
algorithm the official source uses for it), and the structure of its arrays (the official image
shape and classes, the tiny files' row counts). numpy only: no torch needed.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import pickle
import socket
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gapwatch.datasets import content, official
from gapwatch.datasets.content import ContentReader, Location
from gapwatch.datasets.store import DatasetSource, RemoteFile, Structure


def closed_port_url() -> str:
    """An http URL on localhost where nothing listens: a download there fails at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes: 0x00 0x00 0x08 <dims>, big-endian sizes, the values."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_mnist_files(
    folder: Path,
    per_class_train: int = 6,
    per_class_test: int = 3,
    seed: int = 0,
    *,
    gz: bool = True,
    mtime: int | None = None,
    level: int = 9,
) -> dict[str, np.ndarray]:
    """Writes the four MNIST files into `folder`, gzipped (`<name>.gz`, with this gzip header
    mtime and level) or not (`<name>`); returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {}
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, per_class in (("train", per_class_train), ("t10k", per_class_test)):
        labels = rng.permutation(np.repeat(np.arange(10, dtype=np.uint8), per_class))
        images = rng.integers(0, 256, size=(len(labels), 28, 28), dtype=np.uint8)
        arrays[f"{prefix}_images"], arrays[f"{prefix}_labels"] = images, labels
        for name, array in ((f"{prefix}-images-idx3-ubyte", images),
                            (f"{prefix}-labels-idx1-ubyte", labels)):  # fmt: skip
            data = idx_bytes(array)
            if gz:
                (folder / f"{name}.gz").write_bytes(
                    gzip.compress(data, compresslevel=level, mtime=mtime)
                )
            else:
                (folder / name).write_bytes(data)
    return arrays


def logical_files(folder: Path, names: list[str]) -> dict[str, bytes]:
    """The decompressed bytes of each file in `folder`, by name without `.gz`."""
    return {
        n.removesuffix(".gz"): content.decompressed(io.BytesIO((folder / n).read_bytes())).read()
        for n in names
    }


def write_archive(path: Path, files: dict[str, bytes], *, gz_members: bool = False) -> Path:
    """A tar, tar.gz, tgz or zip archive (by `path`'s suffix) holding `files` by member name;
    with `gz_members`, each member gzipped as `<name>.gz`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz_members:
        files = {f"{n}.gz": gzip.compress(data, mtime=7) for n, data in files.items()}
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(name, data)
        return path
    mode = "w:gz" if path.name.endswith((".tar.gz", ".tgz")) else "w"
    with tarfile.open(path, mode) as archive:
        for name, data in files.items():
            _add_member(archive, name, data)
    return path


def _pickled_batch(batch: dict[bytes, object]) -> bytes:
    return pickle.dumps(batch, protocol=2)


def _add_member(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def write_cifar10_tar(
    path: Path, per_batch: int = 8, seed: int = 0, batches: dict[str, bytes] | None = None
) -> dict[str, np.ndarray]:
    """Writes cifar-10-python.tar.gz with 5 data batches and a test batch; returns the arrays.

    `batches` replaces the pickled bytes of the named members (to plant a bad pickle).
    """
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {"train_x": [], "train_y": [], "test_x": [], "test_y": []}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        _add_member(archive, "cifar-10-batches-py/batches.meta", _pickled_batch({}))
        members = [(f"data_batch_{i}", "train") for i in range(1, 6)] + [("test_batch", "test")]
        for member, split in members:
            data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
            labels = [int(v) for v in rng.integers(0, 10, size=per_batch)]
            name = f"cifar-10-batches-py/{member}"
            payload = (batches or {}).get(name) or _pickled_batch(
                {b"batch_label": b"x", b"labels": labels, b"data": data, b"filenames": []}
            )
            _add_member(archive, name, payload)
            out[f"{split}_x"].append(data)
            out[f"{split}_y"].append(np.array(labels))
    return {k: np.concatenate(v) for k, v in out.items()}


def write_cifar100_tar(
    path: Path, per_class_train: int = 2, seed: int = 0
) -> dict[str, np.ndarray]:
    """Writes cifar-100-python.tar.gz (train, test, meta); returns the arrays (fine labels)."""
    rng = np.random.default_rng(seed)
    out = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        _add_member(archive, "cifar-100-python/meta", _pickled_batch({}))
        for split, per_class in (("train", per_class_train), ("test", 1)):
            fine = rng.permutation(np.repeat(np.arange(100), per_class))
            data = rng.integers(0, 256, size=(len(fine), 3072), dtype=np.uint8)
            batch = {
                b"filenames": [],
                b"batch_label": b"x",
                b"fine_labels": [int(v) for v in fine],
                b"coarse_labels": [int(v) // 5 for v in fine],
                b"data": data,
            }
            _add_member(archive, f"cifar-100-python/{split}", _pickled_batch(batch))
            out[f"{split}_x"], out[f"{split}_y"] = data, fine
    return out


def write_with_a_second_copy(
    official_tar: Path, path: Path, member: str, other: bytes, *, spelling: str = ""
) -> Path:
    """A .tar.gz holding every member of `official_tar` in its order, then `member` a second
    time (spelled `spelling + member`, e.g. "./") with the bytes `other`: a repack whose first
    copy of `member` is the official content and whose second is not."""
    with tarfile.open(official_tar) as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile()]  # type: ignore[union-attr]
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for name, data in [*members, (spelling + member, other)]:
            _add_member(archive, name, data)
    return path


def remote_files(source: DatasetSource, folder: Path, names: list[str]) -> tuple[RemoteFile, ...]:
    """`source`'s RemoteFile entries named `names`, with the SHA-256 and size of the files of
    those names in `folder` and the digests of what they hold (a member an archive lacks keeps
    its official digest)."""
    official_files = {f.name: f for f in source.files}
    files = []
    for name in names:
        path, file = folder / name, official_files[name]
        algorithms = {m.algorithm for m in file.members}
        if file.is_archive:
            found = content.archive_digests(path, [m.name for m in file.members], algorithms)
        else:
            found = {m.name: content.content_digests(path, algorithms) for m in file.members}
        members = tuple(
            dataclasses.replace(m, digest=found[m.name][m.algorithm]) if m.name in found else m
            for m in file.members
        )
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        files.append(RemoteFile(name, sha256, path.stat().st_size, members))
    return tuple(files)


MNIST_NAMES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


def tiny_structure(source: DatasetSource, folder: Path) -> Structure | None:
    """The structure of the data that `source`'s files in `folder` hold: its official image
    shape and classes, with the row counts that the files parse to; None where they do not
    parse (a test of broken files: only dtypes and ranks are checked then)."""
    if source.expected is None:
        return None
    locations = {
        m.name: Location(folder / f.name, m.name if f.is_archive else None)
        for f in source.files
        for m in f.members
    }
    digests = {m.name: (m.algorithm, m.digest) for m in source.contents}
    try:
        with ContentReader(locations, digests) as reader:
            arrays = source.parse(reader)
    except (OSError, ValueError, KeyError, EOFError):
        return None
    return dataclasses.replace(source.expected, train=len(arrays.train_y), test=len(arrays.test_y))


def register(
    monkeypatch: pytest.MonkeyPatch, name: str, folder: Path, names: list[str], base_url: str
) -> DatasetSource:
    """Makes dataset `name` expect the files in `folder` (their digests, and the structure they
    parse to) and download from `base_url` only."""
    source = official.SOURCES[name]
    source = dataclasses.replace(
        source, files=remote_files(source, folder, names), base_urls=(base_url,)
    )
    source = dataclasses.replace(source, expected=tiny_structure(source, folder))
    monkeypatch.setitem(official.SOURCES, name, source)
    monkeypatch.delenv("GAPWATCH_DATASET_MIRROR", raising=False)
    return source


def install_tiny_datasets(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> dict[str, dict]:
    """Writes tiny MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 straight into the cache under
    `data_dir` and registers their digests; downloads would go to a closed port."""
    offline = closed_port_url()
    written: dict[str, dict] = {}
    for name, seed in (("mnist", 0), ("fashion_mnist", 1)):
        folder = data_dir / "datasets" / name
        written[name] = write_mnist_files(folder, seed=seed)
        register(monkeypatch, name, folder, MNIST_NAMES, offline)
    for name, writer in (("cifar10", write_cifar10_tar), ("cifar100", write_cifar100_tar)):
        folder = data_dir / "datasets" / name
        file_name = f"cifar-{name[5:]}-python.tar.gz"
        written[name] = writer(folder / file_name)
        register(monkeypatch, name, folder, [file_name], offline)
    return written
