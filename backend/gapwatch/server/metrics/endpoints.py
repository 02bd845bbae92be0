"""Metric points of a run: batched ingest (worker), series queries and a streamed export."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from gapwatch.server.access.tokens import bearer_value
from gapwatch.server.deps import RunId, RunViewer, SessionDep, transaction
from gapwatch.server.edge import attachment_headers
from gapwatch.server.metrics import repository, service
from gapwatch.server.metrics.schemas import (
    COLUMNAR_LAYOUT,
    COLUMNAR_MEDIA_TYPE,
    MAX_DOWNSAMPLED_POINTS,
    MAX_PAGE_POINTS,
    METRICS_BODY_LIMIT,
    IngestResult,
    MetricBatch,
    MetricKeys,
    MetricsExport,
    MetricsRead,
    Step,
    inline_schema,
    parse_batch,
    parse_keys,
)

router = APIRouter(prefix="/runs/{run_id}/metrics", tags=["metrics"])
export_router = APIRouter(prefix="/runs/{run_id}", tags=["metrics"])
JSON_NUMPY = orjson.OPT_SERIALIZE_NUMPY


# The body is parsed by `parse_batch` (numpy fast paths), so its schema is declared here rather
# than through a parameter that FastAPI would parse with json.loads.
_BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": inline_schema(MetricBatch)},
            COLUMNAR_MEDIA_TYPE: {
                "schema": {"type": "string", "format": "binary", "description": COLUMNAR_LAYOUT}
            },
        },
    }
}


@router.post(
    "",
    response_model=IngestResult,
    operation_id="metrics-ingest",
    openapi_extra=_BATCH_BODY,
    max_body_size=METRICS_BODY_LIMIT,
)
async def ingest_metrics(
    run_id: RunId, request: Request, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Worker or user loop: store a batch of points (idempotent per run, key and step)."""
    # The hot path of the API: one hop to a worker thread for parsing and the database, and
    # the answer written directly (its shape is IngestResult's).
    token = bearer_value(authorization)
    body = await request.body()
    result = await run_in_threadpool(
        _ingest,
        request.app.state.session_factory,
        run_id,
        token,
        body,
        request.headers.get("content-type"),
    )
    return Response(result.model_dump_json(), media_type="application/json")


def _ingest(
    factory: sessionmaker[Session],
    run_id: RunId,
    token: str,
    body: bytes,
    content_type: str | None,
) -> IngestResult:
    with transaction(factory) as session:
        try:
            batch = parse_batch(body, content_type)
        except RequestValidationError:
            # As for every write, a wrong token or run is said before anything about the body.
            service.check_writer(session, run_id, token)
            raise
        return service.ingest(session, run_id, token, batch)


@router.get("", response_model=MetricsRead, operation_id="metrics-read")
def read_metrics(
    run_id: RunId,
    _run: RunViewer,
    session: SessionDep,
    keys: Annotated[
        str | None, Query(description="Comma-separated keys; all keys when omitted.")
    ] = None,
    start: Annotated[Step | None, Query(description="First step (inclusive).")] = None,
    end: Annotated[Step | None, Query(description="Last step (exclusive).")] = None,
    points: Annotated[
        int | None,
        Query(
            ge=4,
            le=MAX_DOWNSAMPLED_POINTS,
            description="At most this many points per key: a range holding more is reduced to "
            "the first, last, minimum and maximum point of each of points/4 step buckets (M4), "
            "so no dip is lost. Omit for every point.",
        ),
    ] = None,
    raw: Annotated[bool, Query(description="Every point, even if `points` is given.")] = False,
    limit: Annotated[
        int,
        Query(ge=1, le=MAX_PAGE_POINTS, description="Raw reads: points per key per page."),
    ] = MAX_PAGE_POINTS,
) -> Response:
    """Series of a run: steps and values per key, ordered by step; downsampled on request."""
    answers = service.read(
        session,
        run_id,
        parse_keys(keys),
        start=start,
        end=end,
        points=None if raw else points,
        limit=limit,
    )
    # Serialized straight from the numpy arrays: a million-point answer without a million
    # Python floats. The shape is MetricsRead's.
    document = {
        "run_id": run_id,
        "series": [
            {"key": a.key, "steps": a.slice.points.steps, "values": a.slice.points.values}
            for a in answers
        ],
        "downsampled": any(a.slice.downsampled for a in answers),
        "points_in_range": {a.key: a.slice.in_range for a in answers},
        "next_start": {
            a.key: a.slice.next_start for a in answers if a.slice.next_start is not None
        },
    }
    return Response(orjson.dumps(document, option=JSON_NUMPY), media_type="application/json")


@router.get("/keys", response_model=MetricKeys, operation_id="metrics-keys")
def list_metric_keys(run_id: RunId, _run: RunViewer, session: SessionDep) -> MetricKeys:
    """The metric keys a run has stored."""
    return MetricKeys(run_id=run_id, keys=repository.list_keys(session, run_id))


@export_router.get(
    "/export",
    operation_id="metrics-export",
    response_model=MetricsExport,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "Every point of the run: CSV rows `key,step,value` under a header, "
            "or one JSON document.",
        }
    },
)
def export_metrics(
    run_id: RunId,
    _run: RunViewer,
    request: Request,
    format: Annotated[Literal["csv", "json"], Query(description="csv or json.")] = "csv",
) -> StreamingResponse:
    """Every point of a run, streamed as CSV or JSON."""
    factory = request.app.state.session_factory
    if format == "csv":
        body, media = service.export_csv(factory, run_id), "text/csv"
    else:
        body, media = service.export_json(factory, run_id), "application/json"
    return StreamingResponse(
        body, media_type=media, headers=attachment_headers(f"run-{run_id}-metrics.{format}")
    )
