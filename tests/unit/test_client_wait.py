"""GapwatchClient.wait_for_run follows the run: a run that keeps stepping is waited for, one
that stops changing is reported once the stall bound passes."""

from __future__ import annotations

import itertools

import httpx
import pytest

from gapwatch.client import GapwatchClient


def serving(states: list[tuple[str, int]]) -> httpx.MockTransport:
    """GET /runs/1 answers the states in order, then the last one for ever."""
    answers = itertools.chain(states, itertools.repeat(states[-1]))

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/runs/1"
        status, step = next(answers)
        return httpx.Response(200, json={"status": status, "progress": {"step": step}})

    return httpx.MockTransport(handle)


def test_a_run_that_keeps_stepping_is_waited_for_past_the_stall_bound() -> None:
    steps = [("queued", 0)] + [("running", s) for s in range(1, 30)] + [("succeeded", 30)]
    client = GapwatchClient("http://api", transport=serving(steps))
    # 30 polls of 10 ms each take longer than the 50 ms stall bound, but every one changed.
    assert (
        client.wait_for_run(1, timeout_s=None, stall_s=0.05, poll_s=0.01)["status"] == "succeeded"
    )


def test_a_run_stuck_at_one_step_is_reported_with_where_it_stopped() -> None:
    client = GapwatchClient("http://api", transport=serving([("running", 1), ("running", 7)]))
    with pytest.raises(TimeoutError, match=r"no progress for 0.1 s \(running at step 7\)"):
        client.wait_for_run(1, timeout_s=None, stall_s=0.1, poll_s=0.01)


def test_the_overall_bound_still_applies_when_given() -> None:
    steps = [("running", s) for s in range(10_000)]
    client = GapwatchClient("http://api", transport=serving(steps))
    with pytest.raises(TimeoutError, match="still running after 0.05 s"):
        client.wait_for_run(1, timeout_s=0.05, stall_s=10, poll_s=0.01)
