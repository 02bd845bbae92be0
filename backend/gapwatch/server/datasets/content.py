"""What an uploaded file holds: its four arrays, checked, and their canonical copy.

Pure file and numpy work, no database: the service calls it from a worker thread. Every
refusal is a `ContentError` naming the request field and, in its message, the array at fault,
so that the 422 tells the uploader what to fix.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np

from gapwatch.datasets.arrays import ARRAY_NAMES, array_digest
from gapwatch.datasets.store import atomic_write
from gapwatch.server.errors import ContentTooLarge

DatasetFormat = Literal["npz", "pt"]
# numpy kinds of inputs the engine turns into float32: booleans, integers, floats.
INPUT_KINDS = frozenset("buif")
LABEL_KINDS = frozenset("ui")
MAX_BYTES_SETTING = "GAPWATCH_MAX_DATASET_BYTES"
# The largest class id a custom benchmark's split may name (`gapwatch.spec.ClassSplitSpec`).
MAX_CLASS_ID = 100_000
PT_UNAVAILABLE = "this server cannot read .pt (PyTorch is not installed here); upload .npz"


class ContentError(ValueError):
    """An upload whose content cannot be a dataset; `field` is the request part to blame."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def too_large(what: str, limit: int, size: int | None = None) -> ContentTooLarge:
    """The 413 for `what` (of `size` bytes, when known) over the limit."""
    measured = f" ({size:,} bytes)" if size is not None else ""
    return ContentTooLarge(
        f"{what}{measured} is over the limit of {limit:,} bytes ({MAX_BYTES_SETTING})"
    )


@dataclass(frozen=True)
class ParsedDataset:
    """An upload's arrays, checked, with what a row records of them."""

    arrays: dict[str, np.ndarray]
    format: DatasetFormat
    digest: str
    classes: list[int]

    @property
    def shapes(self) -> dict[str, list[int]]:
        return {name: list(self.arrays[name].shape) for name in ARRAY_NAMES}

    @property
    def dtype(self) -> str:
        return str(self.arrays["x_train"].dtype)

    @property
    def n_train(self) -> int:
        return int(self.arrays["x_train"].shape[0])

    @property
    def n_test(self) -> int:
        return int(self.arrays["x_test"].shape[0])


def read_dataset(path: Path, filename: str | None, max_bytes: int) -> ParsedDataset:
    """The dataset in an uploaded file (.npz or .pt, told by its content; a `.pt`/`.pth` name
    for torch's old non-zip format), checked.

    Raises:
        ContentError: It is not a dataset (the message names the array at fault).
        ContentTooLarge: Its arrays take more than `max_bytes` uncompressed (as the zip's
            sizes, the .npy headers or the loaded arrays tell), or could not be allocated.
    """
    kind = _format_of(path, filename, max_bytes)
    try:
        loaded = _read_npz(path, max_bytes) if kind == "npz" else _read_pt(path)
        # Before any operation that touches every value (the finiteness check, the digest,
        # the canonical copy): the arrays' own bytes, not the file's, are what they cost.
        _check_sizes(loaded, max_bytes)
        arrays = _checked(loaded)
        return ParsedDataset(arrays, kind, array_digest(arrays), _classes(arrays))
    except MemoryError:  # numpy's _ArrayMemoryError among them: an allocation that failed
        raise too_large("the file's arrays", max_bytes) from None


def _format_of(path: Path, filename: str | None, max_bytes: int) -> DatasetFormat:
    """npz (a zip of .npy members) or pt (torch.save's zip with data.pkl, or its old pickle
    format when the file is named so). A zip's members are sized before anything is
    decompressed: a small compressed upload must not unpack past the limit."""
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                members = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as error:
            raise ContentError("file", f"a damaged zip file ({error})") from None
        unpacked = sum(m.file_size for m in members)
        if unpacked > max_bytes:
            raise too_large("the file's arrays uncompressed", max_bytes, unpacked)
        names = [m.filename for m in members]
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return "pt"
        if names and all(n.endswith(".npy") for n in names):
            return "npz"
        raise ContentError(
            "file", "a zip file that is neither an .npz (numpy.savez) nor a .pt (torch.save)"
        )
    if Path(filename or "").suffix.lower() in (".pt", ".pth"):
        return "pt"
    raise ContentError(
        "file",
        "not an .npz (numpy.savez of x_train, y_train, x_test, y_test) nor a .pt "
        "(torch.save of a dict of them)",
    )


