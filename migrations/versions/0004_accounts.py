"""Accounts: users, projects with members and roles, sign-in sessions, API keys, one-time
sign-in links; every run belongs to a project.

Existing runs move into a project named `default`. It has no owner yet: the first admin created
afterwards (`gapwatch users create NAME --admin`, or the embedded service's first start) becomes
its owner.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model's types (migrations never import the app).
BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ROLE_CHECK = "role IN ('viewer', 'editor', 'owner')"
DEFAULT_PROJECT = "default"


def _id() -> sa.Column:
    return sa.Column("id", BigIntId, primary_key=True, autoincrement=True)


def _created() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "users",
        _id(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text()),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        _created(),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_table(
        "projects",
        _id(),
        sa.Column("name", sa.String(64), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
        sa.UniqueConstraint("name", name="uq_projects_name"),
    )
    op.create_table(
        "memberships",
        sa.Column("project_id", BigIntId, nullable=False),
        sa.Column("user_id", BigIntId, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("project_id", "user_id", name="pk_memberships"),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            ondelete="CASCADE",
            name="fk_memberships_project_id_projects",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name="fk_memberships_user_id_users"
        ),
        sa.CheckConstraint(ROLE_CHECK, name="ck_memberships_role_known"),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_table(
        "api_keys",
        _id(),
        sa.Column("user_id", BigIntId, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("project_id", BigIntId),
        sa.Column("role", sa.String(16)),
        _created(),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name="fk_api_keys_user_id_users"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            ondelete="CASCADE",
            name="fk_api_keys_project_id_projects",
        ),
        sa.CheckConstraint(f"role IS NULL OR {ROLE_CHECK}", name="ck_api_keys_role_known"),
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])
    op.create_table(
        "web_sessions",
        _id(),
        sa.Column("user_id", BigIntId, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _created(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("user_agent", sa.String(200)),
        sa.Column("address", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_web_sessions_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name="fk_web_sessions_user_id_users"
        ),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_table(
        "login_links",
        _id(),
        sa.Column("user_id", BigIntId, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _created(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_login_links"),
        sa.UniqueConstraint("token_hash", name="uq_login_links_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name="fk_login_links_user_id_users"
        ),
    )
    op.create_index("ix_login_links_user_id", "login_links", ["user_id"])

    # Every run belongs to a project: existing ones to `default`.
    bind = op.get_bind()
    projects = sa.table(
        "projects", sa.column("id"), sa.column("name"), sa.column("created_at", sa.DateTime())
    )
    bind.execute(projects.insert().values(name=DEFAULT_PROJECT, created_at=datetime.now(UTC)))
    default_id = bind.execute(
        sa.select(projects.c.id).where(projects.c.name == DEFAULT_PROJECT)
    ).scalar_one()
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("project_id", BigIntId))
    runs = sa.table("runs", sa.column("project_id"))
    bind.execute(runs.update().values(project_id=default_id))
    with op.batch_alter_table("runs") as batch:
        batch.alter_column("project_id", existing_type=BigIntId, nullable=False)
        batch.create_foreign_key(
            "fk_runs_project_id_projects", "projects", ["project_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_runs_project_id", ["project_id"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_project_id")
        batch.drop_constraint("fk_runs_project_id_projects", type_="foreignkey")
        batch.drop_column("project_id")
    for table in ("login_links", "web_sessions", "api_keys"):
        op.drop_index(f"ix_{table}_user_id", table_name=table)
        op.drop_table(table)
    op.drop_index("ix_memberships_user_id", table_name="memberships")
    op.drop_table("memberships")
    op.drop_table("projects")
    op.drop_table("users")
