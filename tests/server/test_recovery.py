"""Embedded start-up recovery and stop, on a real SQLite file and the real filesystem broker."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine

from gapwatch.config import Settings
from gapwatch.queue import RunQueue
from gapwatch.server.db import create_db_engine, create_session_factory, pop_after_commit
from gapwatch.server.migrate import upgrade_database
from gapwatch.server.models import Run
from gapwatch.server.runs.service import recover_runs, release_stopped_runs
from tests.conftest import default_project_id

SPEC = {"benchmark": {"name": "split_digits"}, "model": {"name": "mlp"}, "strategy": {"name": "er"}}

# (status, kind, attempts) of each run a test starts with.
Row = tuple[str, str, int]
# (status, attempts, error, finished_at) of each run afterwards.
After = tuple[str, int, str | None, object]


def _database(tmp_path: Path, rows: tuple[Row, ...]) -> tuple[Settings, Engine]:
    settings = Settings(data_dir=tmp_path)
    upgrade_database(settings.resolved_database_url)
    engine = create_db_engine(settings.resolved_database_url)
    with create_session_factory(engine)() as session:
        for status, kind, attempts in rows:
            session.add(
                Run(
                    project_id=default_project_id(session),
                    kind=kind,
                    spec=SPEC if kind == "engine" else None,
                    tags=[],
                    status=status,
                    progress_step=0,
                    attempts=attempts,
                )
            )
        session.commit()
    return settings, engine


def _after(engine: Engine) -> list[After]:
    with create_session_factory(engine)() as session:
        return [
            (r.status, r.attempts, r.error, r.finished_at)
            for r in session.query(Run).order_by(Run.id)
        ]


def _recover(
    tmp_path: Path, rows: tuple[Row, ...], *, requeue_running: bool
) -> tuple[tuple[int, int], list[After], list[int]]:
    """Runs as `rows` in a fresh SQLite file, recovered: the counts, each run afterwards, and
    the runs sent to the filesystem broker's queue."""
    settings, engine = _database(tmp_path, rows)
    queue = RunQueue(settings)
    with create_session_factory(engine)() as session:
        counts = recover_runs(session, queue, requeue_running=requeue_running)
        session.commit()
        for callback in pop_after_commit(session):
            callback()
    queue.close()
    after = _after(engine)
    engine.dispose()
    return counts, after, _sent(settings)


def _sent(settings: Settings) -> list[int]:
    """The run ids of the task messages waiting in the filesystem broker's queue, sorted."""
    folder = settings.broker_dir / "queue"
    messages = [json.loads(m.read_bytes()) for m in folder.iterdir()] if folder.exists() else []
    assert all(m["headers"]["task"] == "gapwatch.execute_run" for m in messages)
    return sorted(json.loads(m["headers"]["argsrepr"])[0] for m in messages)


def test_an_embedded_start_requeues_interrupted_runs_to_resume_and_sends_queued_ones(
    tmp_path: Path,
) -> None:
    counts, runs, messages = _recover(
        tmp_path,
        (
            ("running", "engine", 2),
            ("queued", "engine", 0),
            ("succeeded", "engine", 1),
            ("queued", "engine", 1),
            ("running", "loop", 0),
        ),
        requeue_running=True,
    )
    assert counts == (1, 3)
    # The interrupted run waits to resume (not failed), its attempts as they were: its next
    # claim counts one more. The loop run is left to its own code.
    assert runs == [
        ("queued", 2, None, None),
        ("queued", 0, None, None),
        ("succeeded", 1, None, None),
        ("queued", 1, None, None),
        ("running", 0, None, None),
    ]
    assert messages == [1, 2, 4]


def test_self_hosted_start_resends_queued_runs_but_leaves_running_ones(tmp_path: Path) -> None:
    counts, runs, messages = _recover(
        tmp_path, (("running", "engine", 1), ("queued", "engine", 0)), requeue_running=False
    )
    assert counts == (0, 1)
    assert [(status, attempts) for status, attempts, _, _ in runs] == [
        ("running", 1),
        ("queued", 0),
    ]
    assert messages == [2]


def test_a_clean_embedded_stop_queues_its_interrupted_run_and_gives_its_attempt_back(
    tmp_path: Path,
) -> None:
    settings, engine = _database(
        tmp_path,
        (("running", "engine", 2), ("queued", "engine", 0), ("running", "loop", 0)),
    )
    with create_session_factory(engine)() as session:
        assert release_stopped_runs(session) == 1
        session.commit()
    assert [(status, attempts) for status, attempts, _, _ in _after(engine)] == [
        ("queued", 1),
        ("queued", 0),
        ("running", 0),
    ]
    engine.dispose()
    # Nothing is sent at the stop: the next start sends every queued run.
    assert _sent(settings) == []
