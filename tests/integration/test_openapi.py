"""The API's description: every endpoint with the seed's examples, and a schemathesis run
against the running server that finds no 5xx and no response outside the schema."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import seed_example
from tests.support.server import HooklineServer

PATHS = {
    "/api/webhook/create", "/api/webhook/fetch/{webhook_id}", "/api/webhook/all",
    "/api/webhook/deactivate/{webhook_id}", "/api/webhook/activate/{webhook_id}",
    "/api/webhook/secret/{webhook_id}", "/api/webhook/rotate-secret/{webhook_id}",
    "/api/webhook/test/{webhook_id}", "/api/webhook/deliveries/{webhook_id}",
    "/api/webhook/redeliver/{delivery_id}", "/api/webhook/recover/{webhook_id}",
    "/api/events", "/api/events/{event_id}", "/api/event-types", "/healthz", "/readyz",
    "/metrics", "/api/admin/workspaces", "/api/admin/workspaces/{name}/keys",
    "/api/admin/keys/{key_id}/revoke", "/api/admin/workspaces/{name}/portal-link",
}  # fmt: skip


CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
    "negative_data_rejection",
)


def test_openapi_describes_every_endpoint_with_the_seed_examples(server: HooklineServer) -> None:
    spec = httpx.get(f"{server.base_url}/openapi.json", timeout=10).json()
    assert set(spec["paths"]) == PATHS
    schemas = spec["components"]["schemas"]
    assert schemas["WebhookCreate"]["examples"] == [seed_example("create_request")]
    assert schemas["WebhookOut"]["examples"] == [seed_example("webhook_response")]
    examples = schemas["PublishRequest"]["examples"]
    for event_type in ("interview_started", "interview_completed", "report_available"):
        assert {"event_type": event_type, "payload": seed_example(event_type)} in examples
    assert httpx.get(f"{server.base_url}/docs", timeout=10).status_code == 200


@pytest.mark.parametrize("role", ["integrator", "publisher", "admin"])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    tmp_path: Path, role: str
) -> None:
    """Valid and invalid data (NUL bytes included) against every route, with each role's
    key: every answer documented, every invalid input refused with a 4xx."""
    server = HooklineServer(tmp_path).start()
    try:
        key = server.create_key(None if role == "admin" else "fuzz", role)
        schemathesis = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
        assert schemathesis is not None
        done = subprocess.run(
            [
                schemathesis, "run", f"{server.base_url}/openapi.json",
                "--header", f"X-API-KEY: {key}",
                "--checks", ",".join(CHECKS),
                "--phases", "examples,coverage,fuzzing",
                "--mode", "all",
                "--generation-allow-x00", "true",
                "--max-examples", "25",
                "--seed", "1",
            ],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout[-4000:]
    assert "passed" in done.stdout
    assert "Traceback" not in server.log()
