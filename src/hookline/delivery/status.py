"""A worker process's own HTTP endpoint (``hookline worker --metrics-port P``):
``/metrics`` (Prometheus text), ``/healthz`` and ``/readyz``.

All are answered from the worker's event loop, so a loop that is stuck does not answer:
``/healthz`` is liveness (the loop answers), ``/readyz`` also asks the database, as the
API's does.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hookline.config import Settings
from hookline.errors import Unavailable
from hookline.store.database import open_database, readiness_problem


async def run_with_status_endpoint(
    work: Coroutine[Any, Any, None], settings: Settings, host: str, port: int
) -> None:
    """Run ``work`` (the worker) while serving /healthz, /readyz and /metrics on host:port."""
    database = await open_database(settings)  # its own small pool, apart from the worker's

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        problem = await readiness_problem(database.engine, settings.readiness_timeout)
        if problem is None:
            return web.json_response({"status": "ready"})
        return web.json_response(
            {"code": Unavailable.default_code, "detail": problem},
            status=Unavailable.status,
            headers={"Retry-After": str(Unavailable.retry_after_seconds)},
        )

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        await work
    finally:
        await runner.cleanup()
        await database.engine.dispose()
