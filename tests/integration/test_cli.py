"""The API from the terminal: tables for people, --json for scripts, errors without a
traceback; simulate and demo end to end."""

from __future__ import annotations

import json
import os
import subprocess

from tests.conftest import seed_example
from tests.support.receiver import Receiver
from tests.support.server import HooklineServer, hookline_command
from tests.support.workspace import Workspace


def run(
    args: list[str], key: str | None, server: HooklineServer, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HOOKLINE_API_KEY"}
    env["HOOKLINE_URL"] = server.base_url
    if key:
        env["HOOKLINE_API_KEY"] = key
    return subprocess.run(
        hookline_command(*args), env=env, input=stdin, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def key_of(client) -> str:  # type: ignore[no-untyped-def]
    return client.headers["X-API-KEY"]


def test_webhooks_and_events_from_the_terminal(
    server: HooklineServer, acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    integrator, publisher = key_of(acme.integrator), key_of(acme.publisher)
    created = run(
        ["webhooks", "create", "--posting-id", posting_id, "--url", receiver.url(path),
         "--event-type", "interview_started", "--json"],
        integrator, server,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    webhook = json.loads(created.stdout)
    webhook_id = webhook["webhook_id"]
    assert webhook["secret"].startswith("whsec_")

    listed = run(["webhooks", "list", "--posting-id", posting_id], integrator, server)
    assert listed.stdout.splitlines()[0].split() == [
        "WEBHOOK_ID", "POSTING_ID", "EVENT_TYPE", "HTTP_METHOD", "IS_ACTIVE", "URL",
    ]  # fmt: skip
    assert webhook_id in listed.stdout
    fetched = json.loads(
        run(["webhooks", "fetch", webhook_id, "--json"], integrator, server).stdout
    )
    assert fetched["webhook_id"] == webhook_id and "secret" not in fetched

    payload = json.dumps(seed_example("interview_started") | {"posting_id": posting_id})
    published = run(["events", "publish", "--type", "interview_started", "--json"], publisher,
                    server, stdin=payload)  # fmt: skip
    assert published.returncode == 0, published.stderr
    event_id = json.loads(published.stdout)["event_id"]
    receiver.wait_for(path)
    shown = run(["events", "show", event_id], integrator, server)
    assert event_id in shown.stdout and webhook_id in shown.stdout

    tested = json.loads(run(["webhooks", "test", webhook_id, "--json"], integrator, server).stdout)
    assert tested["deliveries"] == 1
    receiver.wait_for(path, 2)
    deliveries = run(["webhooks", "deliveries", webhook_id], integrator, server)
    assert deliveries.stdout.splitlines()[0].split()[:3] == ["DELIVERY_ID", "EVENT_TYPE", "STATUS"]
    page = json.loads(
        run(["webhooks", "deliveries", webhook_id, "--json"], integrator, server).stdout
    )
    delivery_id = page["data"][-1]["delivery_id"]
    redelivered = run(["webhooks", "redeliver", delivery_id, "--json"], integrator, server)
    assert json.loads(redelivered.stdout) == {"delivery_id": delivery_id, "status": "pending"}
    receiver.wait_for(path, 3)

    deactivated = json.loads(
        run(["webhooks", "deactivate", webhook_id, "--json"], integrator, server).stdout
    )
    assert deactivated["is_active"] is False
    activated = json.loads(
        run(["webhooks", "activate", webhook_id, "--json"], integrator, server).stdout
    )
    assert activated["is_active"] is True


def test_errors_say_what_to_do_without_a_traceback(server: HooklineServer, acme: Workspace) -> None:
    no_key = run(["webhooks", "list"], None, server)
    assert no_key.returncode != 0
    assert "set HOOKLINE_API_KEY" in no_key.stderr
    bad_key = run(["webhooks", "list"], "hl_wrong", server)
    assert "invalid or revoked API key (HTTP 401) (check HOOKLINE_API_KEY)" in bad_key.stderr
    invalid = run(
        ["webhooks", "create", "--posting-id", "p", "--url", "ftp://x", "--event-type",
         "interview_started"],
        key_of(acme.integrator), server,
    )  # fmt: skip
    assert "url: must be an absolute http(s) URL" in invalid.stderr
    not_json = run(["events", "publish", "--type", "interview_started"], key_of(acme.publisher),
                   server, stdin="{nope")  # fmt: skip
    assert "the payload is not valid JSON" in not_json.stderr
    gone = subprocess.run(
        hookline_command("webhooks", "list"),
        env={**os.environ, "HOOKLINE_URL": "http://127.0.0.1:9", "HOOKLINE_API_KEY": "hl_x"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "cannot reach Hookline at http://127.0.0.1:9" in gone.stderr
    for result in (no_key, bad_key, invalid, not_json, gone):
        assert "Traceback" not in result.stderr


def test_simulate_publishes_whole_journeys(
    server: HooklineServer, acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    for event_type in ("interview_started", "interview_completed", "report_available"):
        acme.create_webhook(receiver.url(f"{path}-{event_type}"), posting_id, event_type)

    done = run(["simulate", "--interviews", "3", "--posting", posting_id, "--analysis-delay", "0",
                "--json"], key_of(acme.publisher), server)  # fmt: skip

    assert done.returncode == 0, done.stderr
    published = json.loads(done.stdout)
    assert [p["event_type"] for p in published] == (
        ["interview_started"] * 3 + ["interview_completed"] * 3 + ["report_available"] * 3
    )
    reports = receiver.wait_for(f"{path}-report_available", 3)
    started = receiver.wait_for(f"{path}-interview_started", 3)
    interviews = {json.loads(r.body)["interview_id"] for r in reports}
    assert interviews == {json.loads(r.body)["interview_id"] for r in started}
    assert len(interviews) == 3
    names = {json.loads(r.body)["metadata"]["candidate_name"] for r in reports}
    assert "Jane Doe" not in names  # generated candidates, not the seed's


def test_demo_runs_end_to_end() -> None:
    done = subprocess.run(
        hookline_command("demo", "--interviews", "2", "--analysis-delay", "0.2"),
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("EVENTS"))
    values = dict(zip(lines[header].split(), lines[header + 1].split(), strict=True))
    assert values["EVENTS"] == values["DELIVERIES"] == values["SUCCEEDED"] == "6"
    assert "verified" in done.stdout  # the listener checked each signature
