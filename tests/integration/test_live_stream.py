"""GET /runs/{id}/live over a real uvicorn process: Server-Sent Events as a browser gets them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx

from tests.conftest import UNWORKED_QUEUE, WORKER_TOKEN, seed_account

SPEC = {
    "benchmark": {"name": "split_digits"},
    "model": {"name": "mlp"},
    "strategy": {"name": "finetune"},
    "training": {"iterations_per_task": 10},
    "queue": UNWORKED_QUEUE,  # left running: a sweep must not hand it to a worker
}


def events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The `run` events of an SSE stream, parsed."""
    kind, data = None, []
    for line in response.iter_lines():
        if line.startswith("event:"):
            kind = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())
        elif line == "" and data:
            assert kind == "run"
            yield json.loads("\n".join(data))
            kind, data = None, []


def test_the_stream_follows_a_run_to_its_end_then_closes(
    live_api: str, live_key: str, pg_live_url: str
) -> None:
    viewer = {"Authorization": f"Bearer {live_key}"}
    with httpx.Client(base_url=live_api, timeout=30, headers=viewer) as api:
        run = api.post("/api/v1/runs", json=SPEC).json()
        run_id = run["id"]
        claimed = api.post(
            f"/api/v1/runs/{run_id}/claim",
            json={"worker": "test"},
            headers={"Authorization": f"Bearer {WORKER_TOKEN}"},
        ).json()
        auth = {"Authorization": f"Bearer {claimed['token']}"}

        def worker_writes() -> None:
            with httpx.Client(base_url=live_api, timeout=30) as w:
                w.post(
                    f"/api/v1/runs/{run_id}/metrics",
                    json={
                        "series": [
                            {"key": "eval/acc/task_0", "steps": [0, 1], "values": [0.1, 0.5]}
                        ]
                    },
                    headers=auth,
                ).raise_for_status()
                w.post(f"/api/v1/runs/{run_id}/heartbeat", json={"step": 5, "total_steps": 50},
                       headers=auth).raise_for_status()  # fmt: skip
                w.post(f"/api/v1/runs/{run_id}/finish", json={"status": "succeeded"},
                       headers=auth).raise_for_status()  # fmt: skip

        seen: list[dict[str, Any]] = []
        with api.stream("GET", f"/api/v1/runs/{run_id}/live") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for event in events(response):
                seen.append(event)
                if len(seen) == 1:
                    threading.Thread(target=worker_writes).start()
        # The stream ended by itself after the terminal event.
        assert seen[0]["run"]["status"] == "running" and seen[0]["points"] == 0
        assert seen[-1]["run"]["status"] == "succeeded" and seen[-1]["points"] == 2
        assert all(e["run"]["id"] == run_id for e in seen)
        steps = [e["run"]["progress"]["step"] for e in seen]
        assert steps == sorted(steps)

        # A run that has ended answers one event and closes; an unknown run is a 404.
        with api.stream("GET", f"/api/v1/runs/{run_id}/live") as response:
            assert [e["run"]["status"] for e in events(response)] == ["succeeded"]
        assert api.get("/api/v1/runs/999999/live").status_code == 404

    # The stream is no way around the access floor: no credentials is a 401, and a member of
    # another project gets the 404 of a run that does not exist.
    stranger = seed_account(pg_live_url, "live-stranger", project="elsewhere").key
    with httpx.Client(base_url=live_api, timeout=30) as anonymous:
        assert anonymous.get(f"/api/v1/runs/{run_id}/live").status_code == 401
        answer = anonymous.get(
            f"/api/v1/runs/{run_id}/live", headers={"Authorization": f"Bearer {stranger}"}
        )
        assert answer.status_code == 404, answer.text
