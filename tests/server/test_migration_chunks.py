"""Revision 0002 moves every stored point from metric_points into chunks, and back on downgrade,
on PostgreSQL and on SQLite."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from gapwatch.server.db import create_db_engine, create_session_factory
from gapwatch.server.metrics import service
from gapwatch.server.migrate import alembic_config

POINTS = {  # series key -> steps (values are step / 1000); a few windows and a sparse tail
    "eval/acc/task_0": [*range(0, 5000), 9000, 123_456],
    "train/loss": [3, 4100, 8200],
}


def test_points_survive_upgrade_and_downgrade(database_url: str) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "0001")
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO runs (id, tags, spec, status, created_at, progress_step, attempts) "
                "VALUES (1, '[]', '{}', 'running', CURRENT_TIMESTAMP, 0, 0)"
            )
        )
        for series_id, (key, steps) in enumerate(POINTS.items(), start=1):
            connection.execute(
                text("INSERT INTO metric_series (id, run_id, key) VALUES (:i, 1, :k)"),
                {"i": series_id, "k": key},
            )
            connection.execute(
                text("INSERT INTO metric_points (series_id, step, value) VALUES (:i, :s, :v)"),
                [{"i": series_id, "s": s, "v": s / 1000} for s in steps],
            )
    engine.dispose()

    command.upgrade(config, "head")
    engine = create_db_engine(database_url)
    with create_session_factory(engine)() as session:
        for series_id, steps in enumerate(POINTS.values(), start=1):
            points = service.read_all(session, series_id)
            assert points.steps.tolist() == steps
            assert points.values.tolist() == [s / 1000 for s in steps]
        windows = session.execute(text("SELECT count(*) FROM metric_chunks")).scalar()
        assert windows == 4 + 3  # one chunk per 4,096-step window that holds points
    engine.dispose()

    command.downgrade(config, "0001")
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT series_id, step, value FROM metric_points ORDER BY series_id, step")
        ).all()
    engine.dispose()
    expected = [
        (series_id, s, s / 1000)
        for series_id, steps in enumerate(POINTS.values(), start=1)
        for s in steps
    ]
    assert [tuple(r) for r in rows] == expected
