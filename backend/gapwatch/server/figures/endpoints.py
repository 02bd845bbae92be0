"""Paper figures as SVG or PDF downloads: a run's accuracy curves and its boundary-aligned view,
several runs' average accuracy side by side, and a sweep's aligned view per configuration."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from gapwatch.server.compare.service import MAX_RUNS, select_runs
from gapwatch.server.deps import MAX_ROW_ID, CacheDep, Caller, RowId, RunViewer, SessionDep
from gapwatch.server.edge import attachment
from gapwatch.server.figures import service
from gapwatch.server.figures.render import MEDIA_TYPES, FigureFormat
from gapwatch.server.summaries.schemas import (
    DEFAULT_MARGIN_QUERY,
    GapWindowQuery,
    MarginQuery,
)
from gapwatch.server.sweeps.service import authorize_sweep

router = APIRouter(tags=["figures"])

FormatPath = Annotated[
    Literal["svg", "pdf"],
    Path(description="svg (text kept as text) or pdf (TrueType fonts embedded)."),
]

# What a figure answers: the file itself, as a download.
FIGURE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The figure, as an attachment (Content-Disposition names the file).",
        "content": {
            MEDIA_TYPES["svg"]: {"schema": {"type": "string"}},
            MEDIA_TYPES["pdf"]: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def figure_response(content: bytes, fmt: FigureFormat, filename: str) -> Response:
    """`content` as a download named `filename`.`fmt`."""
    return attachment(content, MEDIA_TYPES[fmt], f"{filename}.{fmt}")


@router.get(
    "/runs/{run_id}/figures/accuracy.{fmt}",
    response_class=Response,
    responses=FIGURE_ANSWER,
    operation_id="runs-figure-accuracy",
)
def run_accuracy_figure(
    run: RunViewer, fmt: FormatPath, session: SessionDep, cache: CacheDep
) -> Response:
    """Every task's accuracy over iterations, with the task boundaries (named above the plot)
    and a marker at the trough of every dip of the run's gap table."""
    content = service.accuracy_figure(session, run, cache, fmt)
    return figure_response(content, fmt, f"run-{run.id}-accuracy")


@router.get(
    "/runs/{run_id}/figures/aligned.{fmt}",
    response_class=Response,
    responses=FIGURE_ANSWER,
    operation_id="runs-figure-aligned",
)
def run_aligned_figure(
    run: RunViewer,
    fmt: FormatPath,
    session: SessionDep,
    cache: CacheDep,
    gap_window: GapWindowQuery = None,
    margin: MarginQuery = DEFAULT_MARGIN_QUERY,
) -> Response:
    """The boundary-aligned view: mean accuracy change since each task boundary over the
    run's eligible (boundary, earlier task) rows, with its 95% band."""
    content = service.aligned_figure(session, run, cache, fmt, gap_window=gap_window, margin=margin)
    return figure_response(content, fmt, f"run-{run.id}-aligned")


def parse_run_ids(runs: str) -> list[int]:
    """Comma-separated run ids, each once, in the order given (422 naming `runs` if not)."""
    try:
        ids = list(dict.fromkeys(int(r) for r in runs.split(",") if r.strip()))
    except ValueError:
        ids = []
    if not ids or len(ids) > MAX_RUNS or min(ids) < 1 or max(ids) > MAX_ROW_ID:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "runs"),
                    "msg": f"give 1 to {MAX_RUNS} comma-separated run ids",
                    "input": runs,
                }
            ]
        )
    return ids


@router.get(
    "/compare/figures/accuracy.{fmt}",
    response_class=Response,
    responses=FIGURE_ANSWER,
    operation_id="compare-figure-accuracy",
)
def compare_accuracy_figure(
    fmt: FormatPath,
    session: SessionDep,
    cache: CacheDep,
    caller: Caller,
    runs: Annotated[str, Query(description="Comma-separated run ids.")],
) -> Response:
    """Average accuracy over the tasks seen so far, one line per run (named with its id),
    with the task boundaries that every run shares."""
    ids = parse_run_ids(runs)
    selected = select_runs(session, caller, ids, None)
    content = service.compare_figure(session, selected, cache, fmt)
    return figure_response(content, fmt, "compare-" + "-".join(map(str, ids[:8])) + "-accuracy")


@router.get(
    "/sweeps/{sweep_id}/figures/aligned.{fmt}",
    response_class=Response,
    responses=FIGURE_ANSWER,
    operation_id="sweeps-figure-aligned",
)
def sweep_aligned_figure(
    sweep_id: RowId,
    fmt: FormatPath,
    session: SessionDep,
    cache: CacheDep,
    caller: Caller,
    gap_window: GapWindowQuery = None,
    margin: MarginQuery = DEFAULT_MARGIN_QUERY,
) -> Response:
    """The boundary-aligned view of each configuration of the sweep (its runs averaged): one
    line with its 95% band per configuration, as on the sweep page."""
    sweep = authorize_sweep(session, caller, sweep_id)
    content = service.sweep_figure(session, sweep, cache, fmt, gap_window=gap_window, margin=margin)
    return figure_response(content, fmt, f"sweep-{sweep.id}-aligned")
