"""The Celery app and the enqueue helper. No torch here: the API imports this to send work.

The API sends tasks by name; only the worker registers the task body (gapwatch_worker.app).
Both sides build their Celery app from the same Settings, so embedded (filesystem broker) and
self-hosted (Redis) differ only in `GAPWATCH_BROKER_URL`.
"""

from __future__ import annotations

from celery import Celery

from gapwatch.config import FILESYSTEM_BROKER, Settings

RUN_TASK_NAME = "gapwatch.execute_run"
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2}


class BrokerUnavailable(RuntimeError):
    """A run could not be sent to the broker."""


def make_celery(settings: Settings) -> Celery:
    """Build the Celery app for these settings (broker only: results travel over the REST API)."""
    app = Celery("gapwatch", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=settings.queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        # A worker that dies mid-run leaves the message unacknowledged: the run is delivered
        # again and the claim protocol decides whether it may be resumed.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    if settings.broker_url.startswith(FILESYSTEM_BROKER):
        folder = settings.broker_dir
        for sub in ("queue", "processed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        app.conf.broker_transport_options = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
        }
        # The filesystem transport has no broadcast exchange: no remote control, mingle, gossip.
        app.conf.worker_enable_remote_control = False
    elif settings.broker_url.startswith(("redis://", "rediss://")):
        # With late acknowledgement Redis redelivers a message that its worker has not
        # acknowledged within this time. The run's claim (heartbeat check) makes a duplicate
        # delivery of a live run exit at once, so the timeout only bounds how long a dead
        # worker's run waits before it is resumed elsewhere.
        app.conf.broker_transport_options = {
            "visibility_timeout": settings.broker_visibility_timeout_s
        }
    return app


class RunQueue:
    """Sends run ids to the workers."""

    def __init__(self, settings: Settings) -> None:
        self._celery = make_celery(settings)
        self._queue = settings.queue

    def enqueue_run(self, run_id: int, queue: str | None = None) -> None:
        """Send one run to `queue` (default: the configured one). Call only after the run row
        is committed.

        Raises:
            BrokerUnavailable: If the broker cannot be reached within a few short retries (a
                request must not hang on a dead broker).
        """
        try:
            self._celery.send_task(
                RUN_TASK_NAME,
                args=[run_id],
                queue=queue or self._queue,
                retry=True,
                retry_policy=PUBLISH_RETRY_POLICY,
            )
        except Exception as error:  # kombu raises several types, all meaning "not sent"
            raise BrokerUnavailable(f"{type(error).__name__}: {error}") from error

    def close(self) -> None:
        """Release broker connections."""
        self._celery.close()
