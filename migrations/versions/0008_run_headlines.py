"""Headline numbers as rows per (run, metric): `run_headlines`, written once at a run's end.

The runs list sorted on four columns of `runs` (acc, min_acc, wc_acc, gap depth); the metric
registry (gapwatch.analytics.registry) now names which numbers are headlines, and a new one
must not need a migration. The old columns are dropped, and `headline_at` is cleared so that
the API's sweep recomputes every ended run's numbers under the new stability-gap definitions
(METRICS.md, "The stability gap, per boundary"): the old gap depth meant something else.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_COLUMNS = ("headline_acc", "headline_min_acc", "headline_wc_acc", "headline_gap_depth")


def upgrade() -> None:
    op.create_table(
        "run_headlines",
        sa.Column(
            "run_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("metric", sa.String(64), primary_key=True),
        sa.Column("value", sa.Float()),
    )
    op.create_index("ix_run_headlines_metric_value", "run_headlines", ["metric", "value"])
    with op.batch_alter_table("runs") as batch:
        for column in _OLD_COLUMNS:
            batch.drop_column(column)
    op.execute(sa.text("UPDATE runs SET headline_at = NULL"))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        for column in _OLD_COLUMNS:
            batch.add_column(sa.Column(column, sa.Float()))
    op.execute(sa.text("UPDATE runs SET headline_at = NULL"))
    op.drop_index("ix_run_headlines_metric_value", table_name="run_headlines")
    op.drop_table("run_headlines")
