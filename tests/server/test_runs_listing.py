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
from tests.server.analytics_helpers import CURVES, hand_computed_run, post_events, post_points
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


def two_task_run(
    api: Any, events: list[dict[str, Any]], **overrides: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """A claimed run of two split-digits tasks with these events; the run and its run token."""
    run = create_run(api, benchmark={"name": "split_digits", "n_tasks": 2}, **overrides)
    auth = claim(api, run["id"])
    post_events(api, run["id"], auth, events)
    return run, auth


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
    # The ended boundaries' rows (all eligible: no classes sent, chance 0): task 0 at s_1 never
    # dropped; at s_2 tasks 0 and 1 drop by 0.25 and 0.2 and stay down (forgetting, no gap).
    assert run["headline"]["gap_depth"] == approx(0.45 / 3)
    assert run["headline"]["gap"] == 0.0
    assert run["headline"]["gap_forgetting"] == approx(0.45 / 3)
    assert run["headline"]["gap_recovered"] == approx(1 / 3)
    assert run["headline"]["gap"] == summary["metrics"]["gap"]["value"]
    assert summary["metrics"]["gap"]["n"] == 3
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
    assert order("-gap_depth") == [good_id, worse["id"], queued["id"]]
    assert order("gap_depth") == [worse["id"], good_id, queued["id"]]
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
    # The cancel wrote the numbers once it had committed; compare shows the same ones.
    headline = api.get(f"/api/v1/runs/{run_id}").json()["headline"]
    assert headline["gap_depth"] == approx(0.15) and headline["acc"] == approx(2.2 / 3)
    comparison = api.get("/api/v1/compare", params={"runs": str(run_id)}).json()
    assert [r["id"] for r in comparison["runs"]] == comparison["run_ids"] == [run_id]
    assert comparison["runs"][0]["headline"] == headline


def test_finish_computes_the_headline_and_leaves_summary_and_gaps_cached(api) -> None:
    run_id, auth = hand_computed_run(api)
    cache = api.app.state.analysis_cache
    finish(api, run_id, auth)
    # Written after the finish committed (its own answer was built before).
    finished = api.get(f"/api/v1/runs/{run_id}").json()
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
    run, auth = two_task_run(
        api,
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


def test_no_get_writes_and_the_sweep_writes_what_is_missing(api) -> None:
    """A run that ended without its numbers (failed at its claim, crashed, ended before this
    revision) gets them from the API's sweep, not from whoever lists or opens it."""
    from sqlalchemy import update

    from gapwatch.server.app import _sweep_once
    from gapwatch.server.models import Run, RunHeadline

    run_id, auth = hand_computed_run(api)
    finish(api, run_id, auth)
    factory = api.app.state.session_factory
    with factory() as session:  # as if the write after the finish had been lost
        session.execute(update(Run).where(Run.id == run_id).values(headline_at=None))
        session.query(RunHeadline).filter(RunHeadline.run_id == run_id).delete()
        session.commit()
    for path in ("", "/summary", "/gaps", "/aligned"):
        assert api.get(f"/api/v1/runs/{run_id}{path}").status_code == 200, path
    assert listed(api, sort="-gap_depth")[0]["headline"] is None
    assert api.get(f"/api/v1/runs/{run_id}").json()["headline"] is None  # still none

    _sweep_once(
        api.app.state.settings,
        factory,
        api.app.state.run_queue,
        take_silent_runs=False,
        cache=api.app.state.analysis_cache,
    )
    headline = api.get(f"/api/v1/runs/{run_id}").json()["headline"]
    assert headline["gap_depth"] == approx(0.15) and headline["acc"] == approx(2.2 / 3)


def test_definitions_list_the_registry_and_every_headline_is_sortable(api) -> None:
    definitions = api.get("/api/v1/definitions").json()
    by_id = {d["id"]: d for d in definitions}
    assert by_id["gap"]["headline"] and not by_id["gap"]["higher_is_better"]
    assert "came back" in by_id["gap"]["definition"] and by_id["gap"]["formula"]
    assert by_id["acc"]["higher_is_better"] and by_id["gap_recovered"]["unit"] == "share"
    for d in definitions:
        if d["headline"]:
            assert api.get("/api/v1/runs", params={"sort": f"-{d['id']}"}).status_code == 200


def test_gap_window_is_a_query_parameter_and_a_run_setting(api) -> None:
    run, auth = two_task_run(
        api,
        [
            {"step": 0, "kind": "task_start", "payload": {"task": 0}},
            {"step": 10, "kind": "task_end", "payload": {"task": 0}},
            {"step": 10, "kind": "task_start", "payload": {"task": 1}},
            {"step": 20, "kind": "task_end", "payload": {"task": 1}},
        ],
        evaluation={"gap_window": 3},
    )
    # A dip to 0.7 at +2 that recovers, then a slow decline to 0.4 at +8 that does not.
    steps = list(range(10, 21))
    values = [0.9, 0.8, 0.7, 0.9, 0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4]
    post_points(api, run["id"], auth, {"eval/acc/task_0": (steps, values)})
    path = f"/api/v1/runs/{run['id']}"
    (boundary,) = api.get(f"{path}/gaps").json()["boundaries"]
    assert boundary["window"] == 3 and api.get(f"{path}/gaps").json()["gap_window"] == 3
    (row,) = boundary["rows"]
    assert (row["trough"], row["trough_at"], row["depth"]) == (0.7, 2, approx(0.2))
    assert row["forgetting"] == approx(0.5) and row["gap"] == 0.0  # after 0.4 < trough
    (wide,) = api.get(f"{path}/gaps", params={"gap_window": 200}).json()["boundaries"]
    assert wide["window"] == 10 and wide["rows"][0]["trough"] == 0.4
    summary = api.get(f"{path}/summary", params={"gap_window": 200}).json()
    assert summary["gap_window"] == 200 and summary["metrics"]["gap_depth"]["value"] == approx(0.5)
    bad = api.get(f"{path}/gaps", params={"gap_window": 0})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "gap_window"]
    aligned = api.get(f"{path}/aligned", params={"margin": 2}).json()
    assert aligned["offsets"] == [0, 1, 2, 3] and aligned["rows"] == 1
    assert aligned["mean"] == approx([0.0, -0.1, -0.2, 0.0]) and aligned["n"] == [1, 1, 1, 1]


def test_a_retried_run_loses_its_numbers_until_it_ends_again(api) -> None:
    from gapwatch.server.models import RunHeadline

    ended_id, auth = hand_computed_run(api)
    finish(api, ended_id, auth)
    retried_id, _ = hand_computed_run(api)
    api.post(f"/api/v1/runs/{retried_id}/cancel").raise_for_status()
    assert [r["id"] for r in listed(api, sort="-acc")] == [retried_id, ended_id]  # tie: newest
    api.post(f"/api/v1/runs/{retried_id}/retry").raise_for_status()
    assert api.get(f"/api/v1/runs/{retried_id}").json()["headline"] is None
    with api.app.state.session_factory() as session:
        assert session.query(RunHeadline).filter_by(run_id=retried_id).count() == 0
    assert [r["id"] for r in listed(api, sort="-acc")] == [ended_id, retried_id]
