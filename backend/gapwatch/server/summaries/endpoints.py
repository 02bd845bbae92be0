"""Stability-gap analytics of a run: its summary, its per-boundary gap table, its aligned view,
and the registry of what every derived number means."""

from __future__ import annotations

from fastapi import APIRouter

from gapwatch.analytics import METRICS
from gapwatch.server.deps import CacheDep, Caller, RunViewer, SessionDep
from gapwatch.server.summaries import service
from gapwatch.server.summaries.schemas import (
    DEFAULT_MARGIN_QUERY,
    DEFAULT_WINDOWS_QUERY,
    AlignedBandRead,
    Definition,
    GapWindowQuery,
    MarginQuery,
    RunCost,
    RunGaps,
    RunSummary,
    WindowsQuery,
    parse_windows,
)

router = APIRouter(prefix="/runs/{run_id}", tags=["analytics"])
definitions_router = APIRouter(tags=["analytics"])


@router.get("/summary", response_model=RunSummary, operation_id="runs-summary")
def run_summary(
    run: RunViewer,
    session: SessionDep,
    cache: CacheDep,
    windows: WindowsQuery = DEFAULT_WINDOWS_QUERY,
    gap_window: GapWindowQuery = None,
) -> RunSummary:
    """ACC, BWT, FWT, forgetting, min-ACC, WC-ACC, WF^w, WP^w and the stability gap of a run,
    each named; `metrics` holds every registry metric by id."""
    return service.summarize(session, run, cache, parse_windows(windows), gap_window)


@router.get("/gaps", response_model=RunGaps, operation_id="runs-gaps")
def run_gaps(
    run: RunViewer, session: SessionDep, cache: CacheDep, gap_window: GapWindowQuery = None
) -> RunGaps:
    """The stability gap of every earlier task at every task boundary: depth, gap (what came
    back), forgetting (what did not), recovery and eligibility."""
    return service.gaps(session, run, cache, gap_window)


@router.get("/aligned", response_model=AlignedBandRead, operation_id="runs-aligned")
def run_aligned(
    run: RunViewer,
    session: SessionDep,
    cache: CacheDep,
    gap_window: GapWindowQuery = None,
    margin: MarginQuery = DEFAULT_MARGIN_QUERY,
) -> AlignedBandRead:
    """The boundary-aligned view: accuracy change since each boundary, averaged over the
    eligible (boundary, earlier task) rows, with a 95% band."""
    return service.aligned(session, run, cache, gap_window, margin)


@router.get("/cost", response_model=RunCost, operation_id="runs-cost")
def run_cost(run: RunViewer, session: SessionDep) -> RunCost:
    """Updates, samples, FLOPs, memory, replay bytes and seconds per task and in total, with
    their ratios to the joint run of the same benchmark in the run's group or sweep."""
    return service.run_cost(session, run)


@definitions_router.get(
    "/definitions", response_model=list[Definition], operation_id="definitions-list"
)
def definitions(_: Caller) -> list[Definition]:
    """Every derived metric: id, label, definition in words, formula and direction."""
    return [
        Definition(
            id=m.id,
            label=m.label,
            definition=m.definition,
            formula=m.formula,
            higher_is_better=m.higher_is_better,
            unit=m.unit,
            headline=m.headline,
        )
        for m in METRICS
    ]
