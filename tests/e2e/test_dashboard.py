"""The dashboard in a real browser: runs submitted through the New-run form are trained by a real
worker, and the pages show what the API says about them.

One API process (serving the built SPA), one Celery worker and one headless Chromium for the
module. Two split-digits runs (the offline presets, shortened) are submitted through the form at
the start; the tests that need them finished run last, so the worker trains while the form's
error handling and the not-found page are checked. Screenshots go to test-artifacts/e2e/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Response, expect

from gapwatch.client import GapwatchClient
from tests.conftest import RUN_STALL_S, LiveProcess, wait_for_run
from tests.e2e.conftest import Account, PageErrors, api_client, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ITERATIONS = 100  # per task; the presets' 300 cut to keep the module short
N_TASKS = 5  # the split-digits presets' tasks
SUMMARY_CARDS = (
    "acc",
    "bwt",
    "forgetting",
    "min_acc",
    "wc_acc",
    "gap",
    "gap_depth",
    "gap_forgetting",
    "gap_recovered",
    "wf10",
    "wf100",
)

# Records the text that the page draws on each canvas, then draws it unchanged: uPlot 1.6 paints
# axis labels ("iteration", "accuracy (%)") on its canvas, not as DOM text.
RECORD_CANVAS_TEXT = """
(() => {
  const drawn = new WeakMap();
  window.__canvasText = (canvas) => Array.from(drawn.get(canvas) || []);
  const fillText = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
    if (!drawn.has(this.canvas)) drawn.set(this.canvas, new Set());
    drawn.get(this.canvas).add(String(text));
    return fillText.call(this, text, ...rest);
  };
})();
"""

PAINTED_PIXELS = """
(canvas) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
  return painted;
}
"""


@dataclass(frozen=True)
class SubmittedRuns:
    finetune: int
    er: int
    live_streams: int  # EventSource connections the finetune run's page opened
    series_points: list[int]  # points the page held after each series answer, in order
    statuses: list[str]  # the status texts it showed, in order


@pytest.fixture(scope="module")
def runs(dashboard_url: str, e2e_owner: Account) -> Iterator[GapwatchClient]:
    """gapwatch.client as the owner of `default`: waits for the module's runs."""
    with GapwatchClient(dashboard_url, api_key=e2e_owner.key) as client:
        yield client


@pytest.fixture(scope="module")
def api(dashboard_url: str, e2e_owner: Account) -> Iterator[httpx.Client]:
    """The API as the owner of `default`, where the form submits the module's runs."""
    with api_client(dashboard_url, e2e_owner) as client:
        yield client


def set_field(page: Page, path: str, value: str) -> None:
    """Types into the form's input for `path` (a select gets the option chosen)."""
    field = page.get_by_test_id(f"field-{path}")
    expect(field).to_have_attribute("name", path)
    if field.evaluate("e => e.tagName") == "SELECT":
        field.select_option(value)
    else:
        field.fill(value)


def assert_next_to(field: Locator, error: Locator) -> None:
    """The error sits right under its input (within 80 px) and overlaps it horizontally."""
    f, e = field.bounding_box(), error.bounding_box()
    assert f is not None and e is not None
    assert f["y"] <= e["y"] <= f["y"] + f["height"] + 80, (f, e)
    assert e["x"] < f["x"] + f["width"] and f["x"] < e["x"] + e["width"], (f, e)


def is_run_post(response: Response) -> bool:
    return urlparse(response.url).path == "/api/v1/runs" and response.request.method == "POST"


def submit_preset(page: Page, base_url: str, preset: str) -> int:
    """Submits `preset`, shortened to ITERATIONS per task, evaluated every iteration."""
    page.goto(base_url + "/runs/new")
    page.get_by_test_id("preset-select").select_option(preset)
    set_field(page, "training.iterations_per_task", str(ITERATIONS))
    set_field(page, "evaluation.every", "1")
    with page.expect_response(is_run_post) as created:
        page.get_by_test_id("submit-run").click()
    assert created.value.status == 201, created.value.text()
    run_id = created.value.json()["id"]
    page.wait_for_url(f"{base_url}/runs/{run_id}")
    return run_id


