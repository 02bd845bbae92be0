"""Embedded start-up recovery, on a real SQLite file and the real filesystem broker."""

from __future__ import annotations

from pathlib import Path

from gapwatch.config import Settings
from gapwatch.queue import RunQueue
from gapwatch.server.db import create_db_engine, create_session_factory, pop_after_commit
from gapwatch.server.migrate import upgrade_database
from gapwatch.server.models import Run
from gapwatch.server.runs.service import recover_runs

SPEC = {"benchmark": {"name": "split_digits"}, "model": {"name": "mlp"}, "strategy": {"name": "er"}}


def test_interrupted_runs_fail_and_queued_runs_are_sent_again(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    upgrade_database(settings.resolved_database_url)
    engine = create_db_engine(settings.resolved_database_url)
    factory = create_session_factory(engine)
    with factory() as session:
        for status in ("running", "queued", "succeeded", "queued"):
            session.add(Run(spec=SPEC, tags=[], status=status, progress_step=0, attempts=0))
        session.commit()

    queue = RunQueue(settings)
    with factory() as session:
        assert recover_runs(session, queue, fail_running=True) == (1, 2)
        session.commit()
        for callback in pop_after_commit(session):
            callback()
    queue.close()

    with factory() as session:
        rows = {run.id: run for run in session.query(Run)}
    assert rows[1].status == "failed" and "interrupted" in (rows[1].error or "")
    assert rows[1].finished_at is not None
    assert [rows[i].status for i in (2, 3, 4)] == ["queued", "succeeded", "queued"]
    messages = list((settings.broker_dir / "queue").iterdir())
    assert len(messages) == 2
    assert all(b"gapwatch.execute_run" in m.read_bytes() for m in messages)
    engine.dispose()


def test_self_hosted_start_resends_queued_runs_but_leaves_running_ones(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    upgrade_database(settings.resolved_database_url)
    engine = create_db_engine(settings.resolved_database_url)
    factory = create_session_factory(engine)
    with factory() as session:
        for status in ("running", "queued"):
            session.add(Run(spec=SPEC, tags=[], status=status, progress_step=0, attempts=0))
        session.commit()
    queue = RunQueue(settings)
    with factory() as session:
        assert recover_runs(session, queue, fail_running=False) == (0, 1)
        session.commit()
        for callback in pop_after_commit(session):
            callback()
    queue.close()
    with factory() as session:
        assert [run.status for run in session.query(Run).order_by(Run.id)] == ["running", "queued"]
    assert len(list((settings.broker_dir / "queue").iterdir())) == 1
    engine.dispose()
