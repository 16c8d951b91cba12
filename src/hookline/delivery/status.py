"""A worker process's own HTTP endpoint (``hookline worker --metrics-port P``):
``/metrics`` (Prometheus text) and ``/healthz``.

Both are answered from the worker's event loop, so a loop that is stuck does not answer,
and ``/healthz`` also asks the database: what a container health check needs to know.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hookline.store.database import create_engine, ping

DATABASE_CHECK_TIMEOUT = 5.0


async def run_with_status_endpoint(
    work: Coroutine[Any, Any, None], database_url: str, host: str, port: int
) -> None:
    """Run ``work`` (the worker) while serving /healthz and /metrics on host:port."""
    engine = create_engine(database_url)  # its own small pool, apart from the worker's

    async def healthz(_request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(DATABASE_CHECK_TIMEOUT):
                await ping(engine)
        except Exception:
            return web.json_response(
                {"status": "unavailable", "database": "unreachable"}, status=503
            )
        return web.json_response({"status": "ok"})

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        await work
    finally:
        await runner.cleanup()
        await engine.dispose()
