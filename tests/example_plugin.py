"""Installs examples/plugin into the test environment, on import, before gapwatch.spec is loaded.

`gapwatch.spec` discovers plugins once, when it is imported, so the example plugin must be
installed before anything in the test process imports it. `tests/conftest.py` imports this
module first of all for that reason; the processes the tests start (API servers, workers) are
new interpreters and find the installed plugin by themselves.

The install is editable (`pip install -e`), without dependencies (gapwatch is the project
itself) and without build isolation (no index is reached: setuptools is already in the
environment), so it works offline and on a fresh clone's virtual environment (`make test`). It
is skipped when the distribution is already installed from this checkout.
"""

from __future__ import annotations

import fcntl
import importlib
import importlib.metadata
import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

from gapwatch.plugins import DISABLED_ENV

REPO_ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = REPO_ROOT / "examples" / "plugin"
DISTRIBUTION = "gapwatch-example-plugin"


def installed_from_here() -> bool:
    """True if the example plugin is installed from this checkout's examples/plugin."""
    try:
        distribution = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return False
    direct_url = distribution.read_text("direct_url.json")
    if direct_url is None:  # installed from an index or a wheel: another copy
        return False
    return json.loads(direct_url).get("url") == PLUGIN_DIR.as_uri()


def install_example_plugin() -> None:
    """Installs examples/plugin unless it is installed from here, and makes it importable in
    this process (the .pth file of an editable install is read at interpreter start only).

    Raises:
        RuntimeError: If pip fails, with its output.
    """
    if installed_from_here():
        return
    # Several test sessions may start at once on one environment: one installs, the others wait.
    with open(Path(sys.prefix) / ".gapwatch-example-plugin.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed_from_here():
            done = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
                + ["--no-build-isolation", "--editable", str(PLUGIN_DIR)],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise RuntimeError(
                    f"could not install {PLUGIN_DIR} for the tests:\n{done.stdout}{done.stderr}"
                )
    importlib.invalidate_caches()
    site.addsitedir(sysconfig.get_paths()["purelib"])  # runs the new .pth (idempotent for others)


install_example_plugin()


def builtins_only_env(**extra: str) -> dict[str, str]:
    """The environment of a child process that must see gapwatch's own modules only: the
    example plugin imports torch and the engine (as a plugin may), so tests of what the core
    imports leave plugins out."""
    return {**os.environ, DISABLED_ENV: "*", **extra}
