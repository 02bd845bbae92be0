"""The RunLogger options a user's own loop needs: an outage ridden out with memory bounded
(the overflow waits on disk), keep-alive heartbeats, backoff that gives up only when told.

The HTTP side is the in-process recorder of tests/unit/test_client_batching.py, which
implements the ingest contract; tests/sdk/test_live.py does the same against the real API.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from gapwatch.client import GapwatchClient, RetryPolicy, RunLogger, call_with_retries
from gapwatch.sdk.spill import DiskSpill
from tests.unit.test_client_batching import RecordingAPI

OUTAGE = RetryPolicy(max_retries=None, give_up_after_s=60, initial_delay_s=0.01,
                     max_delay_s=0.05, jitter=0.5)  # fmt: skip


class FlakyAPI(RecordingAPI):
    """The recorder behind a switch: while `down`, every request fails to connect."""

    def __init__(self) -> None:
        super().__init__()
        self.down = threading.Event()
        self.refused = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down.is_set():
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        return super().__call__(request)


def _logger(api: RecordingAPI, **options) -> RunLogger:
    client = GapwatchClient("http://gapwatch.test", transport=httpx.MockTransport(api))
    return RunLogger(client, 7, "tok", **options)


def test_an_outage_fills_the_spill_not_memory_and_every_point_arrives_once() -> None:
    api = FlakyAPI()
    spill = DiskSpill()
    logger = _logger(api, flush_interval_s=0.01, max_points=500, retry=OUTAGE, spill=spill,
                     max_buffered_points=1_000)  # fmt: skip
    logger.report_scalars(0, {"train/loss": 1.0})
    logger.flush(timeout_s=5)
    api.down.set()
    for step in range(1, 10_001):
        logger.report_scalars(step, {"train/loss": step / 10_000, "eval/acc/task_0": 0.5})
        logger.report_event(step, "note", {"n": step}) if step % 2_500 == 0 else None
        # Memory never holds more than the limit (plus one call's points).
        assert logger._pending_points + len(logger._events) <= 1_001
    assert len(spill) >= 15  # 20,000 points and 4 events at most 1,000 to a chunk
    assert spill.points_spilled >= 18_000
    time.sleep(0.2)
    assert api.refused > 3  # the sender kept trying
    api.down.clear()
    logger.close()
    assert len(spill) == 0 and list(spill.directory.iterdir()) == []
    assert sorted(api.points["train/loss"]) == list(range(10_001))
    assert api.points["train/loss"][2_500] == 0.25
    assert len(api.points["eval/acc/task_0"]) == 10_000
    # Each point went out once: refused requests never reached the recorder.
    assert sum(len(s["steps"]) for b in api.paths("/metrics") for s in b["series"]) == 20_001
    assert logger.points_sent == 20_001
    assert [e["step"] for b in api.paths("/events") for e in b["events"]] == [
        2_500, 5_000, 7_500, 10_000
    ]  # fmt: skip
    spill.remove()
    assert not spill.directory.exists()


def test_a_repeated_step_keeps_its_first_value_and_the_batch_stays_valid() -> None:
    api = RecordingAPI()
    with _logger(api, flush_interval_s=10.0) as logger:
        logger.report_scalars(5, {"train/loss": 0.5})
        logger.report_scalars(5, {"train/loss": 0.9})
        logger.report_scalars(6, {"train/loss": 0.6})
    (batch,) = api.paths("/metrics")
    assert batch["series"] == [{"key": "train/loss", "steps": [5, 6], "values": [0.5, 0.6]}]


def test_keepalive_beats_while_the_loop_logs_nothing() -> None:
    api = RecordingAPI()
    logger = _logger(api, flush_interval_s=0.02, heartbeat_interval_s=0.05, keepalive=True)
    time.sleep(0.6)
    logger.close()
    beats = api.paths("/heartbeat")
    assert 4 <= len(beats) <= 20
    assert beats[0] == {"step": 0, "total_steps": None, "iterations_per_s": None}
    silent = RecordingAPI()
    quiet = _logger(silent, flush_interval_s=0.02, heartbeat_interval_s=0.05)
    time.sleep(0.3)
    quiet.close()
    assert silent.requests == []  # the worker's default: no progress, no beat


def test_backoff_grows_with_jitter_and_gives_up_only_after_its_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)
    clock = iter(range(0, 10_000, 7))  # each failure 7 s after the previous one
    monkeypatch.setattr(time, "monotonic", lambda: float(next(clock)))
    policy = RetryPolicy(max_retries=None, give_up_after_s=300, initial_delay_s=0.5,
                         max_delay_s=30, jitter=0.5)  # fmt: skip

    def refused() -> None:
        raise httpx.ConnectError("refused")

    with pytest.raises(httpx.ConnectError):
        call_with_retries(refused, policy)
    assert len(sleeps) == 43  # failures at 0, 7, ... 294 s retried; the one at 301 s is final
    assert 0.25 <= sleeps[0] <= 0.5 and 15 <= sleeps[-1] <= 30
    assert len(set(sleeps[10:])) > 1  # jitter: not every client retries in the same instant

    sleeps.clear()
    answers = iter([httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200)])

    def limited() -> httpx.Response:
        from gapwatch.client import _raise_for_status

        response = next(answers)
        _raise_for_status(response)
        return response

    assert call_with_retries(limited, policy).status_code == 200
    assert sleeps == [3.0]  # a 429 waits what Retry-After asks

    def unprocessable() -> None:
        from gapwatch.client import GapwatchAPIError

        raise GapwatchAPIError(422, "bad")

    sleeps.clear()
    with pytest.raises(Exception, match="422"):
        call_with_retries(unprocessable, policy)
    assert sleeps == []  # final at once
