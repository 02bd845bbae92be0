"""GET /runs/{id}/summary and /gaps on PostgreSQL: the hand-computed numbers, live and cached."""

from __future__ import annotations

import pytest

from tests.server.analytics_helpers import (
    EVENTS,
    hand_computed_run,
    post_events,
    post_points,
)
from tests.server.conftest import claim, create_run, python_client

approx = pytest.approx


def test_summary_answers_the_hand_computed_numbers_each_named(api) -> None:
    run_id, _ = hand_computed_run(api)
    s = api.get(f"/api/v1/runs/{run_id}/summary").json()

    assert (s["tasks_total"], s["tasks_completed"], s["complete"], s["as_of_step"]) == (
        3,
        3,
        True,
        6,
    )
    assert s["accuracy_matrix"]["rows"] == [[0.9, 0.3, 0.1], [0.95, 0.8, 0.35], [0.7, 0.6, 0.9]]
    assert s["acc"]["value"] == approx(2.2 / 3) and s["acc"]["definition"] == "acc"
    # sqrt(.7*.3/100 + .6*.4/100 + .9*.1/100) / 3, from evaluation.subset_size = 100
    assert s["acc"]["se"] == approx(0.024494897427831782)
    assert s["eval_samples"] == {
        "per_task": [100, 100, 100],
        "source": "spec.evaluation.subset_size",
    }
    assert s["bwt"]["value"] == approx(-0.2)
    assert s["fwt"]["value"] == approx(0.15) and s["fwt"]["note"] is None
    assert s["fwt"]["initial_accuracy"] == [0.1, 0.2, 0.15]
    assert s["forgetting"]["definition"] == "forgetting"
    assert s["forgetting"]["value"] == approx(0.225)
    assert s["forgetting"]["per_task"] == approx([0.25, 0.2])
    assert s["forgetting_from_learned"]["definition"] == "forgetting_from_learned"
    assert s["forgetting_from_learned"]["value"] == approx(0.2)
    assert s["learning_accuracy"]["per_task"] == [0.9, 0.8, 0.9]
    assert s["min_acc"]["value"] == approx(0.65)
    assert s["min_acc"]["per_boundary"] == [None, approx(0.9), approx(0.65)]
    assert s["wc_acc"]["value"] == approx(0.9 / 3 + 2 / 3 * 0.65)
    assert s["wc_acc"]["definition"] == "wc_acc"
    assert [w["w"] for w in s["wf"]["windows"]] == [10, 100]
    assert s["wf"]["windows"][0]["value"] == approx(0.225)
    assert s["wf"]["windows"][0]["per_task"] == [approx(0.25), approx(0.2), None]
    assert s["wp"]["windows"][0]["per_task"] == approx([0.8, 0.5, 0.55])
    for name in ("acc", "bwt", "fwt", "forgetting", "min_acc", "wc_acc", "wf", "wp"):
        assert s[name]["formula"], name
    custom = api.get(f"/api/v1/runs/{run_id}/summary", params={"windows": "2,3"}).json()
    assert [w["w"] for w in custom["wf"]["windows"]] == [2, 3]


def test_gaps_table_per_boundary(api) -> None:
    run_id, _ = hand_computed_run(api)
    g = api.get(f"/api/v1/runs/{run_id}/gaps").json()
    assert g["definition"] == "stability_gap" and g["recovery_tolerance"] == 0.01
    first, second = g["boundaries"]
    assert (first["task"], first["start"], first["end"], first["complete"]) == (1, 2, 4, True)
    (row,) = first["rows"]
    assert row["depth"] == 0.0 and row["recovered_at"] == 2 and row["before_se"] == approx(0.03)
    assert [r["task"] for r in second["rows"]] == [0, 1]
    row0, row1 = second["rows"]
    assert (row0["before"], row0["trough"], row0["trough_at"]) == (0.95, 0.7, 2)
    assert row0["depth"] == approx(0.25) and row0["after"] == 0.7
    assert row0["gap"] == 0.0 and row0["forgetting"] == approx(0.25)  # it did not come back
    assert row0["recovered_at"] is None and row0["area"] == approx(0.5)
    assert row1["depth"] == approx(0.2) and row1["area"] == approx(0.4)
    assert second["mean_depth"] == approx(0.225) and second["max_depth"] == approx(0.25)


def test_a_running_run_is_live_and_the_cache_follows_new_points_and_events(api) -> None:
    run = create_run(api, **{"evaluation": {"every": 1, "subset_size": 50}})
    auth = claim(api, run["id"])
    path = f"/api/v1/runs/{run['id']}"
    post_events(api, run["id"], auth, EVENTS[:3])  # task 0 ended at 2, task 1 is training
    post_points(api, run["id"], auth, {"eval/acc/task_0": ([0, 1, 2], [0.2, 0.6, 0.9])})

    first = api.get(f"{path}/summary").json()
    assert first["tasks_completed"] == 1 and first["complete"] is False
    assert first["acc"]["value"] == 0.9 and first["as_of_step"] == 2
    cache = api.app.state.analysis_cache
    misses = cache.misses
    assert api.get(f"{path}/summary").json() == first
    assert cache.misses == misses and cache.hits >= 1  # served from the cache

    # The dip in progress shows in the live gap table at once.
    post_points(
        api,
        run["id"],
        auth,
        {"eval/acc/task_0": ([3, 4], [0.4, 0.5]), "eval/acc/task_1": ([2, 3, 4], [0.1, 0.3, 0.6])},
    )
    (live,) = api.get(f"{path}/gaps").json()["boundaries"]
    assert live["complete"] is False and live["end"] is None and live["evaluated_until"] == 4
    assert live["rows"][0]["trough"] == 0.4 and live["rows"][0]["depth"] == approx(0.5)

    # Task 1 ends: a new event and its boundary points change the summary.
    post_points(
        api, run["id"], auth, {"eval/acc/task_0": ([5], [0.7]), "eval/acc/task_1": ([5], [0.8])}
    )
    post_events(api, run["id"], auth, [{"step": 5, "kind": "task_end", "payload": {"task": 1}}])
    second = api.get(f"{path}/summary").json()
    assert cache.misses > misses
    assert second["tasks_completed"] == 2 and second["as_of_step"] == 5
    assert second["acc"]["value"] == approx(0.75)  # (0.7 + 0.8) / 2
    assert second["min_acc"]["value"] == 0.4
    assert second["wc_acc"]["value"] == approx(0.5 * 0.8 + 0.5 * 0.4)
    assert second["acc"]["se"] == approx(((0.7 * 0.3 + 0.8 * 0.2) / 50) ** 0.5 / 2)
    assert second["fwt"]["value"] is None and "include_unseen" in second["fwt"]["note"]


