"""A sweep's plan, without a database: paths, variant switches, grid and seeded random
combinations, bounds, groups, and which axis a 422 names."""

from __future__ import annotations

from typing import Any

import pytest

from gapwatch.spec import RunSpec
from gapwatch.sweep_plan import (
    MAX_GROUP_CHARS,
    MAX_RUNS,
    SweepPlanError,
    apply,
    blamed_axis,
    combinations,
    configuration_key,
    group_name,
    known_path,
    plan,
    switches_variant,
)

BASE: dict[str, Any] = {
    "benchmark": {"name": "split_digits"},
    "model": {"name": "mlp", "hidden_sizes": [32]},
    "strategy": {"name": "er", "buffer_size": 500, "buffer_policy": "class_balanced"},
    "training": {"iterations_per_task": 5},
}


def locs(error: pytest.ExceptionInfo[SweepPlanError]) -> list[tuple[Any, ...]]:
    return [tuple(e["loc"]) for e in error.value.errors]


@pytest.mark.parametrize(
    ("path", "known"),
    [
        ("seed", True),
        ("optimizer.lr", True),
        ("strategy.name", True),
        ("strategy.buffer_size", True),  # of some variants
        ("strategy.ewc_lambda", True),
        ("benchmark.angles", True),
        ("model.hidden_sizes", True),
        ("strategy", True),  # the whole object
        ("strategy.memory_size", False),
        ("seed.value", False),
        ("optimizer..lr", False),
        ("nope", False),
    ],
)
def test_a_path_is_known_when_some_variant_has_it(path: str, known: bool) -> None:
    assert known_path(path) is known


def test_only_a_union_name_switches_the_variant() -> None:
    assert switches_variant("strategy.name") and switches_variant("benchmark.name")
    assert not switches_variant("optimizer.name")  # one model: its name is a plain field
    assert not switches_variant("strategy.buffer_size") and not switches_variant("seed")


def test_applying_values_switches_variants_first_and_keeps_the_options_they_share() -> None:
    der = apply(BASE, {"strategy.buffer_size": 64, "strategy.name": "der"})
    # der has buffer_size (set by the axis, after the switch) but no buffer_policy.
    assert der["strategy"] == {"name": "der", "buffer_size": 64}
    assert apply(BASE, {"strategy.name": "finetune"})["strategy"] == {"name": "finetune"}
    # The same name keeps everything; the base document is not changed.
    assert apply(BASE, {"strategy.name": "er"})["strategy"] == BASE["strategy"]
    assert BASE["strategy"]["buffer_policy"] == "class_balanced"
    # A part the base leaves to its defaults is created.
    assert apply(BASE, {"optimizer.lr": 0.5})["optimizer"] == {"lr": 0.5}
    assert apply(BASE, {"seed": 3})["seed"] == 3


def test_a_grid_is_every_combination_with_the_first_axis_slowest() -> None:
    axes = {"a": [1, 2], "b": ["x", "y", "z"]}
    assert combinations(axes, "grid") == [
        (0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2),
    ]  # fmt: skip
    assert len(combinations(axes, "grid", budget=6)) == 6
    with pytest.raises(SweepPlanError) as error:
        combinations(axes, "grid", budget=5)
    assert locs(error) == [("budget",)]


def test_a_grid_beyond_the_sweep_bound_is_refused() -> None:
    axes = {"a": list(range(100)), "b": list(range(6))}
    with pytest.raises(SweepPlanError) as error:
        combinations(axes, "grid")
    assert locs(error) == [("axes",)] and str(MAX_RUNS) in error.value.errors[0]["msg"]


def test_random_draws_distinct_points_reproducibly_in_grid_order() -> None:
    axes = {"a": list(range(4)), "b": list(range(5))}
    first = combinations(axes, "random", budget=7, seed=11)
    assert first == combinations(axes, "random", budget=7, seed=11)
    assert first != combinations(axes, "random", budget=7, seed=12)
    assert len(set(first)) == 7 and first == sorted(first)
    assert sorted(combinations(axes, "random", budget=20, seed=1)) == combinations(axes, "grid")


