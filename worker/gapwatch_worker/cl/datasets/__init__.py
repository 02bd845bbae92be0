"""The official datasets as the engine loads them: `gapwatch.datasets`, re-exported.

The code lives in the backend package (numpy only) because `gapwatch datasets import` and
`list` use the same sources, digests and cache as the worker; see `gapwatch.datasets.official`
for the sources and where their digests come from, `gapwatch.datasets.store` for the cache.
`SOURCES` is the backend's dict itself, so a test's `monkeypatch.setitem(SOURCES, ...)` reaches
`load_dataset`.
"""

from __future__ import annotations

from gapwatch.datasets import cifar, content, idx, official, store
from gapwatch.datasets.official import SOURCES, load_dataset
from gapwatch.datasets.store import (
    ChecksumMismatch,
    ContentFile,
    DatasetError,
    DatasetSource,
    DatasetUnavailable,
    ImageArrays,
    RemoteFile,
    resolve_data_dir,
)

__all__ = [
    "SOURCES",
    "ChecksumMismatch",
    "ContentFile",
    "DatasetError",
    "DatasetSource",
    "DatasetUnavailable",
    "ImageArrays",
    "RemoteFile",
    "cifar",
    "content",
    "idx",
    "load_dataset",
    "official",
    "resolve_data_dir",
    "store",
]
