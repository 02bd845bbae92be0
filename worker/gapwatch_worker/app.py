"""The worker's Celery app: the shared configuration plus this package's task.

Started with `gapwatch worker` (or `celery -A gapwatch_worker.app worker --pool=solo`).
"""

from __future__ import annotations

import logging

from gapwatch.config import get_settings
from gapwatch.queue import make_celery

celery_app = make_celery(get_settings())
celery_app.conf.include = ["gapwatch_worker.tasks"]

# One line per HTTP request (several a second per run) would drown the worker's own log.
logging.getLogger("httpx").setLevel(logging.WARNING)
