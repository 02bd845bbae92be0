"""Run events: task boundaries and other discrete happenings, at a step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gapwatch.server.models.base import Base, BigIntId, JSONDoc, UTCDateTime, utcnow


class RunEvent(Base):
    """A discrete happening of a run at a step, such as a task boundary."""

    __tablename__ = "run_events"
    __table_args__ = (UniqueConstraint("run_id", "kind", "step"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
