"""Revision 0010 adds `datasets` on both databases, matches the models (the whole metadata:
it is the newest revision), enforces one name per project and a known format, deletes a
project's datasets with it, and goes back down."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.exc import IntegrityError

from gapwatch.server.migrate import alembic_config
from gapwatch.server.models import Base

INSERT = text(
    "INSERT INTO datasets (project_id, name, digest, format, size_bytes, shapes, dtype, "
    "classes, n_train, n_test, created_at) VALUES (:p, :name, :digest, :format, 10, '{}', "
    "'float32', '[0, 1]', 4, 2, CURRENT_TIMESTAMP)"
)


def test_datasets_come_and_go_with_revision_0010(database_url: str) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "0009")
    engine = create_engine(database_url)
    if engine.dialect.name == "sqlite":  # as the app's engine does: foreign keys enforced
        event.listen(engine, "connect", lambda c, _: c.execute("PRAGMA foreign_keys=ON"))
    command.upgrade(config, "0010")
    with engine.begin() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
        connection.execute(
            text("INSERT INTO projects (name, created_at) VALUES ('p2', CURRENT_TIMESTAMP)")
        )
        project = connection.execute(text("SELECT id FROM projects WHERE name = 'p2'")).scalar_one()
        row = {"p": project, "digest": "a" * 64, "format": "npz"}
        connection.execute(INSERT, {**row, "name": "digits"})
        connection.execute(INSERT, {**row, "name": "digits-again"})  # one digest, two names
    for duplicate in ({**row, "name": "digits"}, {**row, "name": "other", "format": "csv"}):
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(INSERT, duplicate)
    with engine.begin() as connection:
        indexes = {i["name"] for i in inspect(connection).get_indexes("datasets")}
        assert "ix_datasets_digest" in indexes
        connection.execute(text("DELETE FROM projects WHERE id = :p"), {"p": project})
        assert connection.execute(text("SELECT count(*) FROM datasets")).scalar_one() == 0
    command.downgrade(config, "0009")
    assert "datasets" not in inspect(engine).get_table_names()
    engine.dispose()