def _read_npz(path: Path, max_bytes: int) -> dict[str, Any]:
    found: dict[str, Any] = {}
    _check_npy_headers(path, max_bytes)
    try:
        with np.load(path, allow_pickle=False) as data:
            for name in ARRAY_NAMES:
                if name in data.files:
                    try:
                        found[name] = data[name]
                    except ValueError as error:  # object arrays, a malformed header
                        raise ContentError("file", f"{name} cannot be read: {error}") from None
    except ContentError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ContentError("file", f"not a readable .npz ({error})") from None
    return found


def _check_npy_headers(path: Path, max_bytes: int) -> None:
    """Refuse an .npz whose members' headers do not describe the bytes they hold, before
    numpy reads them: numpy allocates an array from its header's shape and dtype, then fills
    it, so a header claiming shape (10**13,) over a few bytes of data would have it allocate
    tens of terabytes. Each array's header must describe exactly the bytes that follow it
    (shape x itemsize = the member's size less its header), which the zip's sizes (checked
    against the limit in `_format_of`) bound; the four together within `max_bytes`.

    Raises:
        ContentTooLarge: The arrays the headers describe take more than `max_bytes` (a
            header claiming a huge shape among them).
        ContentError: A member that is not a .npy array (version 1.0 or 2.0) or whose header
            describes other bytes than it holds.
    """
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            members = set(archive.namelist())
            for name in ARRAY_NAMES:
                member = f"{name}.npy"  # what np.load's NpzFile opens for `name`
                if member not in members:
                    continue  # missing: refused by name once the arrays are checked
                info = archive.getinfo(member)
                with archive.open(info) as stream:
                    shape, dtype, header_bytes = _npy_header(name, stream)
                if dtype.hasobject:
                    continue  # np.load refuses object arrays before it allocates anything
                described = math.prod(shape) * dtype.itemsize
                total += described
                if total > max_bytes:
                    raise too_large("the arrays its .npy headers describe", max_bytes, total)
                held = info.file_size - header_bytes
                if described != held:
                    raise ContentError(
                        "file",
                        f"{name} cannot be read: its header describes shape {shape} of "
                        f"{dtype} ({described:,} bytes), but {max(held, 0):,} bytes follow it",
                    )
    except (ContentError, ContentTooLarge):
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ContentError("file", f"not a readable .npz ({error})") from None


def _npy_header(name: str, stream: IO[bytes]) -> tuple[tuple[int, ...], np.dtype[Any], int]:
    """The shape and dtype a .npy stream's header gives, and the header's length in bytes
    (the data start right after it)."""
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        else:  # 3.0 is for structured dtypes with non-latin-1 field names: never numbers
            raise ValueError(f".npy format version {version[0]}.{version[1]} is not read here")
    except ValueError as error:
        raise ContentError("file", f"{name} cannot be read: {error}") from None
    if any(size < 0 for size in shape):
        raise ContentError("file", f"{name} cannot be read: its header gives shape {shape}")
    return tuple(shape), dtype, stream.tell()


def _check_sizes(loaded: dict[str, Any], max_bytes: int) -> None:
    """Refuse arrays that are views (their values are not all in memory: a stride of 0 makes
    10**8 rows of one value) or that take more than `max_bytes` together.

    Raises:
        ContentError: An array that is neither C- nor Fortran-contiguous.
        ContentTooLarge: The four arrays take more than `max_bytes`.
    """
    total = 0
    for name in ARRAY_NAMES:
        value = loaded.get(name)
        if not isinstance(value, np.ndarray):
            continue  # refused by name in `_checked`
        if not (value.flags.c_contiguous or value.flags.f_contiguous):
            raise ContentError(
                "file",
                f"{name} is a view (shape {value.shape}, strides {value.strides}), not an "
                "array of its own values: save a contiguous copy",
            )
        total += value.nbytes
    if total > max_bytes:
        raise too_large("the file's arrays", max_bytes, total)


def _read_pt(path: Path) -> dict[str, Any]:
    try:
        from gapwatch.torch.arrays import load_torch_arrays
    except ImportError:
        raise ContentError("file", PT_UNAVAILABLE) from None
    try:
        return load_torch_arrays(path)
    except ValueError as error:
        raise ContentError("file", str(error)) from None


