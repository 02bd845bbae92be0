"""Metric points of a run: batched ingest (worker) and series queries."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from gapwatch.server.deps import RunWriter, SessionDep
from gapwatch.server.metrics import repository, service
from gapwatch.server.metrics.schemas import (
    METRIC_KEY_PATTERN,
    IngestResult,
    MetricBatch,
    MetricKeys,
    MetricsRead,
    Step,
)
from gapwatch.server.runs.service import get_run

router = APIRouter(prefix="/runs/{run_id}/metrics", tags=["metrics"])
_KEY = re.compile(METRIC_KEY_PATTERN)


def _parse_keys(keys: str | None) -> list[str] | None:
    if keys is None:
        return None
    parsed = [k.strip() for k in keys.split(",") if k.strip()]
    bad = [k for k in parsed if not _KEY.match(k)]
    if bad or not parsed or len(parsed) > 500:
        reason = f"invalid metric key {bad[0]!r}" if bad else "give 1 to 500 comma-separated keys"
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "keys"), "msg": reason, "input": keys}]
        )
    return list(dict.fromkeys(parsed))


@router.post("", response_model=IngestResult, operation_id="metrics-ingest")
def ingest_metrics(batch: MetricBatch, run: RunWriter, session: SessionDep) -> IngestResult:
    """Worker or user loop: store a batch of points (idempotent per run, key and step)."""
    return service.ingest(session, run, batch)


@router.get("", response_model=MetricsRead, operation_id="metrics-read")
def read_metrics(
    run_id: int,
    session: SessionDep,
    keys: Annotated[
        str | None, Query(description="Comma-separated keys; all keys when omitted.")
    ] = None,
    start: Annotated[Step | None, Query(description="First step (inclusive).")] = None,
    end: Annotated[Step | None, Query(description="Last step (exclusive).")] = None,
) -> MetricsRead:
    """Series of a run: steps and values per key, ordered by step."""
    get_run(session, run_id)
    series = service.read(session, run_id, _parse_keys(keys), start=start, end=end)
    return MetricsRead(run_id=run_id, series=series)


@router.get("/keys", response_model=MetricKeys, operation_id="metrics-keys")
def list_metric_keys(run_id: int, session: SessionDep) -> MetricKeys:
    """The metric keys a run has stored."""
    get_run(session, run_id)
    return MetricKeys(run_id=run_id, keys=repository.list_keys(session, run_id))
