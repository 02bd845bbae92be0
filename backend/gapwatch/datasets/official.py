"""The official datasets, without torchvision: where their files are served, what they hold.

`load_dataset("mnist")` returns uint8 arrays; see `store` for the cache and its guarantees.

Two kinds of digest are recorded, and both are facts about public bytes:

- **Content digests** (`ContentFile`), of each logical file's decompressed bytes. They decide:
  the official content passes in any container (the official `.gz`, the same file re-compressed
  with another gzip timestamp or level, uncompressed, inside a tar or zip) and nothing else does.
  - MNIST and Fashion-MNIST: SHA-256 of the four decompressed IDX files (what
    `gunzip -c FILE | sha256sum` prints). Each value was taken from two independent public
    listings that agree, and confirmed by a code search that found the same values, paired
    with the `.gz` digests below, in several unrelated public projects' download scripts.
  - CIFAR-10 and CIFAR-100: only MD5s of the tarball members are published, in torchvision's
    `torchvision/datasets/cifar.py` (`train_list` / `test_list`); a code search found the same
    eight values in many independent copies and loaders. MD5 serves as a fingerprint of public
    files here, not as a defence against a crafted collision.
- **Container digests** (`RemoteFile.sha256` and size), of the files as served: the fast path
  (such a file passes on the SHA-256 of its own bytes and is never decompressed to check it).
  Each was checked against two independent public listings: MNIST and Fashion-MNIST against
  TensorFlow Datasets' `tensorflow_datasets/url_checksums/mnist.txt` and `fashion_mnist.txt`
  (digest and size) and torchvision's `torchvision/prototype/datasets/_builtin/mnist.py`; the
  CIFAR python tarballs against torchvision's `torchvision/prototype/datasets/_builtin/cifar.py`
  and TensorFlow's Keras `tensorflow/python/keras/datasets/cifar10.py` / `cifar100.py`
  (`file_hash`). The CIFAR sizes (170,498,071 and 169,001,437 bytes) are those served by
  cs.toronto.edu, as recorded in several public download logs and manifests.

Each source also states the structure of its arrays (`Structure`), as the datasets' pages
describe them: MNIST and Fashion-MNIST 60,000 training and 10,000 test images of 1×28×28 in
10 classes; CIFAR-10 50,000 and 10,000 of 3×32×32 in 10 classes; CIFAR-100 the same in 100
(fine) classes. A parse, or a parsed cache, that differs is not used.
"""

from __future__ import annotations

from pathlib import Path

from .cifar import (
    CIFAR10_TEST,
    CIFAR10_TRAIN,
    CIFAR100_TEST,
    CIFAR100_TRAIN,
    parse_cifar10,
    parse_cifar100,
)
from .idx import parse_mnist_files
from .store import (
    ContentFile,
    DatasetSource,
    ImageArrays,
    RemoteFile,
    Structure,
    load_arrays,
)


def _gz(name: str, sha256: str, size: int, content_sha256: str) -> RemoteFile:
    """A gzipped file served as `<name>.gz`, holding `name`."""
    return RemoteFile(f"{name}.gz", sha256, size, (ContentFile(name, content_sha256),))


def _md5s(names: tuple[str, ...], digests: tuple[str, ...]) -> tuple[ContentFile, ...]:
    return tuple(ContentFile(n, d, "md5") for n, d in zip(names, digests, strict=True))


MNIST = DatasetSource(
    name="mnist",
    files=(
        _gz(
            "train-images-idx3-ubyte",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            9_912_422,
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        ),
        _gz(
            "train-labels-idx1-ubyte",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            28_881,
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
        _gz(
            "t10k-images-idx3-ubyte",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            1_648_877,
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        _gz(
            "t10k-labels-idx1-ubyte",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            4_542,
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    ),
    # yann.lecun.com, the original home, now often refuses downloads; these are the copies that
    # torchvision and TFDS fetch.
    base_urls=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    parse=parse_mnist_files,
    expected=Structure(train=60_000, test=10_000, sample=(1, 28, 28), classes=10),
)

FASHION_MNIST = DatasetSource(
    name="fashion_mnist",
    files=(
        _gz(
            "train-images-idx3-ubyte",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            26_421_880,
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
        _gz(
            "train-labels-idx1-ubyte",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            29_515,
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ),
        _gz(
            "t10k-images-idx3-ubyte",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            4_422_102,
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
        _gz(
            "t10k-labels-idx1-ubyte",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            5_148,
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    ),
    base_urls=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    parse=parse_mnist_files,
    expected=Structure(train=60_000, test=10_000, sample=(1, 28, 28), classes=10),
)

CIFAR10 = DatasetSource(
    name="cifar10",
    files=(
        RemoteFile(
            "cifar-10-python.tar.gz",
            "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
            170_498_071,
            _md5s(
                CIFAR10_TRAIN + CIFAR10_TEST,
                (
                    "c99cafc152244af753f735de768cd75f",
                    "d4bba439e000b95fd0a9bffe97cbabec",
                    "54ebc095f3ab1f0389bbae665268c751",
                    "634d18415352ddfa80567beed471001a",
                    "482c414d41f54cd18b22e5b47cb7c3cb",
                    "40351d587109b95175f43aff81a1287e",
                ),
            ),
        ),
    ),
    base_urls=("https://www.cs.toronto.edu/~kriz/",),
    parse=parse_cifar10,
    expected=Structure(train=50_000, test=10_000, sample=(3, 32, 32), classes=10),
)

CIFAR100 = DatasetSource(
    name="cifar100",
    files=(
        RemoteFile(
            "cifar-100-python.tar.gz",
            "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
            169_001_437,
            _md5s(
                CIFAR100_TRAIN + CIFAR100_TEST,
                ("16019d7e3df5f24257cddd939b257f8d", "f0ef6b0ae62326f3e7ffdfab6717acfc"),
            ),
        ),
    ),
    base_urls=("https://www.cs.toronto.edu/~kriz/",),
    parse=parse_cifar100,
    expected=Structure(train=50_000, test=10_000, sample=(3, 32, 32), classes=100),
)

# By name; tests replace an entry (monkeypatch.setitem) to register tiny files of their own.
SOURCES: dict[str, DatasetSource] = {s.name: s for s in (MNIST, FASHION_MNIST, CIFAR10, CIFAR100)}


def get_source(name: str) -> DatasetSource:
    """The official dataset `name`.

    Raises:
        ValueError: It is not one of SOURCES.
    """
    try:
        return SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(SOURCES)}") from None


def load_dataset(name: str, data_dir: Path | str | None = None) -> ImageArrays:
    """Returns a dataset's uint8 images (N, C, H, W) and int64 labels, from the cache or the web.

    Args:
        name: "mnist", "fashion_mnist", "cifar10" or "cifar100".
        data_dir: The cache is `<data_dir>/datasets/<name>/`; default $GAPWATCH_DATA_DIR, else
            ./.gapwatch.

    Raises:
        DatasetUnavailable: "dataset <name> not in cache and download failed: <reason>; to use
            a copy of its files, run: gapwatch datasets import <name> PATH".
        ChecksumMismatch: A cached file holds other content.
        DatasetError: Verified files cannot be parsed.
    """
    return load_arrays(get_source(name), data_dir)
