"""Metric ingestion (idempotent) and series reads."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gapwatch.server.metrics import repository
from gapwatch.server.metrics.schemas import IngestResult, MetricBatch, SeriesRead
from gapwatch.server.models import Run
from gapwatch.server.runs.service import require_writable


def ingest(session: Session, run: Run, batch: MetricBatch) -> IngestResult:
    """Store a batch; points already stored (same run, key, step) are kept as they were."""
    require_writable(run)
    ids = repository.ensure_series(session, run.id, [s.key for s in batch.series])
    rows: list[dict[str, float | int]] = [
        {"series_id": ids[s.key], "step": step, "value": value}
        for s in batch.series
        for step, value in zip(s.steps, s.values, strict=True)
    ]
    stored = repository.insert_points(session, rows)
    return IngestResult(received=batch.point_count, stored=stored)


def read(
    session: Session, run_id: int, keys: list[str] | None, *, start: int | None, end: int | None
) -> list[SeriesRead]:
    """Series of `keys` (all the run's keys when None); a key with no points yet is empty."""
    wanted = keys if keys is not None else repository.list_keys(session, run_id)
    ids = repository.series_ids(session, run_id, wanted)
    series = []
    for key in wanted:
        steps, values = (
            repository.read_series(session, ids[key], start=start, end=end)
            if key in ids
            else ([], [])
        )
        series.append(SeriesRead(key=key, steps=steps, values=values))
    return series
