"""Metric points as columnar chunks: metric_points (a row per point) becomes metric_chunks.

Each row holds a run of one series' points inside one aligned window of 4,096 steps: uint16
step offsets from its first step and float64 values (little-endian arrays), and the M4 summary
(first, last, min, max) of every 64-step block. Existing points move over, one row per window;
the downgrade moves them back.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import numpy as np
import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types and of the encoding at this revision: a migration must not change
# when the app does.
BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WINDOW_STEPS = 4096
SUMMARY_STEPS = 64
COLUMNS = (
    "series_id", "first_step", "last_step", "n",
    "m4_offsets", "m4_values", "raw_offsets", "raw_values",
)  # fmt: skip


def _m4_indices(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    ends = np.append(starts[1:], values.size)
    segment = np.repeat(np.arange(starts.size), ends - starts)
    picks = [starts, ends - 1]
    for reduce in (np.minimum, np.maximum):
        hits = np.flatnonzero(values == reduce.reduceat(values, starts)[segment])
        first = np.ones(hits.size, dtype=bool)
        first[1:] = segment[hits[1:]] != segment[hits[:-1]]
        picks.append(hits[first])
    return np.unique(np.concatenate(picks))


def _encode(series_id: int, steps: np.ndarray, values: np.ndarray) -> dict:
    offsets = steps - steps[0]
    blocks = steps // SUMMARY_STEPS
    keep = _m4_indices(values, np.flatnonzero(np.concatenate([[True], blocks[1:] != blocks[:-1]])))
    return {
        "series_id": series_id,
        "first_step": int(steps[0]),
        "last_step": int(steps[-1]),
        "n": int(steps.size),
        "m4_offsets": offsets[keep].astype("<u2").tobytes(),
        "m4_values": values[keep].astype("<f8").tobytes(),
        "raw_offsets": offsets.astype("<u2").tobytes(),
        "raw_values": values.astype("<f8").tobytes(),
    }


def upgrade() -> None:
    op.create_table(
        "metric_chunks",
        sa.Column("series_id", BigIntId, nullable=False),
        sa.Column("first_step", sa.BigInteger(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("m4_offsets", sa.LargeBinary(), nullable=False),
        sa.Column("m4_values", sa.LargeBinary(), nullable=False),
        sa.Column("raw_offsets", sa.LargeBinary(), nullable=False),
        sa.Column("raw_values", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["metric_series.id"],
            name=op.f("fk_metric_chunks_series_id_metric_series"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("series_id", "first_step", name=op.f("pk_metric_chunks")),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # Float64 arrays do not compress: skip pglz's attempt on every write.
        op.execute(
            "ALTER TABLE metric_chunks ALTER COLUMN raw_values SET STORAGE EXTERNAL, "
            "ALTER COLUMN raw_offsets SET STORAGE EXTERNAL"
        )
    chunks = sa.table("metric_chunks", *(sa.column(name) for name in COLUMNS))
    series_ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM metric_series")).all()]
    for series_id in series_ids:
        rows = bind.execute(
            sa.text("SELECT step, value FROM metric_points WHERE series_id = :s ORDER BY step"),
            {"s": series_id},
        ).all()
        if not rows:
            continue
        steps = np.array([r[0] for r in rows], dtype=np.int64)
        values = np.array([r[1] for r in rows], dtype=np.float64)
        windows = steps // WINDOW_STEPS
        cuts = np.concatenate([[0], np.flatnonzero(windows[1:] != windows[:-1]) + 1, [len(rows)]])
        bind.execute(
            chunks.insert(),
            [
                _encode(series_id, steps[lo:hi], values[lo:hi])
                for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)
            ],
        )
    op.drop_table("metric_points")


def downgrade() -> None:
    op.create_table(
        "metric_points",
        sa.Column("series_id", BigIntId, nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["metric_series.id"],
            name=op.f("fk_metric_points_series_id_metric_series"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("series_id", "step", name=op.f("pk_metric_points")),
    )
    bind = op.get_bind()
    points = sa.table(
        "metric_points", sa.column("series_id"), sa.column("step"), sa.column("value")
    )
    rows = bind.execute(
        sa.text("SELECT series_id, first_step, raw_offsets, raw_values FROM metric_chunks")
    ).all()
    for series_id, first_step, offsets, values in rows:
        steps = np.frombuffer(offsets, "<u2").astype(np.int64) + first_step
        floats = np.frombuffer(values, "<f8")
        bind.execute(
            points.insert(),
            [
                {"series_id": series_id, "step": s, "value": v}
                for s, v in zip(steps.tolist(), floats.tolist(), strict=True)
            ],
        )
    op.drop_table("metric_chunks")
