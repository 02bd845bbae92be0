"""Revision 0004: the runs of a database from before accounts move into the `default` project,
which the first admin created afterwards owns; the downgrade takes accounts away again; on
PostgreSQL and SQLite."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from gapwatch.server.accounts import service as accounts
from gapwatch.server.db import create_db_engine, create_session_factory
from gapwatch.server.migrate import alembic_config
from tests.server.conftest import insert_old_run

SPEC = {"benchmark": {"name": "split_digits"}, "strategy": {"name": "er"}}


def test_old_runs_land_in_default_which_the_first_admin_owns(
    database_url: str,
) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "0003")
    engine = create_engine(database_url)
    for name in ("old-1", "old-2"):
        insert_old_run(engine, name, SPEC)
    command.upgrade(config, "0004")
    with engine.connect() as connection:
        projects = connection.execute(text("SELECT id, name FROM projects")).all()
        assert [p.name for p in projects] == ["default"]
        placed = connection.execute(text("SELECT DISTINCT project_id FROM runs")).scalars().all()
        assert placed == [projects[0].id]
    app_engine = create_db_engine(database_url)
    with create_session_factory(app_engine)() as session:
        accounts.create_user(session, "first", password=None, is_admin=False)
        admin = accounts.create_user(session, "boss", password=None, is_admin=True)
        accounts.create_user(session, "boss2", password=None, is_admin=True)  # a later admin
        session.commit()
        members = accounts.repository.members(session, projects[0].id)
    app_engine.dispose()
    # The first admin, not the first user nor a later admin, owns the old runs' project.
    assert members == [(admin.name, "owner")]
    command.downgrade(config, "0003")
    with engine.connect() as connection:
        assert "project_id" not in connection.execute(text("SELECT * FROM runs")).keys()
        assert connection.execute(text("SELECT count(*) FROM runs")).scalar_one() == 2
    engine.dispose()
