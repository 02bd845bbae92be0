"""Revision 0009 adds `sweeps` and `runs.sweep_id` on both databases, matches the models, and
goes back down; existing runs belong to no sweep, and deleting a sweep keeps its runs."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, event, inspect, text

from gapwatch.server.migrate import alembic_config
from gapwatch.server.models import Base
from tests.server.conftest import insert_old_run

SPEC = {"benchmark": {"name": "split_digits"}, "strategy": {"name": "er"}}
LATER_TABLES = frozenset({"datasets"})


def _later_table(difference: tuple[object, ...]) -> bool:
    """An ("add_table", table) or ("add_index", index) of a table a later revision creates."""
    kind, what = difference[0], difference[1]
    table = getattr(what, "table", what)
    return kind in ("add_table", "add_index") and getattr(table, "name", None) in LATER_TABLES


def test_sweeps_come_and_go_with_revision_0009(database_url: str) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "0002")
    engine = create_engine(database_url)
    if engine.dialect.name == "sqlite":  # as the app's engine does: foreign keys enforced
        event.listen(engine, "connect", lambda c, _: c.execute("PRAGMA foreign_keys=ON"))
    insert_old_run(engine, "old", SPEC)
    command.upgrade(config, "0008")
    command.upgrade(config, "0009")
    with engine.begin() as connection:
        assert connection.execute(text("SELECT sweep_id FROM runs")).scalar_one() is None
        # Every table of the models but those of later revisions (0010's datasets); the
        # newest revision's test compares the whole metadata.
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert [d for d in differences if not _later_table(d)] == []
        project = connection.execute(text("SELECT project_id FROM runs")).scalar_one()
        connection.execute(
            text(
                "INSERT INTO sweeps (project_id, name, method, axes, base, created_at) VALUES "
                "(:p, 's', 'grid', '[]', '{}', CURRENT_TIMESTAMP)"
            ),
            {"p": project},
        )
        sweep = connection.execute(text("SELECT id FROM sweeps")).scalar_one()
        connection.execute(text("UPDATE runs SET sweep_id = :s"), {"s": sweep})
        connection.execute(text("DELETE FROM sweeps"))
        # The run stays, outside any sweep.
        assert connection.execute(text("SELECT sweep_id FROM runs")).one() == (None,)
    command.downgrade(config, "0008")
    inspector = inspect(engine)
    assert "sweeps" not in inspector.get_table_names()
    assert "sweep_id" not in {c["name"] for c in inspector.get_columns("runs")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM runs")).scalar_one() == "old"
    engine.dispose()