@dataclass
class LiveWatch:
    """What the first run's page fetched while it watched the run train."""

    live_paths: list[str] = field(default_factory=list)  # GET /runs/<id>/live requests
    metrics: list[Response] = field(default_factory=list)  # the series answers, in order
    statuses: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def submitted(
    browser: Browser, dashboard_url: str, e2e_owner: Account, e2e_worker: LiveProcess
) -> SubmittedRuns:
    """The two runs of the module, submitted through the New-run form. The first run's page is
    left open until the run has succeeded, to record how it followed the run live."""
    context, page, errors = open_page(browser, dashboard_url, e2e_owner)
    watch = LiveWatch()

    def on_request(request: Any) -> None:
        if urlparse(request.url).path.endswith("/live"):
            watch.live_paths.append(urlparse(request.url).path)

    def on_response(response: Response) -> None:
        if re.fullmatch(r"/api/v1/runs/\d+/metrics", urlparse(response.url).path):
            watch.metrics.append(response)

    page.on("request", on_request)
    page.on("response", on_response)
    try:
        finetune = submit_preset(page, dashboard_url, "split_digits_finetune")
        status = page.get_by_test_id("run-status")
        changed = time.monotonic()
        while "succeeded" not in (text := status.inner_text()):
            if not watch.statuses or watch.statuses[-1] != text:
                watch.statuses.append(text)
                changed = time.monotonic()
            # The page's text follows the run's progress: only a page stuck for long fails.
            assert time.monotonic() - changed < RUN_STALL_S, f"the page is stuck at {text!r}"
            page.wait_for_timeout(100)
            assert "failed" not in text, page.get_by_test_id("run-error").inner_text()
        watch.statuses.append(text)

        def received() -> list[int]:
            """Points held after each series answer: a live refresh asks only for the steps
            after those held, so the answers add up."""
            answers = [
                sum(len(s["steps"]) for s in r.json()["series"])
                for r in watch.metrics
                if f"/runs/{finetune}/" in r.url
            ]
            return [sum(answers[: i + 1]) for i in range(len(answers))]

        # The run's end is followed by one last read of what the page lacks.
        deadline = time.monotonic() + RUN_STALL_S
        while (points := received())[-1:] == points[:1] and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        # Only the finetune page's: the ER run's page, opened next, has its own stream.
        streams = watch.live_paths.count(f"/api/v1/runs/{finetune}/live")
        er = submit_preset(page, dashboard_url, "split_digits_er")
    finally:
        context.close()
    assert not errors.messages, errors.messages
    return SubmittedRuns(finetune, er, streams, points, watch.statuses)


def wait_succeeded(page: Page, runs: GapwatchClient, run_id: int) -> None:
    """The run ends (waited for while it makes progress, however slow the machine), and the
    open run page's status turns `succeeded` without a reload (the live stream)."""
    run = wait_for_run(runs, run_id)
    assert run["status"] == "succeeded", run["error"]
    expect(page.get_by_test_id("run-status")).to_have_text(re.compile(r"\bsucceeded\b"))


def card_value(card: Locator) -> float | None:
    raw = card.get_attribute("data-value")
    assert raw is not None, "summary card without data-value"
    return None if raw == "" else float(raw)


def expected_card(
    summary: dict[str, Any], definitions: list[dict[str, Any]], card: str
) -> tuple[float | None, str]:
    """(value, formula) that summary card `card` must show: its value from GET .../summary's
    `metrics`, its formula (in the hover) from the registry, GET /definitions."""
    formula = next(d["formula"] for d in definitions if d["id"] == card)
    return summary["metrics"][card]["value"], formula


def chart_text(container: Locator) -> str:
    """The DOM text of a chart container plus what was painted on its canvases."""
    painted = container.locator("canvas").evaluate_all(
        "canvases => canvases.flatMap(c => window.__canvasText(c))"
    )
    return (container.inner_text() + "\n" + "\n".join(painted)).lower()


def assert_chart_drew(container: Locator) -> None:
    canvas = container.locator("canvas").first
    expect(canvas).to_be_attached()
    size = canvas.evaluate("c => [c.width, c.height]")
    assert size[0] > 0 and size[1] > 0, size
    assert canvas.evaluate(PAINTED_PIXELS) > 1000  # lines, axes and grid, not a blank canvas


