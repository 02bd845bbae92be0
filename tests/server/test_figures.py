"""Paper figures (SVG and PDF) of a run, of compared runs and of the aligned view: opened and read
back (the SVG with xml.etree, the PDF's text from its content streams), on PostgreSQL."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
import zlib
from typing import Any

import numpy as np
import pytest

from gapwatch import analytics
from gapwatch.server.figures import render, service
from gapwatch.server.models import Role
from tests.server.analytics_helpers import (
    CURVES,
    EVENTS,
    RUN,
    hand_computed_run,
    post_events,
    post_points,
)
from tests.server.conftest import BASE_URL, SPEC, claim, create_run, make_account

SVG = "{http://www.w3.org/2000/svg}"
approx = pytest.approx


def parse_svg(content: bytes) -> ET.Element:
    root = ET.fromstring(content)
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    """Every <text> of the SVG (svg.fonttype "none" keeps text as text)."""
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def svg_download(api: Any, url: str, filename: str) -> ET.Element:
    """GET the figure: an SVG download under `filename`, parsed."""
    response = api.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
    return parse_svg(response.content)


def group(root: ET.Element, gid: str) -> ET.Element | None:
    return root.find(f".//{SVG}g[@id='{gid}']")


def groups(root: ET.Element, prefix: str) -> list[str]:
    return [g.get("id", "") for g in root.iter(f"{SVG}g") if g.get("id", "").startswith(prefix)]


def paths(element: ET.Element) -> list[ET.Element]:
    return list(element.iter(f"{SVG}path"))


def vertices(path: ET.Element) -> np.ndarray:
    """The (x, y) points of an SVG path's `d`."""
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", path.get("d", ""))]
    return np.array(numbers).reshape(-1, 2)


def _unescape(literal: bytes) -> bytes:
    """A PDF literal string's bytes (backslash escapes resolved)."""
    escapes = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}

    def one(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        return bytes([int(code, 8)]) if code[:1].isdigit() else escapes.get(code, code)

    return re.sub(rb"\\([0-7]{1,3}|.)", one, literal, flags=re.S)


def _to_unicode(cmap: bytes) -> dict[int, str]:
    """A ToUnicode CMap's bfchar and bfrange entries: {character code: text}."""

    def text(hex_: bytes) -> str:
        return bytes.fromhex(hex_.decode()).decode("utf-16-be")

    out: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
        for code, target in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            out[int(code, 16)] = text(target)
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
        for lo, hi, rest in re.findall(
            rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*(\[[^\]]*\]|<[0-9a-fA-F]+>)", block
        ):
            targets = re.findall(rb"<([0-9a-fA-F]+)>", rest)
            for i, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                if rest.startswith(b"["):
                    out[code] = text(targets[i])
                else:
                    out[code] = chr(int(targets[0], 16) + i)
    return out


def pdf_text(pdf: bytes) -> list[str]:
    """The text of each text operator (TJ) of the PDF, decoded through its fonts' ToUnicode
    maps as a PDF reader extracts it (matplotlib writes a few objects, streams compressed)."""
    objects = {int(n): body for n, body in re.findall(rb"(\d+) 0 obj\s*(.*?)endobj", pdf, re.S)}

    def stream(number: int) -> bytes:
        body = objects[number]
        raw = re.search(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S)
        assert raw is not None
        return zlib.decompress(raw.group(1)) if b"/FlateDecode" in body else raw.group(1)

    fonts: dict[bytes, dict[int, str]] = {}
    for body in objects.values():
        if re.fullmatch(rb"<<(\s*/F\d+ \d+ 0 R)+\s*>>\s*", body):  # the page's fonts
            for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", body):
                unicode = re.search(rb"/ToUnicode (\d+) 0 R", objects[int(ref)])
                assert unicode is not None, name  # every font can be read back as text
                fonts[name] = _to_unicode(stream(int(unicode.group(1))))
    out = []
    for number, body in objects.items():
        if b"stream" not in body:
            continue
        content = stream(number)
        font: dict[int, str] = {}
        # One text object (BT ... ET) per string drawn; a string set in two font subsets (a
        # ligature's glyph, a minus sign) shows its pieces with one TJ each.
        for block in re.findall(rb"\bBT\b(.*?)\bET\b", content, re.S):
            pieces = []
            for name, array in re.findall(rb"/(F\d+) [\d.]+ Tf|\[(.*?)\]\s*TJ", block, re.S):
                if name:
                    font = fonts[name]
                    continue
                literals = re.findall(rb"\(((?:\\.|[^\\)])*)\)", array, re.S)
                codes = b"".join(_unescape(literal) for literal in literals)
                pieces += [font[int.from_bytes(codes[i : i + 2])] for i in range(0, len(codes), 2)]
            out.append("".join(pieces))
    return out


