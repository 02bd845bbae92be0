"""Datasets: the official ones (downloaded or imported, verified by content digest) and the
arrays users upload. numpy only: the CLI, the API and the worker all use it, none needs torch.

- `official`: MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 (where they are served, their
  recorded digests and where each comes from) and `load_dataset`;
- `store`: the cache under `<data_dir>/datasets/<name>/`, downloads, and the parsed cache that
  records the content it was built from;
- `content`: reading a file for its decompressed bytes (gzip or not, in a tar or zip or not);
- `idx`, `cifar`: the parsers of the original formats;
- `importing`, `commands`: `gapwatch datasets import | list | upload`;
- `arrays`: an uploaded dataset's four arrays and their content digest.

This file imports nothing, so that `gapwatch`'s argument parser can register the commands
without loading numpy.
"""
