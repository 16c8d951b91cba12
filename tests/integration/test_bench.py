"""The benchmark harness itself: a quick run on small counts goes through every scenario of
every topology, and every delivery is counted exactly once by the receiver."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.server import hookline_command

SCENARIOS = {"drain", "fan-out", "ingest", "steady", "backlog"}


def test_quick_run_covers_every_scenario_and_topology(tmp_path: Path) -> None:
    report_path = tmp_path / "bench.json"
    done = subprocess.run(
        hookline_command(
            "bench",
            "--drain", "300",
            "--fanout-webhooks", "20",
            "--fanout-events", "3",
            "--ingest", "200",
            "--steady-rate", "50",
            "--steady-seconds", "1",
            "--backlog-deep", "2000",
            "--backlog-shallow", "300",
            "--concurrency", "10",
            "--json", str(report_path),
        ),
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    report = json.loads(report_path.read_text())
    rows = report["rows"]
    assert report["receiver"] == "nginx"  # .ci/run installs it
    assert {r["topology"] for r in rows} == {
        "bare aiohttp",
        "bare pycurl-select",
        "sqlite",
        "postgresql-1-worker",
        "postgresql-2-workers",
    }
    for topology in ("sqlite", "postgresql-1-worker", "postgresql-2-workers"):
        mine = [r for r in rows if r["topology"] == topology]
        assert {r["scenario"] for r in mine} == SCENARIOS
        assert all(r["value"] > 0 for r in mine), mine
        assert all(r["peak_rss_mb"] for r in mine), mine
        drain = next(r for r in mine if r["scenario"] == "drain")
        assert drain["ratio"] == drain["value"] / drain["ceiling"]
        # Throughput is also reported against the bare client of the library Hookline uses.
        assert drain["native_ratio"] == drain["value"] / drain["native_ceiling"]
    # The ceilings are measured around each throughput scenario (before the drain, between
    # it and the fan-out, after the fan-out), so each ratio is over runs beside it.
    for client in ("bare aiohttp", "bare pycurl-select"):
        (ceiling,) = [r for r in rows if r["topology"] == client]
        assert ceiling["metric"] == "deliveries/s, median of 9"
    # The table printed for people names every topology too.
    for topology in ("bare aiohttp", "bare pycurl-select", "sqlite", "postgresql-2-workers"):
        assert topology in done.stdout


def test_built_in_receiver_counts_the_same_way(tmp_path: Path) -> None:
    report_path = tmp_path / "bench.json"
    done = subprocess.run(
        hookline_command(
            "bench", "--builtin-receiver", "--backend", "sqlite",
            "--scenario", "drain", "--scenario", "steady",
            "--drain", "300", "--steady-rate", "50", "--steady-seconds", "1",
            "--concurrency", "10", "--json", str(report_path),
        ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    report = json.loads(report_path.read_text())
    assert report["receiver"] == "built-in aiohttp receiver"
    assert "receiver: built-in aiohttp receiver" in done.stdout
    assert {(r["topology"], r["scenario"]) for r in report["rows"]} == {
        ("bare aiohttp", "ceiling"),
        ("bare pycurl-select", "ceiling"),
        ("sqlite", "drain"),
        ("sqlite", "steady"),
    }
