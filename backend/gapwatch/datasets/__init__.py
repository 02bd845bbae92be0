"""Datasets: the official ones (downloaded or imported, verified by content digest) and the
arrays users upload. numpy only: the CLI, the API and the worker all use it, none needs torch."""
