"""Every query on the runs table."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, aliased, selectinload

from gapwatch.analytics.registry import HEADLINE_METRICS
from gapwatch.server.models import Project, Run, RunHeadline, RunKind, RunStatus
from gapwatch.server.models.run import TERMINAL_STATUSES


def get(session: Session, run_id: int) -> Run | None:
    return session.get(Run, run_id)


def by_client_key(session: Session, project_id: int, client_key: str) -> Run | None:
    return session.scalars(
        select(Run).where(Run.project_id == project_id, Run.client_key == client_key)
    ).one_or_none()


def add(session: Session, run: Run) -> Run:
    session.add(run)
    session.flush()
    return run


def add_all(session: Session, runs: Sequence[Run]) -> None:
    """Insert the runs (one statement where the database allows); their ids are set."""
    session.add_all(runs)
    session.flush()


# The runs list's `sort` values and the column each orders by; `-x` is descending. Runs
# without the number (still running, or never evaluated) come last either way.
SORT_COLUMNS = {
    "created_at": Run.id,  # ids grow with creation time, and are unique: a stable order
    "duration": Run.duration_s,
}
# ... and every headline metric of the registry, sorted on its stored `run_headlines` rows.
SORT_METRICS = tuple(m.id for m in HEADLINE_METRICS)
SORT_KEYS = tuple(key for name in (*SORT_COLUMNS, *SORT_METRICS) for key in (name, f"-{name}"))


@dataclass(frozen=True)
class RunFilter:
    """What the runs list narrows to; None means any."""

    status: str | None = None
    project: str | None = None
    group: str | None = None
    benchmark: str | None = None
    strategy: str | None = None
    tag: str | None = None
    kind: str | None = None
    sweep: int | None = None
    # (path, value) pairs: runs whose config holds `value` at the dotted `path`.
    config: Sequence[tuple[tuple[str, ...], object]] = ()
    # The projects the caller may read; None: every project.
    visible_projects: Sequence[int] | None = None


def _has_tag(session: Session, tag: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(Run.tags, JSONB).contains([tag])  # @>: the JSONB column's own operator
    each = func.json_each(Run.tags).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == tag))


def _config_equals(session: Session, path: tuple[str, ...], value: object) -> ColumnElement[bool]:
    """The run's config holds `value` at `path` (JSON equality: 0.01 matches 0.010)."""
    if session.get_bind().dialect.name == "postgresql":
        document: object = value
        for part in reversed(path):
            document = {part: document}
        return type_coerce(Run.config, JSONB).contains(document)
    json_path = "$" + "".join(f'."{part}"' for part in path)
    extracted = func.json_extract(Run.config, json_path)
    if isinstance(value, bool):  # SQLite's json_extract answers true and false as 1 and 0
        kind = func.json_type(Run.config, json_path)
        return (extracted == int(value)) & (kind == str(value).lower())
    if value is None:
        return func.json_type(Run.config, json_path) == "null"
    if isinstance(value, (dict, list)):
        return func.json(extracted) == func.json(json.dumps(value))
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        # SQLite binds 64-bit integers only, and its JSON keeps a larger one as a REAL.
        return extracted == float(value)
    return extracted == value


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
        (Run.kind, where.kind),
        (Run.sweep_id, where.sweep),
    ):
        if value is not None:
            query = query.where(column == value)
    if where.tag is not None:
        query = query.where(_has_tag(session, where.tag))
    for path, value in where.config:
        query = query.where(_config_equals(session, path, value))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    name = sort.removeprefix("-")
    column: ColumnElement[Any]
    if name in SORT_COLUMNS:
        column = SORT_COLUMNS[name]
    else:  # a headline metric: its stored row, if the run has one
        stored = aliased(RunHeadline)
        query = query.outerjoin(stored, and_(stored.run_id == Run.id, stored.metric == name))
        column = stored.value
    order = column.desc() if sort.startswith("-") else column.asc()
    rows = session.scalars(
        query.options(selectinload(Run.headlines))
        .order_by(order.nulls_last(), Run.id.desc())
        .limit(limit)
        .offset(offset)
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


def _claimable(stale_before: datetime) -> ColumnElement[bool]:
    """Queued, or running with a heartbeat older than `stale_before` (its worker died)."""
    return or_(
        Run.status == RunStatus.queued,
        (Run.status == RunStatus.running)
        & or_(Run.heartbeat_at.is_(None), Run.heartbeat_at < stale_before),
    )


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
    result = session.execute(
        update(Run)
        .where(Run.id == run.id, Run.attempts == run.attempts, _claimable(stale_before))
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


def fail_exhausted(
    session: Session, run: Run, *, stale_before: datetime, now: datetime, error: str
) -> bool:
    """Fail the run with `error` instead of claiming it, under the claim's own conditions (it
    is claimable and nobody claimed it since it was read); False if they no longer hold."""
    result = session.execute(
        update(Run)
        .where(Run.id == run.id, Run.attempts == run.attempts, _claimable(stale_before))
        .values(status=RunStatus.failed, error=error, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


def mark_enqueued(session: Session, run_ids: Collection[int], now: datetime) -> None:
    """Note that the broker took the runs' messages."""
    session.execute(
        update(Run)
        .where(Run.id.in_(list(run_ids)))
        .values(enqueued_at=now)
        .execution_options(synchronize_session=False)
    )


def never_enqueued(
    session: Session, *, created_before: datetime, limit: int
) -> list[tuple[int, str | None]]:
    """(id, queue) of queued engine runs created before `created_before` whose message never
    reached the broker, oldest first."""
    rows = session.execute(
        select(Run.id, Run.spec)
        .where(
            Run.status == RunStatus.queued,
            Run.kind == RunKind.engine,
            Run.enqueued_at.is_(None),
            Run.created_at < created_before,
        )
        .order_by(Run.id)
        .limit(limit)
    ).all()
    return [(run_id, (spec or {}).get("queue")) for run_id, spec in rows]


def requeue_stale(session: Session, stale_before: datetime) -> list[tuple[int, str | None]]:
    """Set running runs whose heartbeat is older than `stale_before` back to queued (with no
    message sent yet).

    One conditional UPDATE: a heartbeat that lands meanwhile keeps its run. Returns the
    (id, queue) of the runs requeued.
    """
    rows = session.execute(
        update(Run)
        .where(
            Run.status == RunStatus.running,
            Run.kind == RunKind.engine,
            Run.heartbeat_at < stale_before,
        )
        .values(status=RunStatus.queued, enqueued_at=None)
        .returning(Run.id, Run.spec)
        .execution_options(synchronize_session=False)
    ).all()
    return [(run_id, (spec or {}).get("queue")) for run_id, spec in rows]


def crash_silent_loop_runs(
    session: Session, silent_since: datetime, *, now: datetime, error: str
) -> list[int]:
    """Running loop runs with no heartbeat since `silent_since` become crashed, in one
    conditional UPDATE (a heartbeat that lands meanwhile keeps its run); their ids."""
    rows = session.execute(
        update(Run)
        .where(
            Run.status == RunStatus.running,
            Run.kind == RunKind.loop,
            Run.heartbeat_at < silent_since,
        )
        .values(status=RunStatus.crashed, error=error, finished_at=now)
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    ).all()
    return [run_id for (run_id,) in rows]


def with_status(
    session: Session, status: RunStatus, *, kind: RunKind | None = None
) -> Sequence[Run]:
    query = select(Run).where(Run.status == status)
    if kind is not None:
        query = query.where(Run.kind == kind)
    return session.scalars(query.order_by(Run.id)).all()
