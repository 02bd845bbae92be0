"""A run logged straight to the server: the client's RunLogger, set up to outlast outages.

Points wait in memory (at most `max_buffered_points`, then on disk in a `DiskSpill`) and go in
columnar batches from a background thread; transient failures are retried with exponential
backoff and jitter for `retry_for_s`; a keep-alive heartbeat goes every `heartbeat_interval_s`.
If the server took the run for crashed while it could not hear this process, the run is
resumed (a fresh token) and logging goes on; ingest is idempotent, so nothing is stored twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

from gapwatch.client import (
    GapwatchClient,
    OpenedRun,
    RetryPolicy,
    RunConflict,
    RunLogger,
    call_with_retries,
)
from gapwatch.sdk.spill import DiskSpill

log = logging.getLogger("gapwatch.sdk")
T = TypeVar("T")


def outage_policy(retry_for_s: float | None) -> RetryPolicy:
    """Retry transient failures for `retry_for_s` (None: for ever), backing off to 30 s."""
    return RetryPolicy(
        max_retries=None,
        give_up_after_s=retry_for_s,
        initial_delay_s=0.5,
        max_delay_s=30.0,
        jitter=0.5,
    )


class OnlineBackend:
    """A Run's backend in online mode: owns the client, the logger and the spill."""

    def __init__(
        self,
        client: GapwatchClient,
        opened: OpenedRun,
        *,
        host: str | None,
        retry: RetryPolicy,
        heartbeat_interval_s: float,
        flush_interval_s: float,
        max_buffered_points: int,
    ) -> None:
        self._client = client
        self.run_id = opened.run_id
        self._host = host
        self._retry = retry
        self._spill = DiskSpill()
        self.logger = RunLogger(
            client,
            opened.run_id,
            opened.token,
            flush_interval_s=flush_interval_s,
            heartbeat_interval_s=heartbeat_interval_s,
            retry=retry,
            keepalive=True,
            spill=self._spill,
            max_buffered_points=max_buffered_points,
            renew_token=self._resume_if_crashed,
        )

    def report_scalars(self, step: int, values: Mapping[str, float]) -> None:
        self.logger.report_scalars(step, values)

    def report_event(self, step: int, kind: str, payload: Mapping[str, object]) -> None:
        self.logger.report_event(step, kind, payload)

    def report_progress(self, step: int, total_steps: int | None) -> None:
        self.logger.report_progress(step, total_steps)

    def should_stop(self) -> bool:
        return self.logger.stop_requested

    def flush(self, timeout_s: float = 60.0) -> None:
        self.logger.flush(timeout_s)

    def finish(self, status: str, error: str | None) -> str:
        """Deliver what is left, then end the run; returns how it ended (`cancelled` if the
        dashboard cancelled it)."""
        try:
            self.logger.close()
        except RuntimeError:
            if not self.logger.stop_requested:
                self._release()
                raise
        if self.logger.stop_requested:
            self._release()
            return "cancelled"
        try:
            self._finish(status, error)
        except RunConflict:  # cancelled while finishing
            return "cancelled"
        finally:
            self._release()
        return status

    def _finish(self, status: str, error: str | None) -> None:
        """POST finish; once more with a fresh token if the run was taken for crashed."""
        try:
            self._post_finish(self.logger.token, status, error)
        except RunConflict:
            token = self._resume_if_crashed()
            if token is None:
                raise
            self._post_finish(token, status, error)

    def _post_finish(self, token: str, status: str, error: str | None) -> None:
        self._retrying(
            lambda: self._client.finish_run(self.run_id, token, status=status, error=error)
        )

    def _resume_if_crashed(self) -> str | None:
        """A fresh token if the server took the run for crashed (it stopped hearing this
        process during an outage); None if the refusal stands (cancelled, resumed elsewhere)."""
        run = self._retrying(lambda: self._client.get_run(self.run_id))
        if run["status"] != "crashed":
            return None
        opened = self._retrying(lambda: self._client.resume_run(self.run_id, host=self._host))
        log.warning("gapwatch: run %s was marked crashed during an outage; resumed", self.run_id)
        return opened.token

    def _retrying(self, call: Callable[[], T]) -> T:
        return call_with_retries(call, self._retry)

    def _release(self) -> None:
        self._spill.remove()
        self._client.close()