def test_a_run_without_boundaries_has_an_empty_summary(api) -> None:
    run = create_run(api)
    s = api.get(f"/api/v1/runs/{run['id']}/summary").json()
    assert s["tasks_completed"] == 0 and s["acc"]["value"] is None and s["as_of_step"] is None
    assert s["accuracy_matrix"]["rows"] == [] and s["wf"]["windows"][0]["per_task"] == []
    assert api.get(f"/api/v1/runs/{run['id']}/gaps").json()["boundaries"] == []


def test_unknown_runs_and_bad_windows(api) -> None:
    for path in ("summary", "gaps", "export"):
        response = api.get(f"/api/v1/runs/987654/{path}")
        assert response.status_code == 404 and "987654" in response.json()["detail"], path
    run = create_run(api)
    for bad in ("1", "0,10", "ten", "", "2,3,4,5,6,7,8,9,10", "2000000"):
        response = api.get(f"/api/v1/runs/{run['id']}/summary", params={"windows": bad})
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"] == ["query", "windows"]


def test_compare_two_seeds_side_by_side(api) -> None:
    first, _ = hand_computed_run(api, group="seeds")
    second, auth = hand_computed_run(api, group="seeds")
    # A point after the last boundary: in the aligned series, not in the summary (as of e_T).
    post_points(api, second, auth, {"eval/acc/task_0": ([7], [0.5])})
    answer = api.get(
        "/api/v1/compare", params={"group": "seeds", "keys": "eval/acc/task_0,missing/key"}
    ).json()
    assert answer["run_ids"] == [first, second]
    assert [s["acc"]["value"] for s in answer["summaries"]] == approx([2.2 / 3, 2.2 / 3])
    assert answer["spread"]["acc"] == {
        "mean": approx(2.2 / 3),
        "std": 0.0,
        "n": 2,
        "run_ids": [first, second],
        "provisional": True,  # both runs are still running
    }
    assert answer["spread"]["fwt"]["n"] == 2
    assert [w["w"] for w in answer["spread"]["wf"]] == [10, 100]
    task0, missing = answer["series"]
    assert task0["steps"] == [0, 2, 4, 6, 7]
    assert task0["values"] == [[0.1, 0.9, 0.95, 0.7, None], [0.1, 0.9, 0.95, 0.7, 0.5]]
    assert task0["count"] == [2, 2, 2, 2, 1]
    assert task0["mean"] == approx([0.1, 0.9, 0.95, 0.7, 0.5])
    assert task0["std"][:4] == [0.0] * 4 and task0["std"][4] is None
    assert missing["steps"] == [] and missing["values"] == [[], []]
    by_id = api.get("/api/v1/compare", params={"runs": f"{second},{first}"}).json()
    assert by_id["run_ids"] == [second, first] and by_id["series"] == []


def test_compare_errors(api) -> None:
    run = create_run(api)
    assert api.get("/api/v1/compare").status_code == 422
    assert api.get("/api/v1/compare", params={"runs": "1", "group": "g"}).status_code == 422
    assert api.get("/api/v1/compare", params={"runs": "a,b"}).status_code == 422
    missing = api.get("/api/v1/compare", params={"runs": f"{run['id']},987654"})
    assert missing.status_code == 404 and "987654" in missing.json()["detail"]
    assert api.get("/api/v1/compare", params={"group": "no-such-group"}).status_code == 404
    for _ in range(51):
        create_run(api, group="crowd")
    crowd = api.get("/api/v1/compare", params={"group": "crowd"})
    assert crowd.status_code == 422 and "more than 50" in crowd.json()["detail"]


def test_the_python_client_reads_summaries_gaps_and_comparisons(api) -> None:
    from gapwatch.client import RunNotFound

    run_id, _ = hand_computed_run(api, group="client")
    client = python_client(api)
    summary = client.get_summary(run_id, windows=[2])
    assert summary["min_acc"]["value"] == approx(0.65)
    assert [w["w"] for w in summary["wp"]["windows"]] == [2]
    assert client.get_gaps(run_id)["boundaries"][1]["max_depth"] == approx(0.25)
    compared = client.compare(group="client", keys=["eval/acc/task_2"], points=8)
    assert compared["run_ids"] == [run_id] and compared["series"][0]["steps"] == [0, 2, 4, 6]
    with pytest.raises(RunNotFound):
        client.get_summary(987654)
