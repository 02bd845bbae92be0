"""Runs from users' own training loops: a run kind, a free-form config, no spec, `crashed`.

An engine run is described by its spec and executed by a worker; a loop run (opened by
`gapwatch.init` in the user's own code) has no spec but a free-form `config`, and becomes
`crashed` when its process stops sending heartbeats. A loop run may carry the client's own id
for it (`client_key`), unique per project, so that a retried or re-synced opening finds the run
it already created. Existing runs are engine runs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "('queued', 'running', 'succeeded', 'failed', 'cancelled')"
NEW_STATUSES = "('queued', 'running', 'succeeded', 'failed', 'cancelled', 'crashed')"
JSONDoc = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="engine"))
        batch.add_column(sa.Column("config", JSONDoc))
        batch.add_column(sa.Column("client_key", sa.String(100)))
        batch.create_unique_constraint(
            op.f("uq_runs_project_id_client_key"), ["project_id", "client_key"]
        )
        batch.alter_column("spec", existing_type=JSONDoc, nullable=True)
        batch.drop_constraint(op.f("ck_runs_status_known"), type_="check")
        batch.create_check_constraint(op.f("ck_runs_status_known"), f"status IN {NEW_STATUSES}")
        batch.create_check_constraint(op.f("ck_runs_kind_known"), "kind IN ('engine', 'loop')")
        # An engine run always has its spec; only a loop run may lack one.
        batch.create_check_constraint(
            op.f("ck_runs_engine_has_spec"), "kind = 'loop' OR spec IS NOT NULL"
        )
        batch.create_index("ix_runs_kind", ["kind"])


def downgrade() -> None:
    op.execute("DELETE FROM runs WHERE kind = 'loop'")
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_kind")
        batch.drop_constraint(op.f("ck_runs_engine_has_spec"), type_="check")
        batch.drop_constraint(op.f("ck_runs_kind_known"), type_="check")
        batch.drop_constraint(op.f("ck_runs_status_known"), type_="check")
        batch.create_check_constraint(op.f("ck_runs_status_known"), f"status IN {OLD_STATUSES}")
        batch.alter_column("spec", existing_type=JSONDoc, nullable=False)
        batch.drop_constraint(op.f("uq_runs_project_id_client_key"), type_="unique")
        batch.drop_column("client_key")
        batch.drop_column("config")
        batch.drop_column("kind")
