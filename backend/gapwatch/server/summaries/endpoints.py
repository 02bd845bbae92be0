"""Stability-gap analytics of a run: its summary and its per-boundary gap table."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError

from gapwatch.analytics.continual import DEFAULT_WINDOWS
from gapwatch.server.deps import SessionDep
from gapwatch.server.runs.service import get_run
from gapwatch.server.summaries import service
from gapwatch.server.summaries.schemas import RunGaps, RunSummary

router = APIRouter(prefix="/runs/{run_id}", tags=["analytics"])
MAX_WINDOW = 1_000_000
DEFAULT_WINDOWS_QUERY = ",".join(map(str, DEFAULT_WINDOWS))


def get_analysis_cache(request: Request) -> service.AnalysisCache:
    """The app's summary cache (one per process, made by create_app)."""
    return request.app.state.analysis_cache  # type: ignore[no-any-return]


CacheDep = Annotated[service.AnalysisCache, Depends(get_analysis_cache)]
WindowsQuery = Annotated[
    str,
    Query(
        description="Comma-separated window sizes w of WF^w and WP^w (evaluations, 2 to "
        f"{MAX_WINDOW:,}).",
        examples=["10,100"],
    ),
]


def parse_windows(windows: str) -> tuple[int, ...]:
    """The `windows` parameter as sorted unique sizes, or a 422 naming it."""
    try:
        sizes = sorted({int(w) for w in windows.split(",") if w.strip()})
    except ValueError:
        sizes = []
    if not sizes or len(sizes) > 8 or sizes[0] < 2 or sizes[-1] > MAX_WINDOW:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "windows"),
                    "msg": f"give 1 to 8 comma-separated integers from 2 to {MAX_WINDOW}",
                    "input": windows,
                }
            ]
        )
    return tuple(sizes)


@router.get("/summary", response_model=RunSummary, operation_id="runs-summary")
def run_summary(
    run_id: int,
    session: SessionDep,
    cache: CacheDep,
    windows: WindowsQuery = DEFAULT_WINDOWS_QUERY,
) -> RunSummary:
    """ACC, BWT, FWT, forgetting, min-ACC, WC-ACC, WF^w and WP^w of a run, each named."""
    run = get_run(session, run_id)
    return service.summarize(session, run, cache, parse_windows(windows))


@router.get("/gaps", response_model=RunGaps, operation_id="runs-gaps")
def run_gaps(run_id: int, session: SessionDep, cache: CacheDep) -> RunGaps:
    """The stability gap of every earlier task at every task boundary."""
    run = get_run(session, run_id)
    return service.gaps(session, run, cache)