def _checked(loaded: dict[str, Any]) -> dict[str, np.ndarray]:
    """The four arrays if they make a dataset: (N, ...) inputs of numbers, finite, the same
    sample shape and dtype in both splits; (N,) integer labels in [0, MAX_CLASS_ID]; no empty
    split. The engine takes (N, H, W) and (N, C, H, W) as images, anything else as vectors
    (`gapwatch_worker.cl.benchmarks.custom`)."""
    missing = [name for name in ARRAY_NAMES if name not in loaded]
    if missing:
        raise ContentError(
            "file", f"the file lacks {', '.join(missing)} (it needs {', '.join(ARRAY_NAMES)})"
        )
    arrays: dict[str, np.ndarray] = {}
    for name in ARRAY_NAMES:
        value = loaded[name]
        if not isinstance(value, np.ndarray):
            raise ContentError("file", f"{name} is a {type(value).__name__}, not an array")
        arrays[name] = value
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        _check_inputs(f"x_{split}", x)
        _check_labels(f"y_{split}", y)
        if x.shape[0] != y.shape[0]:
            raise ContentError(
                "file", f"x_{split} has {x.shape[0]} rows but y_{split} has {y.shape[0]}"
            )
        if x.shape[0] == 0:
            raise ContentError("file", f"x_{split} is empty: the {split} split needs samples")
    x_train, x_test = arrays["x_train"], arrays["x_test"]
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ContentError(
            "file",
            f"x_train's samples are {x_train.shape[1:]} but x_test's are {x_test.shape[1:]}",
        )
    if x_train.dtype != x_test.dtype:
        raise ContentError(
            "file", f"x_train is {x_train.dtype} but x_test is {x_test.dtype}: use one dtype"
        )
    return arrays


def _check_inputs(name: str, x: np.ndarray) -> None:
    if x.dtype.kind not in INPUT_KINDS:
        raise ContentError(
            "file",
            f"{name} has dtype {x.dtype}, which is not supported: use numbers (uint8 images, "
            "float32 features, booleans)",
        )
    if x.ndim == 0:
        raise ContentError("file", f"{name} is a single value: inputs are (N, ...), a row a sample")
    if 0 in x.shape[1:]:
        raise ContentError("file", f"{name} has shape {x.shape}: a sample has no values")
    if x.dtype.kind == "f":
        bad = int(x.size - np.count_nonzero(np.isfinite(x)))
        if bad:
            raise ContentError("file", f"{name} has {bad:,} non-finite values (NaN or infinity)")


def _check_labels(name: str, y: np.ndarray) -> None:
    if y.dtype.kind not in LABEL_KINDS:
        raise ContentError(
            "file", f"{name} has dtype {y.dtype}: labels are integers (class ids from 0)"
        )
    if y.ndim != 1:
        raise ContentError("file", f"{name} has shape {y.shape}: labels are (N,), one per row")
    if y.size:
        low, high = int(y.min()), int(y.max())
        if low < 0:
            raise ContentError("file", f"{name} has negative labels (the smallest is {low})")
        if high > MAX_CLASS_ID:
            raise ContentError(
                "file", f"{name} has labels up to {high}; class ids go up to {MAX_CLASS_ID}"
            )


def _classes(arrays: dict[str, np.ndarray]) -> list[int]:
    labels = np.union1d(np.unique(arrays["y_train"]), np.unique(arrays["y_test"]))
    return [int(c) for c in labels]


def store_canonical(arrays: dict[str, np.ndarray], folder: Path, digest: str) -> Path:
    """`<folder>/<digest>.npz`: the arrays as an uncompressed np.savez, written once (a file
    already there has this content: its name is its digest) and atomically, so that a reader
    never sees half a file."""
    final = canonical_path(folder, digest)
    if final.exists():
        return final
    folder.mkdir(parents=True, exist_ok=True)

    def write(out: IO[bytes]) -> None:
        np.savez(out, **{name: arrays[name] for name in ARRAY_NAMES})
        out.flush()
        os.fsync(out.fileno())

    atomic_write(final, write)
    return final


def canonical_path(folder: Path, digest: str) -> Path:
    return folder / f"{digest}.npz"
