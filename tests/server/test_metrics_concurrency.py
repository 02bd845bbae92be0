"""Concurrent batches into the same series store each step once and count it once, on
PostgreSQL (row locks) and on SQLite (one writer at a time), with real sessions and commits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gapwatch.config import Settings
from gapwatch.server.access.tokens import hash_secret
from gapwatch.server.db import create_db_engine, create_session_factory
from gapwatch.server.metrics import service
from gapwatch.server.metrics.chunks import Points, decode_many
from gapwatch.server.metrics.schemas import SeriesPoints
from gapwatch.server.migrate import upgrade_database
from gapwatch.server.models import MetricChunk, Run
from tests.conftest import default_project_id, temporary_database

TOKEN = "run-token"
SPEC = {"benchmark": {"name": "split_digits"}, "model": {"name": "mlp"}, "strategy": {"name": "er"}}


@pytest.fixture(params=["postgresql", "sqlite"])
def factory(request, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    with ExitStack() as stack:
        if request.param == "postgresql":
            name = f"gapwatch_concurrency_{tmp_path.name[-12:].lower()}".replace("-", "_")
            url = stack.enter_context(temporary_database(name))
        else:
            url = Settings(data_dir=tmp_path).resolved_database_url
            upgrade_database(url)
        engine = create_db_engine(url)
        yield create_session_factory(engine)
        engine.dispose()


def test_racing_overlapping_batches_store_and_count_each_step_once(factory) -> None:
    with factory() as session:
        run = Run(
            project_id=default_project_id(session),
            spec=SPEC,
            tags=[],
            status="running",
            progress_step=0,
            attempts=0,
            token_hash=hash_secret(TOKEN),
        )
        session.add(run)
        session.commit()
        run_id = run.id
    threads, per_thread = 4, 6
    barrier = threading.Barrier(threads)
    stored = [0] * threads
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            barrier.wait()
            for b in range(per_thread):
                # Thread t writes steps [t*700 + b*400, +1500): every batch overlaps others.
                steps = np.arange(t * 700 + b * 400, t * 700 + b * 400 + 1500, dtype=np.int64)
                batch = [
                    SeriesPoints("eval/acc/task_0", Points(steps, steps / 1e4)),
                    SeriesPoints("train/loss", Points(steps[::3], steps[::3] / 1e3)),
                ]
                with factory() as session:
                    stored[t] += service.ingest(session, run_id, TOKEN, batch).stored
                    session.commit()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors
    unique = set()
    for t in range(threads):
        for b in range(per_thread):
            unique |= set(range(t * 700 + b * 400, t * 700 + b * 400 + 1500))
    loss_unique = {s for t in range(threads) for b in range(per_thread)
                   for s in range(t * 700 + b * 400, t * 700 + b * 400 + 1500, 3)}  # fmt: skip
    assert sum(stored) == len(unique) + len(loss_unique)
    with factory() as session:
        rows = session.execute(
            select(MetricChunk.first_step, MetricChunk.raw_offsets, MetricChunk.raw_values)
        ).all()
        stored_points = decode_many([(f, bytes(o), bytes(v)) for f, o, v in rows])
    assert len(stored_points) == len(unique) + len(loss_unique)
    with factory() as session:
        ids = dict(
            session.execute(select(MetricChunk.series_id, MetricChunk.series_id).distinct()).all()
        )
        assert len(ids) == 2
        answers = service.read(session, run_id, None, start=None, end=None)
    by_key = {a.key: a.slice.points for a in answers}
    assert by_key["eval/acc/task_0"].steps.tolist() == sorted(unique)
    assert by_key["eval/acc/task_0"].values.tolist() == (np.array(sorted(unique)) / 1e4).tolist()
    assert by_key["train/loss"].steps.tolist() == sorted(loss_unique)
