"""The worker's Celery app: the shared configuration plus this package's task.

Started with `gapwatch worker` (or `celery -A gapwatch_worker.app worker --pool=solo`).
"""

from __future__ import annotations

from gapwatch.config import get_settings
from gapwatch.queue import make_celery

celery_app = make_celery(get_settings())
celery_app.conf.include = ["gapwatch_worker.tasks"]