def run_page(
    browser: Browser, base_url: str, account: Account, run_id: int
) -> tuple[BrowserContext, Page, PageErrors]:
    """/runs/<id> in a fresh context, signed in as `account`, whose canvases record the text
    drawn on them."""
    context, page, errors = open_page(browser, base_url, account)
    page.add_init_script(RECORD_CANVAS_TEXT)
    page.goto(f"{base_url}/runs/{run_id}")
    return context, page, errors


# --- tests, in the order the worker's progress allows ----------------------------------------


def test_the_run_page_follows_the_run_live_over_one_stream(submitted: SubmittedRuns) -> None:
    # The page opened on a queued or running run and showed it to the end without a reload: it
    # fetched the series again as points arrived (the curves grew), over one SSE connection.
    assert submitted.statuses[-1].strip().endswith("succeeded"), submitted.statuses
    assert any("running" in s or "queued" in s for s in submitted.statuses), submitted.statuses
    assert submitted.live_streams == 1
    assert len(submitted.series_points) >= 2, submitted.series_points
    assert submitted.series_points[-1] > submitted.series_points[0], submitted.series_points


def test_the_form_submits_the_presets_as_specs(submitted: SubmittedRuns, api: httpx.Client) -> None:
    # What the form sent is what the preset says, with the two fields the test typed.
    for run_id, strategy in ((submitted.finetune, "finetune"), (submitted.er, "er")):
        run = api.get(f"/runs/{run_id}").json()
        # The form's project select starts at `default`, where its owner may submit.
        assert run["project"] == "default"
        spec = run["spec"]
        assert spec["benchmark"]["name"] == "split_digits"
        assert spec["benchmark"]["n_tasks"] == N_TASKS
        assert spec["strategy"]["name"] == strategy
        assert spec["training"]["iterations_per_task"] == ITERATIONS
        assert spec["evaluation"]["every"] == 1
        assert spec["model"]["hidden_sizes"] == [400, 400]
    assert api.get(f"/runs/{submitted.er}").json()["spec"]["strategy"]["buffer_size"] == 200


def test_out_of_bounds_values_show_field_errors(
    page: Page, dashboard_url: str, api: httpx.Client, screenshots: Path
) -> None:
    runs_before = api.get("/runs").json()["total"]
    posts: list[Response] = []
    page.on("response", lambda r: posts.append(r) if is_run_post(r) else None)
    page.goto(dashboard_url + "/runs/new")
    page.get_by_test_id("preset-select").select_option("split_digits_finetune")

    # A plugin's strategy (the example plugin, which the suite installs) is in the form, with
    # its options and bounds from the API's schema; its bounds are checked like the built-ins'.
    set_field(page, "strategy.name", "er_cosine")
    expect(page.get_by_test_id("field-strategy.scale")).to_have_value("16")
    set_field(page, "strategy.scale", "500")
    page.get_by_test_id("submit-run").click()
    expect(page.get_by_test_id("field-error-strategy.scale")).to_contain_text(
        re.compile(r"100|most|maximum", re.I)
    )
    set_field(page, "strategy.name", "finetune")

    # A zero batch is outside the schema's bounds: the form says so without asking the server.
    set_field(page, "training.batch_size", "0")
    page.get_by_test_id("submit-run").click()
    error = page.get_by_test_id("field-error-training.batch_size")
    expect(error).to_be_visible()
    expect(error).to_contain_text(re.compile(r"1|least|minimum", re.I))
    assert_next_to(page.get_by_test_id("field-training.batch_size"), error)
    assert posts == []
    assert urlparse(page.url).path == "/runs/new"
    # The viewport around the field: a full-page shot would paint the sticky submit bar mid-page.
    error.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "new-run-error.png"))

    # A device name only the server's validator knows is wrong: its 422 lands next to the field.
    set_field(page, "training.batch_size", "32")
    expect(error).to_have_count(0)
    set_field(page, "device", "gpu0")
    with page.expect_response(is_run_post) as rejected:
        page.get_by_test_id("submit-run").click()
    assert rejected.value.status == 422
    loc = rejected.value.json()["detail"][0]["loc"]
    assert loc == ["body", "device"], loc
    server_error = page.get_by_test_id("field-error-device")
    expect(server_error).to_contain_text("device must be one of")
    assert_next_to(page.get_by_test_id("field-device"), server_error)
    assert urlparse(page.url).path == "/runs/new"
    server_error.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "new-run-server-error.png"))
    assert api.get("/runs").json()["total"] == runs_before


