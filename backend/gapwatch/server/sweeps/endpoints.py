"""Sweeps: create (runs of a base spec over axes of values), list, read, results, aligned view."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session

from gapwatch.analytics.registry import HEADLINE_METRICS
from gapwatch.components import PROJECT_NAME_PATTERN
from gapwatch.server.access.principal import Principal
from gapwatch.server.deps import (
    MAX_ROW_ID,
    CacheDep,
    Caller,
    RowId,
    RunQueueDep,
    SessionDep,
    SettingsDep,
    SubmitRateLimit,
)
from gapwatch.server.edge import attachment
from gapwatch.server.models import Sweep
from gapwatch.server.summaries.schemas import DEFAULT_MARGIN_QUERY, GapWindowQuery, MarginQuery
from gapwatch.server.sweeps import service, tables
from gapwatch.server.sweeps.schemas import (
    SweepAligned,
    SweepPage,
    SweepRead,
    SweepRequest,
    SweepResults,
)

router = APIRouter(prefix="/sweeps", tags=["sweeps"])

HEADLINE_IDS = tuple(m.id for m in HEADLINE_METRICS)
ResultSort = Literal[tuple(key for i in HEADLINE_IDS for key in (i, f"-{i}"))]  # type: ignore[valid-type]
SortQuery = Annotated[
    ResultSort | None,
    Query(
        description="Rows by a headline metric's mean, descending with a leading '-'; rows "
        "without it come last. Default: the sweep's order."
    ),
]
MetricsQuery = Annotated[
    str | None,
    Query(
        max_length=400,
        pattern=r"^[a-z0-9_]+(,[a-z0-9_]+)*$",
        description="Comma-separated headline metric ids, the table's columns in that order "
        "(default: every headline metric).",
    ),
]


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=SweepRead, operation_id="sweeps-create"
)
def create_sweep(
    body: SweepRequest,
    caller: Caller,
    _rate: SubmitRateLimit,
    session: SessionDep,
    run_queue: RunQueueDep,
    settings: SettingsDep,
) -> SweepRead:
    """Create a sweep (editor of its project): its runs, in one transaction, each queued for
    a worker. Every run is grouped `<name> <path>=<value> ...` (every axis but seed) and
    tagged `sweep:<id>`. A value that makes an invalid run spec is a 422 naming its axis
    (`axes.<path>`), and no run is created."""
    sweep = service.create_sweep(session, caller, body, run_queue, settings)
    return service.read_sweep(session, sweep)


@router.get("", response_model=SweepPage, operation_id="sweeps-list")
def list_sweeps(
    session: SessionDep,
    caller: Caller,
    project: Annotated[str | None, Query(pattern=PROJECT_NAME_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> SweepPage:
    """The sweeps of the caller's projects, newest first."""
    return service.list_sweeps(session, caller, project=project, limit=limit, offset=offset)


@router.get("/{sweep_id}", response_model=SweepRead, operation_id="sweeps-get")
def get_sweep(sweep_id: RowId, session: SessionDep, caller: Caller) -> SweepRead:
    """One sweep with its runs' progress."""
    return service.read_sweep(session, service.authorize_sweep(session, caller, sweep_id))


@router.get("/{sweep_id}/results", response_model=SweepResults, operation_id="sweeps-results")
def sweep_results(
    sweep_id: RowId, session: SessionDep, caller: Caller, sort: SortQuery = None
) -> SweepResults:
    """One row per configuration (every axis but seed): each headline metric's mean ± 95% CI
    over the configuration's succeeded runs, n the runs that contribute to that number;
    provisional while a run of the row has not ended."""
    sweep = service.authorize_sweep(session, caller, sweep_id)
    return service.results(session, sweep, sort=sort)


def _metric_ids(metrics: str | None) -> list[str] | None:
    """The `metrics` parameter's ids; a 422 naming it for one that is not a headline metric."""
    if metrics is None:
        return None
    ids = metrics.split(",")
    unknown = [i for i in ids if i not in HEADLINE_IDS]
    if unknown:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "metrics"),
                    "msg": f"not headline metrics: {', '.join(unknown)}; valid: "
                    + ", ".join(HEADLINE_IDS),
                    "input": metrics,
                }
            ]
        )
    return ids


# Renders a sweep's results table as text: (results, sweep, metric ids or None) -> text.
ResultsRenderer = Callable[[SweepResults, Sweep, list[str] | None], str]


def _results_download(
    session: Session,
    caller: Principal,
    sweep_id: int,
    sort: str | None,
    metrics: str | None,
    render: ResultsRenderer,
    media_type: str,
    suffix: str,
) -> Response:
    """The sweep's results table, rendered by `render`, as a download named
    sweep-<id>-results.<suffix>."""
    sweep = service.authorize_sweep(session, caller, sweep_id)
    text = render(service.results(session, sweep, sort=sort), sweep, _metric_ids(metrics))
    return attachment(text, media_type, f"sweep-{sweep.id}-results.{suffix}")


@router.get(
    "/{sweep_id}/results.csv",
    operation_id="sweeps-results-csv",
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "One row per configuration: its axis values, runs and seeds, then "
            "<metric>_mean, <metric>_ci95 and <metric>_n per metric (fractions).",
        }
    },
)
def sweep_results_csv(
    sweep_id: RowId,
    session: SessionDep,
    caller: Caller,
    sort: SortQuery = None,
    metrics: MetricsQuery = None,
) -> Response:
    """The results table as CSV."""
    return _results_download(
        session,
        caller,
        sweep_id,
        sort,
        metrics,
        lambda results, _sweep, ids: tables.results_csv(results, ids),
        "text/csv",
        "csv",
    )


@router.get(
    "/{sweep_id}/results.tex",
    operation_id="sweeps-results-tex",
    response_class=Response,
    responses={
        200: {
            "content": {"application/x-tex": {"schema": {"type": "string"}}},
            "description": "A LaTeX table (booktabs): mean $\\pm$ 95% CI in percentage points, "
            "the best of each column in bold.",
        }
    },
)
def sweep_results_tex(
    sweep_id: RowId,
    session: SessionDep,
    caller: Caller,
    sort: SortQuery = None,
    metrics: MetricsQuery = None,
) -> Response:
    """The results table as LaTeX (booktabs), ready for a paper."""
    return _results_download(
        session,
        caller,
        sweep_id,
        sort,
        metrics,
        lambda results, sweep, ids: tables.results_latex(results, sweep.name, ids),
        "application/x-tex",
        "tex",
    )


@router.get("/{sweep_id}/aligned", response_model=SweepAligned, operation_id="sweeps-aligned")
def sweep_aligned(
    sweep_id: RowId,
    session: SessionDep,
    caller: Caller,
    cache: CacheDep,
    gap_window: GapWindowQuery = None,
    margin: MarginQuery = DEFAULT_MARGIN_QUERY,
) -> SweepAligned:
    """The boundary-aligned view of each configuration: its runs' aligned curves averaged
    with a 95% band across runs."""
    sweep = service.authorize_sweep(session, caller, sweep_id)
    return service.aligned(session, sweep, cache, gap_window=gap_window, margin=margin)
