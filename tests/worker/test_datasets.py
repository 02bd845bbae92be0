"""Dataset cache: original formats parsed, digests enforced, clear errors without a network."""

from __future__ import annotations

import functools
import gzip
import http.server
import os
import pickle
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from dataset_files import (
    MNIST_NAMES,
    closed_port_url,
    idx_bytes,
    register,
    write_cifar10_tar,
    write_cifar100_tar,
    write_mnist_files,
)

from gapwatch_worker.cl import datasets
from gapwatch_worker.cl.datasets import (
    ChecksumMismatch,
    DatasetError,
    DatasetUnavailable,
    load_dataset,
    resolve_data_dir,
)
from gapwatch_worker.cl.datasets.idx import IMAGES_MAGIC, read_idx


def _cache(data_dir: Path, name: str) -> Path:
    return data_dir / "datasets" / name


def test_official_digests_are_well_formed() -> None:
    for source in datasets.SOURCES.values():
        for file in source.files:
            assert len(file.sha256) == 64 and int(file.sha256, 16) >= 0 and file.size > 1000
        assert all(url.endswith("/") for url in source.base_urls)


def test_mnist_files_in_the_cache_are_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = write_mnist_files(_cache(tmp_path, "mnist"))
    register(monkeypatch, "mnist", _cache(tmp_path, "mnist"), MNIST_NAMES, closed_port_url())

    arrays = load_dataset("mnist", tmp_path)

    assert arrays.train_x.shape == (60, 1, 28, 28) and arrays.train_x.dtype == np.uint8
    assert arrays.test_x.shape == (30, 1, 28, 28)
    assert np.array_equal(arrays.train_x[:, 0], written["train_images"])
    assert np.array_equal(arrays.test_x[:, 0], written["t10k_images"])
    assert arrays.train_y.dtype == np.int64
    assert np.array_equal(arrays.train_y, written["train_labels"])
    assert np.array_equal(arrays.test_y, written["t10k_labels"])
    # Each file was hashed once and marked; the parse is cached.
    assert all((_cache(tmp_path, "mnist") / f"{n}.verified").is_file() for n in MNIST_NAMES)
    assert len(list(_cache(tmp_path, "mnist").glob("parsed-v1-*.npz"))) == 1


def test_later_loads_use_the_parsed_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _cache(tmp_path, "mnist")
    write_mnist_files(folder)
    register(monkeypatch, "mnist", folder, MNIST_NAMES, closed_port_url())
    first = load_dataset("mnist", tmp_path)
    for name in MNIST_NAMES:  # the originals are not needed any more
        (folder / name).unlink()
    again = load_dataset("mnist", tmp_path)
    assert np.array_equal(first.train_x, again.train_x)
    assert np.array_equal(first.test_y, again.test_y)


def test_a_verified_marker_spares_the_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _cache(tmp_path, "mnist")
    write_mnist_files(folder)
    source = register(monkeypatch, "mnist", folder, MNIST_NAMES, closed_port_url())
    path = datasets.store.ensure_file(source, source.files[0], folder)
    calls = []
    monkeypatch.setattr(datasets.store, "sha256_of", lambda p: calls.append(p) or "0" * 64)
    assert datasets.store.ensure_file(source, source.files[0], folder) == path
    assert calls == []  # marker matched: no re-hash
    os.utime(path, ns=(1, 1))  # the file changed under the marker: hashed again, and refused
    with pytest.raises(ChecksumMismatch):
        datasets.store.ensure_file(source, source.files[0], folder)
    assert calls == [path]


def test_a_cached_file_with_the_wrong_digest_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _cache(tmp_path, "mnist")
    write_mnist_files(folder)
    register(monkeypatch, "mnist", folder, MNIST_NAMES, closed_port_url())
    write_mnist_files(folder, seed=99)  # same names, other bytes

    with pytest.raises(
        ChecksumMismatch, match=r"train-images-idx3-ubyte\.gz has SHA-256 [0-9a-f]{64}, expected"
    ):
        load_dataset("mnist", tmp_path)
    assert not list(folder.glob("parsed-*"))


def test_missing_file_without_network_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = tmp_path / "template"
    write_mnist_files(template)
    url = closed_port_url()
    register(monkeypatch, "mnist", template, MNIST_NAMES, url)  # digests known, cache empty

    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset("mnist", tmp_path / "data")

    message = str(caught.value)
    assert message.startswith("dataset mnist not in cache and download failed: ")
    assert url + "train-images-idx3-ubyte.gz" in message
    assert isinstance(caught.value, RuntimeError)
    assert caught.value.__cause__ is None and caught.value.__context__ is None  # no urllib trace
    assert not list((tmp_path / "data").rglob("*.part"))  # no half-written file left behind