def test_an_unknown_run_shows_not_found(page: Page, dashboard_url: str) -> None:
    response = page.goto(dashboard_url + "/runs/999999")
    assert response is not None and response.status == 200  # the SPA answers every page URL
    expect(page.get_by_text(re.compile(r"not found", re.I)).first).to_be_visible()
    expect(page.get_by_test_id("progress-bar")).to_have_count(0)


def test_the_run_pages_draw_every_task_with_boundaries_troughs_and_the_api_numbers(
    submitted: SubmittedRuns,
    browser: Browser,
    dashboard_url: str,
    e2e_owner: Account,
    runs: GapwatchClient,
    api: httpx.Client,
    screenshots: Path,
) -> None:
    for run_id in (submitted.finetune, submitted.er):
        context, page, errors = run_page(browser, dashboard_url, e2e_owner, run_id)
        try:
            wait_succeeded(page, runs, run_id)
            expect(page.get_by_test_id("progress-bar")).to_be_visible()
            check_run_page(page, api, run_id, finetune=run_id == submitted.finetune)
            if run_id == submitted.finetune:
                page.screenshot(path=str(screenshots / "run-light.png"), full_page=True)
        finally:
            context.close()
        assert not errors.messages, errors.messages


def check_run_page(page: Page, api: httpx.Client, run_id: int, *, finetune: bool) -> None:
    charts = page.get_by_test_id("run-charts")
    if charts.count():  # the page's own signal that every chart has drawn its data
        expect(charts).to_have_attribute("data-ready", "true")
    starts = [
        e["step"]
        for e in api.get(f"/runs/{run_id}/events", params={"kind": "task_start"}).json()["events"]
    ]
    assert starts == [t * ITERATIONS for t in range(N_TASKS)]
    gaps = api.get(f"/runs/{run_id}/gaps").json()
    dips = {
        (row["task"], boundary["task"]): row["depth"]
        for boundary in gaps["boundaries"]
        for row in boundary["rows"]
        if row["evaluated"] and row["eligible"] and row["depth"] is not None and row["depth"] > 0
    }
    for j in range(N_TASKS):
        chart = page.get_by_test_id(f"task-chart-{j}")
        expect(chart.locator("h3")).to_contain_text(f"Task {j}")
        assert_chart_drew(chart)
        text = chart_text(chart)
        assert "iteration" in text and "accuracy (%)" in text, text
        # A line at every boundary s_k, k >= 1, where the API's task_start events put them.
        lines = chart.locator(".boundary-line")
        steps = sorted(int(s) for s in lines.evaluate_all("ls => ls.map(l => l.dataset.step)"))
        assert steps == starts[1:], (j, steps)
        # A marker at every dip of task j that the API's gap table reports, with its depth.
        troughs = chart.locator(".gap-trough").evaluate_all(
            "ms => ms.map(m => [m.dataset.task, m.dataset.boundary, m.dataset.depth])"
        )
        shown = {(int(t), int(k)): float(d) for t, k, d in troughs}
        expected = {key: depth for key, depth in dips.items() if key[0] == j}
        assert shown.keys() == expected.keys(), (j, shown, expected)
        for key, depth in expected.items():
            assert shown[key] == pytest.approx(depth, abs=1e-9), key
    if finetune:
        # Class-incremental finetuning drops each task as soon as the next starts.
        assert len(dips) >= N_TASKS - 1, dips

    summary = api.get(f"/runs/{run_id}/summary").json()
    assert summary["complete"]
    definitions = api.get("/definitions").json()
    for name in SUMMARY_CARDS:
        card = page.get_by_test_id(f"summary-card-{name}")
        value, definition = expected_card(summary, definitions, name)
        shown = card_value(card)
        assert (shown is None) == (value is None), (name, shown, value)
        if value is not None:
            assert shown == pytest.approx(value, abs=1e-12), name
        assert definition in (card.get_attribute("title") or ""), name
    assert summary["acc"]["value"] is not None and summary["min_acc"]["value"] is not None
    expect(page.get_by_test_id("gaps-table")).to_be_visible()
    expect(page.get_by_test_id("accuracy-heatmap")).to_be_visible()
    for name in ("loss-chart", "lr-chart"):
        assert_chart_drew(page.get_by_test_id(name))
    # The aligned view: drawn when the run has eligible dips, with its figure's downloads.
    aligned = api.get(f"/runs/{run_id}/aligned").json()
    if aligned["rows"]:
        assert_chart_drew(page.get_by_test_id("run-aligned-chart"))
        href = page.get_by_test_id("aligned-export-svg").get_attribute("href")
        figure = api.get(href.removeprefix("/api/v1"))
        assert figure.status_code == 200 and "<svg" in figure.text


