"""Real datasets without torchvision: the original files, downloaded once and verified.

`load_dataset("mnist")` returns uint8 arrays; see `store` for the cache and its guarantees.

The SHA-256 digests and sizes below were each checked against two independent public listings:
MNIST and Fashion-MNIST against TensorFlow Datasets' `tensorflow_datasets/url_checksums/mnist.txt`
and `fashion_mnist.txt` (digest and size) and torchvision's
`torchvision/prototype/datasets/_builtin/mnist.py`; the CIFAR python tarballs against
torchvision's `torchvision/prototype/datasets/_builtin/cifar.py` and TensorFlow's Keras
`tensorflow/python/keras/datasets/cifar10.py` / `cifar100.py` (`file_hash`). TFDS lists only the
CIFAR *binary* tarballs. The CIFAR sizes (170,498,071 and 169,001,437 bytes) are those served by
cs.toronto.edu, as recorded in several public download logs and manifests.
"""

from __future__ import annotations

from pathlib import Path

from .cifar import parse_cifar10, parse_cifar100
from .idx import parse_mnist_files
from .store import (
    ChecksumMismatch,
    DatasetError,
    DatasetSource,
    DatasetUnavailable,
    ImageArrays,
    RemoteFile,
    load_arrays,
    resolve_data_dir,
)

MNIST = DatasetSource(
    name="mnist",
    files=(
        RemoteFile(
            "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            9_912_422,
        ),
        RemoteFile(
            "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            28_881,
        ),
        RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            1_648_877,
        ),
        RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            4_542,
        ),
    ),
    # yann.lecun.com, the original home, now often refuses downloads; these are the copies that
    # torchvision and TFDS fetch.
    base_urls=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    parse=parse_mnist_files,
)

FASHION_MNIST = DatasetSource(
    name="fashion_mnist",
    files=(
        RemoteFile(
            "train-images-idx3-ubyte.gz",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            26_421_880,
        ),
        RemoteFile(
            "train-labels-idx1-ubyte.gz",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            29_515,
        ),
        RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            4_422_102,
        ),
        RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            5_148,
        ),
    ),
    base_urls=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    parse=parse_mnist_files,
)

CIFAR10 = DatasetSource(
    name="cifar10",
    files=(
        RemoteFile(
            "cifar-10-python.tar.gz",
            "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
            170_498_071,
        ),
    ),
    base_urls=("https://www.cs.toronto.edu/~kriz/",),
    parse=parse_cifar10,
)

CIFAR100 = DatasetSource(
    name="cifar100",
    files=(
        RemoteFile(
            "cifar-100-python.tar.gz",
            "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
            169_001_437,
        ),
    ),
    base_urls=("https://www.cs.toronto.edu/~kriz/",),
    parse=parse_cifar100,
)

# By name; tests replace an entry (monkeypatch.setitem) to register tiny files of their own.
SOURCES: dict[str, DatasetSource] = {s.name: s for s in (MNIST, FASHION_MNIST, CIFAR10, CIFAR100)}

__all__ = [
    "SOURCES",
    "ChecksumMismatch",
    "DatasetError",
    "DatasetSource",
    "DatasetUnavailable",
    "ImageArrays",
    "RemoteFile",
    "load_dataset",
    "resolve_data_dir",
]


def load_dataset(name: str, data_dir: Path | str | None = None) -> ImageArrays:
    """Returns a dataset's uint8 images (N, C, H, W) and int64 labels, from the cache or the web.

    Args:
        name: "mnist", "fashion_mnist", "cifar10" or "cifar100".
        data_dir: The cache is `<data_dir>/datasets/<name>/`; default $GAPWATCH_DATA_DIR, else
            ./.gapwatch.

    Raises:
        DatasetUnavailable: "dataset <name> not in cache and download failed: <reason>".
        ChecksumMismatch: A cached file is not the expected one.
        DatasetError: A verified file cannot be parsed.
    """
    try:
        source = SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(SOURCES)}") from None
    return load_arrays(source, data_dir)