def test_random_draws_configurations_and_runs_each_with_every_seed() -> None:
    axes = {"a": list(range(4)), "seed": [0, 1, 2], "b": list(range(5))}
    drawn = combinations(axes, "random", budget=3, seed=5)
    configs = sorted({(p[0], p[2]) for p in drawn})
    assert len(configs) == 3 and len(drawn) == 9  # 3 configurations × 3 seeds
    assert drawn == [(a, s, b) for a, b in configs for s in range(3)]
    with pytest.raises(SweepPlanError) as error:  # 20 configurations, whatever the seeds
        combinations(axes, "random", budget=21, seed=5)
    assert locs(error) == [("budget",)]


def test_random_draws_from_a_grid_too_large_to_enumerate() -> None:
    axes = {f"a{i}": list(range(100)) for i in range(16)}  # 10^32 points
    drawn = combinations(axes, "random", budget=500, seed=0)
    assert len(set(drawn)) == 500 and all(len(p) == 16 for p in drawn)


@pytest.mark.parametrize(
    ("budget", "seed", "loc"), [(None, 1, ("budget",)), (21, 1, ("budget",)), (5, None, ("seed",))]
)
def test_random_needs_a_budget_that_fits_and_a_seed(
    budget: int | None, seed: int | None, loc: tuple[str, ...]
) -> None:
    with pytest.raises(SweepPlanError) as error:
        combinations({"a": list(range(4)), "b": list(range(5))}, "random", budget=budget, seed=seed)
    assert locs(error) == [loc]


def test_a_group_names_the_sweep_and_every_value_and_stays_distinct_when_cut() -> None:
    assert group_name("s", {"strategy.name": "er", "optimizer.lr": 0.1, "x": True}) == (
        "s strategy.name=er optimizer.lr=0.1 x=true"
    )
    assert group_name("s", {}) == "s"
    long_a = group_name("s", {"name": "a" * 300})
    long_b = group_name("s", {"name": "a" * 299 + "b"})
    assert len(long_a) == len(long_b) == MAX_GROUP_CHARS and long_a != long_b


def test_a_plan_validates_groups_and_tags_every_run() -> None:
    runs = plan(
        BASE,
        {"strategy.name": ["er", "der", "finetune"], "seed": [0, 1]},
        "grid",
        sweep_name="cmp",
        project="lab",
        tags=["sweep:4"],
    )
    assert len(runs) == 6
    assert all(isinstance(r.spec, RunSpec) and r.spec.project == "lab" for r in runs)
    assert [r.values for r in runs[:2]] == [
        {"strategy.name": "er", "seed": 0},
        {"strategy.name": "er", "seed": 1},
    ]
    assert runs[0].config == runs[1].config == {"strategy.name": "er"}
    assert runs[0].spec.group == runs[1].spec.group == "cmp strategy.name=er"
    assert runs[2].spec.strategy.name == "der" and runs[2].spec.strategy.buffer_size == 500  # type: ignore[union-attr]
    assert runs[4].spec.strategy.model_dump() == {"name": "finetune"}
    assert all(r.spec.tags == ["sweep:4"] for r in runs)
    assert configuration_key(runs[0].config) == configuration_key({"strategy.name": "er"})


