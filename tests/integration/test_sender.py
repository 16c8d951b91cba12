"""The sender on its own: libcurl on the sender's thread, real sends to real receivers on
loopback. The address checked is the address connected; TLS verifies the certificate
against the URL's host name; replies are read as the worker needs them."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest
import trustme

from hookline.delivery import sender as sender_module
from hookline.delivery.sender import INTERRUPTED, STOPPED, Sender, SendResult
from tests.support.hostile import HostileReceiver
from tests.support.receiver import Receiver, Reply
from tests.support.sending import AwaitedSender, claimed_delivery, send_all


def test_a_name_is_checked_at_the_address_it_connects_to(receiver: Receiver) -> None:
    results = send_all(False, receiver.url("/named", host="localhost"))
    (result,) = results
    assert result.status_code is None
    assert result.error is not None and result.error.startswith("destination refused: localhost")
    assert receiver.at("/named") == []


def test_sends_to_a_name_reach_it_again_and_again(receiver: Receiver) -> None:
    url = receiver.url("/again", host="localhost")
    results = send_all(True, url, url, url)
    assert [r.status_code for r in results] == [200, 200, 200], results
    assert [r.response_excerpt for r in results] == ["ok", "ok", "ok"]
    assert len(receiver.at("/again")) == 3


def test_a_name_that_does_not_resolve_is_reported_by_name() -> None:
    (result,) = send_all(True, "http://no-such-host.invalid/hook")
    assert result.status_code is None
    assert result.error == "name not resolved: no-such-host.invalid"


def test_a_closed_port_is_a_failed_connection() -> None:
    (result,) = send_all(True, "http://127.0.0.1:9/closed")
    assert result.status_code is None
    assert result.error == "connection failed: Connection refused"


def test_a_head_cut_off_by_a_close_is_no_answer() -> None:
    hostile = HostileReceiver().start()
    try:
        cut, hinted, whole = send_all(
            True, hostile.url("cuthead"), hostile.url("hintsthencut"), hostile.url("ok")
        )
    finally:
        hostile.stop()
    for result in (cut, hinted):
        assert (result.status_code, result.error) == (None, "server disconnected before answering")
    assert (whole.status_code, whole.response_excerpt) == (200, "ok")


def test_an_interim_head_alone_is_no_answer() -> None:
    hostile = HostileReceiver().start()
    try:
        (result,) = send_all(True, hostile.url("processing"))
    finally:
        hostile.stop()
    assert (result.status_code, result.error) == (None, "timed out after 2 s")


def test_a_delivery_that_cannot_be_built_fails_alone(receiver: Receiver) -> None:
    """A GET's query comes from its payload: one that is not JSON cannot be built."""

    async def run() -> list[SendResult]:
        sender = AwaitedSender()
        await sender.start()
        try:
            broken = claimed_delivery(receiver.url("/broken"), "get")._replace(payload=b"{")
            return list(
                await asyncio.gather(
                    sender.send(broken), sender.send(claimed_delivery(receiver.url("/fine")))
                )
            )
        finally:
            await sender.close()

    broken, fine = asyncio.run(run())
    assert broken.status_code is None
    assert broken.error is not None and broken.error.startswith("could not send: ")
    assert fine.status_code == 200
    assert receiver.at("/broken") == []


def test_get_deliveries_carry_the_signed_query(receiver: Receiver) -> None:
    (result,) = send_all(True, receiver.url("/get?x=1"), method="get")
    assert result.status_code == 200
    (received,) = receiver.at("/get")
    assert received.method == "GET"
    assert received.body == b""
    assert received.query.startswith("x=1&event_type=interview_started&event_id=evt_send")
    assert received.headers["webhook-signature"].startswith("v1,")


def test_a_post_carries_the_payload_and_only_hooklines_headers(receiver: Receiver) -> None:
    (result,) = send_all(True, receiver.url("/headers"))
    assert result.status_code == 200
    (received,) = receiver.at("/headers")
    assert received.method == "POST"
    assert received.body == claimed_delivery("").payload
    assert set(received.headers) == {
        "host",
        "content-length",
        "content-type",
        "user-agent",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "x-hookline-event-type",
        "x-hookline-event-id",
        "x-hookline-attempt",
    }


