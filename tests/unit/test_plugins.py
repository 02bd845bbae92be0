"""Plugins through entry points: the example plugin (examples/plugin, installed for the tests by
tests/example_plugin.py) is found, validated and shown in the schema like a built-in; it can be
left out; broken plugins are listed and left out without stopping anything."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from gapwatch import plugins
from gapwatch.spec import (
    BUILTIN_MODELS,
    BUILTIN_STRATEGIES,
    STRATEGY_COMPONENTS,
    ERSpec,
    ModelSpecBase,
    ReplayOptions,
    RunSpec,
    StrategySpecBase,
)
from tests.conftest import REPO_ROOT, clean_env

PLUGIN = "gapwatch-example-plugin"
BROKEN = "gapwatch-broken-plugin"
MINIMAL = {"benchmark": {"name": "split_digits"}, "model": {"name": "mlp"}}
BUILTIN_NAMES = [name for spec in BUILTIN_STRATEGIES for name in plugins.spec_names(spec)]


def write_broken_distribution(root: Path) -> None:
    """A distribution found only on `root` (a sys.path entry): a dist-info whose entry points
    break every rule, one each, and the module they name."""
    (root / "gapwatch_broken_plugin.py").write_text(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING, ClassVar, Literal\n"
        "from gapwatch.components import ComponentSpec, StrategySpecBase\n"
        "if TYPE_CHECKING:\n"
        "    from decimal import Decimal\n\n\n"
        "class Impostor(StrategySpecBase):\n"
        "    implementation: ClassVar[str] = 'gapwatch_broken_plugin:Impostor'\n"
        "    name: Literal['er']\n\n\n"
        "class AlsoER(StrategySpecBase):\n"
        "    implementation: ClassVar[str] = 'gapwatch_broken_plugin:AlsoER'\n"
        "    name: Literal['also_er', 'er']\n\n\n"
        "class NoBase(ComponentSpec):\n"
        "    implementation: ClassVar[str] = 'gapwatch_broken_plugin:NoBase'\n"
        "    name: Literal['no_base']\n\n\n"
        "class Unresolved(StrategySpecBase):\n"
        "    implementation: ClassVar[str] = 'gapwatch_broken_plugin:Unresolved'\n"
        "    name: Literal['unresolved']\n"
        "    amount: Decimal = 1\n\n\n"
        "class NoImplementation(StrategySpecBase):\n"
        "    name: Literal['no_implementation']\n\n\n"
        "NOT_A_CLASS = 3\n"
    )
    info = root / "gapwatch_broken_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {BROKEN}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[gapwatch.strategies]\n"
        "missing_module = gapwatch_no_such_module:Spec\n"
        "er = gapwatch_broken_plugin:Impostor\n"
        "also_er = gapwatch_broken_plugin:AlsoER\n"
        "no_base = gapwatch_broken_plugin:NoBase\n"
        "unresolved = gapwatch_broken_plugin:Unresolved\n"
        "wrong_name = gapwatch_example_plugin:ERCosineSpec\n"
        "no_implementation = gapwatch_broken_plugin:NoImplementation\n"
        "not_a_class = gapwatch_broken_plugin:NOT_A_CLASS\n"
        "\n[gapwatch.models]\n"
        "broken_model = gapwatch_no_such_module:Model\n"
    )


def run_python(
    *args: str, pythonpath: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """This interpreter run anew with `args` (discovery runs once, when gapwatch.spec is
    imported), `pythonpath` first on its path and `env` in its environment."""
    environment = clean_env(**env)
    if pythonpath is not None:
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(pythonpath), *filter(None, [environment.get("PYTHONPATH")])]
        )
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=environment,
        timeout=120,
    )


def test_the_example_plugin_is_discovered_after_the_builtins() -> None:
    [component] = [c for c in STRATEGY_COMPONENTS if c.name == "er_cosine"]
    assert component.distribution == PLUGIN and not component.builtin
    assert component.kind == "strategies"
    assert component.spec_class.__module__ == "gapwatch_example_plugin"
    assert issubclass(component.spec_class, ReplayOptions)
    assert component.spec_class.implementation == "gapwatch_example_plugin:ERCosine"
    names = [c.name for c in STRATEGY_COMPONENTS]
    assert names[: len(BUILTIN_NAMES)] == BUILTIN_NAMES
    assert [c.builtin for c in STRATEGY_COMPONENTS] == [
        c.name in BUILTIN_NAMES for c in STRATEGY_COMPONENTS
    ]


def test_the_run_spec_validates_it_and_its_schema_shows_its_options_and_bounds() -> None:
    spec = RunSpec.model_validate({**MINIMAL, "strategy": {"name": "er_cosine"}})
    assert type(spec.strategy).__name__ == "ERCosineSpec"
    assert (spec.strategy.scale, spec.strategy.buffer_size) == (16.0, 200)  # type: ignore[union-attr]

    schema = RunSpec.model_json_schema()
    assert schema["properties"]["strategy"]["discriminator"]["mapping"]["er_cosine"] == (
        "#/$defs/ERCosineSpec"
    )
    options = schema["$defs"]["ERCosineSpec"]["properties"]
    assert {k: options["scale"][k] for k in ("default", "minimum", "maximum", "type")} == {
        "default": 16.0,
        "minimum": 1.0,
        "maximum": 100.0,
        "type": "number",
    }
    assert "cosine" in options["scale"]["description"]
    assert options["buffer_size"]["minimum"] == 1  # ReplayOptions' bounds come with the base


@pytest.mark.parametrize(
    ("strategy", "field", "error_type"),
    [
        ({"scale": 0.5}, "scale", "greater_than_equal"),
        ({"scale": 101}, "scale", "less_than_equal"),
        ({"scale": "wide"}, "scale", "float_parsing"),
        ({"buffer_size": 0}, "buffer_size", "greater_than_equal"),
        ({"scales": 16}, "scales", "extra_forbidden"),  # a misspelt option is not ignored
    ],
)
def test_a_bad_option_is_an_error_naming_its_field(
    strategy: dict, field: str, error_type: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        RunSpec.model_validate({**MINIMAL, "strategy": {"name": "er_cosine", **strategy}})
    [error] = caught.value.errors()
    assert error["loc"] == ("strategy", "er_cosine", field)
    assert error["type"] == error_type


@pytest.mark.parametrize(
    "disabled", [PLUGIN, "er_cosine", "*", f"other, {PLUGIN}", "Gapwatch_Example.Plugin"]
)
def test_disabled_plugins_are_left_out_but_never_the_builtins(
    monkeypatch: pytest.MonkeyPatch, disabled: str
) -> None:
    monkeypatch.setattr(plugins, "_problems", [])
    monkeypatch.setenv(plugins.DISABLED_ENV, disabled)
    assert [
        c.name for c in plugins.discover("strategies", BUILTIN_STRATEGIES, StrategySpecBase)
    ] == BUILTIN_NAMES
    # A built-in is not a plugin: naming it (or gapwatch) leaves it in.
    monkeypatch.setenv(plugins.DISABLED_ENV, "gapwatch,er,finetune")
    names = [c.name for c in plugins.discover("strategies", BUILTIN_STRATEGIES, StrategySpecBase)]
    assert names == [*BUILTIN_NAMES, "er_cosine"]
    assert plugins.problems() == []


def test_a_process_with_the_plugin_disabled_refuses_runs_that_name_it() -> None:
    code = (
        "import json\n"
        "from pydantic import ValidationError\n"
        "from gapwatch.spec import RunSpec\n"
        "schema = RunSpec.model_json_schema()\n"
        "names = sorted(schema['properties']['strategy']['discriminator']['mapping'])\n"
        "try:\n"
        f"    RunSpec.model_validate({MINIMAL!r} | {{'strategy': {{'name': 'er_cosine'}}}})\n"
        "    error = None\n"
        "except ValidationError as caught:\n"
        "    error = caught.errors()[0]\n"
        "print(json.dumps({'names': names, 'error': error}, default=str))\n"
    )
    done = run_python("-c", code, GAPWATCH_PLUGINS_DISABLED=PLUGIN)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["names"] == sorted(BUILTIN_NAMES)
    assert found["error"]["type"] == "union_tag_invalid"
    assert found["error"]["loc"] == ["strategy"]
    assert "'er_cosine'" in found["error"]["msg"]


def test_broken_plugins_are_listed_and_do_not_stop_discovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    write_broken_distribution(tmp_path)
    # First on sys.path: its `er` is found before gapwatch's own, and must still lose to it.
    monkeypatch.syspath_prepend(str(tmp_path))
    request.addfinalizer(lambda: sys.modules.pop("gapwatch_broken_plugin", None))
    monkeypatch.setattr(plugins, "_problems", [])

    found = plugins.discover("strategies", BUILTIN_STRATEGIES, StrategySpecBase)
    assert [c.name for c in found] == [*BUILTIN_NAMES, "er_cosine"]
    [er] = [c for c in found if c.name == "er"]
    assert er.spec_class is ERSpec and er.builtin

    assert len(plugins.problems()) == 8  # each once, and none of gapwatch's own
    problems = {p.name: p for p in plugins.problems()}
    assert set(problems) == {
        "missing_module",
        "er",
        "also_er",
        "no_base",
        "unresolved",
        "wrong_name",
        "no_implementation",
        "not_a_class",
    }
    assert {(p.kind, p.distribution) for p in problems.values()} == {("strategies", BROKEN)}
    assert problems["missing_module"].error.startswith("ModuleNotFoundError")
    assert "gapwatch_no_such_module" in problems["missing_module"].error
    # Each of these would have stopped gapwatch.spec from importing, had it been let in: a name
    # mapped twice in the union, a model without the base's class variables, an annotation
    # that cannot be resolved.
    assert "name is taken: 'er' (gapwatch)" in problems["er"].error
    assert "name is taken: 'er' (gapwatch)" in problems["also_er"].error
    assert "must derive from gapwatch.components.StrategySpecBase" in problems["no_base"].error
    assert "Decimal" in problems["unresolved"].error
    assert "allows ['er_cosine']" in problems["wrong_name"].error
    assert "implementation must be 'module:attribute'" in problems["no_implementation"].error
    assert "must name a pydantic model class" in problems["not_a_class"].error

    assert [c.name for c in plugins.discover("models", BUILTIN_MODELS, ModelSpecBase)] == [
        "mlp", "cnn", "resnet18_reduced"
    ]  # fmt: skip
    assert plugins.problems()[-1].kind == "models"


@pytest.mark.parametrize(
    "first",
    ["gapwatch_example_plugin", "gapwatch_worker.cl.strategies", "gapwatch.spec", "gapwatch"],
)
def test_the_plugin_is_found_whatever_is_imported_first(first: str) -> None:
    # A plugin's module imports its bases from gapwatch.components and the engine; importing it
    # (or the engine) before gapwatch.spec must not leave it half imported when discovery runs.
    code = (
        f"import {first}\n"
        "from gapwatch import plugins\n"
        "from gapwatch.spec import RunSpec\n"
        "assert not plugins.problems(), plugins.problems()\n"
        "RunSpec.model_validate({'benchmark': {'name': 'split_digits'}, 'model': {'name': "
        "'mlp'}, 'strategy': {'name': 'er_cosine'}})\n"
    )
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr


def _row(name: str, package: str, implementation: str) -> re.Pattern[str]:
    return re.compile(rf"^  {name} +{re.escape(package)} +{re.escape(implementation)}$", re.M)


def test_the_plugins_command_lists_components_and_packages_and_problems(tmp_path: Path) -> None:
    write_broken_distribution(tmp_path)
    done = run_python("-m", "gapwatch.cli", "plugins", pythonpath=tmp_path)
    assert done.returncode == 1, done.stderr  # a declared plugin failed to load
    out = done.stdout
    sections = [line for line in out.splitlines() if not line.startswith(" ")]
    assert sections == ["strategies:", "models:", "benchmarks:", "failed to load (left out):"]
    assert _row("er", "built-in", "gapwatch_worker.cl.strategies.er:ExperienceReplay").search(out)
    assert _row("er_cosine", PLUGIN, "gapwatch_example_plugin:ERCosine").search(out)
    assert _row("mlp", "built-in", "gapwatch_worker.cl.models:build_mlp").search(out)
    digits = "gapwatch_worker.cl.benchmarks.split_digits:build_split_digits"
    assert _row("split_digits", "built-in", digits).search(out)
    assert f"  strategies 'missing_module' from {BROKEN}: ModuleNotFoundError" in out
    assert f"  models 'broken_model' from {BROKEN}: ModuleNotFoundError" in out
    assert out.count(f"from {BROKEN}") == 9

    left_out = run_python("-m", "gapwatch.cli", "plugins", GAPWATCH_PLUGINS_DISABLED=PLUGIN)
    assert left_out.returncode == 0, left_out.stderr
    assert "er_cosine" not in left_out.stdout and "failed to load" not in left_out.stdout
    assert f"left out on purpose (GAPWATCH_PLUGINS_DISABLED): {PLUGIN}" in left_out.stdout


def test_gapwatch_declares_its_builtins_as_entry_points_the_way_a_plugin_does() -> None:
    # Discovery takes the built-ins from the classes; the declarations must name the same ones.
    import tomllib

    from gapwatch import components

    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    for kind, builtins in (
        ("strategies", components.BUILTIN_STRATEGIES),
        ("models", components.BUILTIN_MODELS),
        ("benchmarks", components.BUILTIN_BENCHMARKS),
    ):
        expected = {
            name: f"gapwatch.components:{cls.__name__}"
            for cls in builtins
            for name in plugins.spec_names(cls)
        }
        assert declared[f"gapwatch.{kind}"] == expected, kind
