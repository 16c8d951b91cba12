"""Runs the real ``hookline serve`` as a child process on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from hookline.bench.processes import Child, free_port, wait_until_healthy


def hookline_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "hookline", *args]


class HooklineServer:
    def __init__(
        self,
        workdir: Path,
        env: dict[str, str] | None = None,
        database_url: str | None = None,
        serve_args: tuple[str, ...] = (),
    ) -> None:
        self.workdir = workdir
        self.serve_args = serve_args
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"server-{self.port}.log"
        self.env = {
            **os.environ,
            "HOOKLINE_DATABASE_URL": database_url or f"sqlite:///{workdir / 'hookline.db'}",
            "HOOKLINE_ALLOW_PRIVATE_URLS": "true",
            "HOOKLINE_POLL_INTERVAL": "0.2",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._child: Child | None = None

    def cli(self, *args: str) -> str:
        """Run a ``hookline`` subcommand against this server's database; its stdout."""
        done = subprocess.run(
            hookline_command(*args),
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    def create_key(self, workspace: str | None, role: str = "integrator") -> str:
        """A new key: of ``workspace`` (created if new), or installation-wide when None."""
        scope = ("--workspace", workspace) if workspace is not None else ()
        return self.cli("keys", "create", *scope, "--role", role).splitlines()[-1]

    def start(self, timeout: float = 30.0) -> HooklineServer:
        command = hookline_command(
            "serve", "--host", "127.0.0.1", "--port", str(self.port), *self.serve_args
        )
        self._child = Child(command, self.env, self.log_path, cwd=self.workdir).start()
        self.process = self._child.process
        try:
            wait_until_healthy(f"{self.base_url}/healthz", self.process, timeout)  # type: ignore[arg-type]
        except RuntimeError as exc:
            self.stop()  # never leave an unhealthy process behind
            raise RuntimeError(f"hookline did not become healthy ({exc}):\n{self.log()}") from None
        return self

    def kill(self) -> None:
        """kill -9: no shutdown hook runs."""
        self._child.kill()

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop()

    def log(self) -> str:
        return self._child.log() if self._child is not None else ""

    def client(self, api_key: str | None = None) -> httpx.Client:
        headers = {"X-API-KEY": api_key} if api_key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10)


class HooklineWorker:
    """A ``hookline worker`` process sharing a server's database and settings."""

    def __init__(self, server: HooklineServer, name: str, *args: str) -> None:
        self.server = server
        self._child = Child(
            hookline_command("worker", "--no-migrate", *args),
            server.env,
            server.workdir / f"worker-{name}.log",
            cwd=server.workdir,
        )

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self._child.process

    @property
    def log_path(self) -> Path:
        return self._child.log_path

    def start(self) -> HooklineWorker:
        self._child.start()
        return self

    def kill(self) -> None:
        self._child.kill()

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then wait; the exit code."""
        return self._child.stop(timeout)

    def log(self) -> str:
        return self._child.log()