def title_of(api: Any, run_id: int) -> str:
    """A run as figures name it: its name and id, or its id alone."""
    name = api.get(f"/api/v1/runs/{run_id}").json()["name"]
    return f"{name} (run {run_id})" if name else f"run {run_id}"


# --- a run's accuracy figure --------------------------------------------------------------------


def test_the_accuracy_svg_names_the_run_its_axes_tasks_and_boundaries(api) -> None:
    run_id, _ = hand_computed_run(api, name="split-digits er")
    root = svg_download(
        api, f"/api/v1/runs/{run_id}/figures/accuracy.svg", f"run-{run_id}-accuracy.svg"
    )
    words = texts(root)
    title = f"split-digits er (run {run_id})"
    assert title_of(api, run_id) == title and title in words
    assert "iteration" in words and "accuracy (%)" in words
    # One curve per task, each one path, named in the legend.
    assert sorted(groups(root, "curve-")) == ["curve-0", "curve-1", "curve-2"]
    for i in range(3):
        assert len(paths(group(root, f"curve-{i}"))) == 1
        assert words.count(f"task {i}") == 2  # the legend and the label above its span
    # Dashed lines at the boundaries s_1 = 2 and s_2 = 4, each task named above the plot.
    assert sorted(groups(root, "boundary-")) == ["boundary-1", "boundary-2"]
    plot_top = min(vertices(paths(group(root, "boundary-1"))[0])[:, 1])
    for k in range(3):
        (label,) = group(root, f"task-label-{k}").iter(f"{SVG}text")
        assert label.text == f"task {k}"
        assert float(label.get("y")) < plot_top  # above the plot area (SVG y grows downwards)
    # A trough marker for each dip of the gap table: tasks 0 and 1 at boundary 2 (step 6).
    assert sorted(groups(root, "troughs-")) == ["troughs-0", "troughs-1"]
    for gid in ("troughs-0", "troughs-1"):
        assert len(list(group(root, gid).iter(f"{SVG}use"))) == 1


def test_the_figure_draws_what_the_store_and_gap_table_hold(api, monkeypatch) -> None:
    run_id, _ = hand_computed_run(api)
    drawn: dict[str, Any] = {}

    def capture(title: str, lines: Any, **kwargs: Any) -> bytes:
        drawn.update(title=title, lines=lines, **kwargs)
        return b"<svg/>"

    monkeypatch.setattr(render, "accuracy_figure", capture)
    assert api.get(f"/api/v1/runs/{run_id}/figures/accuracy.svg").status_code == 200
    assert [line.label for line in drawn["lines"]] == ["task 0", "task 1", "task 2"]
    for line, (steps, values) in zip(drawn["lines"], CURVES.values(), strict=True):
        assert line.steps.tolist() == steps and line.values.tolist() == values
    assert drawn["spans"] == [render.Span(0, 0, 2), render.Span(1, 2, 4), render.Span(2, 4, 6)]
    # Boundary 2 (s = 4): task 0 falls from 0.95 to 0.7 and task 1 from 0.8 to 0.6, at step 6.
    assert drawn["troughs"] == [render.Trough(0, 6, 0.7), render.Trough(1, 6, 0.6)]


def test_the_accuracy_pdf_keeps_its_text_as_text(api) -> None:
    run_id, _ = hand_computed_run(api, name="split-digits er")
    response = api.get(f"/api/v1/runs/{run_id}/figures/accuracy.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="run-{run_id}-accuracy.pdf"'
    )
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    # TrueType fonts embedded (pdf.fonttype 42), no Type 3 glyph drawings.
    assert b"/FontFile2" in pdf and b"/Type3" not in pdf
    words = pdf_text(pdf)
    assert f"split-digits er (run {run_id})" in words
    assert {"iteration", "accuracy (%)", "task 0", "task 1", "task 2"} <= set(words)