def _mirror(tmp_path: Path, seed: int = 0) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path / "mirror"
    return root, write_mnist_files(root / "mnist", seed=seed)


def test_downloads_from_a_mirror_verify_and_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, written = _mirror(tmp_path)
    register(monkeypatch, "mnist", root / "mnist", MNIST_NAMES, closed_port_url())
    monkeypatch.setenv("GAPWATCH_DATASET_MIRROR", root.as_uri())

    arrays = load_dataset("mnist", tmp_path / "data")

    assert np.array_equal(arrays.train_x[:, 0], written["train_images"])
    folder = _cache(tmp_path / "data", "mnist")
    for name in MNIST_NAMES:
        assert (folder / name).read_bytes() == (root / "mnist" / name).read_bytes()
        assert (folder / f"{name}.verified").is_file()
    assert not list(folder.glob("*.part"))


@pytest.fixture
def http_mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on localhost serving tmp_path / "served"."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", served
    finally:
        server.shutdown()
        server.server_close()


def test_downloads_over_http_from_the_first_url_that_works(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    http_mirror: tuple[str, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, served = http_mirror
    written = write_cifar10_tar(served / "cifar-10-python.tar.gz")
    register(monkeypatch, "cifar10", served, ["cifar-10-python.tar.gz"], url)
    dead = closed_port_url()
    monkeypatch.setenv("GAPWATCH_DATASET_MIRROR", dead)  # tried first, fails

    arrays = load_dataset("cifar10", tmp_path / "data")

    assert np.array_equal(arrays.train_x.reshape(40, -1), written["train_x"])
    assert any(dead + "cifar10/cifar-10-python.tar.gz" in r.message for r in caplog.records)


def test_a_download_with_the_wrong_digest_is_discarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = tmp_path / "expected"
    write_mnist_files(expected, seed=0)
    register(monkeypatch, "mnist", expected, MNIST_NAMES, closed_port_url())
    root, _ = _mirror(tmp_path, seed=5)  # the mirror serves other bytes under the same names
    monkeypatch.setenv("GAPWATCH_DATASET_MIRROR", root.as_uri())

    with pytest.raises(DatasetUnavailable, match="SHA-256 mismatch|bytes, expected"):
        load_dataset("mnist", tmp_path / "data")
    folder = _cache(tmp_path / "data", "mnist")
    assert not (folder / "train-images-idx3-ubyte.gz").exists()
    assert not list(folder.glob("*.part"))


def test_idx_header_is_checked(tmp_path: Path) -> None:
    images = np.zeros((2, 28, 28), dtype=np.uint8)
    good = tmp_path / "good.gz"
    good.write_bytes(gzip.compress(idx_bytes(images)))
    assert read_idx(good, IMAGES_MAGIC).shape == (2, 28, 28)
    labels = tmp_path / "labels.gz"
    labels.write_bytes(gzip.compress(idx_bytes(np.zeros(2, dtype=np.uint8))))
    with pytest.raises(ValueError, match="magic number 0x00000801, expected 0x00000803"):
        read_idx(labels, IMAGES_MAGIC)
    short = tmp_path / "short.gz"
    short.write_bytes(gzip.compress(idx_bytes(images)[:-5]))
    with pytest.raises(ValueError, match="values for shape"):
        read_idx(short, IMAGES_MAGIC)


def test_an_unparsable_verified_file_is_a_dataset_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _cache(tmp_path, "mnist")
    write_mnist_files(folder)
    # The labels file where the images should be: right digest (registered), wrong content.
    (folder / "train-images-idx3-ubyte.gz").write_bytes(
        (folder / "train-labels-idx1-ubyte.gz").read_bytes()
    )
    register(monkeypatch, "mnist", folder, MNIST_NAMES, closed_port_url())
    with pytest.raises(DatasetError, match="dataset mnist: cannot parse its files: .*magic"):
        load_dataset("mnist", tmp_path)


def test_cifar10_batches_become_channel_planes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _cache(tmp_path, "cifar10")
    written = write_cifar10_tar(folder / "cifar-10-python.tar.gz")
    register(monkeypatch, "cifar10", folder, ["cifar-10-python.tar.gz"], closed_port_url())

    arrays = load_dataset("cifar10", tmp_path)

    assert arrays.train_x.shape == (40, 3, 32, 32) and arrays.test_x.shape == (8, 3, 32, 32)
    assert np.array_equal(arrays.train_y, written["train_y"])
    assert np.array_equal(arrays.test_y, written["test_y"])
    # Row i of a batch holds the red, green, blue planes in turn, each row-major 32x32.
    row = written["train_x"][13]
    assert arrays.train_x[13, 1, 5, 7] == row[1 * 1024 + 5 * 32 + 7]
    assert arrays.train_x[13, 2, 31, 0] == row[2 * 1024 + 31 * 32]
    assert np.array_equal(arrays.train_x.reshape(40, -1), written["train_x"])


def test_cifar100_uses_the_fine_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _cache(tmp_path, "cifar100")
    written = write_cifar100_tar(folder / "cifar-100-python.tar.gz")
    register(monkeypatch, "cifar100", folder, ["cifar-100-python.tar.gz"], closed_port_url())

    arrays = load_dataset("cifar100", tmp_path)

    assert arrays.train_x.shape == (200, 3, 32, 32) and arrays.test_x.shape == (100, 3, 32, 32)
    assert np.array_equal(arrays.train_y, written["train_y"])
    assert set(arrays.train_y.tolist()) == set(range(100))
    assert np.array_equal(arrays.test_x.reshape(100, -1), written["test_x"])


def _numpy_1_pickle(batch: dict) -> bytes:
    """A protocol-2 pickle naming numpy.core.multiarray, as the original CIFAR files do."""
    data = pickle.dumps(batch, protocol=2)
    return data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


class _Evil:
    def __reduce__(self) -> tuple:
        return (os.system, ("echo owned",))


def test_cifar_pickles_may_hold_arrays_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072) % 251
    old_style = _numpy_1_pickle({b"data": data, b"labels": [3, 4]})
    assert b"numpy.core.multiarray" in old_style
    folder = _cache(tmp_path, "cifar10")
    path = folder / "cifar-10-python.tar.gz"
    write_cifar10_tar(path, batches={"cifar-10-batches-py/test_batch": old_style})
    register(monkeypatch, "cifar10", folder, ["cifar-10-python.tar.gz"], closed_port_url())
    arrays = load_dataset("cifar10", tmp_path)
    assert np.array_equal(arrays.test_x.reshape(2, -1), data)
    assert arrays.test_y.tolist() == [3, 4]

    evil = pickle.dumps({b"data": _Evil(), b"labels": []}, protocol=2)
    other = tmp_path / "other"
    write_cifar10_tar(
        _cache(other, "cifar10") / "cifar-10-python.tar.gz",
        batches={"cifar-10-batches-py/data_batch_2": evil},
    )
    register(
        monkeypatch,
        "cifar10",
        _cache(other, "cifar10"),
        ["cifar-10-python.tar.gz"],
        closed_port_url(),
    )
    with pytest.raises(
        DatasetError, match=r"global posix\.system is not allowed|global os\.system"
    ):
        load_dataset("cifar10", other)


def test_a_cifar_tarball_without_its_batches_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _cache(tmp_path, "cifar10")
    folder.mkdir(parents=True)
    with tarfile.open(folder / "cifar-10-python.tar.gz", "w:gz"):
        pass
    register(monkeypatch, "cifar10", folder, ["cifar-10-python.tar.gz"], closed_port_url())
    with pytest.raises(DatasetError, match="lacks cifar-10-batches-py/data_batch_1"):
        load_dataset("cifar10", tmp_path)


def test_data_dir_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GAPWATCH_DATA_DIR", str(tmp_path))
    assert resolve_data_dir() == tmp_path
    assert resolve_data_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("GAPWATCH_DATA_DIR")
    assert resolve_data_dir() == Path(".gapwatch")
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("imagenet", tmp_path)


def test_offline_mode_downloads_only_from_mirrors(monkeypatch) -> None:
    from gapwatch_worker.cl.datasets import SOURCES
    from gapwatch_worker.cl.datasets.store import candidate_urls

    source = SOURCES["mnist"]
    file = source.files[0]
    monkeypatch.setenv("GAPWATCH_DATASET_MIRROR", "file:///srv/mirror")
    monkeypatch.setenv("GAPWATCH_DATASET_OFFLINE", "1")
    assert candidate_urls(source, file) == [f"file:///srv/mirror/mnist/{file.name}"]
    monkeypatch.setenv("GAPWATCH_DATASET_OFFLINE", "0")
    assert len(candidate_urls(source, file)) == 1 + len(source.base_urls)
