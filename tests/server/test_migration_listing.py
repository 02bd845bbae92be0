"""Revision 0003 copies benchmark and strategy out of existing specs; the migrated schema is the
models' schema on both databases (so a column added to a model without a migration fails here)."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from gapwatch.server.migrate import alembic_config
from gapwatch.server.models import Base
from tests.server.conftest import insert_old_run

SPEC = {"benchmark": {"name": "split_digits"}, "strategy": {"name": "er"}}


def test_existing_runs_get_benchmark_and_strategy_and_the_schema_matches_the_models(
    database_url: str,
) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "0002")
    engine = create_engine(database_url)
    insert_old_run(engine, "old", SPEC)
    command.upgrade(config, "head")
    with engine.connect() as connection:
        row = connection.execute(text("SELECT benchmark, strategy, headline_at FROM runs")).one()
        assert tuple(row) == ("split_digits", "er", None)
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    command.downgrade(config, "0002")
    with engine.connect() as connection:
        columns = connection.execute(text("SELECT * FROM runs")).keys()
        assert "benchmark" not in columns and "headline_acc" not in columns
    engine.dispose()
