"""The Datasets page in a real browser: a small .npz generated here is uploaded through the
page's form (a real multipart POST to the real API), listed with its classes and shapes; the
server's refusals land under the field they are about (a taken name under the name, arrays that
are not a dataset under the file); "Use in a new run" opens the New-run form with a custom
benchmark over that dataset chosen in its select, and the API takes the run it submits;
deleting asks first, then removes the row.
Screenshots go to test-artifacts/e2e/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import numpy as np
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import SESSION_TAG

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CLASSES = 4
SAMPLE_SHAPE = (4, 4)
N_TRAIN = 40
N_TEST = 12


def write_npz(path: Path, *, without: str | None = None) -> Path:
    """Four seeded arrays in the upload format: inputs of SAMPLE_SHAPE, labels 0..CLASSES-1;
    `without` leaves one array out (a file the server must refuse)."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.normal(size=(N_TRAIN, *SAMPLE_SHAPE)).astype(np.float32),
        "y_train": np.arange(N_TRAIN, dtype=np.int64) % CLASSES,
        "x_test": rng.normal(size=(N_TEST, *SAMPLE_SHAPE)).astype(np.float32),
        "y_test": np.arange(N_TEST, dtype=np.int64) % CLASSES,
    }
    if without is not None:
        del arrays[without]
    np.savez(path, **arrays)
    return path


def upload(page: Page, file: Path, name: str) -> None:
    page.get_by_test_id("dataset-file").set_input_files(str(file))
    page.get_by_test_id("dataset-name").fill(name)
    page.get_by_test_id("dataset-upload").click()


def test_upload_list_and_start_a_custom_run(
    page: Page,
    dashboard_url: str,
    api: httpx.Client,
    tmp_path: Path,
    screenshots: Path,
) -> None:
    name = f"blobs-{SESSION_TAG}".lower()
    good = write_npz(tmp_path / "blobs.npz")

    page.goto(f"{dashboard_url}/runs")
    page.get_by_test_id("nav-datasets").click()
    expect(page).to_have_url(re.compile(r"/datasets$"))
    expect(page.get_by_role("heading", name="Datasets", exact=True)).to_be_visible()
    expect(page.get_by_test_id("datasets-project")).to_have_value("default")

    # Uploaded through the form: the answer, then the row.
    upload(page, good, name)
    result = page.get_by_test_id("upload-result")
    expect(result).to_contain_text(f"Uploaded {name}")
    expect(result).to_contain_text("classes 0–3")
    row = page.locator(f'[data-testid="dataset-row"][data-dataset-name="{name}"]')
    expect(row).to_be_visible()
    expect(row.get_by_test_id("dataset-classes")).to_have_text("0–3 (4)")
    expect(row.get_by_test_id("dataset-shape")).to_contain_text("4 × 4")
    dataset_id = int(row.get_attribute("data-dataset-id") or "0")
    listed = api.get("/datasets", params={"project": "default"})
    assert listed.status_code == 200, listed.text
    stored = next(d for d in listed.json()["datasets"] if d["id"] == dataset_id)
    assert stored["name"] == name and stored["classes"] == list(range(CLASSES))
    assert stored["n_train"] == N_TRAIN and stored["n_test"] == N_TEST
    expect(row.get_by_test_id("dataset-digest")).to_have_text(stored["digest"][:12] + "…")
    page.screenshot(path=str(screenshots / "datasets.png"), full_page=True)

    # Refusals under their field: the name is taken (409), the file lacks an array (422).
    upload(page, good, name)
    expect(page.get_by_test_id("upload-error-name")).to_be_visible()
    expect(page.get_by_test_id("upload-error-file")).to_have_count(0)
    upload(page, write_npz(tmp_path / "broken.npz", without="y_test"), f"{name}-broken")
    expect(page.get_by_test_id("upload-error-file")).to_contain_text("y_test")
    expect(page.get_by_test_id("upload-error-name")).to_have_count(0)
    page.screenshot(path=str(screenshots / "datasets-upload-error.png"), full_page=True)

    # A new run over it: the custom benchmark, this dataset chosen, its classes in pairs.
    row.get_by_test_id("dataset-new-run").click()
    expect(page).to_have_url(re.compile(r"/runs/new\?spec="))
    linked = json.loads(parse_qs(urlparse(page.url).query)["spec"][0])
    assert linked["benchmark"]["dataset"] == dataset_id
    expect(page.get_by_test_id("field-benchmark.name")).to_have_value("custom")
    dataset_select = page.get_by_test_id("field-benchmark.dataset")
    expect(dataset_select).to_have_value(str(dataset_id))
    expect(dataset_select.locator("option:checked")).to_have_text(f"{name} · classes 0–3")
    expect(page.get_by_test_id("field-benchmark.split.kind")).to_have_value("classes")
    expect(page.get_by_test_id("field-benchmark.split.tasks")).to_have_value("0, 1; 2, 3")
    expect(page.get_by_test_id("field-benchmark.digest")).to_have_count(0)
    expect(page.get_by_test_id("linked-spec-note")).to_contain_text("benchmark")
    # The split editor follows its kind.
    page.get_by_test_id("field-benchmark.split.kind").select_option("rotations")
    expect(page.get_by_test_id("field-benchmark.split.angles")).to_be_visible()
    expect(page.get_by_test_id("field-benchmark.split.tasks")).to_have_count(0)
    page.get_by_test_id("field-benchmark.split.kind").select_option("classes")
    page.get_by_test_id("field-benchmark.split.tasks").fill("0, 1; 2, 3")
    page.screenshot(path=str(screenshots / "new-run-custom.png"), full_page=True)

    # The API takes the form's spec and records the dataset's digest; the run is cancelled
    # at once (no worker needs to train it here).
    page.get_by_test_id("submit-run").click()
    expect(page).to_have_url(re.compile(r"/runs/\d+$"))
    run_id = int(urlparse(page.url).path.rsplit("/", 1)[1])
    benchmark = api.get(f"/runs/{run_id}").json()["spec"]["benchmark"]
    assert benchmark["name"] == "custom" and benchmark["dataset"] == dataset_id
    assert benchmark["digest"] == stored["digest"]
    assert benchmark["split"] == {"kind": "classes", "tasks": [[0, 1], [2, 3]]}
    cancelled = api.post(f"/runs/{run_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text

    # Deleting asks first; then the row is gone, on the page and in the API.
    page.goto(f"{dashboard_url}/datasets")
    row.get_by_test_id("dataset-delete").click()
    row.get_by_test_id("dataset-delete-confirm").click()
    expect(row).to_have_count(0)
    gone = api.get(f"/datasets/{dataset_id}")
    assert gone.status_code == 404, gone.text
