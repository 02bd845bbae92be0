"""Every query on the runs table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, or_, select, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from gapwatch.server.models import Project, Run, RunStatus
from gapwatch.server.models.run import TERMINAL_STATUSES


def get(session: Session, run_id: int) -> Run | None:
    return session.get(Run, run_id)


def add(session: Session, run: Run) -> Run:
    session.add(run)
    session.flush()
    return run


# The runs list's `sort` values and the column each orders by; `-x` is descending. Runs
# without the number (still running, or never evaluated) come last either way.
SORT_COLUMNS = {
    "created_at": Run.id,  # ids grow with creation time, and are unique: a stable order
    "acc": Run.headline_acc,
    "min_acc": Run.headline_min_acc,
    "wc_acc": Run.headline_wc_acc,
    "mean_gap_depth": Run.headline_gap_depth,
    "duration": Run.duration_s,
}
SORT_KEYS = tuple(key for name in SORT_COLUMNS for key in (name, f"-{name}"))


@dataclass(frozen=True)
class RunFilter:
    """What the runs list narrows to; None means any."""

    status: str | None = None
    project: str | None = None
    group: str | None = None
    benchmark: str | None = None
    strategy: str | None = None
    tag: str | None = None
    # The projects the caller may read; None: every project.
    visible_projects: Sequence[int] | None = None


def _has_tag(session: Session, tag: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(Run.tags, JSONB).contains([tag])  # @>: the JSONB column's own operator
    each = func.json_each(Run.tags).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == tag))


def page(
    session: Session, where: RunFilter, *, sort: str, limit: int, offset: int
) -> tuple[Sequence[Run], int]:
    """One page of runs in `sort` order, with the count of all that match."""
    query = select(Run)
    if where.visible_projects is not None:
        query = query.where(Run.project_id.in_(list(where.visible_projects)))
    if where.project is not None:
        query = query.where(Run.project.has(Project.name == where.project))
    for column, value in (
        (Run.status, where.status),
        (Run.group_name, where.group),
        (Run.benchmark, where.benchmark),
        (Run.strategy, where.strategy),
    ):
        if value is not None:
            query = query.where(column == value)
    if where.tag is not None:
        query = query.where(_has_tag(session, where.tag))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    column = SORT_COLUMNS[sort.removeprefix("-")]
    order = column.desc() if sort.startswith("-") else column.asc()
    rows = session.scalars(
        query.order_by(order.nulls_last(), Run.id.desc()).limit(limit).offset(offset)
    ).all()
    return rows, total


def ended_without_headline(session: Session, *, limit: int) -> Sequence[Run]:
    """Ended runs whose headline numbers were never computed (oldest first)."""
    return session.scalars(
        select(Run)
        .where(Run.status.in_([s.value for s in TERMINAL_STATUSES]), Run.headline_at.is_(None))
        .order_by(Run.id)
        .limit(limit)
    ).all()


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
        & or_(Run.heartbeat_at.is_(None), Run.heartbeat_at < stale_before),
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
