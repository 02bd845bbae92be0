"""The sweep page in a real browser: a small sweep posted over REST (strategy.name finetune / er
x seed 0 / 1 of a shortened split-digits spec) is trained by the real worker. Its page follows
the runs live and stops asking once they have all ended, tables one row per configuration with
n = 2 and the API's numbers, sorts by a metric, draws the boundary-aligned gap view, and its
links download the results (CSV, LaTeX) and the aligned figure (SVG, PDF), whose content is
checked. Screenshots go to test-artifacts/e2e/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from gapwatch.client import GapwatchClient
from tests.conftest import SESSION_TAG, LiveProcess, wait_for_run
from tests.e2e.conftest import Account, api_client
from tests.e2e.test_dashboard import RECORD_CANVAS_TEXT, assert_chart_drew, chart_text

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ITERATIONS = 40  # per task: short, but long enough for a dip after each boundary
N_TASKS = 3
STRATEGIES = ["finetune", "er"]
SEEDS = [0, 1]
POLL_S = 3.0  # the page's SWEEP_POLL_MS
BASE = {
    "benchmark": {"name": "split_digits", "n_tasks": N_TASKS},
    "model": {"name": "mlp", "hidden_sizes": [64]},
    "strategy": {"name": "finetune"},
    "training": {"iterations_per_task": ITERATIONS},
    "evaluation": {"every": 1},
}


@pytest.fixture(scope="module")
def api(dashboard_url: str, e2e_owner: Account) -> Iterator[httpx.Client]:
    with api_client(dashboard_url, e2e_owner) as client:
        yield client


@pytest.fixture(scope="module")
def sweep(api: httpx.Client, e2e_worker: LiveProcess) -> dict[str, Any]:
    """The module's sweep, posted as `gapwatch sweep` would; its four runs are queued."""
    created = api.post(
        "/sweeps",
        json={
            "name": f"e2e sweep {SESSION_TAG}",
            "base": BASE,
            "axes": {"strategy.name": STRATEGIES, "seed": SEEDS},
            "method": "grid",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["runs"] == len(STRATEGIES) * len(SEEDS) == len(body["run_ids"])
    return body


def wait_sweep_ended(dashboard_url: str, account: Account, sweep: dict[str, Any]) -> None:
    """Every run of the sweep has ended (waited for while it makes progress) and succeeded."""
    with GapwatchClient(dashboard_url, api_key=account.key) as client:
        for run_id in sweep["run_ids"]:
            run = wait_for_run(client, run_id)
            assert run["status"] == "succeeded", run["error"]


def is_sweep_get(sweep_id: int):  # type: ignore[no-untyped-def]
    return lambda request: (
        urlparse(request.url).path == f"/api/v1/sweeps/{sweep_id}" and request.method == "GET"
    )


def row_means(rows: Locator, metric: str) -> list[float | None]:
    raw = rows.locator(f'td[data-metric="{metric}"]').evaluate_all(
        "cells => cells.map(c => c.dataset.mean)"
    )
    return [None if value == "" else float(value) for value in raw]


def row_strategies(rows: Locator) -> list[str]:
    return [
        text.strip() for text in rows.locator('td[data-axis="strategy.name"]').all_inner_texts()
    ]


# --- tests, in the order the worker's progress allows ----------------------------------------


def test_the_sweep_page_follows_its_runs_live_and_stops_when_they_have_ended(
    page: Page,
    dashboard_url: str,
    e2e_owner: Account,
    sweep: dict[str, Any],
    screenshots: Path,
) -> None:
    sweep_id = sweep["id"]
    asked: list[float] = []
    answers: list[dict[str, Any]] = []
    page.on(
        "request", lambda r: asked.append(time.monotonic()) if is_sweep_get(sweep_id)(r) else None
    )
    page.on(
        "response",
        lambda r: answers.append(r.json()) if is_sweep_get(sweep_id)(r.request) and r.ok else None,
    )
    page.goto(f"{dashboard_url}/sweeps/{sweep_id}")
    expect(page.get_by_test_id("sweep-name")).to_contain_text(sweep["name"])
    expect(page.get_by_test_id("sweep-method")).to_have_text("grid")
    expect(page.get_by_test_id("sweep-axes")).to_contain_text("strategy.name ∈ {finetune, er}")
    expect(page.get_by_test_id("sweep-axes")).to_contain_text("seed ∈ {0, 1}")
    progress = page.get_by_test_id("sweep-progress")
    expect(progress).to_have_attribute("data-total", "4")
    expect(progress.get_by_role("progressbar")).to_be_visible()
    page.screenshot(path=str(screenshots / "sweep-running.png"), full_page=True)
    first = answers[0]["progress"]
    started_active = first["queued"] + first["running"] > 0

    wait_sweep_ended(dashboard_url, e2e_owner, sweep)
    # No reload: the page asks again while a run has not ended, and shows the end.
    expect(progress).to_have_attribute("data-ended", "4", timeout=(2 * POLL_S + 5) * 1000)
    expect(progress).to_contain_text("4 / 4 runs ended")
    expect(page.get_by_test_id("sweep-count-succeeded")).to_contain_text("4")
    expect(page.get_by_test_id("sweep-count-running")).to_have_count(0)
    if started_active:
        assert len(asked) >= 2, asked
    # Then it stops: nothing more in two poll periods.
    settled = len(asked)
    page.wait_for_timeout(2.5 * POLL_S * 1000)
    assert len(asked) == settled, "the page kept polling a sweep whose runs have all ended"


def test_the_results_table_has_a_row_per_configuration_and_sorts_by_a_metric(
    page: Page, dashboard_url: str, e2e_owner: Account, api: httpx.Client, sweep: dict[str, Any]
) -> None:
    wait_sweep_ended(dashboard_url, e2e_owner, sweep)
    sweep_id = sweep["id"]
    results = api.get(f"/sweeps/{sweep_id}/results").json()
    by_strategy = {row["config"]["strategy.name"]: row for row in results["rows"]}
    assert sorted(by_strategy) == sorted(STRATEGIES)

    page.goto(f"{dashboard_url}/sweeps/{sweep_id}")
    rows = page.get_by_test_id("sweep-row")
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("sweep-row-n")).to_have_text(["2", "2"])
    expect(page.locator('td[data-provisional="true"]')).to_have_count(0)
    # Every cell is the API's mean, shown as mean ± CI in points.
    for metric in results["metrics"]:
        for strategy, mean in zip(row_strategies(rows), row_means(rows, metric["id"]), strict=True):
            cell = by_strategy[strategy]["cells"][metric["id"]]
            assert cell["n"] <= 2 and not cell["provisional"], (strategy, metric["id"], cell)
            if cell["mean"] is None:
                assert mean is None
            else:
                assert mean == pytest.approx(cell["mean"], abs=1e-12), (strategy, metric["id"])
    acc = rows.first.locator('td[data-metric="acc"]')
    expect(acc).to_have_text(re.compile(r"^\d+\.\d ± \d+\.\d$"))

    # The header's hover is the metric's definition (GET /definitions).
    definitions = {d["id"]: d for d in api.get("/definitions").json()}
    header = page.get_by_test_id("sweep-sort-acc")
    assert definitions["acc"]["definition"] in (header.get_attribute("title") or "")

    # Sorting: best first on the first click (ACC: higher is better), then the other way.
    means = {s: by_strategy[s]["cells"]["acc"]["mean"] for s in STRATEGIES}
    assert means["finetune"] != means["er"], means
    best_first = sorted(STRATEGIES, key=lambda s: -means[s])
    header.click()
    expect(header.locator("xpath=..")).to_have_attribute("aria-sort", "descending")
    assert parse_qs(urlparse(page.url).query)["sort"] == ["-acc"]
    expect(rows.locator('td[data-axis="strategy.name"]')).to_have_text(best_first)
    header.click()
    expect(header.locator("xpath=..")).to_have_attribute("aria-sort", "ascending")
    expect(rows.locator('td[data-axis="strategy.name"]')).to_have_text(best_first[::-1])
    # A metric where lower is better sorts ascending first.
    gap = page.get_by_test_id("sweep-sort-gap")
    gap.click()
    expect(gap.locator("xpath=..")).to_have_attribute("aria-sort", "ascending")
    gaps = [m if m is not None else float("inf") for m in row_means(rows, "gap")]
    assert gaps == sorted(gaps), gaps

    # Each row links to its runs and to the compare page for them.
    for strategy in STRATEGIES:
        row = rows.filter(has=page.locator(f'td[data-axis="strategy.name"]:text-is("{strategy}")'))
        ids = sorted(by_strategy[strategy]["run_ids"])
        for run_id in ids:
            expect(row.get_by_role("link", name=f"#{run_id}", exact=True)).to_have_attribute(
                "href", f"/runs/{run_id}"
            )
        compare = row.get_by_test_id("sweep-row-compare")
        expect(compare).to_have_attribute("href", f"/compare?runs={','.join(map(str, ids))}")
    rows.first.get_by_test_id("sweep-row-compare").click()
    page.wait_for_url(re.compile(r"/compare\?runs="))
    expect(page.get_by_test_id("compare-chart-0")).to_be_visible()


def test_the_boundary_aligned_view_draws_one_line_per_configuration(
    page: Page, dashboard_url: str, e2e_owner: Account, api: httpx.Client, sweep: dict[str, Any],
    screenshots: Path,
) -> None:  # fmt: skip
    wait_sweep_ended(dashboard_url, e2e_owner, sweep)
    aligned = api.get(f"/sweeps/{sweep['id']}/aligned").json()
    drawn = [c for c in aligned["configs"] if any(v is not None for v in c["band"]["mean"])]
    assert drawn, aligned  # both strategies have earlier tasks above chance at the boundaries
    page.add_init_script(RECORD_CANVAS_TEXT)
    page.goto(f"{dashboard_url}/sweeps/{sweep['id']}")
    container = page.get_by_test_id("sweep-aligned")
    expect(container).to_have_attribute("data-ready", "true")
    expect(container).to_have_attribute("data-lines", str(len(drawn)))
    chart = page.get_by_test_id("sweep-aligned-chart")
    assert_chart_drew(chart)
    text = chart_text(chart)
    assert "iterations since the boundary" in text and "accuracy change (pp)" in text, text
    for config in drawn:
        assert f"strategy.name={config['config']['strategy.name']}" in text, text
    chart.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "sweep.png"), full_page=True)


