"""Properties that hold whatever comes in, on both backends (hypothesis):

- whatever a receiver answers (status, headers, any bytes, any size, a delay), its
  delivery reaches a final state within its schedule, and success is exactly a 2xx;
- whatever URL is stored (one registered by an older version included), its delivery
  reaches a final state and the worker goes on;
- whatever strings a payload holds, the API answers 202 or a JSON 4xx with a code, and
  what was accepted arrives as it was sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hookline.delivery.url_safety import literal_address
from hookline.domain.inputs import normalize_url
from hookline.domain.webhooks import HttpMethod
from hookline.errors import InvalidInput
from hookline.store import keys as key_store
from hookline.store import webhooks as webhook_store
from hookline.store.database import create_engine
from tests.conftest import seed_example, unique
from tests.support.receiver import Receiver, Reply
from tests.support.server import HooklineServer
from tests.support.waiting import eventually
from tests.support.workspace import Workspace

FINAL = {"succeeded", "failed"}
LIVE = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HEADER_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20).filter(
    lambda name: name not in {"content-length", "transfer-encoding", "connection"}
)
HEADER_VALUE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


def _final_delivery(acme: Workspace, event_id: str) -> dict:
    def final() -> dict | None:
        (delivery,) = acme.integrator.get(f"/api/events/{event_id}").json()["deliveries"]
        return delivery if delivery["status"] in FINAL else None

    # Four attempts, each bounded by the 2 s timeout, 0.3 s apart.
    return eventually(final, timeout=15, what=f"event {event_id} final")


@LIVE
@given(
    status=st.integers(min_value=100, max_value=599),
    body=st.binary(max_size=100_000),
    delay=st.floats(min_value=0, max_value=0.3),
    headers=st.dictionaries(HEADER_NAME, HEADER_VALUE, max_size=5),
)
def test_any_reply_ends_in_a_final_state(
    acme: Workspace, receiver: Receiver, status: int, body: bytes, delay: float, headers: dict
) -> None:
    path, posting_id = "/" + unique("reply"), unique("reply")
    receiver.script(path, [Reply(status, body, delay, headers)])
    acme.create_webhook(receiver.url(path), posting_id, "interview_started")
    published = acme.publish(
        "interview_started", seed_example("interview_started") | {"posting_id": posting_id}
    )
    delivery = _final_delivery(acme, published.json()["event_id"])
    assert (delivery["status"] == "succeeded") == (200 <= status < 300), (status, delivery)


PAYLOAD_TEXT = st.text(max_size=40) | st.sampled_from(["\x00", "\ud800", "a\udfffb", "\u2028"])


@LIVE
@given(name=PAYLOAD_TEXT, interview_id=PAYLOAD_TEXT, source=PAYLOAD_TEXT)
def test_any_payload_strings_are_accepted_whole_or_refused_clearly(
    acme: Workspace, receiver: Receiver, name: str, interview_id: str, source: str
) -> None:
    path, posting_id = "/" + unique("strings"), unique("strings")
    acme.create_webhook(receiver.url(path), posting_id, "interview_started")
    payload = seed_example("interview_started") | {
        "posting_id": posting_id,
        "interview_id": interview_id,
    }
    payload["metadata"] = payload["metadata"] | {"candidate_name": name}
    payload["metadata"]["metadata"] = {"source": source}
    # json.dumps writes lone surrogates as \ud800 escapes, as a hostile client would.
    body = json.dumps({"event_type": "interview_started", "payload": payload}).encode()
    response = acme.publisher.post(
        "/api/events", content=body, headers={"content-type": "application/json"}
    )
    if response.status_code == 202:
        (request,) = receiver.wait_for(path)
        assert json.loads(request.body) == payload
    else:
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_input"
        assert response.json()["errors"][0]["field"].startswith("payload.")


@pytest.fixture(scope="module")
def single_attempt_server(
    tmp_path_factory: pytest.TempPathFactory, backend: str, request: pytest.FixtureRequest
) -> Iterator[HooklineServer]:
    workdir = tmp_path_factory.mktemp("stored-urls")
    database_url = (
        request.getfixturevalue("postgres").create_database()
        if backend == "postgresql"
        else f"sqlite:///{workdir / 'hookline.db'}"
    )
    running = HooklineServer(
        workdir,
        env={"HOOKLINE_RETRY_SCHEDULE": "", "HOOKLINE_DELIVERY_TIMEOUT": "1"},
        database_url=database_url,
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def stored(single_attempt_server: HooklineServer) -> Workspace:
    return Workspace.on(single_attempt_server, unique("stored"))


def _store_webhook(database_url: str, api_key: str, url: str, posting_id: str) -> None:
    """As a row written before today's checks existed: straight into the store."""

    async def store() -> None:
        engine = create_engine(database_url)
        try:
            principal = await key_store.authenticate(engine, api_key)
            assert principal is not None
            await webhook_store.create_webhook(
                engine, principal.workspace_id, posting_id, url, "interview_started",
                HttpMethod.POST,
            )  # fmt: skip
        finally:
            await engine.dispose()

    asyncio.run(store())


def _would_leave_this_machine(url: str) -> bool:
    """A URL the sender would resolve by DNS: never sent by these tests."""
    try:
        host = urlsplit(normalize_url("url", url)).hostname or ""
    except InvalidInput:
        return False
    return literal_address(host) is None


LABEL = st.text(min_size=0, max_size=70)
STORED_URL = st.one_of(
    st.builds(lambda a, b: f"http://{a}.{b}/hook", LABEL, LABEL),
    st.builds(
        lambda host, port: f"http://{host}:{port}/x",
        st.sampled_from(
            ["127.0.0.1", "0x7f.1", "2130706433", "[::1]", "127.1", "[::ffff:127.0.0.1]"]
        ),
        st.integers(min_value=1, max_value=9),
    ),
    st.text(max_size=200),
)


@LIVE
@given(url=STORED_URL)
def test_any_stored_url_ends_in_a_final_state(
    single_attempt_server: HooklineServer, stored: Workspace, url: str
) -> None:
    assume(not _would_leave_this_machine(url))
    server, posting_id = single_attempt_server, unique("posting")
    api_key = stored.integrator.headers["X-API-KEY"]
    _store_webhook(server.env["HOOKLINE_DATABASE_URL"], api_key, url, posting_id)
    published = stored.publish(
        "interview_started", seed_example("interview_started") | {"posting_id": posting_id}
    )
    assert published.status_code == 202, published.text

    def final() -> dict | None:
        event = stored.integrator.get(f"/api/events/{published.json()['event_id']}").json()
        (delivery,) = event["deliveries"]
        return delivery if delivery["status"] in FINAL else None

    delivery = eventually(final, timeout=10, what=repr(url))
    assert delivery["status"] == "failed"
    assert "Traceback" not in server.log()
