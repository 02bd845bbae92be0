"""GET /runs/{id}/cost and the compare view's cost columns: a run's cost per task and in total,
and its ratio to the joint run of its group ("ER cost 0.31x retraining"), by hand."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.analytics_helpers import post_events, post_points
from tests.server.conftest import claim, create_run

BENCH = {"name": "split_digits", "n_tasks": 2}
EVENTS = [
    {"step": 0, "kind": "task_start", "payload": {"task": 0}},
    {"step": 10, "kind": "task_end", "payload": {"task": 0}},
    {"step": 10, "kind": "task_start", "payload": {"task": 1}},
    {"step": 20, "kind": "task_end", "payload": {"task": 1}},
]


def cost_run(
    api: Any,
    strategy: str,
    task: dict[str, list[float]],
    extra: dict | None = None,
    status: str = "succeeded",
    **spec: Any,
) -> int:
    """A run of `strategy` whose two tasks cost `task[q]` each, ended with `status`; cost/run
    is their running sum, as the engine logs it (peaks would be a running max: not needed)."""
    run = create_run(api, **{"benchmark": BENCH, "strategy": {"name": strategy}, **spec})
    auth = claim(api, run["id"])
    post_events(api, run["id"], auth, EVENTS)
    curves = {}
    for q, (first, second) in task.items():
        curves[f"cost/task/{q}"] = ([10, 20], [first, second])
        curves[f"cost/run/{q}"] = ([10, 20], [first, first + second])
    post_points(api, run["id"], auth, {**curves, **(extra or {})})
    ended = api.post(f"/api/v1/runs/{run['id']}/finish", json={"status": status}, headers=auth)
    assert ended.status_code == 200, ended.text
    return run["id"]


JOINT = {"train_flops": [4e9, 6e9], "wall_seconds": [2.0, 3.0], "replay_bytes": [0.0, 0.0]}
ER = {"train_flops": [1.1e9, 2.0e9], "wall_seconds": [1.0, 1.5], "replay_bytes": [512.0, 1024.0]}


def test_er_cost_against_the_joint_run_of_its_group(api) -> None:
    joint = cost_run(api, "joint", JOINT, group="g", seed=1)
    other_seed = cost_run(api, "joint", {"train_flops": [1e9, 1e9]}, group="g", seed=2)
    elsewhere = cost_run(api, "joint", {"train_flops": [1.0, 1.0]}, group="h", seed=1)
    er = cost_run(api, "er", ER, group="g", seed=1)

    answer = api.get(f"/api/v1/runs/{er}/cost").json()
    assert answer["run_id"] == er
    assert answer["quantities"] == ["train_flops", "replay_bytes", "wall_seconds"]
    assert answer["totals"] == {"train_flops": 3.1e9, "replay_bytes": 1536.0, "wall_seconds": 2.5}
    assert answer["tasks"] == [
        {
            "task": 0,
            "step": 10,
            "values": {"train_flops": 1.1e9, "replay_bytes": 512.0, "wall_seconds": 1.0},
        },  # noqa: E501
        {
            "task": 1,
            "step": 20,
            "values": {"train_flops": 2.0e9, "replay_bytes": 1024.0, "wall_seconds": 1.5},
        },  # noqa: E501
    ]
    base = answer["baseline"]
    # The joint run of the same seed (not run `other_seed`, nor the one of another group).
    assert base["run_ids"] == [joint] and elsewhere not in base["run_ids"]
    assert base["totals"] == {"train_flops": 10e9, "replay_bytes": 0.0, "wall_seconds": 5.0}
    # 3.1e9 / 10e9: "ER cost 0.31x retraining"; 2.5 s / 5 s; joint keeps no memory: no ratio.
    assert base["ratios"]["train_flops"] == pytest.approx(0.31)
    assert base["ratios"]["wall_seconds"] == pytest.approx(0.5)
    assert base["ratios"]["replay_bytes"] is None

    # Of another seed: the mean of the group's joint runs, (10e9 + 2e9) / 2 = 6e9.
    er_seed_3 = cost_run(api, "er", ER, group="g", seed=3)
    base = api.get(f"/api/v1/runs/{er_seed_3}/cost").json()["baseline"]
    assert base["run_ids"] == [joint, other_seed]
    assert base["totals"]["train_flops"] == 6e9
    assert base["ratios"]["train_flops"] == pytest.approx(3.1 / 6)
    # wall_seconds: only the first joint run has it.
    assert base["ratios"]["wall_seconds"] == pytest.approx(0.5)

    # The compare view: the same totals and ratios as columns, in run order.
    compared = api.get("/api/v1/compare", params={"runs": f"{er},{joint}"}).json()
    assert [c["run_id"] for c in compared["costs"]] == [er, joint]
    er_cost, joint_cost = compared["costs"]
    assert er_cost["totals"]["train_flops"] == 3.1e9
    assert er_cost["baseline"]["ratios"]["train_flops"] == pytest.approx(0.31)
    assert joint_cost["baseline"]["run_ids"] == [joint]
    assert joint_cost["baseline"]["ratios"] == {
        "train_flops": 1.0,
        "replay_bytes": None,
        "wall_seconds": 1.0,
    }


def test_another_benchmark_is_no_baseline_and_a_run_without_costs_answers_empty(api) -> None:
    cost_run(api, "joint", JOINT, group="g", seed=1, evaluation={"every": 5})
    other = cost_run(
        api, "er", ER, group="g", seed=1, benchmark={**BENCH, "n_tasks": 3}
    )  # another benchmark spec
    assert api.get(f"/api/v1/runs/{other}/cost").json()["baseline"] is None

    bare = create_run(api, group="g")["id"]
    answer = api.get(f"/api/v1/runs/{bare}/cost")
    assert answer.status_code == 200
    assert answer.json() == {
        "run_id": bare,
        "totals": {},
        "baseline": None,
        "formula": answer.json()["formula"],
        "quantities": [],
        "tasks": [],
    }
    compared = api.get("/api/v1/compare", params={"runs": str(bare)}).json()
    assert compared["costs"] == [
        {"run_id": bare, "totals": {}, "baseline": None, "formula": answer.json()["formula"]}
    ]


def test_diag_series_overlay_across_runs_in_compare(api) -> None:
    first = cost_run(api, "er", ER, {"diag/dormant": ([0, 10], [0.1, 0.3])}, group="d")
    second = cost_run(api, "er", ER, {"diag/dormant": ([0, 10], [0.2, 0.5])}, group="d")
    answer = api.get(
        "/api/v1/compare", params={"runs": f"{first},{second}", "keys": "diag/dormant"}
    ).json()
    (series,) = answer["series"]
    assert series["key"] == "diag/dormant" and series["steps"] == [0, 10]
    assert series["values"] == [[0.1, 0.3], [0.2, 0.5]]
    assert series["mean"] == pytest.approx([0.15, 0.4])


def test_a_joint_run_that_did_not_succeed_is_no_baseline(api) -> None:
    """A joint run that failed after its first task holds part of the sequence's cost only:
    dividing by it would make ER look several times costlier than retraining."""
    cost_run(api, "joint", {"train_flops": [4e9, 0.0]}, group="partial", seed=1, status="failed")
    er = cost_run(api, "er", ER, group="partial", seed=1)
    assert api.get(f"/api/v1/runs/{er}/cost").json()["baseline"] is None
    full = cost_run(api, "joint", JOINT, group="partial", seed=2)
    base = api.get(f"/api/v1/runs/{er}/cost").json()["baseline"]
    assert base["run_ids"] == [full]


def test_unknown_run_is_404(api) -> None:
    assert api.get("/api/v1/runs/987654/cost").status_code == 404


def test_a_loop_run_names_its_strategy_and_benchmark_in_its_config(api) -> None:
    """A user's own loop logs costs through the SDK: its config says what it ran."""

    def loop_run(config: dict[str, Any], costs: dict[str, float]) -> int:
        opened = api.post("/api/v1/runs/init", json={"group": "loops", "config": config})
        assert opened.status_code == 201, opened.text
        run_id, token = opened.json()["run"]["id"], opened.json()["token"]
        curves = {f"cost/run/{q}": ([10], [v]) for q, v in costs.items()}
        auth = {"Authorization": f"Bearer {token}"}
        post_points(api, run_id, auth, curves)
        ended = api.post(
            f"/api/v1/runs/{run_id}/finish", json={"status": "succeeded"}, headers=auth
        )
        assert ended.status_code == 200, ended.text
        return run_id

    joint = loop_run({"strategy": "joint", "benchmark": "mine", "seed": 0}, {"updates": 400.0})
    er = loop_run({"strategy": {"name": "er"}, "benchmark": "mine", "seed": 0}, {"updates": 100.0})
    other = loop_run({"strategy": "er", "benchmark": "theirs"}, {"updates": 100.0})
    base = api.get(f"/api/v1/runs/{er}/cost").json()["baseline"]
    assert base["run_ids"] == [joint] and base["ratios"] == {"updates": 0.25}
    assert api.get(f"/api/v1/runs/{other}/cost").json()["baseline"] is None
