"""All tables; Alembic's env imports this to see the metadata."""

from gapwatch.server.models.base import Base
from gapwatch.server.models.event import RunEvent
from gapwatch.server.models.metric import MetricPoint, MetricSeries
from gapwatch.server.models.run import TERMINAL_STATUSES, Run, RunStatus

__all__ = [
    "Base",
    "MetricPoint",
    "MetricSeries",
    "Run",
    "RunEvent",
    "RunStatus",
    "TERMINAL_STATUSES",
]
