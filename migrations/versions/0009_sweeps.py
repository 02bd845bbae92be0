"""Sweeps: a base run spec and axes of values, expanded into runs at creation; `runs.sweep_id`.

A sweep belongs to a project (deleted with it). Its runs point at it; deleting a sweep keeps
its runs (their `sweep_id` becomes null). Existing runs belong to no sweep.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-20
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model's types (migrations never import the app).
BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONDoc = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column("project_id", BigIntId, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("axes", JSONDoc, nullable=False),
        sa.Column("base", JSONDoc, nullable=False),
        sa.Column("budget", sa.Integer()),
        sa.Column("seed", sa.BigInteger()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sweeps"),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            ondelete="CASCADE",
            name="fk_sweeps_project_id_projects",
        ),
        sa.CheckConstraint("method IN ('grid', 'random')", name="ck_sweeps_method_known"),
    )
    op.create_index("ix_sweeps_project_id", "sweeps", ["project_id"])
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("sweep_id", BigIntId))
        batch.create_foreign_key(
            "fk_runs_sweep_id_sweeps", "sweeps", ["sweep_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_runs_sweep_id", ["sweep_id"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_sweep_id")
        batch.drop_constraint("fk_runs_sweep_id_sweeps", type_="foreignkey")
        batch.drop_column("sweep_id")
    op.drop_index("ix_sweeps_project_id", table_name="sweeps")
    op.drop_table("sweeps")
