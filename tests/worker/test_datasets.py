"""Dataset cache: original formats parsed, content digests enforced in any container, the parsed
cache used only for the content it records, clear errors without a network."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import http.server
import os
import pickle
import re
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from dataset_files import (
    MNIST_NAMES,
    closed_port_url,
    idx_bytes,
    logical_files,
    register,
    write_archive,
    write_cifar10_tar,
    write_cifar100_tar,
    write_mnist_files,
    write_with_a_second_copy,
)

from gapwatch.datasets import content, importing, official, store
from gapwatch.datasets.idx import IMAGES_MAGIC, read_idx
from gapwatch.datasets.store import candidate_urls, content_digest, find_cached
from gapwatch_worker.cl import datasets
from gapwatch_worker.cl.datasets import (
    ChecksumMismatch,
    DatasetError,
    DatasetUnavailable,
    load_dataset,
    resolve_data_dir,
)


def _cache(data_dir: Path, name: str) -> Path:
    return data_dir / "datasets" / name


def test_official_digests_are_well_formed() -> None:
    assert datasets.SOURCES is official.SOURCES  # the engine sees what tests register
    lengths = {"sha256": 64, "md5": 32}
    for source in datasets.SOURCES.values():
        for file in source.files:
            assert len(file.sha256) == 64 and int(file.sha256, 16) >= 0 and file.size > 1000
            assert file.members
            for member in file.members:
                assert len(member.digest) == lengths[member.algorithm], member
                assert int(member.digest, 16) >= 0
        assert all(url.endswith("/") for url in source.base_urls)


def _contents(name: str) -> dict[str, str]:
    return {m.name: m.key for m in official.SOURCES[name].contents}


def test_the_official_content_digests_are_recorded() -> None:
    """A pin, not a verification: it compares the recorded digests with copies of themselves,
    so that an accidental edit of one in gapwatch.datasets.official fails here. Where each value
    comes from (the public listings that agree on it) is said in that module; no test downloads
    the official files to check them."""
    assert _contents("mnist") == {
        "train-images-idx3-ubyte": "sha256:"
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "sha256:"
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "sha256:"
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "sha256:"
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    }
    assert _contents("fashion_mnist") == {
        "train-images-idx3-ubyte": "sha256:"
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "sha256:"
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "sha256:"
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "sha256:"
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    }
    assert _contents("cifar10") == {
        "cifar-10-batches-py/data_batch_1": "md5:c99cafc152244af753f735de768cd75f",
        "cifar-10-batches-py/data_batch_2": "md5:d4bba439e000b95fd0a9bffe97cbabec",
        "cifar-10-batches-py/data_batch_3": "md5:54ebc095f3ab1f0389bbae665268c751",
        "cifar-10-batches-py/data_batch_4": "md5:634d18415352ddfa80567beed471001a",
        "cifar-10-batches-py/data_batch_5": "md5:482c414d41f54cd18b22e5b47cb7c3cb",
        "cifar-10-batches-py/test_batch": "md5:40351d587109b95175f43aff81a1287e",
    }
    assert _contents("cifar100") == {
        "cifar-100-python/train": "md5:16019d7e3df5f24257cddd939b257f8d",
        "cifar-100-python/test": "md5:f0ef6b0ae62326f3e7ffdfab6717acfc",
    }


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
    (parsed,) = _cache(tmp_path, "mnist").glob("parsed-v3-*.npz")
    with np.load(parsed) as saved:  # the content it was built from, recorded
        assert str(saved["content_digest"]) == content_digest(datasets.SOURCES["mnist"])


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


def _count_hashing(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file the cache hashes from now on (its own bytes or its content)."""
    calls: list[Path] = []
    for name in ("file_sha256", "content_digests", "archive_digests"):
        real = getattr(content, name)

        def counted(path: Path, *args, _real=real, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(path)
            return _real(path, *args, **kwargs)

        monkeypatch.setattr(content, name, counted)
    return calls


def test_a_verified_marker_spares_the_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _cache(tmp_path, "mnist")
    write_mnist_files(folder)
    source = register(monkeypatch, "mnist", folder, MNIST_NAMES, closed_port_url())
    calls = _count_hashing(monkeypatch)
    first = find_cached(source, folder)
    assert len(first) == 4 and sorted(calls) == sorted(folder / n for n in MNIST_NAMES)
    calls.clear()
    assert find_cached(source, folder) == first
    assert calls == []  # markers matched: no re-hash
    path = folder / MNIST_NAMES[0]
    os.utime(path, ns=(1, 1))  # the file changed under its marker: hashed again
    assert find_cached(source, folder) == first
    assert calls == [path]
    path.write_bytes(gzip.compress(b"other bytes"))  # and now refused
    with pytest.raises(ChecksumMismatch):
        find_cached(source, folder)


def test_a_cached_file_with_the_wrong_digest_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _cache(tmp_path, "mnist")
    write_mnist_files(folder)
    register(monkeypatch, "mnist", folder, MNIST_NAMES, closed_port_url())
    write_mnist_files(folder, seed=99)  # same names, other bytes

    with pytest.raises(ChecksumMismatch) as caught:
        load_dataset("mnist", tmp_path)
    message = str(caught.value)
    expected = datasets.SOURCES["mnist"].files[0].members[0].digest
    assert re.search(
        r"train-images-idx3-ubyte\.gz has SHA256 [0-9a-f]{64} \(of its decompressed content\), "
        rf"expected {expected}, the official train-images-idx3-ubyte",
        message,
    ), message
    assert message.endswith("run: gapwatch datasets import mnist PATH")
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
    assert message.endswith(
        "; to use a copy of its files, run: gapwatch datasets import mnist PATH"
    )
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
    plain = tmp_path / "plain"  # gzip is recognised by its magic number, not the name
    plain.write_bytes(idx_bytes(images))
    assert read_idx(plain, IMAGES_MAGIC).shape == (2, 28, 28)
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
    source = datasets.SOURCES["mnist"]
    file = source.files[0]
    monkeypatch.setenv("GAPWATCH_DATASET_MIRROR", "file:///srv/mirror")
    monkeypatch.setenv("GAPWATCH_DATASET_OFFLINE", "1")
    assert candidate_urls(source, file) == [f"file:///srv/mirror/mnist/{file.name}"]
    monkeypatch.setenv("GAPWATCH_DATASET_OFFLINE", "0")
    assert len(candidate_urls(source, file)) == 1 + len(source.base_urls)


# --- the content decides, not the container ----------------------------------------------------


def _registered_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, np.ndarray]:
    """Tiny MNIST files in tmp_path / "official", registered as the official ones."""
    official_folder = tmp_path / "official"
    written = write_mnist_files(official_folder, mtime=1_000_000)
    register(monkeypatch, "mnist", official_folder, MNIST_NAMES, closed_port_url())
    return written


