"""Every query on the runs table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from gapwatch.server.models import Run, RunStatus


def get(session: Session, run_id: int) -> Run | None:
    return session.get(Run, run_id)


def add(session: Session, run: Run) -> Run:
    session.add(run)
    session.flush()
    return run


def page(
    session: Session,
    *,
    status: str | None,
    group: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Run], int]:
    """Runs newest first, with the count of all that match."""
    query = select(Run)
    if status is not None:
        query = query.where(Run.status == status)
    if group is not None:
        query = query.where(Run.group_name == group)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Run.id.desc()).limit(limit).offset(offset)).all()
    return rows, total


def claim(
    session: Session,
    run: Run,
    *,
    worker: str,
    token_hash: str,
    now: datetime,
    stale_before: datetime,
) -> bool:
    """Compare-and-set the run to running for `worker`; False if someone else got there first.

    The WHERE clause repeats the conditions under which a claim is allowed and pins the
    attempt counter, so two workers that read the same row cannot both win, on SQLite too.
    """
    claimable = or_(
        Run.status == RunStatus.queued,
        (Run.status == RunStatus.running)
        & or_(Run.heartbeat_at.is_(None), Run.heartbeat_at < stale_before, Run.worker == worker),
    )
    result = session.execute(
        update(Run)
        .where(Run.id == run.id, Run.attempts == run.attempts, claimable)
        .values(
            status=RunStatus.running,
            started_at=func.coalesce(Run.started_at, now),
            heartbeat_at=now,
            worker=worker,
            attempts=Run.attempts + 1,
            token_hash=token_hash,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    session.refresh(run)
    return True


def requeue_stale(session: Session, stale_before: datetime) -> list[tuple[int, str | None]]:
    """Set running runs whose heartbeat is older than `stale_before` back to queued.

    One conditional UPDATE: a heartbeat that lands meanwhile keeps its run. Returns the
    (id, queue) of the runs requeued.
    """
    rows = session.execute(
        update(Run)
        .where(Run.status == RunStatus.running, Run.heartbeat_at < stale_before)
        .values(status=RunStatus.queued)
        .returning(Run.id, Run.spec)
        .execution_options(synchronize_session=False)
    ).all()
    return [(run_id, spec.get("queue")) for run_id, spec in rows]


def with_status(session: Session, status: RunStatus) -> Sequence[Run]:
    return session.scalars(select(Run).where(Run.status == status).order_by(Run.id)).all()