def test_the_run_page_overlays_tasks_and_exports_csv_and_png(
    submitted: SubmittedRuns, page: Page, dashboard_url: str, api: httpx.Client
) -> None:
    page.goto(f"{dashboard_url}/runs/{submitted.er}")
    expect(page.get_by_test_id("run-status")).to_have_text(re.compile(r"\bsucceeded\b"))
    page.get_by_test_id("chart-layout").select_option("overlay")
    assert_chart_drew(page.get_by_test_id("overlay-chart"))
    expect(page.get_by_test_id("task-chart-0")).to_have_count(0)

    with page.expect_download() as csv:
        page.get_by_test_id("export-csv").click()
    exported = api.get(f"/runs/{submitted.er}/export", params={"format": "csv"})
    assert Path(csv.value.path()).read_bytes() == exported.content
    assert csv.value.suggested_filename.endswith(".csv")

    with page.expect_download() as png:
        page.get_by_test_id("export-png").click()
    image = Path(png.value.path()).read_bytes()
    assert image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) > 10_000
    assert png.value.suggested_filename.endswith(".png")


def test_dragging_across_a_chart_asks_the_server_for_that_range(
    submitted: SubmittedRuns, page: Page, dashboard_url: str
) -> None:
    page.goto(f"{dashboard_url}/runs/{submitted.finetune}")
    expect(page.get_by_test_id("run-charts")).to_have_attribute("data-ready", "true")
    plot = page.get_by_test_id("task-chart-0").locator(".u-over")
    box = plot.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    with page.expect_response(
        lambda r: "/metrics" in r.url and "start" in parse_qs(urlparse(r.url).query)
    ) as zoomed:
        page.mouse.move(box["x"] + box["width"] * 0.2, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.3, y, steps=5)
        page.mouse.up()
    query = parse_qs(urlparse(zoomed.value.url).query)
    start, end = int(query["start"][0]), int(query["end"][0])
    # About a tenth of the 500 iterations, around iteration 100; the answer is that range only.
    assert 60 <= start < end <= 200 and end - start <= 100, (start, end)
    steps = [step for series in zoomed.value.json()["series"] for step in series["steps"]]
    assert steps and start <= min(steps) and max(steps) < end
    assert "zoom=" in page.url  # the zoomed view has its own URL
    # The other task charts follow the same range (synced x).
    expect(page.get_by_test_id("run-charts")).to_have_attribute("data-ready", "true")


def test_the_runs_list_shows_both_and_compares_them(
    submitted: SubmittedRuns,
    page: Page,
    dashboard_url: str,
    runs: GapwatchClient,
    api: httpx.Client,
    screenshots: Path,
) -> None:
    page.goto(dashboard_url + "/runs")
    expect(page.get_by_test_id("runs-table")).to_be_visible()
    ids = (submitted.finetune, submitted.er)
    for run_id in ids:
        expect(page.get_by_test_id(f"run-row-{run_id}")).to_be_visible()
        assert wait_for_run(runs, run_id)["status"] == "succeeded"
        expect(page.get_by_test_id(f"run-status-{run_id}")).to_have_text("succeeded")
    expect(page.get_by_test_id("runs-empty")).to_have_count(0)
    page.screenshot(path=str(screenshots / "runs-list.png"), full_page=True)

    for run_id in ids:
        page.get_by_test_id(f"select-run-{run_id}").check()
    page.get_by_test_id("compare-selected").click()
    page.wait_for_url(re.compile(r"/compare\?"))
    compared = parse_qs(urlparse(page.url).query)["runs"][0].split(",")
    assert sorted(int(r) for r in compared) == sorted(ids)

    assert_chart_drew(page.get_by_test_id("compare-chart-0"))
    table = page.get_by_test_id("compare-summary-table")
    expect(table).to_be_visible()
    for run_id in ids:
        name = api.get(f"/runs/{run_id}").json()["name"]
        expect(table).to_contain_text(name)
    page.screenshot(path=str(screenshots / "compare.png"), full_page=True)


