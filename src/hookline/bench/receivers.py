"""The benchmark's receivers: nginx when the machine has it, else the built-in aiohttp
server. Both count every request, notice a ``webhook-id`` that arrives twice, and keep
each event's first arrival time."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path
from typing import Any

import aiohttp

from hookline.bench.processes import Child, base_env, free_port, python_module, wait_until_healthy

POLL_SECONDS = 0.05


class Receiver:
    name = ""

    def __init__(self, child: Child, port: int) -> None:
        self.child = child
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> Receiver:
        self.child.start()
        wait_until_healthy(f"{self.url}/__health", self.child.process)  # type: ignore[arg-type]
        return self

    def stop(self) -> None:
        self.child.stop()

    async def stats(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        """{count, repeated, first_at, last_at} since the last reset."""
        raise NotImplementedError

    async def arrivals(self, session: aiohttp.ClientSession) -> dict[str, float]:
        """Each ``x-hookline-event-id``'s first arrival since the last reset."""
        raise NotImplementedError

    async def reset(self, session: aiohttp.ClientSession) -> None:
        raise NotImplementedError

    async def wait_for_count(
        self, session: aiohttp.ClientSession, count: int, limit_seconds: float
    ) -> dict[str, Any]:
        deadline = time.monotonic() + limit_seconds
        while True:
            stats = await self.stats(session)
            if stats["count"] >= count:
                return stats
            if time.monotonic() > deadline:
                raise TimeoutError(f"receiver counted {stats['count']} of {count}")
            await asyncio.sleep(POLL_SECONDS)


class BuiltinReceiver(Receiver):
    """``hookline.bench.counting_server`` in a process of its own, asked over HTTP."""

    name = "built-in aiohttp receiver"

    def __init__(self, workdir: Path) -> None:
        port = free_port()
        child = Child(
            python_module("hookline.bench.counting_server", "--port", str(port)),
            base_env(),
            workdir / "receiver.log",
        )
        super().__init__(child, port)

    async def stats(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        async with session.get(f"{self.url}/__stats") as response:
            return await response.json()

    async def arrivals(self, session: aiohttp.ClientSession) -> dict[str, float]:
        async with session.get(f"{self.url}/__arrivals") as response:
            return await response.json()

    async def reset(self, session: aiohttp.ClientSession) -> None:
        async with session.post(f"{self.url}/__reset") as response:
            await response.read()


NGINX_CONFIG = """\
{user}worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format counted '$msec $http_webhook_id $http_x_hookline_event_id';
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_body_buffer_size 32k;
    client_max_body_size 4m;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location = /__health {{ access_log off; return 200 "ok"; }}
        location / {{ access_log {dir}/access.log counted; return 200 "ok"; }}
    }}
}}
"""


class NginxReceiver(Receiver):
    """nginx answering 200 to anything; deliveries are counted from its access log, read
    incrementally."""

    name = "nginx"

    def __init__(self, workdir: Path, binary: str) -> None:
        self.dir = workdir / "nginx"
        self.dir.mkdir()
        port = free_port()
        config = self.dir / "nginx.conf"
        user = "user root;\n" if os.geteuid() == 0 else ""
        config.write_text(NGINX_CONFIG.format(user=user, dir=self.dir, port=port))
        self.access_log = self.dir / "access.log"
        self.access_log.touch()
        child = Child(
            [binary, "-c", str(config), "-p", str(self.dir), "-e", str(self.dir / "error.log")],
            base_env(),
            self.dir / "nginx.out",
        )
        super().__init__(child, port)
        self._forget()

    def _forget(self) -> None:
        self._offset = 0
        self._count = self._repeated = 0
        self._first_at: float | None = None
        self._last_at: float | None = None
        self._seen: set[bytes] = set()
        self._arrivals: dict[str, float] = {}

    def _read_new_lines(self) -> None:
        with self.access_log.open("rb") as log:
            log.seek(self._offset)
            data = log.read()
        complete = data.rfind(b"\n") + 1
        self._offset += complete
        for line in data[:complete].splitlines():
            stamp, message_id, event_id = line.split(b" ", 2)
            at = float(stamp)
            self._count += 1
            self._first_at = self._first_at or at
            self._last_at = at
            if message_id != b"-":
                if message_id in self._seen:
                    self._repeated += 1
                self._seen.add(message_id)
            if event_id != b"-":
                self._arrivals.setdefault(event_id.decode(), at)

    async def stats(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        self._read_new_lines()
        return {
            "count": self._count,
            "repeated": self._repeated,
            "first_at": self._first_at,
            "last_at": self._last_at,
        }

    async def arrivals(self, session: aiohttp.ClientSession) -> dict[str, float]:
        self._read_new_lines()
        return dict(self._arrivals)

    async def reset(self, session: aiohttp.ClientSession) -> None:
        # nginx appends (O_APPEND), so after truncation it writes from the start again.
        self.access_log.write_bytes(b"")
        self._forget()


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


def start_receiver(workdir: Path, use_nginx: bool = True) -> Receiver:
    binary = nginx_binary() if use_nginx else None
    receiver = NginxReceiver(workdir, binary) if binary else BuiltinReceiver(workdir)
    return receiver.start()
