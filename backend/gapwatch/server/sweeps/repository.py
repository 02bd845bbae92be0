"""Every query on the sweeps table, and on runs by sweep."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gapwatch.server.models import Project, Run, Sweep


def add(session: Session, sweep: Sweep) -> Sweep:
    session.add(sweep)
    session.flush()
    return sweep


def get(session: Session, sweep_id: int) -> Sweep | None:
    return session.get(Sweep, sweep_id)


def page(
    session: Session,
    *,
    visible_projects: Collection[int] | None,
    project: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Sweep], int]:
    """Sweeps newest first, of the visible projects (None: every one), with the count."""
    query = select(Sweep)
    if visible_projects is not None:
        query = query.where(Sweep.project_id.in_(list(visible_projects)))
    if project is not None:
        query = query.where(Sweep.project.has(Project.name == project))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Sweep.id.desc()).limit(limit).offset(offset)).all()
    return rows, total


def run_states(session: Session, sweep_ids: Collection[int]) -> dict[int, list[tuple[int, str]]]:
    """{sweep id: [(run id, status), ...] in id order} for the sweeps."""
    found: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if not sweep_ids:
        return found
    rows = session.execute(
        select(Run.sweep_id, Run.id, Run.status)
        .where(Run.sweep_id.in_(list(sweep_ids)))
        .order_by(Run.id)
    ).all()
    for sweep_id, run_id, status in rows:
        found[sweep_id].append((run_id, status))
    return found


def runs_with_specs(session: Session, sweep_id: int) -> list[tuple[int, str, bool, dict[str, Any]]]:
    """(id, status, whether its headline numbers were written, spec) of the sweep's runs, in
    id order (the order they were planned)."""
    rows = session.execute(
        select(Run.id, Run.status, Run.headline_at.is_not(None), Run.spec)
        .where(Run.sweep_id == sweep_id)
        .order_by(Run.id)
    ).all()
    return [(run_id, status, bool(written), spec or {}) for run_id, status, written, spec in rows]


def runs(session: Session, run_ids: Collection[int]) -> Sequence[Run]:
    if not run_ids:
        return []
    return session.scalars(select(Run).where(Run.id.in_(list(run_ids))).order_by(Run.id)).all()