def test_retry_after_is_read_from_a_429_or_503(receiver: Receiver) -> None:
    receiver.script("/seconds", [Reply(429, b"slow", headers={"retry-after": "120"})])
    receiver.script(
        "/date",
        [Reply(503, b"", headers={"retry-after": formatdate(time.time() + 600, usegmt=True)})],
    )
    receiver.script("/none", [Reply(429, b"slow")])
    receiver.script("/ignored", [Reply(500, b"", headers={"retry-after": "120"})])
    seconds, date, none, ignored = send_all(
        True, *(receiver.url(p) for p in ("/seconds", "/date", "/none", "/ignored"))
    )
    assert (seconds.status_code, seconds.retry_after) == (429, 120.0)
    assert date.status_code == 503 and date.retry_after is not None
    assert 590 <= date.retry_after <= 600
    assert (none.status_code, none.retry_after) == (429, None)
    assert (ignored.status_code, ignored.retry_after) == (500, None)


def test_a_proxy_from_the_environment_is_not_used(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    (result,) = send_all(True, receiver.url("/direct"))
    assert result.status_code == 200, result
    assert len(receiver.at("/direct")) == 1


def test_a_fault_of_the_senders_thread_ends_its_attempts_and_a_new_thread_goes_on(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault in the thread's own code (injected once, where it hands attempts back)."""
    monkeypatch.setattr(sender_module, "RESTART_SECONDS", 0.05)
    _fail_once_where_attempts_are_handed_back(monkeypatch)
    first, second = send_all(True, receiver.url("/fault"), receiver.url("/fault"))
    assert (first.status_code, first.error) == (None, INTERRUPTED)
    assert (second.status_code, second.error) == (200, None)


def test_a_restart_that_cannot_start_a_thread_is_tried_again(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread fails; the first restart finds the process out of threads (injected);
    the next one sends."""
    monkeypatch.setattr(sender_module, "RESTART_SECONDS", 0.05)
    _fail_once_where_attempts_are_handed_back(monkeypatch)
    start = threading.Thread.start
    started: list[str] = []

    def start_but_the_first_restart(thread: threading.Thread) -> None:
        if thread.name == "hookline-sender":
            started.append(thread.name)
            if len(started) == 2:
                raise RuntimeError("can't start new thread")
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", start_but_the_first_restart)
    first, second = send_all(True, receiver.url("/no-thread"), receiver.url("/no-thread"))
    assert (first.status_code, first.error) == (None, INTERRUPTED)
    assert (second.status_code, second.error) == (200, None)
    assert len(started) == 3


def _fail_once_where_attempts_are_handed_back(monkeypatch: pytest.MonkeyPatch) -> None:
    hand_back = Sender._hand_back
    faults = [RuntimeError("injected")]

    def failing_once(self: Sender, *args: object) -> None:
        if faults:
            raise faults.pop()
        hand_back(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Sender, "_hand_back", failing_once)


def test_what_waits_for_a_restart_is_ended_by_a_close(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sender_module, "RESTART_SECONDS", 30.0)
    _fail_once_where_attempts_are_handed_back(monkeypatch)

    async def run() -> tuple[object, object]:
        sender = AwaitedSender()
        await sender.start()
        first = await sender.send(claimed_delivery(receiver.url("/restart")))
        waiting = sender.send(claimed_delivery(receiver.url("/restart")))
        await asyncio.sleep(0.1)
        await sender.close()
        return first, await asyncio.wait_for(waiting, 5)

    first, waiting = asyncio.run(run())
    assert first.error == INTERRUPTED  # type: ignore[attr-defined]
    assert waiting.error == STOPPED  # type: ignore[attr-defined]


def test_a_sender_started_again_after_a_busy_close_sends() -> None:
    """A close that comes while the thread is being woken leaves nothing that would keep
    the next start's thread asleep (a race: many cycles, to a closed port, so they are
    quick)."""
    closed = "http://127.0.0.1:9/cycle"

    async def run() -> set[str | None]:
        sender = AwaitedSender()
        errors = set()
        for cycle in range(100):
            await sender.start()
            busy = [sender.send(claimed_delivery(closed)) for _ in range(20)]
            await asyncio.sleep(0.001 * (cycle % 5))
            busy.append(sender.send(claimed_delivery(closed)))
            await sender.close()
            await asyncio.wait_for(asyncio.gather(*busy), 5)
            await sender.start()
            result = await asyncio.wait_for(sender.send(claimed_delivery(closed)), 5)
            errors.add(result.error)
            await sender.close()
        return errors

    assert asyncio.run(run()) == {"connection failed: Connection refused"}


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_receiver(authority: trustme.CA) -> Iterator[Receiver]:
    """HTTPS on 127.0.0.1 with a certificate for the name localhost only."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(context)
    running = Receiver(tls=context).start()
    yield running
    running.stop()


@pytest.fixture
def trusted(authority: trustme.CA, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The test's own authority is the one TLS trusts, as an operator's SSL_CERT_FILE."""
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))


@pytest.mark.usefixtures("trusted")
def test_tls_verifies_the_certificate_against_the_urls_name(tls_receiver: Receiver) -> None:
    named, by_address = send_all(
        True, tls_receiver.url("/tls", host="localhost"), tls_receiver.url("/tls")
    )
    assert named.status_code == 200, named
    assert by_address.status_code is None  # the certificate names localhost, not 127.0.0.1
    assert by_address.error is not None and "127.0.0.1" in by_address.error
    assert len(tls_receiver.at("/tls")) == 1


def test_tls_refuses_a_certificate_from_an_unknown_authority(tls_receiver: Receiver) -> None:
    (result,) = send_all(True, tls_receiver.url("/untrusted", host="localhost"))
    assert result.status_code is None
    assert result.error is not None and "certificate" in result.error
    assert tls_receiver.at("/untrusted") == []


def test_a_hold_gives_back_what_has_not_started_and_lets_the_rest_finish(
    receiver: Receiver,
) -> None:
    """Two slots, one per webhook: a1 and b1 go out, a2 is parked behind a1, b2 and c1 wait
    in line for a slot. A hold gives those three back unsent (None), once each, while a1's
    and b1's attempts end as they would have."""
    receiver.script("/held", [Reply(200, b"ok", delay=1.0)])
    names = ("a1", "a2", "b1", "b2", "c1")

    async def run() -> tuple[dict[str, SendResult | None], list[str]]:
        sender = AwaitedSender(concurrency=2, endpoint_concurrency=1)
        await sender.start()
        try:
            sent = [
                sender.send(
                    claimed_delivery(receiver.url("/held"))._replace(
                        delivery_id=name, webhook_id=name[0]
                    )
                )
                for name in names
            ]
            # a1 and b1 have arrived and wait for their answers; the rest wait their turn.
            await asyncio.to_thread(receiver.wait_for, "/held", 2, 5)
            sender.sender.hold()
            results = await asyncio.wait_for(asyncio.gather(*sent), 5)
            await asyncio.sleep(0.2)  # room for a second hand-back, were there one
            return dict(zip(names, results, strict=True)), sender.handed_back
        finally:
            await sender.close()

    results, handed_back = asyncio.run(run())
    for name in ("a1", "b1"):
        sent = results[name]
        assert sent is not None and (sent.status_code, sent.error) == (200, None)
    assert [results[name] for name in ("a2", "b2", "c1")] == [None, None, None]
    assert sorted(handed_back) == sorted(names)
    assert sorted(r.headers["webhook-id"] for r in receiver.at("/held")) == ["a1", "b1"]


def test_a_hold_before_the_sender_starts_or_after_it_closes_does_nothing() -> None:
    """A stop may come after a start that failed: nothing to hold, no pipe to write to."""

    async def run() -> None:
        sender = AwaitedSender()
        sender.sender.hold()
        await sender.start()
        await sender.close()
        sender.sender.hold()

    asyncio.run(run())
