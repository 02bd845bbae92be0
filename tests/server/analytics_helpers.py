"""A three-task run whose every METRICS.md number is computed by hand (tests/analytics has the
same curves): tasks on [0,2), [2,4), [4,6), every task evaluated from step 0 every 2 steps."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import claim, create_run

CURVES = {
    "eval/acc/task_0": ([0, 2, 4, 6], [0.1, 0.9, 0.95, 0.7]),
    "eval/acc/task_1": ([0, 2, 4, 6], [0.2, 0.3, 0.8, 0.6]),
    "eval/acc/task_2": ([0, 2, 4, 6], [0.15, 0.1, 0.35, 0.9]),
}
EVENTS = [
    {"step": 0, "kind": "task_start", "payload": {"task": 0, "iterations": 2}},
    {"step": 2, "kind": "task_end", "payload": {"task": 0}},
    {"step": 2, "kind": "task_start", "payload": {"task": 1, "iterations": 2}},
    {"step": 4, "kind": "task_end", "payload": {"task": 1}},
    {"step": 4, "kind": "task_start", "payload": {"task": 2, "iterations": 2}},
    {"step": 6, "kind": "task_end", "payload": {"task": 2}},
]
RUN = {
    "benchmark": {"name": "split_digits", "n_tasks": 3},
    "evaluation": {"every": 2, "subset_size": 100, "include_unseen": True},
}


def post_points(api: Any, run_id: int, auth: dict[str, str], curves: dict) -> dict[str, int]:
    body = {"series": [{"key": k, "steps": s, "values": v} for k, (s, v) in curves.items()]}
    response = api.post(f"/api/v1/runs/{run_id}/metrics", json=body, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


def post_events(api: Any, run_id: int, auth: dict[str, str], events: list[dict]) -> None:
    response = api.post(f"/api/v1/runs/{run_id}/events", json={"events": events}, headers=auth)
    assert response.status_code == 200, response.text


def hand_computed_run(api: Any, **overrides: Any) -> tuple[int, dict[str, str]]:
    run = create_run(api, **{**RUN, **overrides})
    auth = claim(api, run["id"])
    post_events(api, run["id"], auth, EVENTS)
    post_points(api, run["id"], auth, CURVES)
    return run["id"], auth
