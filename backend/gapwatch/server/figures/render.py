"""Paper figures as vector files: data in, SVG or PDF bytes out. No database, no HTTP.

Drawn with matplotlib's object API (a `Figure` of its own per call, never pyplot's global
figures), imported on first use so that an API process that draws no figure never loads it.
Text stays text: SVG writes `<text>` elements (svg.fonttype "none") and PDF embeds TrueType
fonts (pdf.fonttype 42), so titles and labels can be searched, copied and edited in a paper.

Long curves are reduced before drawing with M4 (`gapwatch.server.metrics.chunks.m4`, the
store's own downsampling): per column of COLUMNS_PER_INCH the first, last, lowest and highest
point, so every dip the data holds is still drawn, however many iterations a run has.
Matplotlib's own path simplification is turned off for the same reason.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from gapwatch.server.metrics.chunks import Points, m4

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FigureFormat = Literal["svg", "pdf"]
MEDIA_TYPES: dict[str, str] = {"svg": "image/svg+xml", "pdf": "application/pdf"}

WIDTH_IN = 7.0
"""A two-column paper's full text width; the height keeps the plot readable at that size."""
HEIGHT_IN = 3.4
COLUMNS_PER_INCH = 144
"""Downsampling columns per inch: two per point (1/72 in), so a column is half as wide as the
1 pt line that draws it and no drawn detail depends on which points were kept."""
COLUMNS = round(WIDTH_IN * COLUMNS_PER_INCH)
"""Columns across the whole figure's width: at least as many as the plot area has."""
LEGEND_BESIDE_MAX_CHARS = 16
"""A legend whose labels are all this short stands beside the plot, else below it."""
BOUNDARY_LABEL_MIN_WIDTH = 0.045
"""A task span narrower than this share of the plot width gets no "task k" label."""

_STYLE: dict[str, Any] = {
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "svg.hashsalt": "gapwatch",  # ids in the SVG are the same for the same figure
    "path.simplify": False,
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "0.9",
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.0,
}
# Matplotlib is not thread-safe and its settings are process-wide: figures are drawn one at a
# time (each takes a fraction of a second), under the style above, restored afterwards.
_LOCK = threading.Lock()

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Line:
    """One curve: `values` (fractions, 0.12 = 12 %) at `steps`, labelled in the legend."""

    label: str
    steps: IntArray
    values: FloatArray


@dataclass(frozen=True)
class Span:
    """Task `task` trained on iterations [start, end); end None while it is trained."""

    task: int
    start: int
    end: int | None = None


@dataclass(frozen=True)
class Trough:
    """The lowest point of a stability gap: `lines[line]` at `step` is `value`."""

    line: int
    step: int
    value: float


class Band(Protocol):
    """What `aligned_figure` draws: `gapwatch.analytics.aligned.AlignedBand`'s fields."""

    @property
    def offsets(self) -> IntArray: ...
    @property
    def mean(self) -> FloatArray: ...
    @property
    def lower(self) -> FloatArray: ...
    @property
    def upper(self) -> FloatArray: ...


@contextmanager
def _figure() -> Iterator[Figure]:
    import matplotlib
    from matplotlib.figure import Figure

    with _LOCK, matplotlib.rc_context(_STYLE):
        yield Figure(figsize=(WIDTH_IN, HEIGHT_IN), layout="constrained")


def _save(figure: Figure, fmt: FigureFormat, title: str) -> bytes:
    buffer = io.BytesIO()
    # The title in the file's metadata; no creation date: the same data gives the same bytes.
    metadata = {"Title": title, "Date" if fmt == "svg" else "CreationDate": None}
    figure.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


