"""The run page in a real browser: a failed run, a run followed live, and a loop run.

- A failed run (split_mnist, whose dataset the offline worker cannot get) shows its error in
  words as an alert, the traceback behind a "details" disclosure, the import command, and no
  empty cards or charts.
- A run followed live from the moment it is queued: the page asks for the points after the last
  step it holds of each key, for the events from the last one it holds, and for the summary and
  the gaps only when a task ends (counted with page.on("request")); the "task k" labels are
  painted above the plot area; the PNG export carries the run's name and those labels; SVG and
  PDF links point at the server's figures.
- A loop run whose points are stored but that sent no heartbeat: the progress follows the points.

Screenshots go to test-artifacts/e2e/.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Request, Response, expect

from gapwatch.client import GapwatchClient
from tests.conftest import RUN_STALL_S, LiveProcess, wait_for_run
from tests.e2e.conftest import Account, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ITERATIONS = 300  # per task: the preset's (about 10 s of training)
N_TASKS = 5
EVERY = 1

# Every fillText of the page: the text, where, with which baseline, on which canvas.
RECORD_FILL_TEXT = """
(() => {
  const calls = [];
  window.__fillText = calls;
  let next = 0;
  const ids = new WeakMap();
  window.__canvasId = (canvas) => {
    if (!ids.has(canvas)) ids.set(canvas, ++next);
    return ids.get(canvas);
  };
  const fillText = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (text, x, y, ...rest) {
    calls.push({
      text: String(text), x, y, baseline: this.textBaseline, align: this.textAlign,
      canvas: window.__canvasId(this.canvas), attached: this.canvas.isConnected,
    });
    return fillText.call(this, text, x, y, ...rest);
  };
})();
"""


def preset(api: httpx.Client, preset_id: str) -> dict[str, Any]:
    presets = api.get("/spec").json()["presets"]
    return next(p["spec"] for p in presets if p["id"] == preset_id)


def submit(api: httpx.Client, spec: dict[str, Any]) -> int:
    response = api.post("/runs", json=spec)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


# --- a failed run ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def failed_run(api: httpx.Client, runs: GapwatchClient, e2e_worker: LiveProcess) -> int:
    """A split_mnist run: the e2e worker is offline with a dead mirror, so MNIST is missing."""
    spec = {**preset(api, "split_mnist_er"), "name": "mnist without its dataset"}
    # A planned length in iterations (the paper preset trains by epochs, whose total only the
    # built benchmark knows), so that the page can show the plan of a run that never started.
    spec["training"] = {**spec["training"], "iterations_per_task": 500, "epochs_per_task": None}
    run_id = submit(api, spec)
    run = wait_for_run(runs, run_id)
    assert run["status"] == "failed", run
    assert "dataset mnist" in run["error"] and "Traceback" in run["error"], run["error"]
    return run_id


def test_a_failed_run_says_what_went_wrong_and_what_to_do(
    failed_run: int, page: Page, dashboard_url: str, screenshots: Path
) -> None:
    page.goto(f"{dashboard_url}/runs/{failed_run}")
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "failed")
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    # The first line, in words (no exception class name, no traceback).
    summary = page.get_by_test_id("run-error-summary")
    expect(summary).to_have_text(re.compile(r"^Dataset unavailable: dataset mnist not in cache"))
    assert "Traceback" not in alert.inner_text()
    assert "DatasetUnavailable" not in alert.inner_text()
    # What to do: import a copy of the files.
    expect(page.get_by_test_id("run-error-command")).to_have_text(
        "gapwatch datasets import mnist PATH"
    )
    # The traceback is there, behind a closed disclosure.
    details = page.get_by_test_id("run-error-details")
    assert details.evaluate("d => d.tagName") == "DETAILS"
    assert details.get_attribute("open") is None
    trace = details.locator("pre")
    expect(trace).to_be_hidden()
    details.locator("summary").click()
    expect(trace).to_be_visible()
    expect(trace).to_contain_text("Traceback (most recent call last)")

    # No empty panels: no provisional note, cards, charts, gap table or matrix.
    expect(page.get_by_test_id("run-no-points")).to_be_visible()
    expect(page.get_by_text("Provisional")).to_have_count(0)
    expect(page.locator("[data-testid^=summary-card-]")).to_have_count(0)
    expect(page.locator(".ts-chart")).to_have_count(0)
    expect(page.locator("canvas")).to_have_count(0)
    expect(page.get_by_test_id("gaps-table")).to_have_count(0)
    expect(page.get_by_test_id("accuracy-heatmap")).to_have_count(0)
    expect(page.get_by_test_id("export-png")).to_be_disabled()
    expect(page.get_by_test_id("export-svg")).to_have_count(0)
    # The progress is the spec's plan, not "0 / ? it".
    expect(page.get_by_test_id("progress-text")).to_have_text(re.compile(r"^0 / [\d,]+ it"))
    page.screenshot(path=str(screenshots / "run-failed.png"), full_page=True)


# --- a run followed live --------------------------------------------------------------------


@dataclass
class LiveRecord:
    run_id: int
    requests: list[Request] = field(default_factory=list)
    metrics: list[Response] = field(default_factory=list)  # series answers, in arrival order
    events: list[Response] = field(default_factory=list)
    progress: list[str] = field(default_factory=list)  # the progress texts shown, in order
    # (what, n) in the order the page did it: ("summary" | "gaps", 0) for a request, ("ended", n)
    # for an events answer, n the tasks ended in every events answer so far.
    timeline: list[tuple[str, int]] = field(default_factory=list)


def distance(pixel: tuple[int, ...], other: tuple[int, ...]) -> int:
    """How far apart two RGB colours are (the sum of the channels' differences)."""
    return sum(abs(a - b) for a, b in zip(pixel, other, strict=True))


def api_path(url: str) -> str:
    return urlparse(url).path


@pytest.fixture(scope="module")
def live_run(
    browser: Browser,
    dashboard_url: str,
    e2e_owner: Account,
    api: httpx.Client,
    e2e_worker: LiveProcess,
    failed_run: int,  # trained first: the worker takes one run at a time
) -> Iterator[tuple[LiveRecord, Page]]:
    """A split_digits run whose page is open from the moment it is queued until it succeeded,
    recording every request the page made; the page stays open for the tests."""
    spec = preset(api, "split_digits_finetune")
    spec = {
        **spec,
        "name": "live split-digits",
        "training": {**spec["training"], "iterations_per_task": ITERATIONS},
        "evaluation": {**spec["evaluation"], "every": EVERY},
    }
    context, page, errors = open_page(browser, dashboard_url, e2e_owner)
    page.add_init_script(RECORD_FILL_TEXT)
    run_id = submit(api, spec)
    record = LiveRecord(run_id)
    prefix = f"/api/v1/runs/{run_id}"

    def on_request(request: Request) -> None:
        path = api_path(request.url)
        if path.startswith(prefix):
            record.requests.append(request)
        if path in (f"{prefix}/summary", f"{prefix}/gaps"):
            record.timeline.append((path.rsplit("/", 1)[1], 0))

    def on_response(response: Response) -> None:
        path = api_path(response.url)
        if path == f"{prefix}/metrics" and response.ok:
            record.metrics.append(response)
        elif path == f"{prefix}/events" and response.ok:
            record.events.append(response)
            events = response.json()["events"]
            task_ends.update(e["step"] for e in events if e["kind"] == "task_end")
            record.timeline.append(("ended", len(task_ends)))

    task_ends: set[int] = set()
    page.on("request", on_request)
    page.on("response", on_response)
    try:
        page.goto(f"{dashboard_url}/runs/{run_id}")
        status = page.get_by_test_id("run-status")
        changed = time.monotonic()
        while (text := status.get_attribute("data-status")) != "succeeded":
            assert text != "failed", page.get_by_test_id("run-error").inner_text()
            shown = page.get_by_test_id("progress-bar")
            if shown.count():
                progress = page.get_by_test_id("progress-text").inner_text()
                if not record.progress or record.progress[-1] != progress:
                    record.progress.append(progress)
                    changed = time.monotonic()
            assert time.monotonic() - changed < RUN_STALL_S, f"the page is stuck at {text!r}"
            page.wait_for_timeout(100)
        expect(page.get_by_test_id("run-charts")).to_have_attribute("data-ready", "true")
        record.progress.append(page.get_by_test_id("progress-text").inner_text())
        yield record, page
    finally:
        context.close()
    assert not errors.messages, errors.messages


def test_the_live_page_fetches_only_what_grew(
    live_run: tuple[LiveRecord, Page], api: httpx.Client
) -> None:
    record, _ = live_run
    trained_s = api.get(f"/runs/{record.run_id}").json()["duration_s"]
    # The series: a first read of everything, then per key only the steps after the last one
    # held, then (the run ended) one last full read at the page's resolution.
    held: dict[str, dict[str, int]] = {}  # per points budget: key -> last step held
    full_reads: dict[str, int] = {}  # per points budget
    tail_reads, tail_points, full_points = 0, 0, 0
    for response in record.metrics:
        query = parse_qs(urlparse(response.url).query)
        keys = query["keys"][0].split(",")
        page_held = held.setdefault(query["points"][0], {})
        series = {s["key"]: s["steps"] for s in response.json()["series"]}
        if "start" not in query:
            if any(series.values()):  # a read before the first point has nothing to go on from
                full_reads[query["points"][0]] = full_reads.get(query["points"][0], 0) + 1
            full_points += sum(len(steps) for steps in series.values())
            page_held.clear()
            page_held.update({k: steps[-1] for k, steps in series.items() if steps})
            continue
        tail_reads += 1
        start = int(query["start"][0])
        for key in keys:
            # Exactly the steps after the last one held of this key (from 0 for a key without
            # any): nothing the page holds is asked for again.
            assert start == page_held.get(key, -1) + 1, (key, start, page_held.get(key))
        for key, steps in series.items():
            assert all(step >= start for step in steps), (key, start, steps[:3])
            tail_points += len(steps)
            if steps:
                page_held[key] = max(steps[-1], page_held.get(key, -1))
    # How many depends on the machine's speed against the 2 s refresh throttle: a run that
    # trained for several throttle periods was read in tails at least once.
    if trained_s is not None and trained_s > 3 * 2.0:
        assert tail_reads >= 1, (tail_reads, len(record.metrics), trained_s)
    # The page open (or resized), and the run's end: no full read of every series every 2 s.
    shapes = [
        (parse_qs(urlparse(r.url).query).get("start"), len(r.json()["series"]))
        for r in record.metrics
    ]
    assert all(n <= 2 for n in full_reads.values()), (full_reads, shapes)
    # Every key of the finished run is held to its last step.
    assert max(max(h.values()) for h in held.values()) == N_TASKS * ITERATIONS
    assert tail_points < full_points * 2, (tail_points, full_points)

    # The events: then only those from the last step held on.
    last_event_step: int | None = None
    for response in record.events:
        query = parse_qs(urlparse(response.url).query)
        events = response.json()["events"]
        if "start" in query:
            assert last_event_step is not None
            assert int(query["start"][0]) == last_event_step
            assert all(e["step"] >= last_event_step for e in events)
        if events:
            last_event_step = max(last_event_step or 0, events[-1]["step"])

    # The summary and the gaps: at the open, after each events answer with a task that newly
    # ended, and once at the run's end; never on a timer.
    for product in ("summary", "gaps"):
        allowed, unprompted, ended = 1, 0, 0  # the first read, at the open
        for what, n in record.timeline:
            if what == "ended":
                allowed += n - ended  # one read per task that newly ended
                ended = n
            elif what == product:
                if allowed > 0:
                    allowed -= 1
                else:
                    unprompted += 1
        # One read not prompted by a task end: the run's end.
        assert unprompted <= 1, (product, record.timeline)
        count = sum(1 for what, _ in record.timeline if what == product)
        assert count <= 2 + N_TASKS, (product, count)


def test_the_progress_follows_the_run_and_never_says_0_of_unknown(
    live_run: tuple[LiveRecord, Page],
) -> None:
    record, _ = live_run
    total = N_TASKS * ITERATIONS
    assert record.progress, record
    for text in record.progress:
        assert "?" not in text, record.progress
        # The spec's plan is the total from the start.
        assert f"/ {total:,} it" in text, record.progress
    assert record.progress[-1].startswith(f"{total:,} / {total:,} it (100.0%)"), record.progress
    steps = [int(t.split(" / ")[0].replace(",", "")) for t in record.progress]
    assert steps == sorted(steps), steps


def test_task_labels_are_painted_above_the_plot_area(
    live_run: tuple[LiveRecord, Page], screenshots: Path
) -> None:
    _, page = live_run
    ratio = page.evaluate("window.devicePixelRatio")
    for j in range(N_TASKS):
        chart = page.get_by_test_id(f"task-chart-{j}")
        canvas = chart.locator("canvas").first
        over = chart.locator(".u-over")
        c, o = canvas.bounding_box(), over.bounding_box()
        assert c is not None and o is not None
        plot_top = (o["y"] - c["y"]) * ratio  # the plot area's top, in canvas pixels
        canvas_id = canvas.evaluate("c => window.__canvasId(c)")
        calls = page.evaluate(
            "id => window.__fillText.filter(c => c.canvas === id && /^task \\d+$/.test(c.text))",
            canvas_id,
        )
        labels = {call["text"]: call for call in calls}  # the last paint of each label
        assert set(labels) == {f"task {k}" for k in range(N_TASKS)}, (j, sorted(labels))
        for call in labels.values():
            # Drawn from the bottom up to a baseline above the plot's top edge: no curve near
            # 100% runs under it.
            assert call["baseline"] == "bottom" and call["align"] == "left", call
            assert call["x"] >= (o["x"] - c["x"]) * ratio, (j, call)
            assert call["y"] <= plot_top, (j, call, plot_top)
            assert call["y"] > plot_top - 16 * ratio, (j, call, plot_top)
    # No label left inside the plots as DOM text.
    expect(page.locator(".u-over .task-span-label")).to_have_count(0)
    page.get_by_test_id("task-chart-0").screenshot(path=str(screenshots / "run-task-labels.png"))


def test_the_png_carries_the_title_and_task_labels_and_svg_pdf_point_at_the_figures(
    live_run: tuple[LiveRecord, Page], screenshots: Path
) -> None:
    record, page = live_run
    run_id = record.run_id
    for fmt in ("svg", "pdf"):
        link = page.get_by_test_id(f"export-{fmt}")
        expect(link).to_have_attribute("href", f"/api/v1/runs/{run_id}/figures/accuracy.{fmt}")
        assert link.get_attribute("download") is not None

    before = page.evaluate("window.__fillText.length")
    with page.expect_download() as png:
        page.get_by_test_id("export-png").click()
    download = png.value
    assert download.suggested_filename == f"gapwatch-run-{run_id}-live-split-digits.png"
    drawn = page.evaluate("n => window.__fillText.slice(n).filter(c => !c.attached)", before)
    title = f"live split-digits #{run_id}"
    assert title in [c["text"] for c in drawn], drawn

    image = Image.open(io.BytesIO(Path(download.path()).read_bytes())).convert("RGB")
    image.save(screenshots / "run-export.png")
    ratio = page.evaluate("window.devicePixelRatio")
    background = image.getpixel((2, 2))

    def ink(box: tuple[float, float, float, float]) -> int:
        """Pixels in `box` (CSS px of the image) that differ from the background."""
        left, top, right, bottom = (round(v * ratio) for v in box)
        crop = image.crop((left, top, right, bottom))
        return sum(1 for pixel in crop.get_flattened_data() if distance(pixel, background) > 60)

    # The title band, above every chart.
    assert ink((16, 14, 260, 40)) > 40
    # The "task 0" label of the first chart, where the export put that chart's label band:
    # the charts keep their page layout under a 16 px margin and the 50 px title band.
    charts = page.locator(".ts-chart").evaluate_all(
        "cs => cs.filter(c => c.offsetParent).map(c => c.getBoundingClientRect())"
        ".map(r => ({x: r.left, y: r.top}))"
    )
    left = min(c["x"] for c in charts)
    top = min(c["y"] for c in charts)
    over = page.get_by_test_id("task-chart-0").locator(".u-over").bounding_box()
    assert over is not None
    x = over["x"] - left + 16
    y = over["y"] - top + 16 + 50
    assert ink((x + 3, y - 15, x + 40, y - 2)) > 10


# --- a loop run with points but no heartbeat ----------------------------------------------


def test_a_loop_run_with_points_but_no_heartbeat_shows_their_progress(
    page: Page, dashboard_url: str, api: httpx.Client
) -> None:
    opened = api.post("/runs/init", json={"name": "loop without heartbeats"})
    assert opened.status_code == 201, opened.text
    run_id, token = opened.json()["run"]["id"], opened.json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    steps = list(range(0, 841, 20))
    series = [{"key": "eval/acc/task_0", "steps": steps, "values": [0.9] * len(steps)}]
    stored = api.post(f"/runs/{run_id}/metrics", json={"series": series}, headers=auth)
    assert stored.status_code == 200, stored.text
    events = [{"step": 0, "kind": "task_start", "payload": {"task": 0}}]
    assert api.post(f"/runs/{run_id}/events", json={"events": events}, headers=auth).is_success
    assert api.get(f"/runs/{run_id}").json()["progress"]["step"] == 0  # no heartbeat

    page.goto(f"{dashboard_url}/runs/{run_id}")
    expect(page.get_by_test_id("run-charts")).to_have_attribute("data-ready", "true")
    # The chart shows 90% up to step 840: so does the progress (no total: the loop gave none).
    expect(page.get_by_test_id("progress-text")).to_have_text(re.compile(r"^step 840\b"))

    finished = api.post(f"/runs/{run_id}/finish", json={"status": "succeeded"}, headers=auth)
    assert finished.status_code == 200, finished.text
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "succeeded")
    expect(page.get_by_test_id("progress-text")).to_have_text(
        re.compile(r"^840 / 840 it \(100\.0%\)")
    )
