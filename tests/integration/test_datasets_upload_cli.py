"""`gapwatch datasets upload` and the uploads part of `gapwatch datasets list`, against a real API
process on PostgreSQL: what is printed is what the API stored, and refusals (bad content, a
name taken) come back as one line each, exit status 2."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from gapwatch.cli import main
from gapwatch.config import get_settings
from gapwatch.datasets.arrays import array_digest

pytestmark = pytest.mark.integration


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No stored login, an empty data directory; --url and --api-key say the rest."""
    for variable in ("GAPWATCH_URL", "GAPWATCH_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("GAPWATCH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("GAPWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "300")  # rich: one line per table row
    get_settings.cache_clear()
    return tmp_path


def _arrays(n_train: int = 12) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {
        "x_train": rng.integers(0, 256, (n_train, 1, 5, 5), dtype=np.uint8),
        "y_train": np.array([0, 1, 2, 3] * 3, dtype=np.int64),
        "x_test": rng.integers(0, 256, (8, 1, 5, 5), dtype=np.uint8),
        "y_test": np.array([3, 2, 1, 0] * 2, dtype=np.int64),
    }


def test_upload_prints_what_the_api_stored_and_list_shows_it(
    cli_env: Path, live_api: str, live_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arrays = _arrays()
    path = cli_env / "tiny.npz"
    np.savez_compressed(path, **arrays)
    name = f"tiny-{uuid.uuid4().hex[:8]}"
    server = ["--url", live_api, "--api-key", live_key]

    assert main(["datasets", "upload", str(path), "--name", name, *server]) == 0

    out = capsys.readouterr().out
    digest = array_digest(arrays)  # the content digest, not the file's
    assert f"{name!r} in project default: digest {digest}" in out
    assert "x_train: 12×1×5×5" in out and "y_test: 8" in out
    assert "classes (4): 0, 1, 2, 3" in out

    # The same name again: the API's 409, in one line.
    assert main(["datasets", "upload", str(path), "--name", name, *server]) == 2
    assert "gapwatch datasets upload: " in capsys.readouterr().err

    # Bad content: the 422 names the file part and the array.
    bad = cli_env / "bad.npz"
    np.savez(bad, **{**arrays, "y_train": arrays["y_train"][:5]})
    assert main(["datasets", "upload", str(bad), "--name", f"{name}-bad", *server]) == 2
    err = capsys.readouterr().err
    assert "gapwatch datasets upload: refused:\n  file: " in err and "y_train" in err

    assert main(["datasets", "list", *server]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"uploaded datasets at {live_api}" in out
    assert f"{name} │ 12×1×5×5 uint8 │ 12 │ 8 │ 4 │ {digest[:12]}" in out
    assert "mnist │ missing │" in out  # the local cache is listed all the same
