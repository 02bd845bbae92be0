"""The runs list: a filtered, sorted page, with each ended run's headline numbers.

Kept apart from runs/service.py because it reads the analytics (summaries), which in turn read
the metric store, which asks runs/service whether a run is writable.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from gapwatch.server.models import Run, RunStatus
from gapwatch.server.models.base import utcnow
from gapwatch.server.runs import repository
from gapwatch.server.summaries import service as summaries

log = logging.getLogger(__name__)

# Ended runs whose headline numbers are computed per query when a list needs them all.
HEADLINE_BATCH = 100


def list_runs(
    session: Session,
    cache: summaries.AnalysisCache,
    where: repository.RunFilter,
    *,
    sort: str,
    limit: int,
    offset: int,
) -> tuple[Sequence[Run], int]:
    """A page of runs; ended runs get their headline numbers computed on first listing."""
    if sort.removeprefix("-") != "created_at":
        # Sorting by a number needs it on every ended run, not only on this page's.
        while pending := repository.ended_without_headline(session, limit=HEADLINE_BATCH):
            record_headlines(session, pending, cache)
    rows, total = repository.page(session, where, sort=sort, limit=limit, offset=offset)
    record_headlines(session, [r for r in rows if r.headline_at is None], cache)
    return rows, total


def record_headlines(session: Session, runs: Sequence[Run], cache: summaries.AnalysisCache) -> None:
    """Compute and store the headline numbers and duration of ended runs.

    They come from the cached summary and gap table, which the run page then finds ready. All
    numbers are computed before any row is written, and rows are written in id order: two
    listings that backfill the same runs lock them in the same order and cannot deadlock. A
    run whose numbers cannot be computed gets nulls (and a log line) rather than failing
    every listing that shows it.
    """
    ended = sorted((r for r in runs if RunStatus(r.status).is_terminal), key=lambda r: r.id)
    numbers: dict[int, summaries.Headline] = {}
    for run in ended:
        try:
            with session.begin_nested():
                numbers[run.id] = summaries.headline(session, run, cache)
        except Exception:  # noqa: BLE001 - one malformed run must not break the runs list
            log.exception("run %d: headline numbers not computed", run.id)
            numbers[run.id] = summaries.Headline(None, None, None, None)
    now = utcnow()
    for run in ended:
        headline = numbers[run.id]
        run.headline_acc = headline.acc
        run.headline_min_acc = headline.min_acc
        run.headline_wc_acc = headline.wc_acc
        run.headline_gap_depth = headline.mean_gap_depth
        if run.started_at is not None and run.finished_at is not None:
            run.duration_s = (run.finished_at - run.started_at).total_seconds()
        run.headline_at = now
        session.flush()


def record_headline_at_finish(session: Session, run: Run, cache: summaries.AnalysisCache) -> None:
    """At the worker's finish: compute the numbers now, while nobody waits on a page for them.

    Never raising: a failure here must not lose the finish itself.
    """
    try:
        record_headlines(session, [run], cache)
    except Exception:  # noqa: BLE001 - the finish matters more than its derived numbers
        log.exception("headline of run %d not computed at finish", run.id)
