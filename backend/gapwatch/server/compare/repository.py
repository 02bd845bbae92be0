"""Every query of the comparison view: which runs to compare."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from gapwatch.server.models import Run


def _visible(query: Select[tuple[Run]], projects: Sequence[int] | None) -> Select[tuple[Run]]:
    return query if projects is None else query.where(Run.project_id.in_(list(projects)))


def runs_by_id(
    session: Session, ids: Sequence[int], projects: Sequence[int] | None
) -> dict[int, Run]:
    """The runs of `ids` that belong to `projects` (None: any project)."""
    query = _visible(select(Run).where(Run.id.in_(list(ids))), projects)
    return {run.id: run for run in session.scalars(query)}


def runs_in_group(
    session: Session, group: str, limit: int, projects: Sequence[int] | None
) -> list[Run]:
    """The group's runs in `projects`, oldest first, at most `limit` (+1 to tell that there
    are more)."""
    query = _visible(select(Run).where(Run.group_name == group), projects)
    return list(session.scalars(query.order_by(Run.id).limit(limit + 1)))
