"""Runs the real ``hookline serve`` as a child process on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from hookline.bench.processes import free_port
from tests.support.waiting import eventually


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
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            hookline_command(
                "serve", "--host", "127.0.0.1", "--port", str(self.port), *self.serve_args
            ),
            env=self.env,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        process = self.process

        def healthy() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"hookline exited early:\n{self.log()}")
            try:
                return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            eventually(healthy, timeout=timeout, interval=0.1, what="hookline's /healthz")
        except AssertionError:
            self.stop()  # never leave an unhealthy process behind
            raise RuntimeError(f"hookline did not become healthy:\n{self.log()}") from None
        return self

    def kill(self) -> None:
        """kill -9: no shutdown hook runs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, api_key: str | None = None) -> httpx.Client:
        headers = {"X-API-KEY": api_key} if api_key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10)


class HooklineWorker:
    """A ``hookline worker`` process sharing a server's database and settings."""

    def __init__(self, server: HooklineServer, name: str, *args: str) -> None:
        self.server = server
        self.log_path = server.workdir / f"worker-{name}.log"
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> HooklineWorker:
        self.process = subprocess.Popen(
            hookline_command("worker", "--no-migrate", *self.args),
            env=self.server.env,
            cwd=self.server.workdir,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then wait; the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
