"""``hookline demo``: the whole journey on one machine, in one command.

Starts Hookline on a temporary SQLite database and a ``hookline listen`` receiver,
registers a webhook per event type (interview_completed by GET), simulates a few
interviews, waits for every delivery, and ends with a summary.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from hookline.bench.processes import Child, base_env, free_port, python_module, wait_until_healthy
from hookline.domain.attempts import is_success
from hookline.text import table
from hookline.tools.client import HooklineClient
from hookline.tools.simulate import run_simulation

FINISHED = {"succeeded", "failed", "cancelled"}
WEBHOOKS = (
    ("interview_started", "post", "/started"),
    ("interview_completed", "get", "/completed"),
    ("report_available", "post", "/report"),
)


def _key(env: dict[str, str], role: str) -> str:
    done = subprocess.run(
        python_module("hookline", "keys", "create", "--workspace", "demo", "--role", role),
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.split()[-1]


def run_demo(interviews: int, analysis_delay: float) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="hookline-demo-"))
    port, listen_port = free_port(), free_port()
    env = base_env(
        HOOKLINE_DATABASE_URL=f"sqlite:///{workdir / 'hookline.db'}",
        HOOKLINE_ALLOW_PRIVATE_URLS="true",  # the listener is on this machine
        HOOKLINE_LOG_LEVEL="warning",
    )
    click.echo(f"Hookline on http://127.0.0.1:{port} (SQLite in {workdir})")
    integrator_key, publisher_key = _key(env, "integrator"), _key(env, "publisher")
    server = Child(
        python_module("hookline", "serve", "--port", str(port)), env, workdir / "hookline.log"
    )
    listener: subprocess.Popen[bytes] | None = None
    try:
        server.start()
        wait_until_healthy(f"http://127.0.0.1:{port}/healthz", server.process)  # type: ignore[arg-type]
        url = f"http://127.0.0.1:{port}"
        integrator = HooklineClient(url, integrator_key)
        secrets = []
        for event_type, method, path in WEBHOOKS:
            created = integrator.create_webhook(
                "demo-posting", f"http://127.0.0.1:{listen_port}{path}", event_type, method
            )
            secrets.append(created["secret"])
            click.echo(f"webhook {created['webhook_id']}: {event_type} by {method.upper()}")
        secret_args = [arg for s in secrets for arg in ("--secret", s)]
        listener = subprocess.Popen(
            python_module("hookline", "listen", "--port", str(listen_port), *secret_args), env=env
        )
        time.sleep(1.0)  # the listener is up
        started = time.time()
        published = run_simulation(
            HooklineClient(url, publisher_key),
            interviews,
            "demo-posting",
            analysis_delay,
            sys.stdout,
        )
        event_ids = [p["event_id"] for p in published]
        states = _wait_for_deliveries(integrator, event_ids)
        _summary(integrator, states, time.time() - started)
    finally:
        if listener is not None:
            listener.terminate()
            listener.wait(timeout=10)
        server.stop()


def _wait_for_deliveries(client: HooklineClient, event_ids: list[str]) -> list[dict]:
    with click.progressbar(length=len(event_ids), label="delivering", file=sys.stdout) as bar:
        done: dict[str, dict] = {}
        deadline = time.monotonic() + 60
        while len(done) < len(event_ids) and time.monotonic() < deadline:
            for event_id in event_ids:
                if event_id in done:
                    continue
                event = client.event(event_id)
                if all(d["status"] in FINISHED for d in event["deliveries"]):
                    done[event_id] = event
                    bar.update(1)
            time.sleep(0.2)
    return list(done.values())


def _summary(client: HooklineClient, events: list[dict], elapsed: float) -> None:
    deliveries = [d for e in events for d in e["deliveries"]]
    latencies = []
    webhook_ids = {d["webhook_id"] for d in deliveries}
    attempts = 0
    created = {e["event_id"]: e["created_at"] for e in events}
    for webhook_id in webhook_ids:
        page = client.webhook_call("GET", "deliveries", webhook_id, params={"limit": 100})
        for delivery in page["data"]:
            if delivery["event_id"] not in created:
                continue
            attempts += len(delivery["attempts"])
            ok = [a for a in delivery["attempts"] if is_success(a["status_code"])]
            if ok:
                finished = ok[-1]["started_at"] + ok[-1]["duration_ms"] / 1000
                latencies.append((finished - created[delivery["event_id"]]) * 1000)
    succeeded = sum(d["status"] == "succeeded" for d in deliveries)
    row = {
        "events": len(events),
        "deliveries": len(deliveries),
        "succeeded": succeeded,
        "attempts": attempts,
        "latency_p50_ms": f"{statistics.median(latencies):.1f}" if latencies else "-",
        "latency_max_ms": f"{max(latencies):.1f}" if latencies else "-",
        "seconds": f"{elapsed:.1f}",
    }
    click.echo("")
    click.echo(table([row], list(row)))
