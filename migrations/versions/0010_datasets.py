"""Datasets: arrays uploaded into a project, named by their content digest.

A dataset belongs to a project (deleted with it) and is unique there by name. Its arrays are
stored once per digest in the artifact store, outside the database; a row keeps the shapes,
dtype and labels that a run submission checks.

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model's types (migrations never import the app).
BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONDoc = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column("project_id", BigIntId, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("shapes", JSONDoc, nullable=False),
        sa.Column("dtype", sa.String(32), nullable=False),
        sa.Column("classes", JSONDoc, nullable=False),
        sa.Column("n_train", sa.BigInteger(), nullable=False),
        sa.Column("n_test", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_datasets"),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            ondelete="CASCADE",
            name="fk_datasets_project_id_projects",
        ),
        sa.UniqueConstraint("project_id", "name", name="uq_datasets_project_id_name"),
        sa.CheckConstraint("format IN ('npz', 'pt')", name="ck_datasets_format_known"),
    )
    op.create_index("ix_datasets_digest", "datasets", ["digest"])


def downgrade() -> None:
    op.drop_index("ix_datasets_digest", table_name="datasets")
    op.drop_table("datasets")
