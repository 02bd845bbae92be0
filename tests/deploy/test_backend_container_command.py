"""What the backend container runs, run for real outside a container: `gapwatch serve` as the
image lays it out (migrations copied to their own folder, GAPWATCH_MIGRATIONS_DIR pointing
there, a working directory with no checkout), probed with the compose healthcheck's command."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import clean_env, free_port
from tests.deploy.deploy_files import (
    BACKEND_DOCKERFILE,
    COMPOSE_FILE,
    REPO_ROOT,
    final_stage,
    load_compose,
    only,
)


def image_env(root: Path) -> dict[str, str]:
    """The runtime stage's GAPWATCH_* ENV, with absolute paths moved under `root`."""
    env: dict[str, str] = {}
    for instruction in only(final_stage(BACKEND_DOCKERFILE), "ENV"):
        for pair in instruction.arguments.split():
            name, _, value = pair.partition("=")
            if name.startswith("GAPWATCH_"):
                env[name] = str(root / value.lstrip("/")) if value.startswith("/") else value
    return env


def healthcheck(port: int) -> int:
    """Exit status of the compose healthcheck's command against `port`."""
    test = load_compose(COMPOSE_FILE)["services"]["backend"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"]
    command = [sys.executable, *[arg.replace(":8000/", f":{port}/") for arg in test[2:]]]
    return subprocess.run(command, capture_output=True, timeout=10, check=False).returncode


def test_serve_migrates_from_the_image_layout_and_passes_the_healthcheck(tmp_path: Path) -> None:
    env = image_env(tmp_path)
    # The image's layout: only migrations/ is copied, to the folder the ENV names.
    shutil.copytree(
        REPO_ROOT / "migrations",
        env["GAPWATCH_MIGRATIONS_DIR"],
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    port = free_port()
    env |= {
        "GAPWATCH_HOST": "127.0.0.1",  # the image says 0.0.0.0; no need to listen outside here
        "GAPWATCH_PORT": str(port),
        "GAPWATCH_ENVIRONMENT": "production",
        "GAPWATCH_WORKER_TOKEN": "a-real-secret-for-this-test-0123456789abcdef",
    }
    assert healthcheck(port) != 0  # nothing listens yet: the check must fail

    gapwatch = Path(sys.executable).with_name("gapwatch")
    command = load_compose(COMPOSE_FILE)["services"]["backend"]["command"]
    work = tmp_path / "home"
    work.mkdir()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(gapwatch), *command[1:]],
        env=clean_env(**env),
        cwd=work,  # no checkout and no .env here, as in the container
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while healthcheck(port) != 0:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert "database at head" in output
    assert (Path(env["GAPWATCH_DATA_DIR"]) / "gapwatch.db").is_file()
    assert healthcheck(port) != 0  # and fails again once the server is gone
