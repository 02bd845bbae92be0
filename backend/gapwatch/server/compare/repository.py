"""Every query of the comparison view: which runs to compare."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from gapwatch.server.models import Run


def runs_by_id(session: Session, ids: Sequence[int]) -> dict[int, Run]:
    return {run.id: run for run in session.scalars(select(Run).where(Run.id.in_(list(ids))))}


def runs_in_group(session: Session, group: str, limit: int) -> list[Run]:
    """The group's runs, oldest first, at most `limit` (+1 to tell that there are more)."""
    return list(
        session.scalars(
            select(Run).where(Run.group_name == group).order_by(Run.id).limit(limit + 1)
        )
    )
