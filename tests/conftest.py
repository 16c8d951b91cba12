from __future__ import annotations

import contextlib
import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hookline.bench.postgres import PostgresCluster
from tests.support.receiver import Receiver
from tests.support.server import HooklineServer, HooklineWorker
from tests.support.workspace import Workspace

# A copy of the seed document's examples (../shared/seed/examples), kept in the repository
# so the tests run from any clone; test_seed_copies checks it against the original.
SEED_DIR = Path(__file__).resolve().parent / "seed"


def seed_example(name: str) -> Any:
    return json.loads((SEED_DIR / f"{name}.json").read_text())


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Every test that uses a database through these fixtures runs once per backend."""
    return request.param


def _new_database(request: pytest.FixtureRequest, backend: str, directory: Path) -> str:
    if backend == "postgresql":
        return request.getfixturevalue("postgres").create_database()
    return f"sqlite:///{directory / 'hookline.db'}"


@pytest.fixture(scope="session")
def database_url(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The shared server's database."""
    return _new_database(request, backend, tmp_path_factory.mktemp("shared-db"))


@pytest.fixture
def new_database_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """An empty database of this test's own, for a server of its own."""
    return _new_database(request, backend, tmp_path)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[HooklineServer]:
    running = HooklineServer(
        tmp_path_factory.mktemp("hookline"),
        env={
            "HOOKLINE_RETRY_SCHEDULE": "0.3,0.3,0.3",
            "HOOKLINE_DELIVERY_TIMEOUT": "2",
            "HOOKLINE_LEASE_SECONDS": "10",
        },
        database_url=database_url,
    ).start()
    yield running
    running.stop()


MakeReceiver = Callable[[], Receiver]
MakeServer = Callable[..., HooklineServer]
MakeWorker = Callable[..., HooklineWorker]


@pytest.fixture
def make_receiver() -> Iterator[MakeReceiver]:
    """``make_receiver()``: a started Receiver of this test's own, stopped after the test."""
    started: list[Receiver] = []

    def make() -> Receiver:
        running = Receiver().start()
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[MakeServer]:
    """``make_server(database_url=None, env={...}, serve_args=(...))``: a started Hookline
    of this test's own, working in tmp_path (so its default SQLite file is shared by the
    test's servers); stopped after the test whatever happened, even if it never became
    healthy."""
    made: list[HooklineServer] = []

    def make(
        database_url: str | None = None,
        env: dict[str, str] | None = None,
        serve_args: tuple[str, ...] = (),
    ) -> HooklineServer:
        server = HooklineServer(tmp_path, env=env, database_url=database_url, serve_args=serve_args)
        made.append(server)
        return server.start()

    yield make
    for server in reversed(made):
        server.stop()


@pytest.fixture
def make_worker(make_server: MakeServer) -> Iterator[MakeWorker]:
    """``make_worker(server, name, *args)``: a started ``hookline worker`` sharing the
    server's database and settings; stopped (killed if it will not stop) after the test,
    before any server of make_server."""
    made: list[HooklineWorker] = []

    def make(server: HooklineServer, name: str, *args: str) -> HooklineWorker:
        worker = HooklineWorker(server, name, *args)
        made.append(worker)
        return worker.start()

    yield make
    for worker in reversed(made):
        with contextlib.suppress(subprocess.TimeoutExpired):  # then it was killed
            worker.stop()


@pytest.fixture(scope="session")
def acme(server: HooklineServer) -> Workspace:
    return Workspace.on(server, "acme")


@pytest.fixture(scope="session")
def globex(server: HooklineServer) -> Workspace:
    """A second workspace, to show that workspaces cannot see each other."""
    return Workspace.on(server, "globex")


@pytest.fixture
def posting_id() -> str:
    return unique("posting")


@pytest.fixture
def path() -> str:
    """A receiver path of this test's own."""
    return "/" + unique("hook")