def test_a_run_without_points_has_an_empty_figure(api) -> None:
    run = create_run(api)
    response = api.get(f"/api/v1/runs/{run['id']}/figures/accuracy.svg")
    assert response.status_code == 200
    root = parse_svg(response.content)
    assert "no accuracy points yet" in texts(root) and not groups(root, "curve-")
    assert f"run {run['id']}" in texts(root)  # a run without a name is named by its id


def test_figures_of_runs_the_caller_cannot_see(api, anonymous, app, db_session_factory) -> None:
    from fastapi.testclient import TestClient

    run_id, _ = hand_computed_run(api)
    paths_ = [
        f"/api/v1/runs/{run_id}/figures/accuracy.svg",
        f"/api/v1/runs/{run_id}/figures/aligned.pdf",
        f"/api/v1/compare/figures/accuracy.svg?runs={run_id}",
    ]
    stranger = make_account(db_session_factory, "bob", project="vision")
    viewer = make_account(db_session_factory, "vera", role=Role.viewer)
    narrowed = make_account(db_session_factory, "olga", key_project="vision")
    for account, status in ((stranger, 404), (narrowed, 404), (viewer, 200)):
        client = TestClient(app, base_url=BASE_URL, headers=account.auth)
        for path in paths_[:1] + paths_[2:]:
            assert client.get(path).status_code == status, (account.name, path)
    for path in paths_:
        assert anonymous.get(path).status_code == 401, path
    for path in (
        "/api/v1/runs/987654/figures/accuracy.svg",
        "/api/v1/runs/987654/figures/aligned.svg",
        f"/api/v1/compare/figures/accuracy.pdf?runs={run_id},987654",
    ):
        response = api.get(path)
        assert response.status_code == 404 and "987654" in response.json()["detail"], path
    for bad in (
        f"/api/v1/runs/{run_id}/figures/accuracy.png",
        f"/api/v1/runs/{run_id}/figures/accuracy.svg.pdf",
        "/api/v1/compare/figures/accuracy.svg?runs=one",
        "/api/v1/compare/figures/accuracy.svg",
    ):
        assert api.get(bad).status_code in (404, 422), bad


# --- comparison figure --------------------------------------------------------------------------


def test_seen_average_is_the_mean_over_the_tasks_trained_so_far() -> None:
    curves = [analytics.Curve.of(steps, values) for steps, values in CURVES.values()]
    schedule = analytics.Schedule((0, 2, 4), (2, 4, 6))
    steps, values = service.seen_average(curves, schedule)
    # Step 0: nothing trained yet. 2: task 0. 4: tasks 0 and 1. 6: all three.
    assert steps.tolist() == [2, 4, 6]
    assert values.tolist() == approx([0.9, (0.95 + 0.8) / 2, (0.7 + 0.6 + 0.9) / 3])
    # A seen task not evaluated at a step leaves that step out.
    gappy = [curves[0], analytics.Curve.of([0, 2, 6], [0.2, 0.3, 0.6]), curves[2]]
    steps, _ = service.seen_average(gappy, schedule)
    assert steps.tolist() == [2, 6]


