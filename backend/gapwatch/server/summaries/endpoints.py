"""Stability-gap analytics of a run: its summary and its per-boundary gap table."""

from __future__ import annotations

from fastapi import APIRouter

from gapwatch.server.deps import CacheDep, RunViewer, SessionDep
from gapwatch.server.summaries import service
from gapwatch.server.summaries.schemas import (
    DEFAULT_WINDOWS_QUERY,
    RunGaps,
    RunSummary,
    WindowsQuery,
    parse_windows,
)

router = APIRouter(prefix="/runs/{run_id}", tags=["analytics"])


@router.get("/summary", response_model=RunSummary, operation_id="runs-summary")
def run_summary(
    run: RunViewer,
    session: SessionDep,
    cache: CacheDep,
    windows: WindowsQuery = DEFAULT_WINDOWS_QUERY,
) -> RunSummary:
    """ACC, BWT, FWT, forgetting, min-ACC, WC-ACC, WF^w and WP^w of a run, each named."""
    return service.summarize(session, run, cache, parse_windows(windows))


@router.get("/gaps", response_model=RunGaps, operation_id="runs-gaps")
def run_gaps(run: RunViewer, session: SessionDep, cache: CacheDep) -> RunGaps:
    """The stability gap of every earlier task at every task boundary."""
    return service.gaps(session, run, cache)
