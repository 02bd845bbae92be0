"""docs/self-hosting.md: its compose snippets are valid, and the names and commands it tells
people to type are the ones the compose file and the CLI define."""

from __future__ import annotations

import re
import shlex

import pytest

from gapwatch.cli import build_parser, cmd_worker
from tests.deploy.deploy_files import (
    COMPOSE_FILE,
    REPO_ROOT,
    SELF_HOSTING_DOC,
    known_variables,
    load_compose,
    load_compose_text,
    merge,
    schema_errors,
)


def doc() -> str:
    return SELF_HOSTING_DOC.read_text()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", doc(), flags=re.DOTALL)


def shell_commands() -> list[list[str]]:
    """Each command of the bash blocks, continuation lines joined, split as a shell would."""
    commands = []
    for block in code_blocks("bash"):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                commands.append(shlex.split(line, comments=True))
    return commands


def test_compose_snippets_validate_and_merge_onto_the_stack() -> None:
    snippets = code_blocks("yaml")
    assert snippets
    stack = load_compose(COMPOSE_FILE)
    for snippet in snippets:
        override = load_compose_text(snippet)
        assert schema_errors(override) == [], snippet
        merged = merge(stack, override)
        assert schema_errors(merged) == [], snippet
        # An override adds to services and volumes the stack has; it creates none by typo.
        assert set(merged["services"]) == set(stack["services"]), snippet
        assert set(merged.get("volumes", {})) == set(stack["volumes"]), snippet


def test_volume_network_and_image_names_are_the_stacks() -> None:
    stack = load_compose(COMPOSE_FILE)
    project = stack["name"]
    text = doc()
    volumes = set(re.findall(rf"\b{project}_([a-z]+)\b", text)) - {"default"}
    assert volumes and volumes <= set(stack["volumes"]), volumes
    assert f"--network {project}_default" in text
    images = {s["image"] for s in stack["services"].values()}
    for image in set(re.findall(r"\bgapwatch-(?:worker|backend):[\w.-]+", text)):
        assert image in images, image
    for image in re.findall(r"`((?:postgres|redis|pytorch/pytorch):[\w.-]+)`", text):
        assert (
            image in COMPOSE_FILE.read_text()
            or image in (REPO_ROOT / "worker" / "Dockerfile").read_text()
        ), image


def test_docker_run_workers_need_only_known_variables_and_a_real_command() -> None:
    runs = [c for c in shell_commands() if c[:2] == ["docker", "run"] and "worker" in c]
    assert len(runs) >= 2  # same host, other machine
    known = known_variables()
    for command in runs:
        variables = {command[i + 1].split("=")[0] for i, word in enumerate(command) if word == "-e"}
        assert {"GAPWATCH_BROKER_URL", "GAPWATCH_API_URL", "GAPWATCH_WORKER_TOKEN"} <= variables
        assert variables <= known, variables - known
        start = command.index("gapwatch", command.index("run") + 1)
        args = build_parser().parse_args(command[start + 1 :])
        assert args.func is cmd_worker
        assert "gpu" in args.queues.split(",")


@pytest.mark.parametrize(
    "topic",
    [
        "pg_dump",
        "pg_restore",
        "--scale worker=",
        "nvidia-ctk",
        "Container Toolkit",
        "visibility timeout",
        "GAPWATCH_HEARTBEAT_TIMEOUT_S",
        "checkpoint",
        "gapwatch migrate",
        "docker-compose.cpu.yml",
        "-Q",
        "issue 5",
    ],
)
def test_the_guide_covers(topic: str) -> None:
    assert topic in doc()


def test_readme_points_to_the_guide() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert "docker compose up" in readme
    assert "docs/self-hosting.md" in readme