def downsample(steps: IntArray, values: FloatArray, lo: int, hi: int, buckets: int) -> Points:
    """The M4 points of (steps, values) over [lo, hi] split into `buckets` columns: at most
    4 per column, every column's minimum and maximum among them. Short curves are kept whole;
    NaN values are dropped (a point that was not measured is not drawn)."""
    finite = np.isfinite(values)
    points = Points(np.asarray(steps[finite], np.int64), np.asarray(values[finite], np.float64))
    if len(points) <= 4 * buckets:
        return points
    return m4(points, lo, hi + 1, buckets)


def extent(lines: Sequence[Line], spans: Sequence[Span]) -> tuple[int, int] | None:
    """The iterations [lo, hi] a figure of `lines` and `spans` covers (None: nothing to draw)."""
    firsts = [int(line.steps[0]) for line in lines if line.steps.size]
    lasts = [int(line.steps[-1]) for line in lines if line.steps.size]
    firsts += [span.start for span in spans]
    lasts += [span.end for span in spans if span.end is not None]
    if not firsts:
        return None
    lo, hi = min(firsts), max(lasts or firsts)
    return lo, max(hi, lo + 1)


def _colours(count: int) -> list[Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if count <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(count)]


def _task_spans(axes: Axes, spans: Sequence[Span], lo: int, hi: int) -> None:
    """Dashed lines at the boundaries, and each task's name above the plot area."""
    from matplotlib.transforms import blended_transform_factory

    above = blended_transform_factory(axes.transData, axes.transAxes)
    ordered = sorted(spans, key=lambda s: s.start)
    for i, span in enumerate(ordered):
        if i > 0:
            line = axes.axvline(span.start, color="0.45", linestyle="--", linewidth=0.7)
            line.set_gid(f"boundary-{span.task}")
        end = ordered[i + 1].start if i + 1 < len(ordered) else (span.end or hi)
        first, last = max(span.start, lo), min(end, hi)
        if last <= first or (last - first) / (hi - lo) < BOUNDARY_LABEL_MIN_WIDTH:
            continue
        label = axes.text(
            (first + last) / 2,
            1.015,
            f"task {span.task}",
            transform=above,
            ha="center",
            va="bottom",
            fontsize=8,
            color="0.3",
            clip_on=False,
        )
        label.set_gid(f"task-label-{span.task}")


def _legend(figure: Figure, handles: list[Any], labels: list[str]) -> None:
    """Beside the plot for short labels (task names); below it for long ones (run names,
    configurations), so that they do not squeeze the plot."""
    if not labels:
        return
    if max(len(label) for label in labels) <= LEGEND_BESIDE_MAX_CHARS:
        where, ncols = "outside right upper", math.ceil(len(labels) / 16)
    else:
        where, ncols = "outside lower center", min(len(labels), 2)
    legend = figure.legend(
        handles, labels, loc=where, ncols=max(1, ncols), frameon=False, handlelength=1.5
    )
    legend.set_gid("legend")


