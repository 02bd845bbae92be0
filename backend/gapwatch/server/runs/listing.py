"""The runs list: a filtered, sorted page, with each ended run's headline numbers.

Kept apart from runs/service.py because it reads the analytics (summaries), which in turn read
the metric store, which asks runs/service whether a run is writable.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from gapwatch.server.models import Run, RunStatus
from gapwatch.server.models.base import utcnow
from gapwatch.server.runs import repository
from gapwatch.server.summaries import service as summaries

# Ended runs whose headline numbers are computed per query when a list needs them all.
HEADLINE_BATCH = 100


def list_runs(
    session: Session, where: repository.RunFilter, *, sort: str, limit: int, offset: int
) -> tuple[Sequence[Run], int]:
    """A page of runs; ended runs get their headline numbers computed on first listing."""
    if sort.removeprefix("-") != "created_at":
        # Sorting by a number needs it on every ended run, not only on this page's.
        while pending := repository.ended_without_headline(session, limit=HEADLINE_BATCH):
            record_headlines(session, pending)
    rows, total = repository.page(session, where, sort=sort, limit=limit, offset=offset)
    record_headlines(session, [r for r in rows if r.headline_at is None])
    return rows, total


def record_headlines(session: Session, runs: Sequence[Run]) -> None:
    """Compute and store the headline numbers and duration of ended runs."""
    for run in runs:
        if not RunStatus(run.status).is_terminal:
            continue
        numbers = summaries.headline(session, run)
        run.headline_acc = numbers.acc
        run.headline_min_acc = numbers.min_acc
        run.headline_wc_acc = numbers.wc_acc
        run.headline_gap_depth = numbers.mean_gap_depth
        if run.started_at is not None and run.finished_at is not None:
            run.duration_s = (run.finished_at - run.started_at).total_seconds()
        run.headline_at = utcnow()
    session.flush()
