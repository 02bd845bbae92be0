"""A sweep: one base run spec and axes of values, expanded into runs at creation (revision 0009)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gapwatch.server.models.account import Project
from gapwatch.server.models.base import Base, BigIntId, JSONDoc, UTCDateTime, utcnow


class Sweep(Base):
    __tablename__ = "sweeps"
    __table_args__ = (CheckConstraint("method IN ('grid', 'random')", name="method_known"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # Deleting a project deletes its sweeps (and its runs, by their own foreign key).
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    project: Mapped[Project] = relationship(lazy="joined", innerjoin=True)
    name: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(16))
    # [{"path": "strategy.name", "values": [...]}, ...]: a list, because the axes' order (the
    # grid's order, the results' columns) must survive JSONB, which sorts an object's keys.
    axes: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc)
    # The base spec as the request gave it (the fields it set; the rest are defaults).
    base: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    budget: Mapped[int | None] = mapped_column(Integer)
    # A random sweep's seed (drawn at creation when the request gave none): the same request
    # with this seed plans the same runs.
    seed: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
