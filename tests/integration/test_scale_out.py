"""Many processes on PostgreSQL: API-only servers and workers coordinate through the
database alone; SQLite keeps to one worker and says so."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path

from hookline.bench.postgres import PostgresCluster
from hookline.store.notify import CHANNEL
from tests.conftest import MakeReceiver, MakeServer, MakeWorker, seed_example
from tests.support.receiver import Receiver, Reply
from tests.support.server import HooklineServer, hookline_command
from tests.support.waiting import eventually

ATTEMPT_LINE = re.compile(r"attempt \d+ of delivery")
LISTENING_LINE = f"LISTEN {CHANNEL}"


def publish_many(server: HooklineServer, workspace: str, url: str, count: int) -> list[str]:
    integrator = server.client(server.create_key(workspace))
    publisher = server.client(server.create_key(workspace, "publisher"))
    created = integrator.post(
        "/api/webhook/create",
        json={"posting_id": "scale", "url": url, "event_type": "interview_started"},
    )
    assert created.status_code == 200, created.text
    payload = seed_example("interview_started") | {"posting_id": "scale"}
    ids = []
    for n in range(count):
        body = {"event_type": "interview_started", "payload": payload | {"interview_id": str(n)}}
        response = publisher.post("/api/events", json=body)
        assert response.status_code == 202, response.text
        ids.append(str(n))
    return ids


def delivered(receiver: Receiver, path: str, ids: list[str]) -> Counter[str] | None:
    """How often each id arrived, once every one of ``ids`` has; else None."""
    counts = Counter(json.loads(r.body)["interview_id"] for r in receiver.at(path))
    return counts if set(counts) == set(ids) else None


def test_two_workers_share_the_work_woken_by_notify(
    make_server: MakeServer,
    make_worker: MakeWorker,
    make_receiver: MakeReceiver,
    postgres: PostgresCluster,
) -> None:
    receiver = make_receiver()
    receiver.script("/scale", [Reply(200, delay=0.02)])
    # A 30 s poll: only LISTEN/NOTIFY can make these deliveries prompt.
    server = make_server(
        postgres.create_database(),
        env={"HOOKLINE_POLL_INTERVAL": "30", "HOOKLINE_ENDPOINT_CONCURRENCY": "4"},
        serve_args=("--no-worker",),
    )
    workers = [make_worker(server, name) for name in ("a", "b")]
    eventually(
        lambda: all(LISTENING_LINE in w.log() for w in workers),
        timeout=20,
        interval=0.1,
        what=lambda: "both workers listening:\n" + "\n".join(w.log() for w in workers),
    )
    ids = publish_many(server, "scale", receiver.url("/scale"), 200)
    counts = eventually(
        lambda: delivered(receiver, "/scale", ids),
        timeout=20,
        interval=0.1,
        what=lambda: f"all {len(ids)} delivered; {len(receiver.at('/scale'))} requests so far",
    )

    assert max(counts.values()) == 1, "SKIP LOCKED claims: no delivery is sent twice"
    for worker in workers:
        assert worker.stop() == 0
    attempts = [len(ATTEMPT_LINE.findall(w.log())) for w in workers]
    assert sum(attempts) == 200
    assert all(n > 0 for n in attempts), attempts


def test_sqlite_refuses_a_second_worker(make_server: MakeServer, tmp_path: Path) -> None:
    server = make_server()
    for args in (("worker",), ("serve", "--port", "0")):
        done = subprocess.run(
            hookline_command(*args),
            env=server.env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode != 0
        assert "SQLite runs one worker" in done.stderr
        assert "Traceback" not in done.stderr


def test_processes_starting_together_migrate_one_at_a_time(postgres: PostgresCluster) -> None:
    env = {**os.environ, "HOOKLINE_DATABASE_URL": postgres.create_database()}
    migrators = [
        subprocess.Popen(
            hookline_command("migrate"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    for migrator in migrators:
        _, stderr = migrator.communicate(timeout=120)
        assert migrator.returncode == 0, stderr.decode()
