"""GET /compare counts, per number, the runs that contribute to it and marks the provisional
ones; GET /live?runs= follows several runs over one stream (on PostgreSQL, in process)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.common import seed_account
from gapwatch.server.app import create_app
from gapwatch.server.live.service import Snapshot, Subscriber
from tests.conftest import app_settings
from tests.server.analytics_helpers import (
    CURVES,
    EVENTS,
    RUN,
    hand_computed_run,
    post_events,
    post_points,
)
from tests.server.conftest import BASE_URL, TestClient, claim, create_run

approx = pytest.approx
HAND_ACC = 2.2 / 3  # ACC of the hand-computed run (tests/server/analytics_helpers.py)


def finish(api: Any, run_id: int, auth: dict[str, str], status: str = "succeeded") -> None:
    response = api.post(f"/api/v1/runs/{run_id}/finish", json={"status": status}, headers=auth)
    assert response.status_code == 200, response.text


def one_task_run(api: Any, group: str) -> tuple[int, dict[str, str]]:
    """A running run whose first task has ended: ACC is defined, BWT and forgetting are not."""
    run = create_run(api, **RUN, group=group)
    auth = claim(api, run["id"])
    post_events(api, run["id"], auth, EVENTS[:2])
    post_points(api, run["id"], auth, {k: (s[:2], v[:2]) for k, (s, v) in CURVES.items()})
    return run["id"], auth


def test_n_counts_the_runs_behind_each_number_and_running_ones_are_provisional(api) -> None:
    first, first_auth = hand_computed_run(api, group="seeds")
    second, second_auth = hand_computed_run(api, group="seeds")
    finish(api, first, first_auth)
    finish(api, second, second_auth)
    cancelled = create_run(api, **RUN, group="seeds")["id"]  # cancelled while queued: no numbers
    assert api.post(f"/api/v1/runs/{cancelled}/cancel").json()["status"] == "cancelled"
    running, running_auth = one_task_run(api, "seeds")

    answer = api.get("/api/v1/compare", params={"group": "seeds"}).json()
    assert answer["run_ids"] == [first, second, cancelled, running]
    by_run = dict(zip(answer["run_ids"], answer["summaries"], strict=True))
    assert by_run[cancelled]["acc"]["value"] is None
    assert by_run[running]["acc"]["value"] == 0.9 and by_run[running]["bwt"]["value"] is None
    spread = answer["spread"]

    # ACC: the two finished runs and the running one; the running one makes it provisional.
    acc = spread["acc"]
    assert (acc["n"], acc["run_ids"], acc["provisional"]) == (3, [first, second, running], True)
    assert acc["mean"] == approx((2 * HAND_ACC + 0.9) / 3)
    # BWT and forgetting: only the two finished runs have them, so they are final.
    for name, value in (("bwt", -0.2), ("forgetting", 0.225)):
        number = spread[name]
        assert (number["n"], number["run_ids"], number["provisional"]) == (
            2,
            [first, second],
            False,
        ), name
        assert number["mean"] == approx(value) and number["std"] == 0.0, name
    # Each window's numbers are counted on their own too.
    for window in spread["wf"]:
        defined = [r for r in answer["run_ids"] if value_of(by_run[r], "wf", window["w"])]
        assert window["run_ids"] == defined and window["n"] == len(defined)

    # Once the running run ends, nothing is provisional; the cancelled run still counts nowhere.
    finish(api, running, running_auth)
    ended = api.get("/api/v1/compare", params={"group": "seeds"}).json()["spread"]
    assert ended["acc"]["n"] == 3 and ended["acc"]["provisional"] is False
    assert all(cancelled not in ended[k]["run_ids"] for k in ("acc", "bwt", "min_acc", "wc_acc"))


def value_of(summary: dict[str, Any], name: str, w: int) -> bool:
    window = next(x for x in summary[name]["windows"] if x["w"] == w)
    return window["value"] is not None


def test_compare_never_writes_headline_numbers(api) -> None:
    run_id, auth = hand_computed_run(api, group="read-only")
    finish(api, run_id, auth)
    before = api.get(f"/api/v1/runs/{run_id}").json()["headline"]
    api.get("/api/v1/compare", params={"group": "read-only"})
    assert api.get(f"/api/v1/runs/{run_id}").json()["headline"] == before


def sse_events(text: str) -> list[dict[str, Any]]:
    """The `run` events of a finished SSE answer."""
    out = []
    for block in text.split("\n\n"):
        lines = block.splitlines()
        if "event: run" in lines:
            data = "".join(
                line.removeprefix("data: ") for line in lines if line.startswith("data:")
            )
            out.append(json.loads(data))
    return out


@pytest.fixture
def committed(tmp_path: Path, pg_live_url: str, unconsumed_queue: str) -> Iterator[TestClient]:
    """The app on a database it commits into: the live poller reads in threads and sessions of
    its own, which the rolled-back connection of `api` cannot serve."""
    app = create_app(app_settings(tmp_path, pg_live_url, unconsumed_queue))
    owner = seed_account(pg_live_url, f"compare-live-{uuid.uuid4().hex[:8]}")
    with TestClient(app, base_url=BASE_URL, headers=owner.auth) as client:
        yield client


def test_one_stream_sends_every_runs_frame_and_ends_when_all_have_ended(committed) -> None:
    api = committed
    first, first_auth = hand_computed_run(api)
    second = create_run(api)["id"]
    finish(api, first, first_auth)
    api.post(f"/api/v1/runs/{second}/cancel")
    response = api.get("/api/v1/live", params={"runs": f"{first},{second}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)  # the answer ended by itself: both runs have ended
    assert sorted(e["run"]["id"] for e in events) == sorted([first, second])
    by_id = {e["run"]["id"]: e for e in events}
    assert by_id[first]["run"]["status"] == "succeeded" and by_id[first]["points"] == 12
    assert by_id[first]["events"] == len(EVENTS)
    assert by_id[second]["run"]["status"] == "cancelled" and by_id[second]["points"] == 0
    assert api.app.state.live_poller.streams == 0  # the slot was freed


def test_the_stream_of_several_runs_checks_each_like_the_stream_of_one(api, anonymous) -> None:
    run_id = create_run(api)["id"]
    missing = api.get("/api/v1/live", params={"runs": f"{run_id},987654"})
    assert missing.status_code == 404 and "987654" in missing.json()["detail"]
    for bad in ("", "a,b", "0", ",".join(str(i) for i in range(1, 52))):
        refused = api.get("/api/v1/live", params={"runs": bad})
        assert refused.status_code == 422, bad
        assert refused.json()["detail"][0]["loc"] == ["query", "runs"], bad
    assert anonymous.get("/api/v1/live", params={"runs": str(run_id)}).status_code == 401


def snapshot(run_id: int, step: int, *, terminal: bool = False) -> Snapshot:
    return Snapshot(run_id, ("running", step, 0, 0), f"{run_id}@{step}".encode(), terminal)


def test_a_subscriber_of_several_runs_keeps_the_latest_state_of_each_and_ends_after_the_last() -> (
    None
):
    async def scenario() -> list[Any]:
        subscriber = Subscriber(caller=None, run_ids=[1, 2, 1])  # type: ignore[arg-type]
        assert subscriber.run_ids == (1, 2)
        subscriber.deliver(snapshot(1, 1))
        subscriber.deliver(snapshot(2, 1))
        subscriber.deliver(snapshot(1, 2))  # replaces run 1's unsent state, keeps run 2's
        subscriber.deliver(snapshot(1, 3, terminal=True))
        subscriber.deliver(snapshot(1, 4))  # run 1 has ended: nothing more of it
        assert not subscriber.ended
        sent = [await subscriber.next(1.0), await subscriber.next(1.0)]
        subscriber.run_ended(2)  # e.g. deleted
        sent.append(await subscriber.next(1.0))
        return sent

    # In a loop of its own, on a thread: a browser test earlier in the session may have left
    # Playwright's loop running on this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first, second, last = pool.submit(asyncio.run, scenario()).result()
    assert (first.frame, second.frame) == (b"1@3", b"2@1")
    assert last is None
