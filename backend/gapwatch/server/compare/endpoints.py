"""Several runs side by side (by id or by group)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from gapwatch.components import Text
from gapwatch.server.compare import service
from gapwatch.server.compare.schemas import Comparison
from gapwatch.server.deps import MAX_ROW_ID, CacheDep, Caller, SessionDep
from gapwatch.server.metrics.schemas import MAX_DOWNSAMPLED_POINTS, Step, parse_keys
from gapwatch.server.summaries.schemas import DEFAULT_WINDOWS_QUERY, WindowsQuery, parse_windows

router = APIRouter(prefix="/compare", tags=["analytics"])


def _parse_runs(runs: str | None, group: str | None) -> list[int] | None:
    if (runs is None) == (group is None):
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "runs"),
                    "msg": "give either `runs` or `group`",
                    "input": runs,
                }
            ]
        )
    if runs is None:
        return None
    try:
        ids = list(dict.fromkeys(int(r) for r in runs.split(",") if r.strip()))
    except ValueError:
        ids = []
    if not ids or len(ids) > service.MAX_RUNS or min(ids) < 1 or max(ids) > MAX_ROW_ID:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "runs"),
                    "msg": f"give 1 to {service.MAX_RUNS} comma-separated run ids",
                    "input": runs,
                }
            ]
        )
    return ids


@router.get("", response_model=Comparison, operation_id="runs-compare")
def compare_runs(
    session: SessionDep,
    cache: CacheDep,
    caller: Caller,
    runs: Annotated[str | None, Query(description="Comma-separated run ids.")] = None,
    group: Annotated[
        str | None, Query(max_length=200, description="Every run of this group."), Text
    ] = None,
    keys: Annotated[
        str | None, Query(description="Comma-separated metric keys to align by step.")
    ] = None,
    start: Annotated[Step | None, Query(description="First step (inclusive).")] = None,
    end: Annotated[Step | None, Query(description="Last step (exclusive).")] = None,
    points: Annotated[
        int,
        Query(ge=4, le=MAX_DOWNSAMPLED_POINTS, description="Per run and key, as in metrics."),
    ] = 2000,
    windows: WindowsQuery = DEFAULT_WINDOWS_QUERY,
) -> Comparison:
    """Runs side by side: summaries, mean ± std across them, and series aligned by step."""
    ids = _parse_runs(runs, group)
    return service.compare(
        session,
        cache,
        caller,
        ids=ids,
        group=group,
        keys=parse_keys(keys) or [],
        start=start,
        end=end,
        points=points,
        windows=parse_windows(windows),
    )
