"""Measure what a database outage does to Hookline, as an operator would try it: under
load (four clients publishing every 50 ms), PostgreSQL stopped for 6 s (API and worker in
separate processes), then SQLite's disk full for 6 s (a 16 MB tmpfs; needs root). Prints
the answers, what was lost, and the log lines and tracebacks each process wrote (the
per-attempt lines of deliveries aside).

    .venv/bin/python scripts/measure_database_outage.py [SRC]

SRC: the ``src`` directory of the Hookline to measure (default: this checkout's), so that
an older commit can be measured the same way (``git archive COMMIT | tar -x -C DIR``).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import seed_example  # noqa: E402
from tests.support.chaos import Publisher, fill, small_filesystem  # noqa: E402
from tests.support.receiver import Receiver  # noqa: E402
from tests.support.server import HooklineServer, HooklineWorker  # noqa: E402
from tests.support.workspace import Workspace  # noqa: E402

from hookline.bench.postgres import PostgresCluster  # noqa: E402

OUTAGE_SECONDS = 6.0
ENV = {
    "HOOKLINE_RETRY_SCHEDULE": "0.3,0.3,0.3",
    "HOOKLINE_DELIVERY_TIMEOUT": "2",
    "HOOKLINE_LEASE_SECONDS": "10",
}


def log_lines(path: Path, offset: int) -> tuple[int, int]:
    lines = [
        line
        for line in path.read_bytes()[offset:].decode(errors="replace").splitlines()
        if " attempt " not in line
    ]
    return len(lines), sum(1 for line in lines if line.startswith("Traceback"))


def measure(
    name: str,
    server: HooklineServer,
    workers: list[HooklineWorker],
    receiver: Receiver,
    break_database: Callable[[], None],
    mend_database: Callable[[], None],
) -> None:
    workspace = Workspace.on(server, f"measure{time.time_ns()}")
    path = f"/measure{time.time_ns()}"
    workspace.create_webhook(receiver.url(path), "measure", "interview_started")
    logs = [server.log_path, *(worker.log_path for worker in workers)]
    offsets = [log.stat().st_size for log in logs]
    publisher = Publisher(
        server.base_url,
        workspace.publisher.headers["X-API-KEY"],
        seed_example("interview_started") | {"posting_id": "measure"},
        threads=4,
        interval=0.05,
    ).start()
    time.sleep(2)
    break_database()
    time.sleep(OUTAGE_SECONDS)
    mend_database()
    time.sleep(8)
    publisher.stop()
    deadline = time.monotonic() + 30
    while True:
        delivered = {json.loads(r.body)["interview_id"] for r in receiver.at(path)}
        lost = publisher.accepted() - delivered
        if not lost or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print(f"{name}: answers {publisher.statuses()}; accepted but never delivered: {len(lost)}")
    for log, offset in zip(logs, offsets, strict=True):
        count, tracebacks = log_lines(log, offset)
        print(f"  {log.name}: {count} log lines, {tracebacks} tracebacks")


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "src").resolve()
    os.environ["PYTHONPATH"] = f"{src}:{src.parent / 'receivers' / 'python' / 'src'}"
    receiver = Receiver().start()
    cluster = PostgresCluster().start()
    server = HooklineServer(
        Path(tempfile.mkdtemp()),
        env=ENV,
        database_url=cluster.create_database(),
        serve_args=("--no-worker",),
    ).start()
    worker = HooklineWorker(server, "measure").start()
    try:
        name = f"PostgreSQL stopped {OUTAGE_SECONDS:g} s"
        measure(name, server, [worker], receiver, cluster.stop_server, cluster.start_server)
    finally:
        worker.stop()
        server.stop()
        cluster.stop()
    with small_filesystem("16m") as disk:
        server = HooklineServer(
            Path(tempfile.mkdtemp()), env=ENV, database_url=f"sqlite:///{disk / 'hookline.db'}"
        ).start()
        filler: list[Path] = []
        try:
            measure(
                f"SQLite disk full {OUTAGE_SECONDS:g} s",
                server,
                [],
                receiver,
                lambda: filler.append(fill(disk)),
                lambda: filler.pop().unlink(),
            )
        finally:
            server.stop()
    receiver.stop()


if __name__ == "__main__":
    main()
