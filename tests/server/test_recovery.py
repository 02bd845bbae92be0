"""Embedded start-up recovery, on a real SQLite file and the real filesystem broker."""

from __future__ import annotations

from pathlib import Path

from gapwatch.config import Settings
from gapwatch.queue import RunQueue
from gapwatch.server.db import create_db_engine, create_session_factory, pop_after_commit
from gapwatch.server.migrate import upgrade_database
from gapwatch.server.models import Run
from gapwatch.server.runs.service import recover_runs
from tests.conftest import default_project_id

SPEC = {"benchmark": {"name": "split_digits"}, "model": {"name": "mlp"}, "strategy": {"name": "er"}}


def _recover(
    tmp_path: Path, statuses: tuple[str, ...], *, fail_running: bool
) -> tuple[tuple[int, int], list[tuple[str, str | None, object]], Settings]:
    """Runs with `statuses` in a fresh SQLite file, recovered.

    Returns the counts, each run's (status, error, finished_at) afterwards, and the settings.
    """
    settings = Settings(data_dir=tmp_path)
    upgrade_database(settings.resolved_database_url)
    engine = create_db_engine(settings.resolved_database_url)
    factory = create_session_factory(engine)
    with factory() as session:
        for status in statuses:
            session.add(
                Run(
                    project_id=default_project_id(session),
                    spec=SPEC,
                    tags=[],
                    status=status,
                    progress_step=0,
                    attempts=0,
                )
            )
        session.commit()
    queue = RunQueue(settings)
    with factory() as session:
        counts = recover_runs(session, queue, fail_running=fail_running)
        session.commit()
        for callback in pop_after_commit(session):
            callback()
    queue.close()
    with factory() as session:
        after = [(r.status, r.error, r.finished_at) for r in session.query(Run).order_by(Run.id)]
    engine.dispose()
    return counts, after, settings


def test_interrupted_runs_fail_and_queued_runs_are_sent_again(tmp_path: Path) -> None:
    counts, runs, settings = _recover(
        tmp_path, ("running", "queued", "succeeded", "queued"), fail_running=True
    )
    assert counts == (1, 2)
    assert [status for status, _, _ in runs] == ["failed", "queued", "succeeded", "queued"]
    _, error, finished_at = runs[0]
    assert "interrupted" in (error or "") and finished_at is not None
    messages = list((settings.broker_dir / "queue").iterdir())
    assert len(messages) == 2
    assert all(b"gapwatch.execute_run" in m.read_bytes() for m in messages)


def test_self_hosted_start_resends_queued_runs_but_leaves_running_ones(tmp_path: Path) -> None:
    counts, runs, settings = _recover(tmp_path, ("running", "queued"), fail_running=False)
    assert counts == (0, 1)
    assert [status for status, _, _ in runs] == ["running", "queued"]
    assert len(list((settings.broker_dir / "queue").iterdir())) == 1
