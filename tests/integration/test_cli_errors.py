"""Every user error on the command line is one line on standard error naming the
variable, flag or port at fault, with exit status 2 and no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import hookline_command


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        yield taken.getsockname()[1]


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    return subprocess.run(
        hookline_command(*args), env=clean | env, cwd=cwd, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def _assert_user_error(done: subprocess.CompletedProcess[str], names: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert names in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "env", "names"),
    [
        (["migrate"], {"HOOKLINE_DATABASE_URL": "garbage"}, "HOOKLINE_DATABASE_URL"),
        (["migrate"], {"HOOKLINE_DATABASE_URL": "mysql://x/y"}, "HOOKLINE_DATABASE_URL"),
        (["serve"], {"HOOKLINE_LOG_LEVEL": "loud"}, "HOOKLINE_LOG_LEVEL"),
        (["serve"], {"HOOKLINE_LOG_FORMAT": "xml"}, "HOOKLINE_LOG_FORMAT"),
        (["worker"], {"HOOKLINE_RETRY_SCHEDULE": "5,soon"}, "HOOKLINE_RETRY_SCHEDULE"),
        (["serve"], {"HOOKLINE_ALLOW_PRIVATE_URLS": "maybe"}, "HOOKLINE_ALLOW_PRIVATE_URLS"),
        (["serve"], {"HOOKLINE_LEASE_SECONDS": "1"}, "HOOKLINE_LEASE_SECONDS"),
        (["keys", "list"], {"HOOKLINE_WORKER_CONCURRENCY": "0"}, "HOOKLINE_WORKER_CONCURRENCY"),
        (
            ["migrate"],
            {"HOOKLINE_DATABASE_URL": "postgresql://u:hunter2@127.0.0.1:1/db"},
            "HOOKLINE_DATABASE_URL",
        ),
    ],
)
def test_bad_settings_are_named(
    tmp_path: Path, args: list[str], env: dict[str, str], names: str
) -> None:
    done = _run(args, env, tmp_path)
    _assert_user_error(done, names)
    assert "hunter2" not in done.stderr


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["listen", "--port"], "--port"),
        (["serve", "--port"], "--port"),
        (["worker", "--metrics-port"], "--metrics-port"),
    ],
)
def test_a_busy_port_is_named(tmp_path: Path, busy_port: int, args: list[str], flag: str) -> None:
    env = {"HOOKLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}"}
    done = _run([*args, str(busy_port)], env, tmp_path)
    _assert_user_error(done, f"{flag} {busy_port}")
    assert "in use" in done.stderr


def test_a_bad_key_id_or_workspace_is_named(tmp_path: Path) -> None:
    env = {"HOOKLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}"}
    _assert_user_error(_run(["keys", "revoke", "key_nope"], env, tmp_path), "KEY_ID")
    blank = _run(["keys", "create", "--workspace", " "], env, tmp_path)
    _assert_user_error(blank, "--workspace")
