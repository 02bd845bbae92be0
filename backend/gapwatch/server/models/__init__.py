"""All tables; Alembic's env imports this to see the metadata."""

from gapwatch.server.models.account import (
    ApiKey,
    LoginLink,
    Membership,
    Project,
    Role,
    User,
    WebSession,
)
from gapwatch.server.models.base import Base
from gapwatch.server.models.dataset import DATASET_FORMATS, Dataset
from gapwatch.server.models.event import RunEvent
from gapwatch.server.models.metric import MetricChunk, MetricSeries
from gapwatch.server.models.run import TERMINAL_STATUSES, Run, RunHeadline, RunKind, RunStatus
from gapwatch.server.models.sweep import Sweep

__all__ = [
    "ApiKey",
    "LoginLink",
    "Membership",
    "Project",
    "Role",
    "User",
    "WebSession",
    "Base",
    "DATASET_FORMATS",
    "Dataset",
    "MetricChunk",
    "MetricSeries",
    "Run",
    "RunEvent",
    "RunHeadline",
    "RunKind",
    "RunStatus",
    "Sweep",
    "TERMINAL_STATUSES",
]