def test_a_run_url_opened_directly_loads_and_the_dark_theme_repaints(
    submitted: SubmittedRuns, page: Page, dashboard_url: str, screenshots: Path
) -> None:
    # Opened cold at its URL (no navigation inside the SPA): the server's fallback answers.
    response = page.goto(f"{dashboard_url}/runs/{submitted.er}")
    assert response is not None and response.status == 200
    assert "text/html" in response.headers["content-type"]
    expect(page.get_by_test_id("run-status")).to_have_text(re.compile(r"\bsucceeded\b"))
    expect(page.get_by_test_id("run-charts")).to_have_attribute("data-ready", "true")
    chart = page.get_by_test_id("task-chart-0").locator("canvas").first

    background = "() => getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    light_pixels = chart.evaluate("c => c.toDataURL()")
    page.get_by_test_id("theme-toggle").click()
    page.wait_for_function(f"({background})() !== {light!r}")
    dark = page.evaluate(background)
    assert luminance(dark) < luminance(light), (light, dark)
    # The charts read their colours from the theme, so they are drawn again in the dark ones.
    page.wait_for_function(
        "([c, before]) => c.toDataURL() !== before", arg=[chart.element_handle(), light_pixels]
    )
    page.screenshot(path=str(screenshots / "run-dark.png"), full_page=True)