@pytest.mark.parametrize(
    "layout",
    ["recompressed", "fastest", "plain", "plain-and-gz-names"],
)
def test_the_official_content_passes_in_another_compression(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    written = _registered_mnist(tmp_path, monkeypatch)
    folder = _cache(tmp_path / "data", "mnist")
    if layout == "recompressed":  # as a package re-packs them: another gzip header timestamp
        write_mnist_files(folder, mtime=1_700_000_000)
    elif layout == "fastest":
        write_mnist_files(folder, mtime=0, level=1)
    elif layout == "plain":  # gunzipped: train-images-idx3-ubyte, ...
        write_mnist_files(folder, gz=False)
    else:  # some plain, some under their .gz names but not gzipped at all
        files = logical_files(tmp_path / "official", MNIST_NAMES)
        folder.mkdir(parents=True)
        for i, (name, data) in enumerate(files.items()):
            (folder / (name if i % 2 else f"{name}.gz")).write_bytes(data)
    for name in MNIST_NAMES:  # not the official containers' bytes
        if (folder / name).exists():
            assert (folder / name).read_bytes() != (tmp_path / "official" / name).read_bytes()

    arrays = load_dataset("mnist", tmp_path / "data")

    assert np.array_equal(arrays.train_x[:, 0], written["train_images"])
    assert np.array_equal(arrays.test_y, written["t10k_labels"])
    # The parse is named and stamped by the content: the same as from the official files.
    (parsed,) = folder.glob("parsed-v3-*.npz")
    assert parsed.name == store.parsed_path(datasets.SOURCES["mnist"], folder).name


def test_cifar_batches_pass_extracted_or_repacked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = tmp_path / "official"
    written = write_cifar10_tar(template / "cifar-10-python.tar.gz")
    register(monkeypatch, "cifar10", template, ["cifar-10-python.tar.gz"], closed_port_url())
    with tarfile.open(template / "cifar-10-python.tar.gz") as tar:
        batches = {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
        }
    # Extracted into the cache, as `tar xzf` leaves them.
    extracted = _cache(tmp_path / "a", "cifar10")
    for name, data in batches.items():
        (extracted / name).parent.mkdir(parents=True, exist_ok=True)
        (extracted / name).write_bytes(data)
    # Re-packed under the official name: an uncompressed tar, "./" names, another order.
    repacked = _cache(tmp_path / "b", "cifar10")
    write_archive(
        repacked / "cifar-10-python.tar",
        {f"./{name}": data for name, data in reversed(list(batches.items()))},
    ).rename(repacked / "cifar-10-python.tar.gz")

    for data_dir in (tmp_path / "a", tmp_path / "b"):
        arrays = load_dataset("cifar10", data_dir)
        assert np.array_equal(arrays.train_x.reshape(40, -1), written["train_x"])
        assert np.array_equal(arrays.test_y, written["test_y"])


def test_a_repacked_cifar_tarball_with_a_changed_batch_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = tmp_path / "official"
    write_cifar10_tar(template / "cifar-10-python.tar.gz")
    register(monkeypatch, "cifar10", template, ["cifar-10-python.tar.gz"], closed_port_url())
    folder = _cache(tmp_path, "cifar10")
    # Same batches but data_batch_3, which another seed wrote.
    write_cifar10_tar(folder / "cifar-10-python.tar.gz", seed=4)
    expected = next(
        m.digest for m in datasets.SOURCES["cifar10"].contents if m.name.endswith("batch_3")
    )
    with pytest.raises(
        ChecksumMismatch, match=rf"data_batch_3 has MD5 [0-9a-f]{{32}} .*{expected}"
    ):
        load_dataset("cifar10", tmp_path)


def test_a_mirror_may_serve_the_official_content_recompressed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _registered_mnist(tmp_path, monkeypatch)
    root = tmp_path / "mirror"
    write_mnist_files(root / "mnist", mtime=42, level=3)
    monkeypatch.setenv("GAPWATCH_DATASET_MIRROR", root.as_uri())

    arrays = load_dataset("mnist", tmp_path / "data")

    assert np.array_equal(arrays.train_x[:, 0], written["train_images"])
    folder = _cache(tmp_path / "data", "mnist")
    assert (folder / MNIST_NAMES[0]).read_bytes() == (root / "mnist" / MNIST_NAMES[0]).read_bytes()
    # Verified once, by content: the marker says so, and the next check hashes nothing.
    calls = _count_hashing(monkeypatch)
    assert len(find_cached(datasets.SOURCES["mnist"], folder)) == 4
    assert calls == []


# --- the parsed cache is used only for the content it records ------------------------------------


def _plant_parsed(folder: Path, digest: str | None, n: int = 8, **arrays: np.ndarray) -> Path:
    """A parse of other data under the name the dataset expects (a copy from another dataset,
    or one made by hand), recording `digest` as its content, or nothing. With a digest it also
    records the right digest of its own arrays (anyone can compute it), so that only what the
    arrays are can give it away. `arrays` replace the foreign ones (n rows of 1×28×28 sevens,
    labels 0)."""
    path = store.parsed_path(datasets.SOURCES["mnist"], folder)
    folder.mkdir(parents=True, exist_ok=True)
    foreign = {
        "train_x": np.full((n, 1, 28, 28), 7, dtype=np.uint8),
        "train_y": np.zeros(n, dtype=np.int64),
        "test_x": np.full((n, 1, 28, 28), 7, dtype=np.uint8),
        "test_y": np.zeros(n, dtype=np.int64),
        **arrays,
    }
    recorded = {}
    if digest is not None:
        recorded = {
            "content_digest": np.array(digest),
            "arrays_digest": np.array(store.arrays_digest(store.ImageArrays(**foreign))),
        }
    np.savez(path, **foreign, **recorded)
    return path


@pytest.mark.parametrize("recorded", [None, "0" * 64])
def test_a_foreign_parsed_cache_is_not_used_and_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: str | None
) -> None:
    folder = _cache(tmp_path, "mnist")
    written = write_mnist_files(folder)
    register(monkeypatch, "mnist", folder, MNIST_NAMES, closed_port_url())
    planted = _plant_parsed(folder, recorded)

    arrays = load_dataset("mnist", tmp_path)

    assert np.array_equal(arrays.train_x[:, 0], written["train_images"])  # all 60 of them
    with np.load(planted) as rebuilt:  # replaced by the parse of the verified files
        assert str(rebuilt["content_digest"]) == content_digest(datasets.SOURCES["mnist"])
        assert np.array_equal(rebuilt["train_y"], written["train_labels"])


