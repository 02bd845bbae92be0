"""Where the SDK finds its server and key; the stored login is readable by its owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gapwatch.sdk import credentials
from gapwatch.sdk.credentials import Login, load_login, remove_login, resolve, save_login


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GAPWATCH_CONFIG_DIR", "GAPWATCH_URL", "GAPWATCH_API_KEY", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_the_login_file_is_created_0600_in_a_0700_directory(
    config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home / "xdg"))
    previous = os.umask(0)  # even a umask that lets everything through
    try:
        path = save_login(Login("http://gw.test:8000", "gw_secret"))
        path = save_login(Login("http://gw.test:8000", "gw_second"))  # replacing keeps 0600
    finally:
        os.umask(previous)
    assert path == config_home / "xdg" / "gapwatch" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_login() == Login("http://gw.test:8000", "gw_second")
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]  # no temporary left


def test_the_config_directory_is_chosen_in_order(
    config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert credentials.config_dir() == config_home / "home" / ".config" / "gapwatch"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home / "xdg"))
    assert credentials.config_dir() == config_home / "xdg" / "gapwatch"
    monkeypatch.setenv("GAPWATCH_CONFIG_DIR", str(config_home / "mine"))
    assert credentials.config_dir() == config_home / "mine"


def test_resolve_prefers_arguments_then_environment_then_the_login(
    config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert resolve() == ("http://127.0.0.1:8000", None)
    save_login(Login("http://stored.test", "gw_stored"))
    assert resolve() == ("http://stored.test", "gw_stored")
    monkeypatch.setenv("GAPWATCH_API_KEY", "gw_env")
    assert resolve() == ("http://stored.test", "gw_env")
    assert resolve(api_key="gw_arg") == ("http://stored.test", "gw_arg")
    monkeypatch.delenv("GAPWATCH_API_KEY")
    # The stored key was checked against its own server and is never sent to another.
    monkeypatch.setenv("GAPWATCH_URL", "http://other.test/")
    assert resolve() == ("http://other.test", None)
    assert resolve(url="http://stored.test") == ("http://stored.test", "gw_stored")


def test_logout_removes_the_login(config_home: Path) -> None:
    save_login(Login("http://stored.test", "gw_stored"))
    assert remove_login() is True
    assert load_login() is None
    assert remove_login() is False
