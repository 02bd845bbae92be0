"""A continual-learning run: its spec, its lifecycle and who is executing it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gapwatch.server.models.account import Project
from gapwatch.server.models.base import Base, BigIntId, JSONDoc, UTCDateTime, utcnow


class RunStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    # A run of a user's own loop whose process stopped sending heartbeats (it may resume).
    crashed = "crashed"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {RunStatus.succeeded, RunStatus.failed, RunStatus.cancelled, RunStatus.crashed}
)


class RunKind(enum.StrEnum):
    """Who executes a run: a worker, from its spec (engine), or the user's own code (loop)."""

    engine = "engine"
    loop = "loop"


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'crashed')",
            name="status_known",
        ),
        CheckConstraint("kind IN ('engine', 'loop')", name="kind_known"),
        CheckConstraint("kind = 'loop' OR spec IS NOT NULL", name="engine_has_spec"),
        # A client's id for a loop run opens it once per project (retries, offline syncs).
        UniqueConstraint("project_id", "client_key"),
        Index("ix_runs_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # Who may see and touch the run (revision 0004); deleting a project deletes its runs.
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    # Loaded with the run (one join): every answer about a run names its project.
    project: Mapped[Project] = relationship(lazy="joined", innerjoin=True)
    name: Mapped[str | None] = mapped_column(String(200))
    group_name: Mapped[str | None] = mapped_column(String(200), index=True)
    tags: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    kind: Mapped[str] = mapped_column(
        String(16), default=RunKind.engine, server_default=RunKind.engine.value, index=True
    )
    # An engine run's spec; None for a loop run (revision 0005), which has a free-form config.
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
    config: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
    client_key: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.queued)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Metric steps (up to 2**53), 64-bit since revision 0006.
    progress_step: Mapped[int] = mapped_column(BigInteger, default=0)
    total_steps: Mapped[int | None] = mapped_column(BigInteger)
    iterations_per_s: Mapped[float | None] = mapped_column(Float)
    worker: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # SHA-256 of the token handed to the worker at claim; the token itself is never stored.
    token_hash: Mapped[str | None] = mapped_column(String(64))
    # When the broker took the run's message (revision 0007); None while it is queued and its
    # message was never sent (a broker down at submission): the API's sweep sends those again.
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Copies of spec fields and numbers derived once the run has ended, for the runs list's
    # filters and sorting (revision 0003). `headline_at` is when the numbers were computed.
    benchmark: Mapped[str | None] = mapped_column(String(64), index=True)
    strategy: Mapped[str | None] = mapped_column(String(64), index=True)
    duration_s: Mapped[float | None] = mapped_column(Float)
    headline_acc: Mapped[float | None] = mapped_column(Float)
    headline_min_acc: Mapped[float | None] = mapped_column(Float)
    headline_wc_acc: Mapped[float | None] = mapped_column(Float)
    headline_gap_depth: Mapped[float | None] = mapped_column(Float)
    headline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