def test_a_foreign_parsed_cache_without_the_files_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_mnist_files(tmp_path / "template")
    register(monkeypatch, "mnist", tmp_path / "template", MNIST_NAMES, closed_port_url())
    folder = _cache(tmp_path / "data", "mnist")
    planted = _plant_parsed(folder, None, n=8004)

    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset("mnist", tmp_path / "data")

    message = str(caught.value)
    assert message.startswith("dataset mnist not in cache and download failed: ")
    assert (
        f"the parsed cache {planted} is not used: it was not built from the official content: "
        "it records no digest; to use a copy of its files" in message
    )
    assert message.endswith("run: gapwatch datasets import mnist PATH")


def test_a_foreign_parse_recording_the_official_content_digest_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: 8,004 images of another dataset as MNIST's parse, recording MNIST's
    content digest (public, constant) and a right digest of its own arrays. The real MNIST
    source knows its structure (60,000 + 10,000 images), so the file is refused."""
    monkeypatch.setenv("GAPWATCH_DATASET_OFFLINE", "1")  # no URL at all: never downloads
    monkeypatch.delenv("GAPWATCH_DATASET_MIRROR", raising=False)
    source = official.MNIST
    assert datasets.SOURCES["mnist"] is source and source.expected is not None
    folder = _cache(tmp_path, "mnist")
    planted = _plant_parsed(folder, content_digest(source), n=8004)

    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset("mnist", tmp_path)

    message = str(caught.value)
    assert (
        f"the parsed cache {planted} is not used: its arrays are not mnist's: 8004 training "
        "images, expected 60000" in message
    ), message
    assert message.endswith("run: gapwatch datasets import mnist PATH")
    state = importing.cache_state(source, tmp_path)
    assert state.state == "invalid" and "8004 training images, expected 60000" in state.detail


@pytest.mark.parametrize(
    ("n", "foreign", "why"),
    [
        (8004, {}, "8004 training images, expected 60"),
        (
            60,  # the right counts everywhere, labels out of range
            {
                "test_x": np.zeros((30, 1, 28, 28), np.uint8),
                "test_y": np.arange(30, dtype=np.int64) % 11,
            },
            "test labels from 0 to 10, expected 0 to 9",
        ),
        (
            60,  # the right counts everywhere, images of another shape
            {
                "train_x": np.zeros((60, 3, 28, 28), np.uint8),
                "test_x": np.zeros((30, 3, 28, 28), np.uint8),
                "test_y": np.zeros(30, np.int64),
            },
            "training images of 3×28×28, expected 1×28×28",
        ),
        (8004, {"train_y": np.zeros(8004, np.uint8)}, "train_y is uint8 of shape (8004,)"),
    ],
    ids=["rows", "labels", "sample", "dtype"],
)
def test_a_foreign_parse_with_the_right_digests_is_rebuilt_from_the_files(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    n: int,
    foreign: dict[str, np.ndarray],
    why: str,
) -> None:
    """A parse recording the right content digest and a right digest of its own arrays, which
    are not those the registered files parse to (60 training and 30 test images of 1×28×28,
    10 classes): not used, and replaced by the parse of the files."""
    folder = _cache(tmp_path, "mnist")
    written = write_mnist_files(folder)
    source = register(monkeypatch, "mnist", folder, MNIST_NAMES, closed_port_url())
    assert source.expected == store.Structure(60, 30, (1, 28, 28), 10)
    planted = _plant_parsed(folder, content_digest(source), n=n, **foreign)

    arrays = load_dataset("mnist", tmp_path)

    assert np.array_equal(arrays.train_x[:, 0], written["train_images"])
    assert np.array_equal(arrays.test_y, written["t10k_labels"])
    assert any(why in r.message and str(planted) in r.message for r in caplog.records), [
        r.message for r in caplog.records
    ]
    with np.load(planted) as rebuilt:
        assert np.array_equal(rebuilt["train_y"], written["train_labels"])


@pytest.mark.parametrize("damage", ["edited", "no arrays digest", "truncated"])
def test_a_damaged_parse_is_rebuilt(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    damage: str,
) -> None:
    folder = _cache(tmp_path, "mnist")
    written = write_mnist_files(folder)
    source = register(monkeypatch, "mnist", folder, MNIST_NAMES, closed_port_url())
    load_dataset("mnist", tmp_path)
    parsed = store.parsed_path(source, folder)
    with np.load(parsed) as saved:
        kept = {name: saved[name] for name in saved.files}
    assert str(kept["arrays_digest"]) == store.arrays_digest(store.ImageArrays(
        **{name: kept[name] for name in ("train_x", "train_y", "test_x", "test_y")}
    ))  # fmt: skip
    if damage == "truncated":
        parsed.write_bytes(parsed.read_bytes()[:-1000])
        why = "it cannot be read"
    else:
        kept["train_x"] = kept["train_x"].copy()
        kept["train_x"][5, 0, 10, 10] ^= 0xFF  # one pixel: the structure still fits
        if damage == "no arrays digest":
            del kept["arrays_digest"]
            why = "it records no digest of its arrays"
        else:
            why = "its arrays do not match the digest it records"
        np.savez(parsed, **kept)

    arrays = load_dataset("mnist", tmp_path)

    assert np.array_equal(arrays.train_x[:, 0], written["train_images"])
    assert any(why in r.message for r in caplog.records), [r.message for r in caplog.records]
    with np.load(parsed) as rebuilt:
        assert np.array_equal(rebuilt["train_x"][:, 0], written["train_images"])


def test_a_parse_that_does_not_fit_the_known_structure_is_a_dataset_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _cache(tmp_path, "mnist")
    write_mnist_files(folder)
    source = register(monkeypatch, "mnist", folder, MNIST_NAMES, closed_port_url())
    assert source.expected is not None
    wrong = dataclasses.replace(source, expected=dataclasses.replace(source.expected, train=61))
    monkeypatch.setitem(official.SOURCES, "mnist", wrong)

    with pytest.raises(
        DatasetError,
        match="dataset mnist: its verified files do not parse to its known structure: "
        "60 training images, expected 61",
    ):
        load_dataset("mnist", tmp_path)
    assert not list(folder.glob("parsed-*"))


def test_without_a_known_structure_only_dtypes_and_ranks_are_checked() -> None:
    good = store.ImageArrays(
        np.zeros((3, 1, 2, 2), np.uint8), np.zeros(3, np.int64),
        np.zeros((1, 1, 2, 2), np.uint8), np.array([41], np.int64),
    )  # fmt: skip
    assert store.structure_problem(good, None) is None
    flat = dataclasses.replace(good, test_x=np.zeros((1, 4), np.uint8))
    assert (
        store.structure_problem(flat, None)
        == "test_x is uint8 of shape (1, 4), expected uint8 (N, C, H, W)"
    )
    short = dataclasses.replace(good, train_y=np.zeros(2, np.int64))
    assert store.structure_problem(short, None) == "3 training images but 2 labels"


# --- an archive is read for the bytes that were verified ----------------------------------------


def _member_bytes(tar_path: Path, name: str) -> bytes:
    with tarfile.open(tar_path) as tar:
        return tar.extractfile(name).read()  # type: ignore[union-attr]


@pytest.mark.parametrize("spelling", ["", "./"])
@pytest.mark.parametrize("where", ["cache", "mirror"])
def test_a_tarball_holding_a_member_twice_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, spelling: str
) -> None:
    """The official data_batch_1 first, then other bytes under the same name ("./" or not):
    the first copy would pass a check that hashes the first, a reader keeping the last would
    parse the second. Neither the cache nor a download accepts such a tarball."""
    template = tmp_path / "official"
    write_cifar10_tar(template / "cifar-10-python.tar.gz")
    register(monkeypatch, "cifar10", template, ["cifar-10-python.tar.gz"], closed_port_url())
    member = "cifar-10-batches-py/data_batch_1"
    write_cifar10_tar(tmp_path / "other.tar.gz", seed=4)
    other = _member_bytes(tmp_path / "other.tar.gz", member)
    assert other != _member_bytes(template / "cifar-10-python.tar.gz", member)
    data_dir = tmp_path / "data"
    folder = _cache(data_dir, "cifar10")
    if where == "cache":
        target = folder / "cifar-10-python.tar.gz"
    else:
        target = tmp_path / "mirror" / "cifar10" / "cifar-10-python.tar.gz"
        monkeypatch.setenv("GAPWATCH_DATASET_MIRROR", (tmp_path / "mirror").as_uri())
    write_with_a_second_copy(
        template / "cifar-10-python.tar.gz", target, member, other, spelling=spelling
    )
    expected = f"cifar-10-python.tar.gz: more than one member is named {member}"

    error = ChecksumMismatch if where == "cache" else DatasetUnavailable
    with pytest.raises(error, match=re.escape(expected)):
        load_dataset("cifar10", data_dir)
    assert not list(folder.glob("parsed-*"))
    if where == "mirror":  # nothing of it is left behind
        assert not folder.exists() or not any(folder.iterdir())


def test_a_zip_holding_a_member_twice_is_refused_before_any_is_read(tmp_path: Path) -> None:
    path = tmp_path / "twice.zip"
    with zipfile.ZipFile(path, "w") as archive, pytest.warns(UserWarning, match="Duplicate"):
        archive.writestr("d/member", b"official")
        archive.writestr("./d/member", b"other")
        archive.writestr("d/member", b"other again")
    members = content.iter_members(path)
    with pytest.raises(OSError, match="twice.zip: more than one member is named d/member"):
        next(members)


def test_the_reader_hashes_the_bytes_it_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file changed under a marker that still matches it (same size and mtime) passes the
    cache's check, but its bytes are hashed again as they are read: they are not parsed."""
    write_mnist_files(tmp_path / "official")
    source = register(monkeypatch, "mnist", tmp_path / "official", MNIST_NAMES, closed_port_url())
    folder = _cache(tmp_path, "mnist")
    write_mnist_files(folder, gz=False)  # the same content, uncompressed
    assert len(find_cached(source, folder)) == 4  # verified and marked
    path = folder / "train-images-idx3-ubyte"
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # one pixel
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert len(find_cached(source, folder)) == 4  # the marker still vouches for it

    with pytest.raises(
        ChecksumMismatch,
        match=r"train-images-idx3-ubyte has SHA256 [0-9a-f]{64} \(of the bytes read\), expected",
    ) as caught:
        load_dataset("mnist", tmp_path)
    assert caught.value.paths == [path]
    assert not list(folder.glob("parsed-*"))
    # The marker that vouched for it is gone: the next check hashes the file and says why.
    assert not (folder / "train-images-idx3-ubyte.verified").exists()
    with pytest.raises(ChecksumMismatch, match="of its decompressed content"):
        find_cached(source, folder)

    reader = content.ContentReader({"a": content.Location(path)}, {})
    with pytest.raises(KeyError, match="no digest"):  # nothing is read without a digest
        reader.read("a")
