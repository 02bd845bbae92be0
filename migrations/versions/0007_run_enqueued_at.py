"""When a queued run's message reached the broker: `runs.enqueued_at`.

A run submitted while the broker is down is stored `queued` but its message is never sent; the
API's periodic sweep sends again exactly the queued runs without `enqueued_at` (not every queued
run, which would flood the broker). Existing rows get none: a run queued before this revision
may be sent once more, which is harmless (a duplicate delivery is refused by the claim).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-14
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("enqueued_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("enqueued_at")
