"""A throwaway PostgreSQL cluster on a free loopback port, from the machine's own binaries."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from hookline.bench.processes import free_port


def postgres_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (see .ci/run)")


class PostgresCluster:
    """initdb, start, create databases, stop and remove. As root, runs as the postgres user
    (initdb refuses root)."""

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="hookline-pg-"))
        self.datadir = self.root / "data"
        self._user = "postgres" if os.geteuid() == 0 else None
        self._databases = 0

    def _run(self, *args: str) -> None:
        subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            user=self._user,
            timeout=120,
        )

    def start(self) -> PostgresCluster:
        self._own_root()
        self._run("initdb", "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start_server()
        return self

    def start_as_standby_of(self, primary: PostgresCluster) -> PostgresCluster:
        """A streaming replica of ``primary`` (a base backup, then recovery, read-only
        until promoted): a failover's other half."""
        self._own_root()
        self._run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(self.datadir), "--write-recovery-conf", "--wal-method=stream",
            "--checkpoint=fast",
        )  # fmt: skip
        self.start_server()
        return self

    def promote(self) -> None:
        """End a standby's recovery: it takes writes from now on."""
        self._run("pg_ctl", "-D", str(self.datadir), "-w", "promote")

    def _own_root(self) -> None:
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def start_server(self) -> None:
        """Start the server (again) on the same port and data."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-o",
            # Throwaway test data: no fsync; loopback only; no Unix socket to clash over.
            f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            "start",
        )

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server, keeping its data: ``fast`` ends sessions cleanly, ``immediate``
        is a crash."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop")

    def psql(self, statement: str, database: str = "postgres", port: int | None = None) -> str:
        """Run one statement as the superuser (on ``port``: through a pooler in front);
        its output, unaligned and without headers."""
        done = subprocess.run(
            [str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(port or self.port),
             "-U", "postgres", "-d", database, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-c", statement],
            check=True, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return done.stdout.strip()

    def create_database(self) -> str:
        """A new empty database; its postgresql:// URL."""
        self._databases += 1
        name = f"hookline_{self._databases}"
        self.psql(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        finally:
            time.sleep(0.1)
            shutil.rmtree(self.root, ignore_errors=True)
