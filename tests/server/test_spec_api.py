"""GET /spec: the schema the New-run form is built from, and presets that are valid specs."""

from __future__ import annotations

from gapwatch.server.specs.presets import PRESETS
from gapwatch.spec import RunSpec


def test_schema_carries_unions_defaults_and_bounds(api) -> None:
    body = api.get("/api/v1/spec").json()
    schema = body["schema"]
    assert schema == RunSpec.model_json_schema()
    strategy = schema["properties"]["strategy"]
    assert strategy["discriminator"]["propertyName"] == "name"
    assert {"finetune", "er", "ewc", "lwf", "agem", "der", "derpp"} <= set(
        strategy["discriminator"]["mapping"]
    )
    batch = schema["$defs"]["TrainingSpec"]["properties"]["batch_size"]
    assert (batch["default"], batch["minimum"], batch["maximum"]) == (32, 1, 65_536)


def test_every_preset_is_a_complete_valid_spec_the_api_accepts(api) -> None:
    presets = api.get("/api/v1/spec").json()["presets"]
    assert [p["id"] for p in presets] == [p.id for p in PRESETS]
    assert {"split_digits_finetune", "split_digits_er", "split_mnist_er", "split_mnist_gem",
            "rotated_mnist_er", "split_cifar10_er", "split_cifar10_gem",
            "permuted_digits_plasticity"} == {
        p["id"] for p in presets}  # fmt: skip
    for preset in presets:
        spec = RunSpec.model_validate(preset["spec"])
        assert preset["spec"] == spec.model_dump(mode="json"), "defaults filled in"
        assert preset["title"] and preset["description"]
        created = api.post("/api/v1/runs", json=preset["spec"])
        assert created.status_code == 201, (preset["id"], created.text)
    offline = [p for p in presets if p["spec"]["benchmark"]["name"] == "split_digits"]
    assert {p["spec"]["strategy"]["name"] for p in offline} == {"finetune", "er"}
