"""The client's RunLogger: points buffered and sent in few batches, retried, never duplicated.

The HTTP side is an in-process recorder (httpx.MockTransport) that implements the ingest
contract; the real server is exercised by the integration tests.
"""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from gapwatch.client import COLUMNAR_MEDIA_TYPE, GapwatchClient, RunLogger
from gapwatch.sdk.records import decode_columnar


def decode_body(request: httpx.Request) -> dict:
    """A JSON body, or a metric batch in the binary layout (see schemas.COLUMNAR_LAYOUT)."""
    if request.headers.get("content-type") != COLUMNAR_MEDIA_TYPE:
        return json.loads(request.content) if request.content else {}
    series = decode_columnar(request.content)  # a batch holds each key once
    return {"series": [{"key": k, "steps": s, "values": v} for k, (s, v) in series.items()]}


class RecordingAPI:
    """Answers the run endpoints like the server would and records every request."""

    def __init__(self, fail_first: int = 0, fail_status: int = 503) -> None:
        self.requests: list[tuple[str, dict]] = []
        self.raw: list[httpx.Request] = []
        self.points: dict[str, dict[int, float]] = {}
        self.status = "running"
        self._fail_left = fail_first
        self._fail_status = fail_status
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = decode_body(request)
        with self._lock:
            self.requests.append((request.url.path, body))
            self.raw.append(request)
            if self._fail_left:
                self._fail_left -= 1
                return httpx.Response(self._fail_status, json={"detail": "try again"})
        assert request.headers["authorization"] == "Bearer tok"
        path = request.url.path
        if path.endswith("/metrics"):
            if self.status != "running":
                return httpx.Response(409, json={"detail": f"run is {self.status}"})
            stored = 0
            for series in body["series"]:
                known = self.points.setdefault(series["key"], {})
                for step, value in zip(series["steps"], series["values"], strict=True):
                    stored += step not in known
                    known.setdefault(step, value)
            return httpx.Response(200, json={"received": 0, "stored": stored})
        if path.endswith("/events"):
            return httpx.Response(200, json={"received": 1, "stored": 1})
        if path.endswith("/heartbeat"):
            return httpx.Response(200, json={"status": self.status})
        return httpx.Response(404, json={"detail": "no route"})

    def paths(self, suffix: str) -> list[dict]:
        return [body for path, body in self.requests if path.endswith(suffix)]


def _logger(api: RecordingAPI, **options) -> RunLogger:
    client = GapwatchClient("http://gapwatch.test", transport=httpx.MockTransport(api))
    return RunLogger(client, 7, "tok", **options)


def test_points_go_in_few_batches_each_exactly_once() -> None:
    api = RecordingAPI()
    with _logger(api, max_points=1_000, flush_interval_s=10.0) as logger:
        for step in range(5_000):
            logger.report_scalars(step, {"train/loss": 1.0 / (step + 1), "eval/acc/task_0": 0.5})
    batches = api.paths("/metrics")
    assert {r.headers["content-type"] for r in api.raw if r.url.path.endswith("/metrics")} == {
        COLUMNAR_MEDIA_TYPE
    }  # the binary body, which the server reads without a Python object per number
    # 10,000 points at 1,000 a batch, not 10,000 requests. Each wake of the sender may leave
    # one partial batch (points added while it woke), so a busy machine may see up to twice 10.
    assert 10 <= len(batches) <= 20
    assert all(sum(len(s["steps"]) for s in b["series"]) <= 1_000 for b in batches)
    assert sorted(api.points["train/loss"]) == list(range(5_000))
    assert api.points["train/loss"][4] == pytest.approx(0.2)
    assert logger.points_sent == 10_000


def test_flush_interval_sends_a_small_batch_without_waiting_for_max_points() -> None:
    api = RecordingAPI()
    logger = _logger(api, max_points=1_000_000, flush_interval_s=0.05)
    logger.report_scalars(0, {"eval/acc/task_0": 0.25})
    logger.flush(timeout_s=5)
    assert api.points == {"eval/acc/task_0": {0: 0.25}}
    logger.close()


def test_transient_errors_are_retried_without_duplicates() -> None:
    api = RecordingAPI(fail_first=2)
    with _logger(api, flush_interval_s=0.01) as logger:
        logger.report_scalars(1, {"train/loss": 0.5})
    assert api.points == {"train/loss": {1: 0.5}}
    assert len(api.paths("/metrics")) == 3  # two 503s, then the one that stored


def test_a_client_error_is_final_and_surfaces_in_the_training_thread() -> None:
    api = RecordingAPI(fail_first=1, fail_status=422)
    logger = _logger(api, flush_interval_s=0.01)
    logger.report_scalars(1, {"train/loss": 0.5})
    with pytest.raises(RuntimeError, match="422"):
        logger.flush(timeout_s=5)
    with pytest.raises(RuntimeError):
        logger.report_scalars(2, {"train/loss": 0.4})
    with pytest.raises(RuntimeError):
        logger.close()


def test_cancellation_reaches_the_loop_through_the_heartbeat() -> None:
    api = RecordingAPI()
    logger = _logger(api, flush_interval_s=0.01, heartbeat_interval_s=0.0)
    logger.report_progress(5, 100)
    logger.flush(timeout_s=5)
    assert not logger.should_stop()
    api.status = "cancelled"
    logger.report_progress(6, 100)
    logger.report_scalars(6, {"train/loss": 0.1})
    with pytest.raises(RuntimeError, match="409"):
        logger.flush(timeout_s=5)
    assert logger.should_stop()


def test_events_are_sent_before_the_points_of_the_same_flush() -> None:
    api = RecordingAPI()
    with _logger(api, flush_interval_s=10.0) as logger:
        logger.report_event(0, "task_start", {"task": 0})
        logger.report_scalars(0, {"eval/acc/task_0": 0.1})
    kinds = [path.rsplit("/", 1)[-1] for path, _ in api.requests]
    assert kinds.index("events") < kinds.index("metrics")


def test_non_finite_values_are_refused_at_the_call() -> None:
    api = RecordingAPI()
    with _logger(api) as logger, pytest.raises(ValueError, match="nan"):
        logger.report_scalars(3, {"train/loss": float("nan")})
