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
    # The sweep that created the run (revision 0009); deleting the sweep keeps its runs.
    sweep_id: Mapped[int | None] = mapped_column(
        ForeignKey("sweeps.id", ondelete="SET NULL"), index=True
    )

    # Copies of spec fields for the runs list's filters (revision 0003), and when the run's
    # headline numbers (`run_headlines`, revision 0008) were written: once, at its end.
    benchmark: Mapped[str | None] = mapped_column(String(64), index=True)
    strategy: Mapped[str | None] = mapped_column(String(64), index=True)
    duration_s: Mapped[float | None] = mapped_column(Float)
    headline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Loaded on access (a run being executed never needs them); the runs list loads a page's
    # in one statement.
    headlines: Mapped[list[RunHeadline]] = relationship(
        lazy="select", cascade="all, delete-orphan", passive_deletes=True
    )


class RunHeadline(Base):
    """One headline number of an ended run (a registry metric with headline=True), written once
    when the run reaches a terminal state: what the runs list sorts on and sweeps aggregate.

    One row per (run, metric) rather than a column per metric, so that a new metric in the
    registry needs no migration; (metric, value) is the index a sort by that metric walks.
    """

    __tablename__ = "run_headlines"
    __table_args__ = (Index("ix_run_headlines_metric_value", "metric", "value"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
