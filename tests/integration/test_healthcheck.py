"""`hookline healthcheck`, the containers' health check: the API's /healthz and /readyz,
and a worker's /healthz, /readyz and /metrics on its --metrics-port."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import MakeWorker
from tests.support.server import HooklineServer, free_port, hookline_command
from tests.support.waiting import eventually


def healthcheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        hookline_command("healthcheck", *args), capture_output=True, text=True, timeout=30
    )


@pytest.fixture(scope="module")
def api_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HooklineServer]:
    # API only, so the worker under test is the database's one SQLite worker.
    running = HooklineServer(tmp_path_factory.mktemp("health"), serve_args=("--no-worker",))
    yield running.start()
    running.stop()


def test_api_healthcheck(api_only: HooklineServer) -> None:
    for path in ("/healthz", "/readyz"):
        healthy = healthcheck("--url", f"{api_only.base_url}{path}")
        assert healthy.returncode == 0, healthy.stderr
        assert "healthy" in healthy.stdout
    assert httpx.get(f"{api_only.base_url}/readyz").json() == {"status": "ready"}

    nobody = f"http://127.0.0.1:{free_port()}/healthz"
    refused = healthcheck("--url", nobody, "--timeout", "2")
    assert refused.returncode == 1
    assert nobody in refused.stderr
    not_found = healthcheck("--url", f"{api_only.base_url}/nothing-here")
    assert not_found.returncode == 1
    assert "answered 404" in not_found.stderr


def test_worker_serves_healthz_and_metrics(
    api_only: HooklineServer, make_worker: MakeWorker
) -> None:
    port = free_port()
    worker = make_worker(api_only, "health", "--metrics-port", str(port))
    url = f"http://127.0.0.1:{port}/healthz"
    eventually(
        lambda: healthcheck("--url", url, "--timeout", "2").returncode == 0,
        timeout=20,
        interval=0.3,
        what=lambda: f"the worker's /healthz:\n{worker.log()}",
    )
    assert httpx.get(url).json() == {"status": "ok"}
    assert httpx.get(f"http://127.0.0.1:{port}/readyz").json() == {"status": "ready"}
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics")
    assert metrics.status_code == 200
    assert "hookline_attempts_total" in metrics.text

    assert worker.stop() == 0
    assert healthcheck("--url", url, "--timeout", "2").returncode == 1
