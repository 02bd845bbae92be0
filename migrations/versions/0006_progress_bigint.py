"""Run progress in 64-bit integers: a heartbeat's step is a metric step (up to 2**53), which a
32-bit column refused with a database error.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The 32-bit column's largest value: where a downgrade caps progress that no longer fits.
INT32_MAX = 2**31 - 1


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.alter_column(
            "progress_step", existing_type=sa.Integer(), type_=sa.BigInteger(), nullable=False
        )
        batch.alter_column("total_steps", existing_type=sa.Integer(), type_=sa.BigInteger())


def downgrade() -> None:
    op.execute(f"UPDATE runs SET progress_step = {INT32_MAX} WHERE progress_step > {INT32_MAX}")
    op.execute(f"UPDATE runs SET total_steps = {INT32_MAX} WHERE total_steps > {INT32_MAX}")
    with op.batch_alter_table("runs") as batch:
        batch.alter_column(
            "progress_step", existing_type=sa.BigInteger(), type_=sa.Integer(), nullable=False
        )
        batch.alter_column("total_steps", existing_type=sa.BigInteger(), type_=sa.Integer())
