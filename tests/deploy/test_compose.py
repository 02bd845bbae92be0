"""docker-compose.yml and docker-compose.cpu.yml: valid against the Compose Specification's
schema, and the stack that issue 6 asks for (no Docker engine here, so the structure is
asserted, and the settings it passes are run through gapwatch's own Settings and CLI)."""

from __future__ import annotations

import copy
import os
import re
import tomllib
from typing import Any

import pytest

from gapwatch.cli import build_parser, cmd_serve, cmd_worker
from gapwatch.config import Settings
from tests.deploy.deploy_files import (
    COMPOSE_CPU_FILE,
    COMPOSE_FILE,
    COMPOSE_SCHEMA_SHA256,
    REPO_ROOT,
    MissingVariable,
    Reset,
    all_references,
    interpolate,
    interpolate_document,
    known_variables,
    load_compose,
    load_compose_text,
    merge,
    references,
    schema_digest,
    schema_errors,
    settings_variables,
    split_image,
    volume_mounts,
)

SERVICES = {"db", "redis", "backend", "worker"}
SECRETS = {
    "GAPWATCH_WORKER_TOKEN": "a" * 64,
    "POSTGRES_PASSWORD": "b" * 48,
    "REDIS_PASSWORD": "c" * 48,
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose(COMPOSE_FILE)


@pytest.fixture(scope="module")
def cpu_override() -> dict[str, Any]:
    return load_compose(COMPOSE_CPU_FILE)


@pytest.fixture(scope="module")
def resolved(compose: dict[str, Any]) -> dict[str, Any]:
    """docker-compose.yml as Compose runs it with a .env holding only the three secrets."""
    return interpolate_document(compose, SECRETS)


@pytest.fixture(scope="module")
def resolved_cpu(compose: dict[str, Any], cpu_override: dict[str, Any]) -> dict[str, Any]:
    return interpolate_document(merge(compose, cpu_override), SECRETS)


def project_version() -> str:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


# --- the schema ------------------------------------------------------------------------------


def test_vendored_schema_is_the_recorded_file() -> None:
    # The schema is vendored verbatim; an edit to it would make the validation below meaningless.
    assert schema_digest() == COMPOSE_SCHEMA_SHA256


def test_compose_files_validate_against_the_compose_spec(
    compose: dict[str, Any], cpu_override: dict[str, Any], resolved_cpu: dict[str, Any]
) -> None:
    assert schema_errors(compose) == []
    assert schema_errors(cpu_override) == []
    assert schema_errors(merge(compose, cpu_override)) == []
    assert schema_errors(resolved_cpu) == []


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        (lambda c: c["services"]["db"].update(helthcheck={}), "helthcheck"),
        (
            lambda c: c["services"]["worker"]["depends_on"]["backend"].update(
                condition="service_ready"
            ),
            "service_ready",
        ),
        (lambda c: c["services"]["redis"].update(ports=[{"target": "x", "bogus": 1}]), "bogus"),
        (lambda c: c.update(volume={}), "volume"),
    ],
)
def test_the_schema_rejects_what_compose_rejects(
    compose: dict[str, Any], mutate: Any, complaint: str
) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    errors = schema_errors(broken)
    assert errors and any(complaint in error for error in errors), errors


# --- services, images, volumes ---------------------------------------------------------------


def test_the_four_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES


def test_every_service_has_a_pinned_image_or_a_build(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image or service.get("build"), name
        if image:
            _, tag = split_image(image)
            assert tag and tag != "latest" and re.match(r"^\d+(\.\d+)*([-.][a-z0-9.]+)*$", tag), (
                f"{name}: {image} is not pinned to a version"
            )


def test_built_images_are_tagged_with_the_project_version(
    compose: dict[str, Any], cpu_override: dict[str, Any]
) -> None:
    version = project_version()
    for name in ("backend", "worker"):
        assert compose["services"][name]["build"]["context"] == "."
        assert split_image(compose["services"][name]["image"])[1] == version
    cpu_tag = split_image(cpu_override["services"]["worker"]["image"])[1]
    assert cpu_tag == f"{version}-cpu"


def test_dockerfiles_of_the_built_services_exist(compose: dict[str, Any]) -> None:
    assert compose["services"]["backend"]["build"]["dockerfile"] == "backend/Dockerfile"
    assert compose["services"]["worker"]["build"]["dockerfile"] == "worker/Dockerfile"
    for name in ("backend", "worker"):
        assert (REPO_ROOT / compose["services"][name]["build"]["dockerfile"]).is_file()


def test_named_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(compose["volumes"]) == {"pgdata", "redisdata", "artifacts"}
    assert volume_mounts(services["db"]) == {"pgdata": "/var/lib/postgresql/data"}
    assert volume_mounts(services["redis"]) == {"redisdata": "/data"}
    for service in services.values():
        for source in volume_mounts(service):
            # A named volume, declared at the top level: never a bind mount of a host folder.
            assert source in compose["volumes"], source


def test_artifacts_volume_is_shared_at_the_data_dir(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    backend, worker = services["backend"], services["worker"]
    target = volume_mounts(backend)["artifacts"]
    assert volume_mounts(worker)["artifacts"] == target
    assert backend["environment"]["GAPWATCH_DATA_DIR"] == target
    assert worker["environment"]["GAPWATCH_DATA_DIR"] == target


# --- healthchecks and start order ------------------------------------------------------------


def test_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["db"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])
    backend_test = services["backend"]["healthcheck"]["test"]
    assert backend_test[0] == "CMD"
    assert "http://localhost:8000/health" in " ".join(backend_test)
    for name in ("db", "redis", "backend"):
        check = services[name]["healthcheck"]
        assert {"interval", "timeout", "retries"} <= set(check), name


def test_start_order_waits_for_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["backend"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert services["worker"]["depends_on"]["backend"] == {"condition": "service_healthy"}
    assert "db" not in services["worker"]["depends_on"]  # a worker never opens the database


def test_redis_persists_queued_runs(resolved: dict[str, Any]) -> None:
    command = resolved["services"]["redis"]["command"]
    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--requirepass") + 1] == SECRETS["REDIS_PASSWORD"]


# --- commands --------------------------------------------------------------------------------


def test_backend_runs_gapwatch_serve_which_migrates_first(resolved: dict[str, Any]) -> None:
    command = resolved["services"]["backend"]["command"]
    assert command[0] == "gapwatch"
    args = build_parser().parse_args(command[1:])
    assert args.func is cmd_serve
    assert args.no_migrate is False  # `alembic upgrade head` before serving


def test_backend_listens_on_all_interfaces_at_the_published_port(
    resolved: dict[str, Any],
) -> None:
    backend = resolved["services"]["backend"]
    assert backend["environment"]["GAPWATCH_HOST"] == "0.0.0.0"
    assert backend["environment"]["GAPWATCH_PORT"] == "8000"
    assert backend["ports"] == ["8000:8000"]


def test_worker_runs_gapwatch_worker_on_the_default_and_gpu_queues(
    resolved: dict[str, Any],
) -> None:
    command = resolved["services"]["worker"]["command"]
    assert command[0] == "gapwatch"
    args = build_parser().parse_args(command[1:])
    assert args.func is cmd_worker
    assert args.queues.split(",") == [Settings.model_fields["queue"].default, "gpu"]


def test_worker_queues_follow_the_settings(compose: dict[str, Any]) -> None:
    command = compose["services"]["worker"]["command"]
    env = dict(SECRETS, GAPWATCH_QUEUE="runs")
    assert interpolate(command[-1], env) == "runs,gpu"
    assert interpolate(command[-1], dict(env, WORKER_QUEUES="lab-a")) == "lab-a"


def test_worker_reserves_an_nvidia_gpu(compose: dict[str, Any]) -> None:
    devices = compose["services"]["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert len(devices) == 1
    device = devices[0]
    assert device["driver"] == "nvidia"
    assert "gpu" in device["capabilities"]
    assert device["count"] in (1, "all")
    assert compose["services"]["worker"]["build"]["args"]["TORCH_FLAVOR"] == "gpu"


def test_only_the_worker_has_a_gpu(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name != "worker":
            assert "deploy" not in service, name


# --- the CPU variant -------------------------------------------------------------------------


def test_cpu_override_removes_the_gpu_and_builds_the_cpu_image(
    cpu_override: dict[str, Any], resolved_cpu: dict[str, Any], resolved: dict[str, Any]
) -> None:
    assert isinstance(cpu_override["services"]["worker"]["deploy"], Reset)
    worker = resolved_cpu["services"]["worker"]
    assert "deploy" not in worker
    assert worker["build"] == {
        "context": ".",
        "dockerfile": "worker/Dockerfile",
        "args": {"TORCH_FLAVOR": "cpu"},
    }
    args = build_parser().parse_args(worker["command"][1:])
    assert args.func is cmd_worker
    assert args.queues.split(",") == [Settings.model_fields["queue"].default, "cpu"]
    # Everything else is the GPU stack's: the same services, volumes, settings and start order.
    assert set(resolved_cpu["services"]) == SERVICES
    for name in SERVICES - {"worker"}:
        assert resolved_cpu["services"][name] == resolved["services"][name]
    gpu_worker = resolved["services"]["worker"]
    for key in ("environment", "volumes", "depends_on", "restart"):
        assert worker[key] == gpu_worker[key], key


def test_merge_follows_composes_rules() -> None:
    # The helper that builds the CPU stack above: checked on Compose's own documented examples.
    base = load_compose_text("a: {command: [x, y], dns: [1], keep: 1, drop: {deep: 2}}")
    over = load_compose_text("a: {command: [z], dns: [2], drop: !reset null, new: 3}")
    assert merge(base, over) == {"a": {"command": ["z"], "dns": [1, 2], "keep": 1, "new": 3}}
    replaced = load_compose_text("a: {dns: !override [9]}")
    assert merge(base, replaced)["a"]["dns"] == [9]


# --- environment -----------------------------------------------------------------------------


def test_every_gapwatch_variable_in_compose_is_one_gapwatch_reads(
    compose: dict[str, Any], cpu_override: dict[str, Any]
) -> None:
    known = known_variables()
    used: set[str] = set()
    for document in (compose, cpu_override):
        used |= {ref.name for ref in all_references(document) if ref.name.startswith("GAPWATCH_")}
        for service in document["services"].values():
            used |= {name for name in service.get("environment", {}) if name.startswith("GAPWATCH")}
    assert used  # the check below must have something to check
    assert used <= known, f"not read by Gapwatch: {sorted(used - known)}"


def test_compose_defaults_are_the_settings_defaults(compose: dict[str, Any]) -> None:
    fields = settings_variables()
    checked = 0
    for reference in all_references(compose):
        if reference.operator != ":-" or reference.name not in fields:
            continue
        field = Settings.model_fields[fields[reference.name]]
        default = reference.argument
        if isinstance(field.default, float):
            assert float(default) == field.default, reference.name
        else:
            assert default == str(field.default), reference.name
        checked += 1
    assert checked >= 3


def test_secrets_are_required_not_defaulted(compose: dict[str, Any]) -> None:
    operators: dict[str, set[str]] = {}
    for reference in all_references(compose):
        operators.setdefault(reference.name, set()).add(reference.operator)
    for secret in SECRETS:
        assert operators[secret] == {":?"}, secret
    missing = dict(SECRETS, GAPWATCH_WORKER_TOKEN="")
    with pytest.raises(MissingVariable, match="GAPWATCH_WORKER_TOKEN"):
        interpolate_document(compose, missing)


@pytest.mark.parametrize("service", ["backend", "worker"])
def test_compose_environment_is_valid_production_settings(
    resolved: dict[str, Any], service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = resolved["services"][service]["environment"]
    for name in list(os.environ):
        if name.startswith("GAPWATCH_"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, str(value))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.environment == "production"
    assert settings.worker_token.get_secret_value() == SECRETS["GAPWATCH_WORKER_TOKEN"]
    assert settings.broker_url == f"redis://:{SECRETS['REDIS_PASSWORD']}@redis:6379/0"
    assert str(settings.artifacts_dir).startswith(environment["GAPWATCH_DATA_DIR"])
    assert (
        settings.broker_visibility_timeout_s
        == Settings.model_fields["broker_visibility_timeout_s"].default
    )
    if service == "backend":
        assert settings.resolved_database_url == (
            f"postgresql+psycopg://gapwatch:{SECRETS['POSTGRES_PASSWORD']}@db:5432/gapwatch"
        )
    else:
        assert settings.resolved_api_url == "http://backend:8000"


def test_workers_get_no_database_credentials(resolved: dict[str, Any]) -> None:
    environment = resolved["services"]["worker"]["environment"]
    assert "GAPWATCH_DATABASE_URL" not in environment
    assert SECRETS["POSTGRES_PASSWORD"] not in " ".join(map(str, environment.values()))


def test_api_and_workers_agree_on_the_broker(resolved: dict[str, Any]) -> None:
    backend = resolved["services"]["backend"]["environment"]
    worker = resolved["services"]["worker"]["environment"]
    for name in ("GAPWATCH_BROKER_URL", "GAPWATCH_QUEUE", "GAPWATCH_BROKER_VISIBILITY_TIMEOUT_S"):
        assert backend[name] == worker[name], name


def test_interpolation_reader() -> None:
    # The reader behind the assertions above, on the forms Compose documents.
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("${SET}-${UNSET:-d}-${EMPTY:-e}-${EMPTY-f}-$$x", env) == "v-d-e--$x"
    assert interpolate("${UNSET:-${SET},gpu}", env) == "v,gpu"
    assert interpolate("${SET:+a}${EMPTY:+b}${EMPTY+c}${UNSET+d}", env) == "ac"
    assert [r.name for r in references("${A:-${B:-c}}")] == ["A", "B"]
    with pytest.raises(MissingVariable, match="set it"):
        interpolate("${EMPTY:?set it}", env)
    with pytest.raises(ValueError, match="unbraced"):
        references("$SET")
