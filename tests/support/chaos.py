"""What the database fault tests share: PgBouncer in front of a throwaway cluster, a small
filesystem to fill, a publisher that keeps publishing through a fault, and a window on a
process's JSON log."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from hookline.bench.postgres import PostgresCluster
from hookline.bench.processes import free_port
from tests.support.waiting import eventually


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    if found is None:
        raise RuntimeError("PgBouncer is not installed: scripts/install-test-packages")
    return found


class PgBouncer:
    """Debian's PgBouncer in transaction mode on a free loopback port, in front of
    ``cluster``. Fewer server connections than Hookline opens, so that transactions of
    different client connections share server connections, as in production."""

    def __init__(self, cluster: PostgresCluster, server_connections: int = 3) -> None:
        self.cluster = cluster
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="hookline-pgbouncer-"))
        self._server_connections = server_connections
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database_url: str) -> str:
        """``database_url`` (on the cluster) as reached through PgBouncer."""
        return database_url.replace(f":{self.cluster.port}/", f":{self.port}/")

    def start(self) -> PgBouncer:
        config = self.root / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.cluster.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.root / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self._server_connections}\n"
            "max_client_conn = 500\n"
            # What the README advises: a client waits a few seconds for a server
            # connection, not two minutes, and a failed server login is retried at once.
            "query_wait_timeout = 5\n"
            "server_login_retry = 1\n"
            f"logfile = {self.root / 'pgbouncer.log'}\n"
        )
        (self.root / "userlist.txt").write_text('"postgres" ""\n')
        # PgBouncer refuses to run as root.
        user = "postgres" if os.geteuid() == 0 else None
        if user:
            entry = pwd.getpwnam(user)
            for path in (self.root, config, self.root / "userlist.txt"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self.process = subprocess.Popen(
            [pgbouncer_binary(), str(config)],
            user=user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        eventually(self._answers, timeout=15, what="PgBouncer accepts connections")
        return self

    def _answers(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.log()
        try:
            self.cluster.psql("SELECT 1", port=self.port)
        except subprocess.CalledProcessError:
            return False
        return True

    def log(self) -> str:
        path = self.root / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_process(self) -> None:
        """Stop PgBouncer (its clients' connections drop); ``start`` brings it back."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def stop(self) -> None:
        self.stop_process()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def small_filesystem(size: str = "16m") -> Iterator[Path]:
    """A tmpfs of ``size``, mounted for the test and unmounted after (CI runs as root)."""
    mountpoint = Path(tempfile.mkdtemp(prefix="hookline-tmpfs-"))
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=True, timeout=30)
        mountpoint.rmdir()


def fill(directory: Path) -> Path:
    """Write a file in ``directory`` until its filesystem has no space left; the file."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(1_000_000):  # bounded: 64 GB
            try:
                os.write(fd, chunk)
            except OSError:
                break
        for _ in range(64):  # the last few bytes, so nothing at all is left
            try:
                os.write(fd, b"\0" * 512)
            except OSError:
                break
    finally:
        os.close(fd)
    return filler


@dataclass
class Answer:
    status: int
    retry_after: str | None
    interview_id: str
    at: float


@dataclass
class Publisher:
    """Publishes ``interview_started`` events to ``posting_id`` from ``threads`` threads
    until stopped (at most ``limit`` each, and ``seconds``), recording every answer."""

    base_url: str
    api_key: str
    payload: dict[str, Any]
    threads: int = 1
    interval: float = 0.02
    limit: int = 5000
    seconds: float = 120.0
    answers: list[Answer] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.threads)
        ]

    def start(self) -> Publisher:
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=30)

    def _run(self, thread: int) -> None:
        deadline = time.monotonic() + self.seconds
        with httpx.Client(
            base_url=self.base_url, headers={"X-API-KEY": self.api_key}, timeout=15
        ) as client:
            for n in range(self.limit):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                interview_id = f"t{thread}-{n}"
                body = {
                    "event_type": "interview_started",
                    "payload": self.payload | {"interview_id": interview_id},
                }
                try:
                    response = client.post("/api/events", json=body)
                except httpx.HTTPError as exc:
                    with self._lock:
                        self.failures.append(f"{interview_id}: {type(exc).__name__} {exc}")
                    continue
                with self._lock:
                    self.answers.append(
                        Answer(
                            response.status_code,
                            response.headers.get("retry-after"),
                            interview_id,
                            time.monotonic(),
                        )
                    )
                self._stop.wait(self.interval)

    def count(self, status: int, after: float = 0.0) -> int:
        with self._lock:
            return sum(1 for a in self.answers if a.status == status and a.at > after)

    def accepted(self) -> set[str]:
        with self._lock:
            return {a.interview_id for a in self.answers if a.status == 202}

    def statuses(self) -> dict[int, int]:
        with self._lock:
            counts: dict[int, int] = {}
            for answer in self.answers:
                counts[answer.status] = counts.get(answer.status, 0) + 1
            return counts

    def refused_without_retry_after(self) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.status == 503 and not a.retry_after]


class LogWindow:
    """The JSON log lines a process wrote from now on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def entries(self) -> list[dict[str, Any]]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            written = log.read()
        # The process may be halfway through a line: only whole lines are read.
        whole = written[: written.rfind(b"\n") + 1].decode(errors="replace")
        return [json.loads(line) for line in whole.splitlines() if line.strip()]

    def about_the_database(self) -> list[dict[str, Any]]:
        """Every line but the per-attempt lines a delivery writes in any case."""
        return [e for e in self.entries() if not e["message"].startswith("attempt ")]


def readiness(base_url: str) -> httpx.Response:
    return httpx.get(f"{base_url}/readyz", timeout=10)
