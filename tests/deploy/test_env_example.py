""".env.example: every Gapwatch setting with its default, and in step with docker-compose.yml."""

from __future__ import annotations

from typing import Any

import pytest

from gapwatch.config import Settings
from tests.deploy.deploy_files import (
    COMPOSE_CPU_FILE,
    COMPOSE_FILE,
    ENV_EXAMPLE,
    EnvLine,
    all_references,
    direct_variables,
    load_compose,
    parse_env_example,
    settings_variables,
)


@pytest.fixture(scope="module")
def env_example() -> dict[str, EnvLine]:
    return parse_env_example(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def compose_references() -> dict[str, set[str]]:
    """{variable: its interpolation operators} over both compose files."""
    found: dict[str, set[str]] = {}
    documents: list[Any] = [load_compose(COMPOSE_FILE), load_compose(COMPOSE_CPU_FILE)]
    for document in documents:
        for reference in all_references(document):
            found.setdefault(reference.name, set()).add(reference.operator)
    return found


def test_lists_every_settings_field(env_example: dict[str, EnvLine]) -> None:
    missing = set(settings_variables()) - set(env_example)
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_lists_the_variables_the_code_reads_directly(env_example: dict[str, EnvLine]) -> None:
    assert direct_variables() <= set(env_example)


def test_documented_defaults_are_the_settings_defaults(env_example: dict[str, EnvLine]) -> None:
    for variable, field_name in settings_variables().items():
        if field_name == "worker_token":
            continue  # a secret: the example leaves it empty for the user to fill
        line = env_example[variable]
        assert not line.active, f"{variable}: shown as a default, commented out"
        default = Settings.model_fields[field_name].default
        if default is None:
            assert line.value == "", variable
        elif isinstance(default, float):
            assert float(line.value) == default, variable
        else:
            assert line.value == str(default), variable


def test_every_variable_compose_reads_is_documented(
    env_example: dict[str, EnvLine], compose_references: dict[str, set[str]]
) -> None:
    missing = set(compose_references) - set(env_example)
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_the_required_secrets_are_the_active_lines(
    env_example: dict[str, EnvLine], compose_references: dict[str, set[str]]
) -> None:
    required = {name for name, operators in compose_references.items() if ":?" in operators}
    active = {name for name, line in env_example.items() if line.active}
    assert required == active == {"GAPWATCH_WORKER_TOKEN", "POSTGRES_PASSWORD", "REDIS_PASSWORD"}
    for name in active:
        assert env_example[name].value == "", f"{name}: no secret in the example"


def test_group_two_is_what_compose_passes(
    env_example: dict[str, EnvLine], compose_references: dict[str, set[str]]
) -> None:
    # The file promises that group 2's variables reach the containers and group 3's do not.
    text = ENV_EXAMPLE.read_text()
    group_two = text[text.index("# 2. Tunables") : text.index("# 3. Fixed")]
    group_three = text[text.index("# 3. Fixed") :]
    for name, line in env_example.items():
        in_two = f"# {name}=" in group_two
        in_three = f"# {name}=" in group_three
        if name == "COMPOSE_FILE":
            continue  # read by the compose command itself
        if in_two:
            assert name in compose_references, f"{name} is in group 2 but compose ignores it"
        if in_three:
            assert name not in compose_references, f"{name} is in group 3 but compose reads it"
        assert line.active or in_two or in_three, name