def test_the_compare_figure_has_one_line_per_run_with_its_name_and_id(api) -> None:
    first, _ = hand_computed_run(api, name="er seed 1")
    second, _ = hand_computed_run(api, name="er seed 2")
    root = svg_download(
        api,
        f"/api/v1/compare/figures/accuracy.svg?runs={first},{second}",
        f"compare-{first}-{second}-accuracy.svg",
    )
    words = texts(root)
    assert "Average accuracy over seen tasks" in words
    assert f"er seed 1 (run {first})" in words and f"er seed 2 (run {second})" in words
    assert "average accuracy over seen tasks (%)" in words and "iteration" in words
    assert sorted(groups(root, "curve-")) == ["curve-0", "curve-1"]
    for gid in ("curve-0", "curve-1"):
        (path,) = paths(group(root, gid))
        assert len(vertices(path)) == 3  # steps 2, 4 and 6
    assert sorted(groups(root, "boundary-")) == ["boundary-1", "boundary-2"]  # shared
    pdf = api.get(f"/api/v1/compare/figures/accuracy.pdf?runs={first},{second}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert f"er seed 2 (run {second})" in pdf_text(pdf.content)


# --- boundary-aligned figure --------------------------------------------------------------------


def test_the_aligned_figure_of_a_run(api) -> None:
    run_id, _ = hand_computed_run(api)
    url = f"/api/v1/runs/{run_id}/figures/aligned.svg"
    root = svg_download(api, url, f"run-{run_id}-aligned.svg")
    band = api.get(f"/api/v1/runs/{run_id}/aligned").json()
    words = texts(root)
    assert title_of(api, run_id) in words
    assert "iterations since the task boundary" in words
    assert "accuracy change (points)" in words
    assert f"mean over {band['rows']} boundary rows" in words and "95% CI" in words
    (mean,) = paths(group(root, "mean-0"))
    defined = [m for m in band["mean"] if m is not None]
    assert len(vertices(mean)) == len(defined) > 0
    assert group(root, "boundary") is not None
    pdf = api.get(f"/api/v1/runs/{run_id}/figures/aligned.pdf", params={"margin": 4})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert "accuracy change (points)" in pdf_text(pdf.content)
    assert api.get(f"/api/v1/runs/{run_id}/figures/aligned.svg?margin=-1").status_code == 422


def test_the_aligned_figure_draws_each_series_with_its_band() -> None:
    offsets = np.arange(-2, 5)
    mean = np.array([0.0, 0.0, -0.3, -0.2, np.nan, -0.05, 0.0])
    half = np.array([np.nan, 0.01, 0.05, 0.04, np.nan, 0.02, 0.01])
    band = analytics.AlignedBand(offsets, mean, mean - half, mean + half, np.full(7, 3))
    flat = analytics.AlignedBand(offsets, mean / 2, mean / 2, mean / 2, np.full(7, 3))
    root = parse_svg(render.aligned_figure("sweep 3", [("er", band), ("finetune", flat)]))
    words = texts(root)
    assert {"sweep 3", "er", "finetune", "95% CI"} <= set(words)
    (first,) = paths(group(root, "mean-0"))
    assert len(vertices(first)) == 6  # the NaN offset is left out, the line joins across it
    assert group(root, "band-0") is not None and group(root, "band-1") is not None
    # The same data gives the same file (no date, fixed ids): a figure can be versioned.
    for fmt in ("svg", "pdf"):
        twice = [render.aligned_figure("sweep 3", [("er", band)], fmt=fmt) for _ in range(2)]
        assert twice[0] == twice[1], fmt
    empty = analytics.AlignedBand(*(np.empty(0) for _ in range(5)))
    assert "no eligible boundary rows yet" in texts(parse_svg(render.aligned_figure("x", [])))
    assert "no eligible boundary rows yet" in texts(
        parse_svg(render.aligned_figure("x", [("a", empty)]))
    )


# --- long runs ----------------------------------------------------------------------------------


def long_run(tasks: int = 10, iterations: int = 10_000) -> list[render.Line]:
    """`tasks` tasks of `iterations` each, every task evaluated at every iteration."""
    rng = np.random.default_rng(0)
    steps = np.arange(tasks * iterations, dtype=np.int64)
    lines = []
    for j in range(tasks):
        values = np.where(steps < j * iterations, 0.1, 0.95 + 0.02 * rng.random(steps.size))
        lines.append(render.Line(f"task {j}", steps, values))
    return lines


def test_a_long_run_renders_in_well_under_a_second_and_keeps_every_dip() -> None:
    lines = long_run()
    spans = [render.Span(k, k * 10_000, (k + 1) * 10_000) for k in range(10)]
    # One iteration of task 0 at 5 %, 1,234 iterations into task 7: a dip of one point.
    dipped = lines[0].values.copy()
    dipped[71_234] = 0.05
    lines[0] = render.Line("task 0", lines[0].steps, dipped)
    render.accuracy_figure("warm-up", lines[:1])  # matplotlib's first import and font cache
    for fmt in ("svg", "pdf"):
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            content = render.accuracy_figure("long", lines, spans=spans, fmt=fmt)
            best = min(best, time.perf_counter() - started)
        assert best < 1.0, (fmt, best)
    root = parse_svg(content := render.accuracy_figure("long", lines, spans=spans))
    with_dip = vertices(paths(group(root, "curve-0"))[0])
    without = vertices(paths(group(root, "curve-1"))[0])
    assert len(with_dip) <= 4 * render.COLUMNS  # M4: at most four points per column
    # Task 0's path reaches down to the dip: its lowest point is far below anything of the
    # (same-shaped) curve of task 1 once that task is trained.
    trained = without[without[:, 0] >= np.median(without[:, 0])]
    assert with_dip[:, 1].max() > trained[:, 1].max() + 0.5 * (
        with_dip[:, 1].max() - trained[:, 1].min()
    )
    assert len(content) < 2_000_000


def test_downsampling_keeps_each_columns_extremes() -> None:
    steps = np.arange(1_000_000, dtype=np.int64)
    values = np.full(steps.size, 0.9)
    values[123_457] = 0.01
    values[987_654] = 0.99
    drawn = render.downsample(steps, values, 0, steps.size - 1, render.COLUMNS)
    assert len(drawn) <= 4 * render.COLUMNS
    assert 123_457 in drawn.steps.tolist() and 987_654 in drawn.steps.tolist()
    assert drawn.steps[0] == 0 and drawn.steps[-1] == steps.size - 1
    short = render.downsample(steps[:10], values[:10], 0, 9, render.COLUMNS)
    assert short.steps.tolist() == list(range(10))


def test_a_live_run_figure_follows_new_points(api) -> None:
    run = create_run(api, **{"evaluation": {"every": 1, "subset_size": 50}})
    auth = claim(api, run["id"])
    post_events(api, run["id"], auth, [{"step": 0, "kind": "task_start", "payload": {"task": 0}}])
    post_points(api, run["id"], auth, {"eval/acc/task_0": ([0, 1], [0.2, 0.6])})
    path = f"/api/v1/runs/{run['id']}/figures/accuracy.svg"
    first = vertices(paths(group(parse_svg(api.get(path).content), "curve-0"))[0])
    post_points(api, run["id"], auth, {"eval/acc/task_0": ([2, 3], [0.7, 0.8])})
    second = vertices(paths(group(parse_svg(api.get(path).content), "curve-0"))[0])
    assert (len(first), len(second)) == (2, 4)


# --- a sweep's aligned figure -------------------------------------------------------------------


def test_the_sweep_figure_has_a_line_and_band_per_configuration(api, db_session_factory) -> None:
    from fastapi.testclient import TestClient

    base = {**SPEC, **RUN, "strategy": {"name": "er", "buffer_size": 50}}
    axes = {"strategy.name": ["er", "finetune"], "seed": [0, 1]}
    response = api.post("/api/v1/sweeps", json={"name": "gap", "base": base, "axes": axes})
    assert response.status_code == 201, response.text
    sweep = response.json()
    for run_id in sweep["run_ids"]:  # every run has the hand-computed curves
        auth = claim(api, run_id)
        post_events(api, run_id, auth, EVENTS)
        post_points(api, run_id, auth, CURVES)
    path = f"/api/v1/sweeps/{sweep['id']}/figures/aligned.svg"
    root = svg_download(api, path, f"sweep-{sweep['id']}-aligned.svg")
    words = texts(root)
    assert f"gap (sweep {sweep['id']})" in words
    assert "strategy.name=er (n = 2)" in words and "strategy.name=finetune (n = 2)" in words
    assert "iterations since the task boundary" in words and "95% CI" in words
    assert sorted(groups(root, "mean-")) == ["mean-0", "mean-1"]
    # Two seeds with the same curves: a band of zero width, drawn all the same.
    assert sorted(groups(root, "band-")) == ["band-0", "band-1"]
    pdf = api.get(f"/api/v1/sweeps/{sweep['id']}/figures/aligned.pdf", params={"margin": 2})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert "strategy.name=finetune (n = 2)" in pdf_text(pdf.content)
    stranger = make_account(db_session_factory, "bob", project="vision")
    client = TestClient(api.app, base_url=BASE_URL, headers=stranger.auth)
    assert client.get(path).status_code == 404
    assert api.get("/api/v1/sweeps/987654/figures/aligned.svg").status_code == 404
