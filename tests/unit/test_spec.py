"""RunSpec: defaults, bounds, names and the JSON schema that the UI form is built from."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from gapwatch.config import DEVELOPMENT_WORKER_TOKEN, Settings
from gapwatch.spec import STRATEGY_COMPONENTS, RunSpec

MINIMAL = {
    "benchmark": {"name": "split_digits"},
    "model": {"name": "mlp"},
    "strategy": {"name": "er"},
}


def test_only_the_three_names_are_required_and_defaults_are_sensible() -> None:
    spec = RunSpec.model_validate(MINIMAL)
    assert spec.training.iterations_per_task == 500 and spec.training.epochs_per_task is None
    assert spec.training.batch_size == 32
    assert spec.evaluation.every == 1 and spec.evaluation.subset_size == 1000
    assert spec.model.hidden_sizes == [400, 400]
    assert spec.strategy.name == "er" and spec.strategy.buffer_size == 200
    assert spec.seed == 0 and spec.device == "auto"
    # A stored spec reloads to the same spec.
    assert RunSpec.model_validate(spec.model_dump(mode="json")) == spec


def test_epochs_instead_of_iterations() -> None:
    spec = RunSpec.model_validate({**MINIMAL, "training": {"epochs_per_task": 2}})
    assert spec.training.iterations_per_task is None and spec.training.epochs_per_task == 2


@pytest.mark.parametrize(
    ("override", "location"),
    [
        ({"training": {"batch_size": 0}}, ("training", "batch_size")),
        ({"training": {"iterations_per_task": 10**12}}, ("training", "iterations_per_task")),
        ({"evaluation": {"subset_size": 0}}, ("evaluation", "subset_size")),
        ({"optimizer": {"momentum": 1.0}}, ("optimizer", "momentum")),
        ({"model": {"name": "mlp", "hidden_sizes": []}}, ("model", "mlp", "hidden_sizes")),
        (
            {"benchmark": {"name": "split_digits", "n_tasks": 6}},
            ("benchmark", "split_digits", "n_tasks"),
        ),
        ({"seed": 2**40}, ("seed",)),
        ({"device": "cuda:x"}, ("device",)),
        ({"colour": "blue"}, ("colour",)),
    ],
)
def test_bounds_name_the_field(override: dict, location: tuple) -> None:
    with pytest.raises(ValidationError) as caught:
        RunSpec.model_validate({**MINIMAL, **override})
    assert location in [e["loc"] for e in caught.value.errors()]


def test_devices() -> None:
    for device in ("auto", "cpu", "cuda", "cuda:0", "cuda:15"):
        assert RunSpec.model_validate({**MINIMAL, "device": device}).device == device


def test_json_schema_carries_options_defaults_and_bounds() -> None:
    schema = RunSpec.model_json_schema()
    er = schema["$defs"]["ERSpec"]["properties"]
    assert er["buffer_size"]["default"] == 200 and er["buffer_size"]["minimum"] == 1
    strategies = set(schema["properties"]["strategy"]["discriminator"]["mapping"])
    # Every component that entry points declare is in the schema: the suite installs the
    # example plugin (tests/example_plugin.py).
    assert strategies == {c.name for c in STRATEGY_COMPONENTS} and "er_cosine" in strategies
    assert {"finetune", "joint", "er", "er_ace", "agem", "gem", "ewc", "si", "lwf", "der"} <= (
        strategies
    )
    benchmarks = set(schema["properties"]["benchmark"]["discriminator"]["mapping"])
    assert {"split_mnist", "permuted_mnist", "rotated_mnist", "split_cifar100"} <= benchmarks


def test_production_refuses_the_placeholder_worker_token() -> None:
    with pytest.raises(ValidationError, match="GAPWATCH_WORKER_TOKEN"):
        Settings(environment="production")
    strong = "0123456789abcdef" * 2
    assert Settings(environment="production", worker_token=SecretStr(strong)).environment
    for weak in ("s3cret", "", "x", "change-me", strong[:31], "é" * 32, "\u3000" * 40):
        with pytest.raises(ValidationError, match="GAPWATCH_WORKER_TOKEN"):
            Settings(environment="production", worker_token=SecretStr(weak))
    assert Settings().worker_token.get_secret_value() == DEVELOPMENT_WORKER_TOKEN


def test_embedded_defaults_and_api_url() -> None:
    settings = Settings(host="0.0.0.0", port=8123)
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.broker_url == "filesystem://"
    assert settings.resolved_api_url == "http://127.0.0.1:8123"


@pytest.mark.parametrize(
    ("benchmark", "model", "message"),
    [
        ({"name": "permuted_mnist", "scenario": "class_incremental"}, "mlp", "does not apply"),
        ({"name": "rotated_mnist", "scenario": "class_incremental"}, "mlp", "does not apply"),
        ({"name": "synthetic"}, "cnn", "needs image inputs"),
        ({"name": "synthetic"}, "resnet18_reduced", "needs image inputs"),
        ({"name": "rotated_mnist", "n_tasks": 3, "angles": [0, 45]}, "mlp", "3 tasks"),
        ({"name": "split_cifar100", "n_tasks": 7}, "mlp", "10"),
    ],
)
def test_invalid_combinations_are_refused(benchmark: dict, model: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RunSpec.model_validate({**MINIMAL, "benchmark": benchmark, "model": {"name": model}})


def test_valid_scenarios_per_benchmark() -> None:
    for name in ("split_digits", "split_mnist", "split_cifar10", "synthetic"):
        for scenario in ("class_incremental", "task_incremental", "domain_incremental"):
            spec = RunSpec.model_validate(
                {**MINIMAL, "benchmark": {"name": name, "scenario": scenario}}
            )
            assert spec.benchmark.scenario == scenario
    permuted = RunSpec.model_validate({**MINIMAL, "benchmark": {"name": "permuted_mnist"}})
    assert permuted.benchmark.scenario == "domain_incremental"


def test_momentum_is_for_sgd_only() -> None:
    with pytest.raises(ValidationError, match="sgd only"):
        RunSpec.model_validate({**MINIMAL, "optimizer": {"name": "adam", "momentum": 0.9}})


@pytest.mark.parametrize(
    ("benchmark", "values", "channels"),
    [("split_mnist", 3, "1 channel"), ("split_cifar10", 1, "3 channels")],
)
def test_normalize_gives_one_mean_and_std_per_channel(
    benchmark: str, values: int, channels: str
) -> None:
    normalize = {"mean": [0.5] * values, "std": [0.25] * values}
    with pytest.raises(ValidationError, match=f"normalize gives {values} values.*{channels}"):
        RunSpec.model_validate(
            {**MINIMAL, "benchmark": {"name": benchmark, "normalize": normalize}}
        )
    right = {"mean": [0.5] * (4 - values), "std": [0.25] * (4 - values)}
    spec = RunSpec.model_validate({**MINIMAL, "benchmark": {"name": benchmark, "normalize": right}})
    assert spec.benchmark.normalize.mean == right["mean"]  # type: ignore[union-attr]
