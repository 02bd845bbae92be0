"""`gapwatch datasets import` and `list`: the official content from files, folders and archives,
gzipped or not, into the cache that runs then load offline; anything else refused clearly.

The tests register their own tiny files' digests as the official ones (dataset_files.register)
and never download: the only URL a dataset has is a closed local port.
"""

from __future__ import annotations

import gzip
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from dataset_files import (
    MNIST_NAMES,
    closed_port_url,
    logical_files,
    register,
    write_archive,
    write_cifar10_tar,
    write_cifar100_tar,
    write_mnist_files,
    write_with_a_second_copy,
)

from gapwatch.cli import main
from gapwatch.config import get_settings
from gapwatch.datasets import official
from gapwatch.datasets.official import load_dataset
from gapwatch.datasets.store import content_digest, parsed_path


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No mirror, no official hosts, no stored login: the data directory tmp_path / "data"."""
    monkeypatch.setenv("GAPWATCH_DATASET_OFFLINE", "1")
    monkeypatch.delenv("GAPWATCH_DATASET_MIRROR", raising=False)
    for variable in ("GAPWATCH_URL", "GAPWATCH_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("GAPWATCH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("GAPWATCH_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()  # the CLI's default data directory is the settings'
    yield tmp_path / "data"
    get_settings.cache_clear()


@pytest.fixture
def tiny_mnist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: Path
) -> tuple[Path, dict[str, np.ndarray]]:
    """Tiny MNIST .gz files in tmp_path / "official", registered as the official ones."""
    folder = tmp_path / "official"
    written = write_mnist_files(folder, mtime=1_000_000)
    register(monkeypatch, "mnist", folder, MNIST_NAMES, closed_port_url())
    return folder, written


def _mnist_in(layout: str, official_folder: Path, where: Path) -> list[Path]:
    """The registered MNIST content packed as `layout`; returns the PATHs to import."""
    files = logical_files(official_folder, MNIST_NAMES)
    if layout == "official gz":
        return [official_folder / n for n in MNIST_NAMES]
    if layout == "gz, another mtime and level":
        return _written(where, {f"{n}.gz": gzip.compress(d, 1, mtime=99) for n, d in files.items()})
    if layout == "plain":
        return _written(where, files)
    if layout == "other names":  # as some mirrors spell them
        return _written(where, {n.replace("-idx", ".idx"): d for n, d in files.items()})
    if layout == "folder":
        nested = where / "MNIST" / "raw"
        _written(nested, {f"{n}.gz": gzip.compress(d, mtime=5) for n, d in files.items()})
        (nested / "README.txt").write_text("not a dataset file")
        return [where]
    archive, gz_members = layout.split(" of ") if " of " in layout else (layout, "plain")
    members = {f"mnist/{n}": d for n, d in files.items()}
    path = write_archive(where / f"mnist.{archive}", members, gz_members=gz_members == "gz")
    return [path]


def _written(folder: Path, files: dict[str, bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files]


LAYOUTS = [
    "official gz",
    "gz, another mtime and level",
    "plain",
    "other names",
    "folder",
    "tar",
    "tar.gz",
    "tgz of gz",
    "zip",
    "zip of gz",
]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_import_then_offline_load(
    layout: str,
    tiny_mnist: tuple[Path, dict[str, np.ndarray]],
    offline: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    official_folder, written = tiny_mnist
    paths = _mnist_in(layout, official_folder, tmp_path / "given")

    assert main(["datasets", "import", "mnist", *map(str, paths)]) == 0

    out = capsys.readouterr().out
    folder = offline / "datasets" / "mnist"
    assert f"mnist ready in {folder}: 60 training and 30 test images of 1×28×28, 10 classes" in out
    shutil.rmtree(tmp_path / "given", ignore_errors=True)  # only the cache is left
    arrays = load_dataset("mnist")  # GAPWATCH_DATA_DIR; downloads impossible
    assert np.array_equal(arrays.train_x[:, 0], written["train_images"])
    assert np.array_equal(arrays.test_y, written["t10k_labels"])
    with np.load(parsed_path(official.SOURCES["mnist"], folder)) as parsed:
        assert str(parsed["content_digest"]) == content_digest(official.SOURCES["mnist"])
    if layout == "official gz":  # the official containers are kept as they are
        assert all(
            (folder / n).read_bytes() == (official_folder / n).read_bytes() for n in MNIST_NAMES
        )
    else:  # anything else is stored as the plain logical files
        files = logical_files(official_folder, MNIST_NAMES)
        assert {n: (folder / n).read_bytes() for n in files} == files


def test_cifar_imports_from_the_tarball_and_from_extracted_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: Path
) -> None:
    served = tmp_path / "official"
    written = write_cifar10_tar(served / "cifar-10-python.tar.gz")
    write_cifar100_tar(served / "cifar-100-python.tar.gz")
    register(monkeypatch, "cifar10", served, ["cifar-10-python.tar.gz"], closed_port_url())
    register(monkeypatch, "cifar100", served, ["cifar-100-python.tar.gz"], closed_port_url())

    assert main(["datasets", "import", "cifar10", str(served / "cifar-10-python.tar.gz")]) == 0
    tarball = offline / "datasets" / "cifar10" / "cifar-10-python.tar.gz"
    assert tarball.read_bytes() == (served / "cifar-10-python.tar.gz").read_bytes()

    # CIFAR-100 from a zip of its extracted batches, the batches gzipped.
    with tarfile.open(served / "cifar-100-python.tar.gz") as tar:
        batches = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    zipped = write_archive(tmp_path / "c100.zip", batches, gz_members=True)
    assert main(["datasets", "import", "cifar100", str(zipped), "--data-dir", str(offline)]) == 0

    arrays = load_dataset("cifar10", offline)
    assert np.array_equal(arrays.train_x.reshape(40, -1), written["train_x"])
    assert load_dataset("cifar100", offline).train_x.shape == (200, 3, 32, 32)


def test_files_with_other_content_are_refused_by_name_and_digest(
    tiny_mnist: tuple[Path, dict[str, np.ndarray]],
    offline: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    official_folder, _ = tiny_mnist
    other = tmp_path / "other"
    write_mnist_files(other, seed=7)  # the right names, other images and labels
    expected = {m.name: m.digest for m in official.SOURCES["mnist"].contents}

    assert main(["datasets", "import", "mnist", str(other)]) == 2

    err = capsys.readouterr().err
    for name in MNIST_NAMES:
        logical = name.removesuffix(".gz")
        assert (
            f"refused {other / name}: SHA256 of its content is " in err
            and f", not the official {logical}'s {expected[logical]}" in err
        ), err
    assert "mnist still lacks train-images-idx3-ubyte, train-labels-idx1-ubyte" in err
    folder = offline / "datasets" / "mnist"
    assert not folder.exists() or not any(folder.iterdir())  # nothing stored


def test_an_import_may_come_in_parts(
    tiny_mnist: tuple[Path, dict[str, np.ndarray]],
    offline: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    official_folder, written = tiny_mnist
    train = [str(official_folder / n) for n in MNIST_NAMES if n.startswith("train")]
    test = [str(official_folder / n) for n in MNIST_NAMES if n.startswith("t10k")]

    assert main(["datasets", "import", "mnist", *train]) == 2
    assert "mnist still lacks t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte" in (
        capsys.readouterr().err
    )
    assert main(["datasets", "import", "mnist", *test]) == 0
    assert np.array_equal(load_dataset("mnist").test_y, written["t10k_labels"])


def test_import_refuses_unknown_names_and_paths(
    offline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["datasets", "import", "imagenet", str(tmp_path)]) == 2
    assert "unknown dataset 'imagenet'" in capsys.readouterr().err
    assert main(["datasets", "import", "mnist", str(tmp_path / "nowhere")]) == 2
    assert f"{tmp_path / 'nowhere'}: no such file or folder" in capsys.readouterr().err


def test_list_says_ready_missing_or_invalid(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_mnist: tuple[Path, dict[str, np.ndarray]],
    offline: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    official_folder, _ = tiny_mnist
    assert main(["datasets", "import", "mnist", str(official_folder)]) == 0
    # fashion_mnist: half there (registered from a template, the train files imported).
    template = tmp_path / "fashion"
    write_mnist_files(template, seed=3)
    register(monkeypatch, "fashion_mnist", template, MNIST_NAMES, closed_port_url())
    fashion = offline / "datasets" / "fashion_mnist"
    fashion.mkdir(parents=True)
    for name in MNIST_NAMES[:2]:
        shutil.copy(template / name, fashion / name)
    # cifar10: a tarball with other batches under the official name.
    served = tmp_path / "cifar"
    write_cifar10_tar(served / "cifar-10-python.tar.gz")
    register(monkeypatch, "cifar10", served, ["cifar-10-python.tar.gz"], closed_port_url())
    write_cifar10_tar(offline / "datasets" / "cifar10" / "cifar-10-python.tar.gz", seed=9)
    # cifar100: only a parse of something else, planted by hand.
    planted = parsed_path(official.SOURCES["cifar100"], offline / "datasets" / "cifar100")
    planted.parent.mkdir(parents=True)
    np.savez(planted, train_x=np.zeros((2, 3, 32, 32), np.uint8), train_y=np.zeros(2, np.int64),
             test_x=np.zeros((1, 3, 32, 32), np.uint8), test_y=np.zeros(1, np.int64))  # fmt: skip
    capsys.readouterr()
    monkeypatch.setenv("COLUMNS", "400")  # rich: one line per row

    assert main(["datasets", "list"]) == 0

    out = " ".join(capsys.readouterr().out.split())
    assert "mnist │ ready │" in out and "parsed, from the official content" in out
    assert "fashion_mnist │ missing │" in out
    assert "lacks t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte" in out
    assert "cifar10 │ invalid │" in out
    assert "other content than the official in cifar-10-python.tar.gz (delete, or import)" in out
    assert "cifar100 │ invalid │" in out
    assert f"{planted.name} is not used (it was not built from the official content: it " in out
    assert "records no digest), and no files to rebuild it from" in out
    assert "uploads: not listed (no API key" in out


def test_an_archive_holding_a_member_twice_is_refused_whole(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    offline: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A repacked CIFAR-10 tarball with the official data_batch_1 first and other bytes under
    the same name ("./" spelled) last: refused, and nothing of it is stored."""
    served = tmp_path / "official"
    write_cifar10_tar(served / "cifar-10-python.tar.gz")
    register(monkeypatch, "cifar10", served, ["cifar-10-python.tar.gz"], closed_port_url())
    member = "cifar-10-batches-py/data_batch_1"
    write_cifar10_tar(tmp_path / "other.tar.gz", seed=4)
    with tarfile.open(tmp_path / "other.tar.gz") as tar:
        other = tar.extractfile(member).read()  # type: ignore[union-attr]
    repacked = write_with_a_second_copy(
        served / "cifar-10-python.tar.gz", tmp_path / "given" / "c10.tgz", member, other,
        spelling="./",
    )  # fmt: skip

    assert main(["datasets", "import", "cifar10", str(repacked)]) == 2

    err = capsys.readouterr().err
    assert (
        f"refused {repacked}: cannot be read: c10.tgz: more than one member is named {member}"
        in err
    ), err
    assert "cifar10 still lacks cifar-10-batches-py/data_batch_1" in err
    folder = offline / "datasets" / "cifar10"
    assert not folder.exists() or not any(folder.iterdir())  # nothing stored
