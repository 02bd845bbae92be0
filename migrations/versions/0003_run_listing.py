"""Columns the runs list filters and sorts on: benchmark, strategy, duration, headline numbers.

The benchmark and strategy names are copied out of the spec so that a filter is an indexed
equality, not a JSON lookup. The headline numbers (final ACC, min-ACC, WC-ACC, mean gap depth)
are computed from the stored points once a run has ended (`headline_at` says when); for runs
that ended before this revision they are computed the first time the list needs them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HEADLINE_COLUMNS = ("headline_acc", "headline_min_acc", "headline_wc_acc", "headline_gap_depth")


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("benchmark", sa.String(64)))
        batch.add_column(sa.Column("strategy", sa.String(64)))
        batch.add_column(sa.Column("duration_s", sa.Float()))
        for name in HEADLINE_COLUMNS:
            batch.add_column(sa.Column(name, sa.Float()))
        batch.add_column(sa.Column("headline_at", sa.DateTime(timezone=True)))
        batch.create_index("ix_runs_benchmark", ["benchmark"])
        batch.create_index("ix_runs_strategy", ["strategy"])

    bind = op.get_bind()
    runs = sa.table(
        "runs",
        sa.column("id"),
        sa.column("spec", sa.JSON()),
        sa.column("benchmark"),
        sa.column("strategy"),
    )
    for run_id, spec in bind.execute(sa.select(runs.c.id, runs.c.spec)).all():
        spec = spec or {}
        bind.execute(
            runs.update()
            .where(runs.c.id == run_id)
            .values(
                benchmark=(spec.get("benchmark") or {}).get("name"),
                strategy=(spec.get("strategy") or {}).get("name"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_strategy")
        batch.drop_index("ix_runs_benchmark")
        for name in ("headline_at", *reversed(HEADLINE_COLUMNS), "duration_s"):
            batch.drop_column(name)
        batch.drop_column("strategy")
        batch.drop_column("benchmark")