def _iterations(axes: Axes) -> None:
    """Iterations on the x axis: whole numbers, with thousands separators (100,000) and a
    true minus sign."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}".replace("-", "\u2212")))


def _nothing(axes: Axes, what: str) -> None:
    axes.text(
        0.5, 0.5, what, transform=axes.transAxes, ha="center", va="center", color="0.4"
    ).set_gid("empty")


def accuracy_figure(
    title: str,
    lines: Sequence[Line],
    *,
    spans: Sequence[Span] = (),
    troughs: Sequence[Trough] = (),
    y_label: str = "accuracy (%)",
    fmt: FigureFormat = "svg",
) -> bytes:
    """Accuracy curves over iterations (one per line, in percent), dashed task boundaries
    with each task's name above the plot, and a marker at each trough.

    In the SVG each curve is the group `curve-<index>`, each boundary `boundary-<task>`, the
    task names `task-label-<task>` and the trough markers of a curve `troughs-<index>`.
    """
    with _figure() as figure:
        axes = figure.add_subplot()
        axes.set_title(title, pad=16, loc="left")
        axes.set_xlabel("iteration")
        axes.set_ylabel(y_label)
        axes.set_ylim(-1, 101)
        axes.set_yticks([0, 20, 40, 60, 80, 100])
        span = extent(lines, spans)
        if span is None:
            _nothing(axes, "no accuracy points yet")
            return _save(figure, fmt, title)
        lo, hi = span
        axes.set_xlim(lo, hi)
        _iterations(axes)
        colours = _colours(len(lines))
        for i, line in enumerate(lines):
            drawn = downsample(line.steps, line.values, lo, hi, COLUMNS)
            (artist,) = axes.plot(
                drawn.steps, drawn.values * 100, color=colours[i], label=line.label
            )
            artist.set_gid(f"curve-{i}")
        by_line: dict[int, list[Trough]] = {}
        for trough in troughs:
            if 0 <= trough.line < len(lines):
                by_line.setdefault(trough.line, []).append(trough)
        for i, marks in sorted(by_line.items()):
            (artist,) = axes.plot(
                [t.step for t in marks],
                [t.value * 100 for t in marks],
                linestyle="none",
                marker="v",
                markersize=4.5,
                markerfacecolor=colours[i],
                markeredgecolor="black",
                markeredgewidth=0.5,
                zorder=3,
            )
            artist.set_gid(f"troughs-{i}")
        _task_spans(axes, spans, lo, hi)
        _legend(figure, *axes.get_legend_handles_labels())
        return _save(figure, fmt, title)


def aligned_figure(
    title: str,
    series: Sequence[tuple[str, Band]],
    *,
    fmt: FigureFormat = "svg",
) -> bytes:
    """The boundary-aligned view: per series the mean change of accuracy since the boundary
    (in points) over iterations since it, with its 95% band; a dashed line at the boundary.

    In the SVG each mean is the group `mean-<index>` and each band `band-<index>`.
    """
    from matplotlib.patches import Patch

    with _figure() as figure:
        axes = figure.add_subplot()
        axes.set_title(title, pad=8, loc="left")
        axes.set_xlabel("iterations since the task boundary")
        axes.set_ylabel("accuracy change (points)")
        drawn_any = False
        colours = _colours(len(series))
        offsets = [np.asarray(band.offsets) for _, band in series if np.asarray(band.offsets).size]
        lo = int(min(o[0] for o in offsets)) if offsets else 0
        hi = int(max(o[-1] for o in offsets)) if offsets else 1
        for i, (label, band) in enumerate(series):
            steps = np.asarray(band.offsets, np.int64)
            mean = np.asarray(band.mean, np.float64)
            lower = np.asarray(band.lower, np.float64)
            upper = np.asarray(band.upper, np.float64)
            if not np.isfinite(mean).any():
                continue
            drawn_any = True
            both = np.isfinite(lower) & np.isfinite(upper)
            if both.any():
                fill = axes.fill_between(
                    steps[both],
                    lower[both] * 100,
                    upper[both] * 100,
                    color=colours[i],
                    alpha=0.2,
                    linewidth=0,
                )
                fill.set_gid(f"band-{i}")
            line = downsample(steps, mean, lo, hi, COLUMNS)
            (artist,) = axes.plot(line.steps, line.values * 100, color=colours[i], label=label)
            artist.set_gid(f"mean-{i}")
        if not drawn_any:
            _nothing(axes, "no eligible boundary rows yet")
            return _save(figure, fmt, title)
        axes.set_xlim(lo, max(hi, lo + 1))
        _iterations(axes)
        axes.axhline(0, color="0.3", linewidth=0.6).set_gid("zero")
        axes.axvline(0, color="0.45", linestyle="--", linewidth=0.7).set_gid("boundary")
        handles, labels = axes.get_legend_handles_labels()
        handles.append(Patch(color="0.5", alpha=0.3, linewidth=0))
        labels.append("95% CI")
        _legend(figure, handles, labels)
        return _save(figure, fmt, title)