def download(page: Page, test_id: str) -> tuple[bytes, str]:
    with page.expect_download() as started:
        page.get_by_test_id(test_id).click()
    return Path(started.value.path()).read_bytes(), started.value.suggested_filename


def test_the_exports_download_the_results_and_the_aligned_figure(
    page: Page, dashboard_url: str, e2e_owner: Account, api: httpx.Client, sweep: dict[str, Any]
) -> None:
    wait_sweep_ended(dashboard_url, e2e_owner, sweep)
    sweep_id = sweep["id"]
    page.goto(f"{dashboard_url}/sweeps/{sweep_id}")
    expect(page.get_by_test_id("sweep-row")).to_have_count(2)

    csv, name = download(page, "download-csv")
    assert name.endswith(".csv"), name
    assert csv == api.get(f"/sweeps/{sweep_id}/results.csv").content
    lines = csv.decode().strip().splitlines()
    header = lines[0].lower()
    assert "strategy.name" in header and "acc" in header, header
    assert len(lines) == 3, lines  # the header and one line per configuration
    assert {line.split(",")[0].strip('"') for line in lines[1:]} <= {*STRATEGIES}, lines

    tex, name = download(page, "download-tex")
    assert name.endswith(".tex"), name
    latex = tex.decode()
    for needed in (r"\toprule", r"\midrule", r"\bottomrule", r"$\pm$", r"\textbf{"):
        assert needed in latex, (needed, latex)
    assert "finetune" in latex and "er" in latex

    for fmt in ("svg", "pdf"):
        answer = api.get(f"/sweeps/{sweep_id}/figures/aligned.{fmt}")
        assert answer.status_code == 200, (fmt, answer.status_code, answer.text[:500])
    svg, name = download(page, "download-svg")
    assert name.endswith(".svg"), name
    text = svg.decode()
    assert "<svg" in text[:2000], text[:200]
    assert sweep["name"] in text, "the figure's title names the sweep"

    pdf, name = download(page, "download-pdf")
    assert name.endswith(".pdf") and pdf.startswith(b"%PDF"), (name, pdf[:20])


def test_the_sweeps_list_links_to_the_sweep(
    page: Page, dashboard_url: str, e2e_owner: Account, sweep: dict[str, Any]
) -> None:
    wait_sweep_ended(dashboard_url, e2e_owner, sweep)
    page.goto(dashboard_url + "/runs")
    page.get_by_test_id("nav-sweeps").click()
    page.wait_for_url(re.compile(r"/sweeps$"))
    row = page.get_by_test_id(f"sweep-list-row-{sweep['id']}")
    expect(row).to_contain_text(sweep["name"])
    expect(row).to_contain_text("4 / 4 ended")
    expect(row).to_contain_text("strategy.name")
    row.get_by_role("link", name=sweep["name"]).click()
    page.wait_for_url(re.compile(rf"/sweeps/{sweep['id']}$"))
    expect(page.get_by_test_id("sweep-progress")).to_have_attribute("data-ended", "4")


def test_an_unknown_sweep_shows_not_found(page: Page, dashboard_url: str) -> None:
    page.goto(dashboard_url + "/sweeps/999999")
    expect(page.get_by_test_id("sweep-not-found")).to_contain_text("not found")
    expect(page.get_by_test_id("sweep-progress")).to_have_count(0)
