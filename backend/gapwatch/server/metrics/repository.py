"""Every query on metric series and points. Bulk statements only; no ORM object per point."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from gapwatch.server.dialect import upsert_insert
from gapwatch.server.models import MetricPoint, MetricSeries


def series_ids(session: Session, run_id: int, keys: Iterable[str]) -> dict[str, int]:
    """Ids of the run's existing series among `keys`."""
    rows = session.execute(
        select(MetricSeries.key, MetricSeries.id).where(
            MetricSeries.run_id == run_id, MetricSeries.key.in_(list(keys))
        )
    )
    return {key: series_id for key, series_id in rows}


def ensure_series(session: Session, run_id: int, keys: Sequence[str]) -> dict[str, int]:
    """Ids of the run's series for `keys`, creating the missing ones (race-safe)."""
    ids = series_ids(session, run_id, keys)
    missing = [k for k in keys if k not in ids]
    if missing:
        session.execute(
            upsert_insert(session, MetricSeries)
            .values([{"run_id": run_id, "key": k} for k in missing])
            .on_conflict_do_nothing(index_elements=["run_id", "key"])
        )
        ids = series_ids(session, run_id, keys)
    return ids


def insert_points(session: Session, rows: list[dict[str, float | int]]) -> int:
    """Insert (series_id, step, value) rows, skipping ones already stored; the count inserted.

    One multi-row statement per chunk (SQLAlchemy's insertmanyvalues), with RETURNING so the
    count is exact: a point that conflicts returns nothing.
    """
    if not rows:
        return 0
    statement = (
        upsert_insert(session, MetricPoint)
        .on_conflict_do_nothing(index_elements=["series_id", "step"])
        .returning(MetricPoint.step)
    )
    return len(session.execute(statement, rows).all())


def list_keys(session: Session, run_id: int) -> list[str]:
    """All metric keys of the run, sorted."""
    return list(
        session.scalars(
            select(MetricSeries.key).where(MetricSeries.run_id == run_id).order_by(MetricSeries.key)
        )
    )


def read_series(
    session: Session, series_id: int, *, start: int | None, end: int | None
) -> tuple[list[int], list[float]]:
    """Steps and values of one series with start <= step < end, by step."""
    query = select(MetricPoint.step, MetricPoint.value).where(MetricPoint.series_id == series_id)
    if start is not None:
        query = query.where(MetricPoint.step >= start)
    if end is not None:
        query = query.where(MetricPoint.step < end)
    steps: list[int] = []
    values: list[float] = []
    for step, value in session.execute(query.order_by(MetricPoint.step)):
        steps.append(step)
        values.append(value)
    return steps, values