def luminance(css_color: str) -> float:
    """Relative luminance of an `rgb(...)`/`rgba(...)` colour as getComputedStyle returns it."""
    r, g, b = (float(c) / 255 for c in re.findall(r"\d+(?:\.\d+)?", css_color)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def open_loop_run(api: httpx.Client, name: str, config: dict[str, Any], lr_dip: float) -> int:
    """A finished loop run over REST, as `gapwatch.init` and `run.log` would write it: two tasks
    of 40 steps, evaluated every step, a stability gap on task 0 after the boundary, heartbeats
    without a total."""
    opened = api.post("/runs/init", json={"name": name, "config": config, "host": "laptop-e2e"})
    assert opened.status_code == 201, opened.text
    run_id = opened.json()["run"]["id"]
    auth = {"Authorization": f"Bearer {opened.json()['token']}"}
    # The run's token, not the API key, writes into the run.
    writer = httpx.Client(base_url=str(api.base_url), headers=auth, timeout=30)
    steps = list(range(80))
    task0 = [
        min(0.95, 0.2 + 0.03 * s) if s <= 40 else 0.95 - lr_dip * 0.85 ** (s - 41) for s in steps
    ]
    task1 = [min(0.9, 0.1 + 0.04 * (s - 40)) for s in steps[40:]]
    series = [
        {"key": "eval/acc/task_0", "steps": steps, "values": task0},
        {"key": "eval/acc/task_1", "steps": steps[40:], "values": task1},
        {"key": "train/loss", "steps": steps, "values": [2.0 * 0.97**s for s in steps]},
    ]
    events = [
        {"step": 0, "kind": "task_start", "payload": {"task": 0}},
        {"step": 40, "kind": "task_end", "payload": {"task": 0}},
        {"step": 40, "kind": "task_start", "payload": {"task": 1}},
        {"step": 79, "kind": "task_end", "payload": {"task": 1}},
    ]
    with writer:
        path = f"/runs/{run_id}"
        assert writer.post(f"{path}/events", json={"events": events}).status_code == 200
        assert writer.post(f"{path}/metrics", json={"series": series}).status_code == 200
        assert writer.post(f"{path}/heartbeat", json={"step": 79}).status_code == 200
        finish = writer.post(f"{path}/finish", json={"status": "succeeded"})
        assert finish.status_code == 200, finish.text
    return run_id


def test_loop_runs_show_their_config_are_searched_by_it_and_compare(
    page: Page, dashboard_url: str, api: httpx.Client, screenshots: Path
) -> None:
    sgd = {"lr": 0.01, "memory": 2000, "optimizer": {"name": "sgd", "momentum": 0.9}, "seed": 0}
    adam = {"lr": 0.1, "memory": 2000, "optimizer": {"name": "adam", "momentum": 0.9}, "seed": 1}
    first = open_loop_run(api, "loop sgd", sgd, lr_dip=0.5)
    second = open_loop_run(api, "loop adam", adam, lr_dip=0.2)

    # The list: own loop where the benchmark goes, the config's first entries under it.
    page.goto(dashboard_url + "/runs?kind=loop")
    expect(page.get_by_test_id("filter-kind")).to_have_value("loop")
    for run_id, lr in ((first, "lr=0.01"), (second, "lr=0.1")):
        cell = page.get_by_test_id(f"run-config-{run_id}")
        expect(cell).to_contain_text("own loop")
        expect(cell).to_contain_text(lr)
        expect(page.get_by_test_id(f"run-status-{run_id}")).to_have_text("succeeded")

    # The config search: typed entries become ?config.<key>=<value>, the server answers.
    box = page.get_by_test_id("filter-config")
    box.fill("lr=0.01, optimizer.name=sgd")
    page.wait_for_url(re.compile(r"config\.lr=0\.01&config\.optimizer\.name=sgd"))
    expect(page.get_by_test_id(f"run-row-{second}")).to_have_count(0)
    expect(page.get_by_test_id(f"run-row-{first}")).to_be_visible()
    page.screenshot(path=str(screenshots / "runs-list-loop.png"), full_page=True)

    # Text that is not key=value is named under the box and not sent.
    box.fill("lr")
    error = page.get_by_test_id("filter-config-error")
    expect(error).to_contain_text("write key=value")
    assert_next_to(box, error)
    # What only the server refuses (nine filters; it takes eight) is shown there too.
    with page.expect_response(
        lambda r: urlparse(r.url).path == "/api/v1/runs" and "config.i=" in r.url
    ) as refused:
        box.fill("a=1 b=1 c=1 d=1 e=1 f=1 g=1 h=1 i=1")
    assert refused.value.status == 422
    expect(error).to_contain_text("at most 8 config filters")
    page.screenshot(path=str(screenshots / "runs-config-refused.png"))

    # The run page: own training loop on its host, the config table, curves from the points.
    page.add_init_script(RECORD_CANVAS_TEXT)
    page.goto(f"{dashboard_url}/runs/{first}")
    expect(page.get_by_test_id("run-status")).to_have_text(re.compile(r"\bsucceeded\b"))
    header = page.locator(".run-header")
    expect(header).to_contain_text("own training loop")
    expect(header).to_contain_text("laptop-e2e")
    expect(header).not_to_contain_text("benchmark")
    # Ended with no total given: its last step is the whole run.
    expect(page.get_by_test_id("progress-bar")).to_contain_text("79 / 79 it")
    config = page.get_by_test_id("run-config")
    expect(config.locator('tr[data-key="optimizer.momentum"]')).to_contain_text("0.9")
    expect(config.locator('tr[data-key="optimizer.name"]')).to_contain_text('"sgd"')
    expect(page.get_by_test_id("run-charts")).to_have_attribute("data-ready", "true")
    assert_chart_drew(page.get_by_test_id("task-chart-0"))
    assert_chart_drew(page.get_by_test_id("task-chart-1"))
    page.screenshot(path=str(screenshots / "run-loop.png"), full_page=True)

    # Compare: no spec is no crash; the config entries that differ are the axes.
    page.goto(f"{dashboard_url}/compare?runs={first},{second}")
    expect(page.get_by_test_id("compare-charts")).to_have_attribute("data-ready", "true")
    assert_chart_drew(page.get_by_test_id("compare-chart-0"))
    assert_chart_drew(page.get_by_test_id("compare-chart-1"))
    expect(page.locator(".compare-runs")).to_contain_text("own loop")
    settings = page.get_by_test_id("compare-settings")
    expect(settings.locator('tr[data-setting="config.lr"]')).to_contain_text("0.01")
    expect(settings.locator('tr[data-setting="config.optimizer.name"]')).to_contain_text("adam")
    expect(settings.locator('tr[data-setting="config.memory"]')).to_have_count(0)
    page.screenshot(path=str(screenshots / "compare-loop.png"), full_page=True)
