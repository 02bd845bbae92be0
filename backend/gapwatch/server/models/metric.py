"""Metric points, stored as columnar chunks: a few rows per series and 4,096-step window.

A series is one (run, key). Its points live in `metric_chunks`: each row holds a run of
points inside one aligned window of 4,096 steps as two little-endian arrays (uint16 offsets from
the row's first step, float64 values), beside the M4 summary of every 64 steps (first, last,
minimum, maximum), so that a wide downsampled read touches about 1/16 of the bytes and still
keeps every dip. Ingestion appends rows and merges a window's rows once it has too many; see
server/metrics/chunks.py for the encoding and service.py for the idempotent write.

Measured on the 2-core development machine (bench/): a row per point cost ~60 bytes, 150-200k
points/s even for a raw COPY, and ~180 ms for an SQL M4 over 1,000,000 rows; chunks store ~11
bytes per point, a raw COPY of them runs at millions of points/s, and a downsampled read of a
million points takes milliseconds. The primary key (series_id, first_step) is the index that
step-range queries use.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gapwatch.server.models.base import Base, BigIntId


class MetricSeries(Base):
    __tablename__ = "metric_series"
    __table_args__ = (UniqueConstraint("run_id", "key"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))


class MetricChunk(Base):
    """Points of one series with first_step <= step <= last_step, all in one 4,096-step window.

    The chunks of a series are disjoint in steps (no step is stored twice) but two chunks of
    one window may interleave (a batch that fills gaps).
    """

    __tablename__ = "metric_chunks"

    series_id: Mapped[int] = mapped_column(
        ForeignKey("metric_series.id", ondelete="CASCADE"), primary_key=True
    )
    first_step: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    last_step: Mapped[int] = mapped_column(BigInteger)
    n: Mapped[int] = mapped_column(Integer)
    # Small columns first: SQLite reads a row's overflow pages only up to the column it needs.
    m4_offsets: Mapped[bytes] = mapped_column(LargeBinary)
    m4_values: Mapped[bytes] = mapped_column(LargeBinary)
    raw_offsets: Mapped[bytes] = mapped_column(LargeBinary)
    raw_values: Mapped[bytes] = mapped_column(LargeBinary)