def test_a_run_spec_as_base_contributes_only_the_fields_it_set() -> None:
    spec = RunSpec.model_validate({**BASE, "strategy": {"name": "er"}})
    (agem,) = plan(spec, {"strategy.name": ["agem"]}, "grid", sweep_name="s")
    # er's default buffer (200) is not carried over: agem keeps its own default (256).
    assert agem.spec.strategy.buffer_size == 256  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("axes", "loc"),
    [
        ({}, ("axes",)),
        ({f"a{i}": [1] for i in range(17)}, ("axes",)),
        ({"seed": []}, ("axes", "seed")),
        ({"seed": list(range(101))}, ("axes", "seed")),
        ({"seed": [1, 1]}, ("axes", "seed")),
        ({"optimizer.lr": [0.1, 1e-1]}, ("axes", "optimizer.lr")),  # the same number twice
        ({"optimizer.lr": [float("nan")]}, ("axes", "optimizer.lr")),
        ({"name": ["a\x00"]}, ("axes", "name")),
        ({"strategy.memory_size": [1]}, ("axes", "strategy.memory_size")),
        ({"project": ["x"]}, ("axes", "project")),
        ({"group": ["x"]}, ("axes", "group")),
        ({"optimizer.lr": [0.1, 20]}, ("axes", "optimizer.lr")),
        ({"seed": [-1]}, ("axes", "seed")),
        ({"strategy.name": ["er", "bogus"]}, ("axes", "strategy.name")),
        (
            {"strategy.name": ["er", "lwf"], "strategy.buffer_size": [8]},
            ("axes", "strategy.buffer_size"),
        ),
        # Two values that are each valid but not together: the first axis (the message names
        # the whole run).
        (
            {"optimizer.momentum": [0.0, 0.9], "optimizer.name": ["sgd", "adam"]},
            ("axes", "optimizer.momentum"),
        ),
        (
            {
                "model.name": ["mlp", "resnet18_reduced"],
                "benchmark.name": ["split_digits", "synthetic"],
            },
            ("axes", "model.name"),
        ),
    ],
)
def test_what_cannot_be_planned_names_its_axis(axes: dict[str, Any], loc: tuple[Any, ...]) -> None:
    with pytest.raises(SweepPlanError) as error:
        plan(BASE, axes, "grid", sweep_name="s")
    assert loc in locs(error), error.value.errors


def test_a_rule_across_fields_names_the_axis_whose_value_alone_breaks_it() -> None:
    cnn = {**BASE, "model": {"name": "cnn"}}  # needs images: synthetic data are vectors
    with pytest.raises(SweepPlanError) as error:
        plan(
            cnn,
            {"seed": [0], "benchmark.name": ["split_digits", "synthetic"]},
            "grid",
            sweep_name="s",
        )
    assert locs(error) == [("axes", "benchmark.name")]
    assert "needs image inputs" in error.value.errors[0]["msg"]


def test_an_invalid_value_error_says_which_run_and_why() -> None:
    with pytest.raises(SweepPlanError) as error:
        plan(BASE, {"seed": [0, 1], "optimizer.lr": [0.1, 20]}, "grid", sweep_name="s")
    (problem,) = error.value.errors
    assert problem["input"] == 20
    assert "optimizer.lr=20" in problem["msg"] and "seed=0" in problem["msg"]
    assert "less than or equal to 10" in problem["msg"]


def test_a_problem_of_the_base_itself_names_the_base() -> None:
    crowded = {**BASE, "tags": [f"t{i}" for i in range(32)]}  # full: the sweep's tag is one more
    with pytest.raises(SweepPlanError) as error:
        plan(crowded, {"seed": [0]}, "grid", sweep_name="s", tags=["sweep:1"])
    assert locs(error) == [("base", "tags")]


@pytest.mark.parametrize(
    ("loc", "values", "blamed"),
    [
        (("optimizer", "lr"), {"seed": 0, "optimizer.lr": 20}, "optimizer.lr"),
        (
            ("strategy", "buffer_size"),
            {"strategy.name": "x", "strategy.buffer_size": 1},
            "strategy.buffer_size",
        ),
        (("strategy",), {"strategy.buffer_size": 1, "strategy.name": "x"}, "strategy.name"),
        (("strategy", "alpha"), {"strategy.name": "x", "seed": 0}, "strategy.name"),
        ((), {"seed": 0}, None),
        (("model",), {"seed": 0}, None),
    ],
)
def test_the_blamed_axis_shares_the_most_of_the_location(
    loc: tuple[str, ...], values: dict[str, Any], blamed: str | None
) -> None:
    assert blamed_axis(loc, values) == blamed
