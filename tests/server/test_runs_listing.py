"""The runs list: filters, sort by the headline numbers, and those numbers' values.

Runs on both stores (the rolled-back PostgreSQL session and an embedded SQLite file), because the
tag filter and NULLS LAST are written per dialect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pytest import approx

from gapwatch.config import Settings
from gapwatch.server.migrate import upgrade_database
from tests.conftest import WORKER_TOKEN
from tests.server.analytics_helpers import CURVES, hand_computed_run, post_points
from tests.server.conftest import claim, client_with_account, create_run


@pytest.fixture(params=["postgresql", "sqlite"])
def any_api(request, tmp_path: Path):
    if request.param == "postgresql":
        yield request.getfixturevalue("api")
        return
    settings = Settings(data_dir=tmp_path, worker_token=SecretStr(WORKER_TOKEN))
    upgrade_database(settings.resolved_database_url)
    with client_with_account(settings) as client:
        yield client


def finish(api: Any, run_id: int, auth: dict[str, str], status: str = "succeeded") -> None:
    response = api.post(f"/api/v1/runs/{run_id}/finish", json={"status": status}, headers=auth)
    assert response.status_code == 200, response.text


def listed(api: Any, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/v1/runs", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_headline_numbers_are_the_summary_numbers_once_the_run_ended(any_api) -> None:
    api = any_api
    run_id, auth = hand_computed_run(api)
    (running,) = listed(api)
    assert running["headline"] is None and running["duration_s"] is None

    finish(api, run_id, auth)
    (run,) = listed(api)
    summary = api.get(f"/api/v1/runs/{run_id}/summary").json()
    assert run["headline"]["acc"] == approx(summary["acc"]["value"]) == approx(2.2 / 3)
    assert run["headline"]["min_acc"] == approx(summary["min_acc"]["value"]) == approx(0.65)
    assert run["headline"]["wc_acc"] == approx(summary["wc_acc"]["value"])
    # Depths of the ended boundaries' rows: 0.0 (task 0 at s_1); 0.25 and 0.2 (at s_2).
    assert run["headline"]["mean_gap_depth"] == approx(0.45 / 3)
    assert run["duration_s"] is not None and run["duration_s"] >= 0
    assert api.get(f"/api/v1/runs/{run_id}").json()["headline"] == run["headline"]


def test_filters_by_status_benchmark_strategy_and_tag(any_api) -> None:
    api = any_api
    digits = create_run(api, tags=["paper", "sweep-1"])
    synthetic = create_run(
        api, benchmark={"name": "synthetic"}, strategy={"name": "er"}, tags=["sweep-1"]
    )
    api.post(f"/api/v1/runs/{synthetic['id']}/cancel")

    def ids(**params: Any) -> list[int]:
        return [r["id"] for r in listed(api, **params)]

    assert ids() == [synthetic["id"], digits["id"]]
    assert ids(status="cancelled") == [synthetic["id"]]
    assert ids(benchmark="split_digits") == [digits["id"]]
    assert ids(strategy="er") == [synthetic["id"]]
    assert ids(tag="sweep-1") == [synthetic["id"], digits["id"]]
    assert ids(tag="paper") == [digits["id"]]
    assert ids(tag="pape") == []  # a whole tag, not a substring of the JSON text
    assert ids(tag="sweep-1", strategy="finetune") == [digits["id"]]
    assert api.get("/api/v1/runs", params={"tag": "paper"}).json()["total"] == 1


def test_sort_by_a_number_puts_runs_without_it_last(any_api) -> None:
    api = any_api
    good_id, good_auth = hand_computed_run(api)
    finish(api, good_id, good_auth)
    worse = create_run(
        api, benchmark={"name": "split_digits", "n_tasks": 3}, evaluation={"every": 2}
    )
    worse_auth = claim(api, worse["id"])
    from tests.server.analytics_helpers import EVENTS, post_events

    post_events(api, worse["id"], worse_auth, EVENTS)
    halved = {k: (s, [v / 2 for v in vals]) for k, (s, vals) in CURVES.items()}
    post_points(api, worse["id"], worse_auth, halved)
    finish(api, worse["id"], worse_auth)
    queued = create_run(api)  # never ran: no numbers

    def order(sort: str) -> list[int]:
        return [r["id"] for r in listed(api, sort=sort)]

    assert order("-acc") == [good_id, worse["id"], queued["id"]]
    assert order("acc") == [worse["id"], good_id, queued["id"]]
    assert order("-mean_gap_depth") == [good_id, worse["id"], queued["id"]]
    assert order("created_at") == [good_id, worse["id"], queued["id"]]
    assert order("-created_at") == [queued["id"], worse["id"], good_id]
    assert order("duration")[-1] == queued["id"]


@pytest.mark.parametrize(
    ("param", "value"),
    [("sort", "accuracy"), ("benchmark", "Split MNIST"), ("tag", ""), ("limit", "0")],
)
def test_bad_list_parameters_are_422_naming_them(api, param: str, value: str) -> None:
    response = api.get("/api/v1/runs", params={param: value})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", param]


def test_run_and_compare_answers_carry_the_headline_of_an_ended_run(api) -> None:
    run_id, _ = hand_computed_run(api)
    assert api.get(f"/api/v1/runs/{run_id}").json()["headline"] is None  # still running
    api.post(f"/api/v1/runs/{run_id}/cancel")
    # Cancelling computes nothing: runs-get does, then compare shows the same numbers.
    headline = api.get(f"/api/v1/runs/{run_id}").json()["headline"]
    assert headline["mean_gap_depth"] == approx(0.15) and headline["acc"] == approx(2.2 / 3)
    comparison = api.get("/api/v1/compare", params={"runs": str(run_id)}).json()
    assert [r["id"] for r in comparison["runs"]] == comparison["run_ids"] == [run_id]
    assert comparison["runs"][0]["headline"] == headline


def test_finish_computes_the_headline_and_leaves_summary_and_gaps_cached(api) -> None:
    run_id, auth = hand_computed_run(api)
    cache = api.app.state.analysis_cache
    finished = api.post(
        f"/api/v1/runs/{run_id}/finish", json={"status": "succeeded"}, headers=auth
    ).json()
    assert finished["headline"]["min_acc"] == approx(0.65)
    assert finished["duration_s"] is not None
    misses = cache.misses
    # What the run page asks for first is ready: no new load of the curves.
    api.get(f"/api/v1/runs/{run_id}/summary").raise_for_status()
    api.get(f"/api/v1/runs/{run_id}/gaps").raise_for_status()
    assert cache.misses == misses


def test_one_load_serves_summary_and_gaps_even_when_asked_at_once() -> None:
    import threading
    import time

    from gapwatch.server.summaries.service import AnalysisCache

    cache = AnalysisCache()
    loads: list[str] = []
    started = threading.Barrier(2)

    def compute(product: str) -> str:
        loads.append(product)
        time.sleep(0.2)  # a load takes a while: without the per-run lock both would be here
        cache.put(1, "f", "gaps" if product == "summary" else "summary", "companion")
        return product

    def ask(product: str) -> None:
        started.wait()
        cache.get(1, "f", product, lambda: compute(product))

    threads = [threading.Thread(target=ask, args=(p,)) for p in ("summary", "gaps")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1  # the second request waited for the first's load, then hit


def test_a_run_with_malformed_boundaries_breaks_neither_the_list_nor_its_pages(api) -> None:
    # A task_end before its task_start (the events endpoint takes what a client sends): the
    # boundary has no window. Its gap row is absent; nothing answers 500.
    run = create_run(api, benchmark={"name": "split_digits", "n_tasks": 2})
    auth = claim(api, run["id"])
    from tests.server.analytics_helpers import post_events

    post_events(
        api,
        run["id"],
        auth,
        [
            {"step": 0, "kind": "task_start", "payload": {"task": 0}},
            {"step": 10, "kind": "task_start", "payload": {"task": 1}},
            {"step": 5, "kind": "task_end", "payload": {"task": 1}},
        ],
    )
    post_points(api, run["id"], auth, {"eval/acc/task_0": ([0, 10], [0.5, 0.9])})
    for path in ("summary", "gaps"):
        assert api.get(f"/api/v1/runs/{run['id']}/{path}").status_code == 200, path
    finish(api, run["id"], auth)
    for params in ({}, {"sort": "-acc"}):
        assert [r["id"] for r in listed(api, **params)] == [run["id"]]
    assert api.get(f"/api/v1/runs/{run['id']}").status_code == 200
