"""Sweeps: runs planned from a base spec and axes in one transaction, each sent after commit;
their results aggregated over seeds (mean ± 95% CI, n per number) and exported as CSV and
LaTeX; roles, bounds and the 422s that name the axis."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import pytest
from sqlalchemy import select, update

from gapwatch.server.models import Role, Run, RunHeadline, RunStatus
from gapwatch.server.models.base import utcnow
from tests.server.conftest import SPEC, WORKER_AUTH, claim, make_account

SWEEPS = "/api/v1/sweeps"
BASE: dict[str, Any] = {**SPEC, "strategy": {"name": "er", "buffer_size": 50}}


def post_sweep(api, **body: Any) -> Any:  # type: ignore[no-untyped-def]
    return api.post(SWEEPS, json={"base": BASE, **body})


def created(api, **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = post_sweep(api, **body)
    assert response.status_code == 201, response.text
    return response.json()


def runs_of(api, sweep_id: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    answer = api.get("/api/v1/runs", params={"sweep": sweep_id, "limit": 500})
    assert answer.status_code == 200, answer.text
    return sorted(answer.json()["items"], key=lambda r: r["id"])


def run_count(api) -> int:  # type: ignore[no-untyped-def]
    return int(api.get("/api/v1/runs").json()["total"])


def sweep_count(api) -> int:  # type: ignore[no-untyped-def]
    return int(api.get(SWEEPS).json()["total"])


def error_locs(response) -> list[list[Any]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, response.text
    return [e["loc"] for e in response.json()["detail"]]


def test_a_grid_creates_every_combination_grouped_tagged_and_sent(
    api, redis_client, unconsumed_queue
) -> None:
    sent_before = redis_client.llen(unconsumed_queue)
    axes = {"strategy.name": ["er", "der", "finetune"], "optimizer.lr": [0.1, 1], "seed": [0, 1]}
    sweep = created(api, name="cmp", axes=axes)
    assert sweep["name"] == "cmp" and sweep["method"] == "grid" and sweep["project"] == "default"
    assert list(sweep["axes"]) == ["strategy.name", "optimizer.lr", "seed"]  # order kept
    assert sweep["axes"] == axes and sweep["runs"] == 12 and len(sweep["run_ids"]) == 12
    assert sweep["progress"] == {
        "queued": 12,
        "running": 0,
        "succeeded": 0,
        "failed": 0,
        "cancelled": 0,
        "crashed": 0,
    }
    assert sweep["base"]["strategy"]["buffer_size"] == 50 and sweep["seed"] is None

    runs = runs_of(api, sweep["id"])
    assert [r["id"] for r in runs] == sweep["run_ids"]
    assert all(r["sweep_id"] == sweep["id"] and r["status"] == "queued" for r in runs)
    assert all(f"sweep:{sweep['id']}" in r["tags"] for r in runs)
    # The grid's order: the first axis varies slowest.
    order = [
        (r["spec"]["strategy"]["name"], r["spec"]["optimizer"]["lr"], r["spec"]["seed"])
        for r in runs
    ]
    assert order[:4] == [("er", 0.1, 0), ("er", 0.1, 1), ("er", 1.0, 0), ("er", 1.0, 1)]
    assert order[-1] == ("finetune", 1.0, 1)
    # Seeds share a group; the group names every axis but seed.
    assert runs[0]["group"] == runs[1]["group"] == "cmp strategy.name=er optimizer.lr=0.1"
    assert runs[2]["group"] == "cmp strategy.name=er optimizer.lr=1"
    assert len({r["group"] for r in runs}) == 6
    # Switching the variant keeps the base's options that the new one has.
    der = next(r for r in runs if r["spec"]["strategy"]["name"] == "der")
    finetune = next(r for r in runs if r["spec"]["strategy"]["name"] == "finetune")
    assert der["spec"]["strategy"]["buffer_size"] == 50
    assert finetune["spec"]["strategy"] == {"name": "finetune"}
    # Each run went to the broker after the commit, and was noted as sent.
    assert redis_client.llen(unconsumed_queue) - sent_before == 12

    assert api.get(f"{SWEEPS}/{sweep['id']}").json() == sweep
    listed = api.get(SWEEPS).json()
    assert listed["items"][0]["id"] == sweep["id"] and listed["total"] >= 1


def test_an_unnamed_sweep_is_named_after_its_id_and_a_sweep_of_seeds_has_one_row(api) -> None:
    sweep = created(api, axes={"seed": [3, 4, 5]})
    assert sweep["name"] == f"sweep-{sweep['id']}"
    runs = runs_of(api, sweep["id"])
    assert {r["group"] for r in runs} == {sweep["name"]}
    assert [r["spec"]["seed"] for r in runs] == [3, 4, 5]
    results = api.get(f"{SWEEPS}/{sweep['id']}/results").json()
    assert results["axes"] == [] and len(results["rows"]) == 1
    assert results["rows"][0]["seeds"] == [3, 4, 5] and results["rows"][0]["config"] == {}


def test_random_draws_budget_configurations_reproducibly_each_with_every_seed(api) -> None:
    axes = {"optimizer.lr": [0.1, 0.03, 0.01, 0.003], "seed": [0, 1, 2]}

    def drawn(sweep: dict[str, Any]) -> list[tuple[float, int]]:
        return [
            (r["spec"]["optimizer"]["lr"], r["spec"]["seed"]) for r in runs_of(api, sweep["id"])
        ]

    first = created(api, axes=axes, method="random", budget=2, seed=7)
    again = created(api, axes=axes, method="random", budget=2, seed=7)
    others = [created(api, axes=axes, method="random", budget=2, seed=s) for s in (8, 9, 10)]
    assert first["seed"] == 7 and first["budget"] == 2 and first["runs"] == 6
    assert drawn(first) == drawn(again) and len(set(drawn(first))) == 6
    assert len({lr for lr, _ in drawn(first)}) == 2  # two configurations ...
    assert sorted(seed for _, seed in drawn(first)) == [0, 0, 1, 1, 2, 2]  # ... every seed each
    assert any(drawn(other) != drawn(first) for other in others)
    assert drawn(first) == sorted(drawn(first), key=lambda p: (-p[0], p[1]))  # the grid's order

    unseeded = created(api, axes=axes, method="random", budget=4)
    assert isinstance(unseeded["seed"], int) and unseeded["runs"] == 12  # the whole grid
    replay = created(api, axes=axes, method="random", budget=3, seed=unseeded["seed"])
    assert drawn(replay) == drawn(
        created(api, axes=axes, method="random", budget=3, seed=unseeded["seed"])
    )


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"axes": {"seed": [0, 1]}, "method": "random"}, ["body", "budget"]),
        ({"axes": {"seed": [0, 1]}, "method": "random", "budget": 2}, ["body", "budget"]),
        ({"axes": {"seed": [0, 1, 2]}, "budget": 2}, ["body", "budget"]),
        ({"axes": {"seed": [0, 1]}, "budget": 501}, ["body", "budget"]),
        ({"axes": {}}, ["body", "axes"]),
        ({"axes": {"seed": []}}, ["body", "axes", "seed"]),
        ({"axes": {"seed": list(range(101))}}, ["body", "axes", "seed"]),
        ({"axes": {f"a{i}": [1] for i in range(17)}}, ["body", "axes"]),
        # 3 x 3 x 2 x 2 x 2 x 2 x 2 x 2 = 576 runs, over the 500 of a sweep.
        (
            {
                "axes": {
                    "optimizer.lr": [0.1, 0.01, 0.001],
                    "seed": [0, 1, 2],
                    "training.batch_size": [8, 16],
                    "evaluation.every": [1, 2],
                    "evaluation.subset_size": [10, 20],
                    "optimizer.weight_decay": [0.0, 0.1],
                    "strategy.buffer_size": [10, 20],
                    "checkpoint_every": [10, 20],
                }
            },
            ["body", "axes"],
        ),
        ({"axes": {"strategy.memory_size": [100]}}, ["body", "axes", "strategy.memory_size"]),
        ({"axes": {"seed.value": [1]}}, ["body", "axes", "seed.value"]),
        ({"axes": {"project": ["other"]}}, ["body", "axes", "project"]),
        ({"axes": {"group": ["g"]}}, ["body", "axes", "group"]),
        ({"axes": {"seed": [1, 1]}}, ["body", "axes", "seed"]),
        # The last value is out of bounds: the whole sweep is refused.
        ({"axes": {"optimizer.lr": [0.1, 0.01, 20]}}, ["body", "axes", "optimizer.lr"]),
        ({"axes": {"strategy.name": ["er", "nope"]}}, ["body", "axes", "strategy.name"]),
        # finetune has no buffer: the axis that sets one is named.
        (
            {"axes": {"strategy.name": ["er", "finetune"], "strategy.buffer_size": [10]}},
            ["body", "axes", "strategy.buffer_size"],
        ),
        # A rule of the whole spec (a CNN needs images) is blamed on the axis that breaks it.
        (
            {
                "base": {**BASE, "benchmark": {"name": "synthetic"}},
                "axes": {"seed": [0], "model.name": ["mlp", "cnn"]},
            },
            ["body", "axes", "model.name"],
        ),
        ({"axes": {"seed": [0]}, "base": {**BASE, "bogus": 1}}, ["body", "base", "bogus"]),
        ({"axes": {"seed": [0]}, "surprise": 1}, ["body", "surprise"]),
        ({"axes": {"seed": [0]}, "method": "bayes"}, ["body", "method"]),
    ],
)
def test_a_sweep_that_cannot_be_planned_is_a_422_naming_the_field_and_creates_nothing(
    api, body: dict[str, Any], loc: list[Any]
) -> None:
    runs, sweeps = run_count(api), sweep_count(api)
    response = api.post(SWEEPS, json={"base": BASE, **body})
    assert loc in error_locs(response)
    assert run_count(api) == runs and sweep_count(api) == sweeps


def test_a_run_over_a_resource_cap_names_its_axis(api) -> None:
    huge = [16_384] * 16  # billions of parameters
    response = post_sweep(api, axes={"model.hidden_sizes": [[32], huge]})
    assert ["body", "axes", "model.hidden_sizes"] in error_locs(response)
    assert response.json()["detail"][0]["type"] == "resource_limit"


def test_roles_decide_who_creates_and_who_reads(api, anonymous, db_session_factory) -> None:
    sweep = created(api, axes={"seed": [0]})
    viewer = make_account(db_session_factory, "victor", role=Role.viewer)
    denied = anonymous.post(SWEEPS, json={"base": BASE, "axes": {"seed": [0]}}, headers=viewer.auth)
    assert denied.status_code == 403
    for path in ("", "/results", "/results.csv", "/results.tex", "/aligned"):
        assert (
            anonymous.get(f"{SWEEPS}/{sweep['id']}{path}", headers=viewer.auth).status_code == 200
        )
    assert anonymous.get(SWEEPS, headers=viewer.auth).json()["total"] >= 1

    outsider = make_account(db_session_factory, "olga", project="elsewhere")
    for path in ("", "/results", "/results.csv", "/results.tex", "/aligned"):
        answer = anonymous.get(f"{SWEEPS}/{sweep['id']}{path}", headers=outsider.auth)
        assert answer.status_code == 404, path
    assert sweep["id"] not in [
        s["id"] for s in anonymous.get(SWEEPS, headers=outsider.auth).json()["items"]
    ]
    assert (
        anonymous.get(SWEEPS, headers=outsider.auth, params={"project": "default"}).json()["total"]
        == 0
    )
    assert anonymous.post(SWEEPS, json={"base": BASE, "axes": {"seed": [0]}}).status_code == 401
    assert (
        api.post(SWEEPS, json={"base": BASE, "axes": {"seed": [0]}, "project": "nope"}).status_code
        == 404
    )
    assert api.get(f"{SWEEPS}/999999999").status_code == 404
    assert api.get(f"{SWEEPS}/0").status_code == 422


# --- results ----------------------------------------------------------------------------------


def t975(df: int) -> float:
    return {1: 12.706, 2: 4.303}[df]


def finish_by_hand(
    factory, run_ids: list[int], status: RunStatus, headlines: dict[int, dict[str, float | None]]
) -> None:  # type: ignore[no-untyped-def]
    """End runs in the database with the headline numbers given (as the lead's writer does)."""
    with factory() as session:
        session.execute(
            update(Run)
            .where(Run.id.in_(run_ids))
            .values(status=status, finished_at=utcnow(), headline_at=utcnow())
        )
        for run_id, values in headlines.items():
            for metric, value in values.items():
                session.add(RunHeadline(run_id=run_id, metric=metric, value=value))
        session.commit()


@pytest.fixture
def finished_sweep(api, db_session_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """er and finetune over seeds 0-2: er's three runs succeeded (ACC 0.70, 0.72, 0.74; gap
    0.05, 0.07, NaN), finetune's: two succeeded (ACC 0.20, 0.30) and one still running."""
    sweep = created(
        api, name="paper_table", axes={"strategy.name": ["er", "finetune"], "seed": [0, 1, 2]}
    )
    er, finetune = sweep["run_ids"][:3], sweep["run_ids"][3:]
    finish_by_hand(
        db_session_factory,
        er,
        RunStatus.succeeded,
        {
            er[0]: {"acc": 0.70, "gap": 0.05, "forgetting": 0.10},
            er[1]: {"acc": 0.72, "gap": 0.07, "forgetting": 0.12},
            er[2]: {"acc": 0.74, "gap": None, "forgetting": 0.14},
        },
    )
    finish_by_hand(
        db_session_factory,
        finetune[:2],
        RunStatus.succeeded,
        {
            finetune[0]: {"acc": 0.20, "gap": 0.01, "forgetting": 0.80},
            finetune[1]: {"acc": 0.30, "gap": 0.03, "forgetting": 0.70},
        },
    )
    with db_session_factory() as session:
        session.execute(update(Run).where(Run.id == finetune[2]).values(status=RunStatus.running))
        session.commit()
    return sweep


def test_results_aggregate_seeds_per_configuration_with_n_per_number(api, finished_sweep) -> None:
    sweep = finished_sweep
    answer = api.get(f"{SWEEPS}/{sweep['id']}/results")
    assert answer.status_code == 200, answer.text
    results = answer.json()
    assert results["sweep_id"] == sweep["id"] and results["axes"] == ["strategy.name"]
    ids = [m["id"] for m in results["metrics"]]
    assert {"acc", "gap", "forgetting", "gap_recovered"} <= set(ids)
    assert all(m["headline"] for m in results["metrics"])
    er, finetune = results["rows"]
    assert er["config"] == {"strategy.name": "er"} and er["seeds"] == [0, 1, 2]
    assert er["run_ids"] == sweep["run_ids"][:3]

    acc = er["cells"]["acc"]
    assert acc["mean"] == pytest.approx(0.72) and acc["n"] == 3 and not acc["provisional"]
    assert acc["ci95"] == pytest.approx(t975(2) * 0.02 / math.sqrt(3))
    # A number that one run lacks averages the others, and n says so.
    gap = er["cells"]["gap"]
    assert gap["mean"] == pytest.approx(0.06) and gap["n"] == 2
    assert gap["ci95"] == pytest.approx(t975(1) * math.sqrt(0.0002) / math.sqrt(2))
    # No run stored it: no number, n = 0.
    assert er["cells"]["bwt"] == {"mean": None, "ci95": None, "n": 0, "provisional": False}

    ft = finetune["cells"]["acc"]
    assert ft["mean"] == pytest.approx(0.25) and ft["n"] == 2 and ft["provisional"]
    assert finetune["cells"]["gap"]["provisional"]

    by_acc = api.get(f"{SWEEPS}/{sweep['id']}/results", params={"sort": "acc"}).json()
    assert [r["config"]["strategy.name"] for r in by_acc["rows"]] == ["finetune", "er"]
    by_acc = api.get(f"{SWEEPS}/{sweep['id']}/results", params={"sort": "-acc"}).json()
    assert [r["config"]["strategy.name"] for r in by_acc["rows"]] == ["er", "finetune"]
    bad = api.get(f"{SWEEPS}/{sweep['id']}/results", params={"sort": "nope"})
    assert ["query", "sort"] in error_locs(bad)

    progress = api.get(f"{SWEEPS}/{sweep['id']}").json()["progress"]
    assert progress["succeeded"] == 5 and progress["running"] == 1


def test_failed_and_cancelled_runs_do_not_count(api, db_session_factory) -> None:
    sweep = created(api, axes={"seed": [0, 1, 2]})
    first, second, third = sweep["run_ids"]
    finish_by_hand(db_session_factory, [first], RunStatus.succeeded, {first: {"acc": 0.5}})
    finish_by_hand(db_session_factory, [second], RunStatus.failed, {second: {"acc": 0.1}})
    finish_by_hand(db_session_factory, [third], RunStatus.cancelled, {third: {"acc": 0.2}})
    cell = api.get(f"{SWEEPS}/{sweep['id']}/results").json()["rows"][0]["cells"]["acc"]
    assert cell == {"mean": 0.5, "ci95": None, "n": 1, "provisional": False}


def test_a_row_is_provisional_until_its_ended_runs_numbers_are_written(
    api, db_session_factory
) -> None:
    sweep = created(api, axes={"seed": [0]})
    (run_id,) = sweep["run_ids"]
    with db_session_factory() as session:  # ended, its numbers not written yet
        session.execute(update(Run).where(Run.id == run_id).values(status=RunStatus.succeeded))
        session.commit()
    path = f"{SWEEPS}/{sweep['id']}/results"
    assert api.get(path).json()["rows"][0]["cells"]["acc"]["provisional"] is True
    finish_by_hand(db_session_factory, [run_id], RunStatus.succeeded, {run_id: {"acc": 0.4}})
    assert api.get(path).json()["rows"][0]["cells"]["acc"] == {
        "mean": 0.4,
        "ci95": None,
        "n": 1,
        "provisional": False,
    }


def test_the_csv_has_one_row_per_configuration_with_mean_ci_and_n(api, finished_sweep) -> None:
    answer = api.get(f"{SWEEPS}/{finished_sweep['id']}/results.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 2
    er = rows[0]
    assert er["strategy.name"] == "er" and er["runs"] == "3" and er["seeds"] == "0 1 2"
    assert float(er["acc_mean"]) == pytest.approx(0.72) and er["acc_n"] == "3"
    assert float(er["acc_ci95"]) == pytest.approx(t975(2) * 0.02 / math.sqrt(3))
    assert er["gap_n"] == "2" and er["bwt_mean"] == "" and er["bwt_n"] == "0"
    assert er["provisional"] == "false" and rows[1]["provisional"] == "true"

    chosen = api.get(f"{SWEEPS}/{finished_sweep['id']}/results.csv", params={"metrics": "gap,acc"})
    header = next(csv.reader(io.StringIO(chosen.text)))
    assert header == [
        "strategy.name", "runs", "run_ids", "seeds",
        "gap_mean", "gap_ci95", "gap_n", "acc_mean", "acc_ci95", "acc_n", "provisional",
    ]  # fmt: skip
    bad = api.get(f"{SWEEPS}/{finished_sweep['id']}/results.csv", params={"metrics": "acc,x"})
    assert ["query", "metrics"] in error_locs(bad)


def test_the_latex_table_is_booktabs_with_points_pm_and_the_best_in_bold(
    api, finished_sweep
) -> None:
    answer = api.get(
        f"{SWEEPS}/{finished_sweep['id']}/results.tex", params={"metrics": "acc,gap,forgetting"}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-tex")
    tex = answer.text
    lines = tex.splitlines()
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        assert lines.count(rule) == 1, rule
    assert lines.index("\\toprule") < lines.index("\\midrule") < lines.index("\\bottomrule")
    assert "\\begin{tabular}{lrrrr}" in tex
    # The sweep's name has an underscore: escaped in the caption.
    assert "\\caption{paper\\_table:" in tex
    head = lines[lines.index("\\toprule") + 1]
    assert head == (
        "strategy.name & $n$ & ACC $\\uparrow$ & Stability gap $\\downarrow$ & "
        "Forgetting $\\downarrow$ \\\\"
    )
    er, finetune = lines[lines.index("\\midrule") + 1 : lines.index("\\bottomrule")]
    acc_ci = t975(2) * 0.02 / math.sqrt(3) * 100
    # ACC: er is best (higher is better); gap and forgetting: lower is better.
    assert er.startswith(f"er & 3 & \\textbf{{72.0 $\\pm$ {acc_ci:.1f}}} & ")
    assert "6.0 $\\pm$ 12.7 ($n{=}2$)" in er and "\\textbf{6.0" not in er
    assert "\\textbf{12.0 $\\pm$ 5.0}" in er
    # finetune: two runs so far (one running: a dagger), lower gap and the worse ACC.
    assert finetune.startswith(
        "finetune & 2$^\\dagger$ & 25.0 $\\pm$ 63.5 & \\textbf{2.0 $\\pm$ 12.7}"
    )
    assert "$^\\dagger$ some runs had not ended yet" in tex


def test_latex_escapes_special_characters_of_values_and_marks_negative_numbers(
    api, db_session_factory
) -> None:
    sweep = created(api, name="a&b", axes={"name": ["50%_$x#{y}~^\\"], "seed": [0]})
    (run_id,) = sweep["run_ids"]
    finish_by_hand(db_session_factory, [run_id], RunStatus.succeeded, {run_id: {"bwt": -0.123}})
    tex = api.get(f"{SWEEPS}/{sweep['id']}/results.tex", params={"metrics": "bwt"}).text
    row = tex.splitlines()[tex.splitlines().index("\\midrule") + 1]
    assert row == (
        "50\\%\\_\\$x\\#\\{y\\}\\textasciitilde{}\\textasciicircum{}\\textbackslash{} & 1 & "
        "$-$12.3 \\\\"
    )
    assert "\\caption{a\\&b:" in tex


def test_the_aligned_view_averages_each_configuration_over_its_runs(
    api, db_session_factory
) -> None:
    sweep = created(api, axes={"strategy.name": ["er", "finetune"], "seed": [0, 1]})
    run_id = sweep["run_ids"][0]
    auth = claim(api, run_id)
    path = f"/api/v1/runs/{run_id}"
    events = [
        {"step": 0, "kind": "task_start", "payload": {"task": 0}},
        {"step": 5, "kind": "task_end", "payload": {"task": 0}},
        {"step": 5, "kind": "task_start", "payload": {"task": 1}},
        {"step": 10, "kind": "task_end", "payload": {"task": 1}},
    ]
    assert api.post(f"{path}/events", json={"events": events}, headers=auth).status_code == 200
    steps = list(range(11))
    series = [
        {
            "key": "eval/acc/task_0",
            "steps": steps,
            "values": [0.1, 0.5, 0.8, 0.9, 0.95, 0.95, 0.5, 0.7, 0.9, 0.95, 0.95],
        },
        {"key": "eval/acc/task_1", "steps": steps[5:], "values": [0.0, 0.5, 0.8, 0.9, 0.9, 0.9]},
    ]
    assert api.post(f"{path}/metrics", json={"series": series}, headers=auth).status_code == 200
    finish = api.post(f"{path}/finish", json={"status": "succeeded"}, headers=auth)
    assert finish.status_code == 200, finish.text

    answer = api.get(f"{SWEEPS}/{sweep['id']}/aligned", params={"margin": 2})
    assert answer.status_code == 200, answer.text
    er, finetune = answer.json()["configs"]
    assert er["config"] == {"strategy.name": "er"} and er["run_ids"] == [run_id]
    band = er["band"]
    assert band["margin"] == 2 and band["rows"] == 1
    at = dict(zip(band["offsets"], band["mean"], strict=True))
    assert at[0] == pytest.approx(0.0) and at[1] == pytest.approx(0.5 - 0.95)
    assert min(band["offsets"]) == -2
    assert finetune["run_ids"] == [] and finetune["band"]["offsets"] == []
    assert api.get(f"{SWEEPS}/{sweep['id']}/aligned", params={"margin": -1}).status_code == 422


def test_deleting_a_sweep_row_keeps_its_runs(api, db_session_factory) -> None:
    from gapwatch.server.models import Sweep

    sweep = created(api, axes={"seed": [0, 1]})
    with db_session_factory() as session:
        session.delete(session.get(Sweep, sweep["id"]))
        session.commit()
        kept = session.scalars(select(Run.sweep_id).where(Run.id.in_(sweep["run_ids"]))).all()
    assert kept == [None, None]
    assert api.get(f"{SWEEPS}/{sweep['id']}").status_code == 404


def test_a_worker_claims_a_sweep_run_like_any_other(api) -> None:
    sweep = created(api, axes={"seed": [0]})
    answer = api.post(
        f"/api/v1/runs/{sweep['run_ids'][0]}/claim", json={"worker": "w"}, headers=WORKER_AUTH
    )
    assert answer.status_code == 200 and answer.json()["run"]["sweep_id"] == sweep["id"]


def test_the_api_document_describes_the_sweeps_answers(api) -> None:
    document = api.get("/openapi.json").json()
    operations = {
        operation["operationId"]: operation
        for item in document["paths"].values()
        for operation in item.values()
    }
    errors = {int(code) for code in operations["sweeps-create"]["responses"] if int(code) >= 400}
    assert errors == {400, 401, 403, 404, 413, 422, 429, 503}
    tex = operations["sweeps-results-tex"]["responses"]["200"]["content"]
    assert list(tex) == ["application/x-tex"]
    assert list(operations["sweeps-results-csv"]["responses"]["200"]["content"]) == ["text/csv"]
