"""Metric points, stored as (series, step, value) with one series row per (run, key).

Keys are not repeated on every point: a run of 200,000 accuracy points has about 20 series
rows, and the primary key (series_id, step) is the index that range queries use.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Double, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gapwatch.server.models.base import Base, BigIntId


class MetricSeries(Base):
    __tablename__ = "metric_series"
    __table_args__ = (UniqueConstraint("run_id", "key"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))


class MetricPoint(Base):
    __tablename__ = "metric_points"

    series_id: Mapped[int] = mapped_column(
        ForeignKey("metric_series.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float] = mapped_column(Double)
