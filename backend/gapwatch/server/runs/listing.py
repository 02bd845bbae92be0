"""The runs list and the headline numbers it sorts on, written once when a run ends.

Kept apart from runs/service.py because it reads the analytics (summaries), which in turn read
the metric store, which asks runs/service whether a run is writable.

A run's headline numbers (the registry's headline metrics) are written when it reaches a
terminal state, after that transaction has committed (finish, cancel), and by the API's
periodic sweep for every ended run that has none yet: runs failed at their claim, loop runs
marked crashed, runs that ended before this revision, or a write that failed. No GET writes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gapwatch.server.db import call_after_commit
from gapwatch.server.models import Run, RunStatus
from gapwatch.server.models.base import utcnow
from gapwatch.server.runs import repository
from gapwatch.server.summaries import repository as summaries_repository
from gapwatch.server.summaries import service as summaries

log = logging.getLogger(__name__)

# Ended runs whose numbers the sweep writes at most per pass (a backlog goes over a few).
HEADLINE_BACKFILL_BATCH = 50


def list_runs(
    session: Session,
    where: repository.RunFilter,
    *,
    sort: str,
    limit: int,
    offset: int,
) -> tuple[Sequence[Run], int]:
    """A page of runs in `sort` order (a headline metric sorts on its stored rows)."""
    return repository.page(session, where, sort=sort, limit=limit, offset=offset)


def record_headlines(session: Session, runs: Sequence[Run], cache: summaries.AnalysisCache) -> None:
    """Compute and store the headline numbers and duration of ended runs.

    All numbers are computed before any row is written, and rows are written in id order: two
    writers of the same runs lock them in the same order and cannot deadlock. A run whose
    numbers cannot be computed gets none (and a log line), with `headline_at` set all the same
    so that the sweep does not try it again at every pass.
    """
    ended = sorted((r for r in runs if RunStatus(r.status).is_terminal), key=lambda r: r.id)
    numbers: dict[int, dict[str, float | None]] = {}
    for run in ended:
        try:
            with session.begin_nested():
                numbers[run.id] = summaries.headline(session, run, cache)
        except Exception:  # noqa: BLE001 - one malformed run must not stop the others
            log.exception("run %d: headline numbers not computed", run.id)
            numbers[run.id] = {}
    now = utcnow()
    for run in ended:
        summaries_repository.replace_headlines(session, run.id, numbers[run.id])
        session.expire(run, ["headlines"])
        if run.started_at is not None and run.finished_at is not None:
            run.duration_s = (run.finished_at - run.started_at).total_seconds()
        run.headline_at = now
        session.flush()


def record_headlines_after_commit(
    session: Session, run_id: int, cache: summaries.AnalysisCache
) -> None:
    """Once the transaction that ended the run has committed, write its headline numbers in a
    transaction of their own. Never raising: a failure here loses nothing (the run ended; the
    sweep writes the numbers later)."""

    def record() -> None:
        try:
            run = repository.get(session, run_id)
            if run is not None and run.headline_at is None:
                record_headlines(session, [run], cache)
                session.commit()
        except SQLAlchemyError:
            log.exception("run %d: headline numbers not written at its end", run_id)
            session.rollback()
        finally:
            session.close()

    call_after_commit(session, record)


def backfill_headlines(
    session: Session, cache: summaries.AnalysisCache, *, limit: int = HEADLINE_BACKFILL_BATCH
) -> int:
    """Write the headline numbers of ended runs that have none; returns how many."""
    pending = repository.ended_without_headline(session, limit=limit)
    record_headlines(session, pending, cache)
    return len(pending)
