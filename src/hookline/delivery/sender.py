"""The HTTP side of a delivery: send its signed request (``delivery.requests`` builds it)
and read a capped reply.

Requests go out through libcurl's multi interface (pycurl), driven by a thread of its own:
the event loop hands each delivery over with one append, and the thread signs it, sends
it and hands the finished attempts back in batches, one call on the loop per batch. The
thread holds the slots (the worker's concurrency, and each webhook's), so a finished
attempt's slot goes to the next delivery at once, not after a turn of the event loop,
which a claim or a record can keep busy for milliseconds.
libcurl does the HTTP work with the interpreter's lock released; what the thread does in
Python is kept to a few calls per attempt, since each time libcurl calls back into Python
it must take the lock from the loop (docs/benchmarks.md has the choice and its figures).

The safety check sits where the socket is opened: libcurl resolves the name, and every
address it is about to connect to goes through ``check_address`` first, so the address
checked is the address connected, whatever DNS answers next. The URL keeps its host name,
so TLS sends SNI for it and verifies the certificate against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from typing import NamedTuple
from urllib.parse import urlsplit

import certifi
import pycurl

from hookline.delivery.requests import build_request
from hookline.delivery.url_safety import UnsafeDestination, check_address
from hookline.errors import InvalidInput
from hookline.store.queue import ClaimedDelivery

log = logging.getLogger("hookline.sender")
EXCERPT_BYTES = 1024
# Read at most this much of a reply, so the connection can be reused for the next send
# without letting an endpoint make Hookline buffer an unbounded body.
MAX_READ_BYTES = 64 * 1024
RETRY_AFTER_STATUSES = (HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE)
STOPPED = "not sent: the sender had stopped"
INTERRUPTED = "the sender stopped before an answer came"
RESTART_SECONDS = 1.0  # after the sender's thread failed
KEPT_CONNECTIONS_PER_SLOT = 4  # idle connections kept alive, per attempt in flight
SOCKET_EVENTS = {
    pycurl.POLL_IN: select.EPOLLIN,
    pycurl.POLL_OUT: select.EPOLLOUT,
    pycurl.POLL_INOUT: select.EPOLLIN | select.EPOLLOUT,
}


class SendResult(NamedTuple):
    started_at: float
    duration_ms: float
    status_code: int | None
    response_excerpt: str | None
    error: str | None
    retry_after: float | None = None  # seconds, from a 429's or 503's Retry-After


# Finished attempts, as the sender hands them back to the loop; a None result: not sent,
# given back by ``Sender.hold()``.
Sent = list[tuple[ClaimedDelivery, SendResult | None]]


def trusted_certificates() -> str:
    """The CA bundle TLS verifies against: the one the environment names, as OpenSSL
    would read it, else certifi's (libcurl's own default path may not exist here)."""
    return os.environ.get("SSL_CERT_FILE") or certifi.where()


class _Transfer:
    """One easy handle, reused attempt after attempt, and the state of the attempt it
    carries now."""

    __slots__ = (
        "chunks",
        "clock",
        "delivery",
        "handle",
        "head_ended",
        "refusal",
        "size",
        "socket_errno",
        "started_at",
        "url",
    )

    def __init__(self) -> None:
        self.handle = pycurl.Curl()
        self.url = ""
        self.started_at = 0.0
        self.clock = 0.0
        self.reset()

    def host(self) -> str:
        """The URL's host, for an error's text only: worked out when one needs it."""
        return urlsplit(self.url).hostname or ""

    def header(self, line: bytes) -> None:
        """Each line of the reply's head: the blank one ends it. libcurl reports a status
        even for a head cut off by a close, which is no answer."""
        if line == b"\r\n" or line == b"\n":
            self.head_ended = True
        elif line.startswith(b"HTTP/"):  # a 1xx's head ended: the final one starts here
            self.head_ended = False

    def write(self, data: bytes) -> int | None:
        """The reply's body, kept up to MAX_READ_BYTES; past that, 0 ends the transfer."""
        if self.size >= MAX_READ_BYTES:
            return 0
        self.chunks.append(data)
        self.size += len(data)
        return None

    def open_socket(self, _purpose: int, address: tuple) -> socket.socket | int:  # type: ignore[type-arg]
        """libcurl is about to connect to ``address``: refuse it if it is forbidden. libcurl
        goes on to the name's next address, if any: the attempt's error tells of the last."""
        family, socktype, protocol, sockaddr = address
        self.refusal, self.socket_errno = None, 0
        try:
            check_address(self.host(), ipaddress.ip_address(sockaddr[0].split("%", 1)[0]))
            return socket.socket(family, socktype, protocol)
        except UnsafeDestination as refusal:
            self.refusal = refusal
        except OSError as exc:  # out of descriptors, say
            self.socket_errno = exc.errno or 0
        return pycurl.SOCKET_BAD

    def reset(self) -> None:
        """Ready for the next attempt."""
        self.delivery: ClaimedDelivery | None = None  # its payload is let go
        self.chunks: list[bytes] = []
        self.size = 0
        self.refusal: UnsafeDestination | None = None
        self.socket_errno = 0
        self.head_ended = False


class Sender:
    """Sends every delivery of this process through one libcurl multi handle, on a thread
    of its own; connections are kept alive and pooled per host by libcurl. At most
    ``concurrency`` attempts are in flight, at most ``endpoint_concurrency`` of one
    webhook: the rest wait in line, or parked behind their webhook's sends (libcurl would
    queue them inside their timeouts). Each attempt's result goes to ``on_sent``, called on
    the loop with the attempts finished together."""

    def __init__(
        self,
        timeout: float,
        concurrency: int,
        endpoint_concurrency: int,
        allow_private_urls: bool,
        on_sent: Callable[[Sent], None],
    ) -> None:
        self._timeout = timeout
        self._on_sent = on_sent
        self._concurrency = concurrency
        self._endpoint_concurrency = endpoint_concurrency
        self._allow_private_urls = allow_private_urls
        self._cainfo = trusted_certificates()
        # Handed over by the loop, taken by the thread: deque's append and popleft are
        # atomic, and the pipe wakes the thread only when it is not awake already.
        self._incoming: deque[ClaimedDelivery] = deque()
        self._woken = False
        self._stopping = False
        self._holding = False  # no more attempts start: what waits goes back unsent
        self._running = False  # the thread takes deliveries
        # The thread's own (and close()'s, once the thread has ended): what it took and has
        # not started, the attempts in flight per webhook, and this turn's results, handed
        # back together.
        self._in_line: deque[ClaimedDelivery] = deque()
        self._parked: dict[str, deque[ClaimedDelivery]] = {}
        self._sending: dict[str, int] = {}
        self._results: Sent = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_read = self._wake_write = -1

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        self._stopping = self._holding = False
        self._woken = False  # a close may have left it set, with the pipe unread
        self._start_thread()

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._run, name="hookline-sender", daemon=True)
        self._running = True
        try:
            thread.start()
        except BaseException:
            self._running = False
            raise
        self._thread = thread

    def _restart(self) -> None:
        """On the loop, after the thread failed: a new one takes what waits, or, if none
        can be started now (the process is out of threads), another try a moment later."""
        if self._stopping or self._running:
            return
        log.warning("the sender's thread is started again")
        try:
            self._start_thread()
        except RuntimeError:
            log.exception("the sender's thread could not be started")
            asyncio.get_running_loop().call_later(RESTART_SECONDS, self._restart)
            return
        os.write(self._wake_write, b"\0")

    async def close(self) -> None:
        """Stop the thread; an attempt still in flight ends as an error."""
        if self._thread is None:
            return
        self._stopping = True
        os.write(self._wake_write, b"\0")
        await asyncio.to_thread(self._thread.join)
        self._thread = None
        self._fail_not_started()  # sent while a failed thread waited for its restart, say
        os.close(self._wake_read)
        os.close(self._wake_write)

    def submit(self, delivery: ClaimedDelivery) -> None:
        """Send ``delivery``: its result comes to ``on_sent``. A fault of its own (a URL
        that no longer passes, say) comes back as its failed attempt, never as an error
        here."""
        assert self._thread is not None, "Sender.start() first"
        self._incoming.append(delivery)
        self._wake_thread()

    def hold(self) -> None:
        """Start no more attempts: the deliveries not started come back to ``on_sent``
        unsent (a None result); the attempts in flight go on to their end. Nothing to do
        for a sender not started, or closed."""
        self._holding = True
        if self._thread is not None:
            self._wake_thread()

    def _wake_thread(self) -> None:
        if not self._woken:
            self._woken = True
            os.write(self._wake_write, b"\0")

    def _unpark(self) -> list[ClaimedDelivery]:
        """Take every parked delivery, webhook by webhook."""
        parked = [delivery for line in self._parked.values() for delivery in line]
        self._parked.clear()
        return parked

    def _not_started(self) -> list[ClaimedDelivery]:
        """Take what waits, in line, parked or not yet taken. On the thread, or once it has
        ended (the loop's appends only ever meet atomic pops)."""
        waiting = [*self._in_line, *self._unpark()]
        self._in_line.clear()
        while True:
            try:
                waiting.append(self._incoming.popleft())
            except IndexError:
                return waiting

    def _give_back_not_started(self) -> None:
        """Held: what waits goes back unsent."""
        self._results += [(delivery, None) for delivery in self._not_started()]

    def _fail_not_started(self) -> None:
        """End what waits, handed back as one batch."""
        stopped = SendResult(time.time(), 0.0, None, None, STOPPED)
        self._results += [(delivery, stopped) for delivery in self._not_started()]
        self._flush()

    def _flush(self) -> None:
        if self._results:
            self._to_loop(self._results)
            self._results = []

    # What follows runs on the sender's thread, which alone touches libcurl's handles.

    def _run(self) -> None:
        idle: list[_Transfer] = []
        active: dict[pycurl.Curl, _Transfer] = {}
        try:
            with contextlib.ExitStack() as resources:  # closed in reverse: handles first
                poller = select.epoll()
                resources.callback(poller.close)
                multi = pycurl.CurlMulti()
                resources.callback(multi.close)
                resources.callback(_close_handles, idle, active)
                self._drive(multi, poller, idle, active)
        except Exception:
            # The attempts in flight end as errors (retried as any failed attempt), and,
            # unless the sender is held or stopping, a new thread takes what waits, after a
            # pause, so a fault cannot spin.
            log.exception("the sender's thread failed")
        finally:
            self._running = False
            self._results += [
                (t.delivery, self._result(t, None, INTERRUPTED)) for t in active.values()
            ]
            self._sending.clear()  # none in flight now
            if self._stopping:
                self._fail_not_started()
            else:
                if self._holding:
                    self._give_back_not_started()
                else:  # what waits, parked or not, is in line for the next thread
                    self._in_line.extend(self._unpark())
                    loop = self._loop
                    assert loop is not None
                    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                        loop.call_soon_threadsafe(loop.call_later, RESTART_SECONDS, self._restart)
                self._flush()

    def _drive(
        self,
        multi: pycurl.CurlMulti,
        poller: select.epoll,
        idle: list[_Transfer],
        active: dict[pycurl.Curl, _Transfer],
    ) -> None:
        """Turn after turn until the sender stops: wait for a socket, the wake-up pipe or
        libcurl's timer, let libcurl act, hand back what finished."""
        multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, self._concurrency)
        # Kept alive while idle too (libcurl's default shrinks the pool with the load).
        multi.setopt(pycurl.M_MAXCONNECTS, KEPT_CONNECTIONS_PER_SLOT * self._concurrency)
        poller.register(self._wake_read, select.EPOLLIN)
        watched: set[int] = set()

        def on_socket(what: int, fd: int, _multi: object, _data: object) -> None:
            if what == pycurl.POLL_REMOVE:
                if fd in watched:
                    watched.discard(fd)
                    with contextlib.suppress(OSError):  # closed already: epoll forgot it
                        poller.unregister(fd)
            elif fd in watched:
                poller.modify(fd, SOCKET_EVENTS[what])
            else:
                poller.register(fd, SOCKET_EVENTS[what])
                watched.add(fd)

        multi.setopt(pycurl.M_SOCKETFUNCTION, on_socket)
        while not self._stopping:
            # libcurl's next timeout is asked for, not called back: a call back into
            # Python from libcurl costs a hand-over of the interpreter's lock.
            wait_ms = multi.timeout()
            ready = poller.poll(-1 if wait_ms < 0 else wait_ms / 1000)
            for fd, events in ready:
                if fd == self._wake_read:
                    self._take_incoming(multi, idle, active)
                else:
                    multi.socket_action(fd, _curl_events(events))
            if wait_ms == 0 or (wait_ms > 0 and not ready):  # libcurl's timer is due
                multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
            self._hand_back(multi, idle, active)
            self._flush()

    def _take_incoming(
        self, multi: pycurl.CurlMulti, idle: list[_Transfer], active: dict[pycurl.Curl, _Transfer]
    ) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self._wake_read, 4096)
        self._woken = False  # before taking: what comes after this wakes the thread again
        incoming, in_line = self._incoming, self._in_line
        while incoming:
            in_line.append(incoming.popleft())
        if self._holding:
            self._give_back_not_started()
        else:
            self._fill_slots(multi, idle, active)

    def _fill_slots(
        self, multi: pycurl.CurlMulti, idle: list[_Transfer], active: dict[pycurl.Curl, _Transfer]
    ) -> None:
        """Start what waits in line while slots are free; a delivery whose webhook has its
        share in flight is parked behind those sends instead, leaving the slot free."""
        in_line, sending = self._in_line, self._sending
        while in_line and len(active) < self._concurrency:
            delivery = in_line.popleft()
            webhook_id = delivery.webhook_id
            count = sending.get(webhook_id, 0)
            if count >= self._endpoint_concurrency:
                self._parked.setdefault(webhook_id, deque()).append(delivery)
            elif self._begin(delivery, multi, idle, active):
                sending[webhook_id] = count + 1

    def _send_next(
        self,
        webhook_id: str,
        multi: pycurl.CurlMulti,
        idle: list[_Transfer],
        active: dict[pycurl.Curl, _Transfer],
    ) -> None:
        """One of the webhook's attempts ended: its next parked delivery takes the slot,
        else the slot is free for what waits in line."""
        while not self._holding and (parked := self._parked.get(webhook_id)):
            delivery = parked.popleft()
            if not parked:
                del self._parked[webhook_id]
            if self._begin(delivery, multi, idle, active):
                return
        if self._sending[webhook_id] == 1:
            del self._sending[webhook_id]
        else:
            self._sending[webhook_id] -= 1
        if not self._holding:
            self._fill_slots(multi, idle, active)

    def _begin(
        self,
        delivery: ClaimedDelivery,
        multi: pycurl.CurlMulti,
        idle: list[_Transfer],
        active: dict[pycurl.Curl, _Transfer],
    ) -> bool:
        """Start the delivery's attempt; False if it could not start (its failed attempt is
        among the results)."""
        transfer = None
        try:
            transfer = idle.pop() if idle else self._new_transfer()
            self._prepare(transfer, delivery)
            multi.add_handle(transfer.handle)
        except Exception as exc:  # building, signing or handing over this one
            # Logged by name only: the message could carry what it was given.
            log.warning(
                "delivery %s could not be sent: %s", delivery.delivery_id, type(exc).__name__
            )
            failed = SendResult(time.time(), 0.0, None, None, describe_error(exc))
            self._results.append((delivery, failed))
            if transfer is not None:
                transfer.reset()
                idle.append(transfer)
            return False
        active[transfer.handle] = transfer
        return True

    def _new_transfer(self) -> _Transfer:
        transfer = _Transfer()
        handle = transfer.handle
        handle.setopt(pycurl.NOSIGNAL, 1)
        handle.setopt(pycurl.TIMEOUT_MS, max(int(self._timeout * 1000), 1))
        handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        handle.setopt(pycurl.FOLLOWLOCATION, 0)
        handle.setopt(pycurl.PROXY, "")  # never through a proxy from the environment
        handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        handle.setopt(pycurl.SSL_VERIFYPEER, 1)
        handle.setopt(pycurl.SSL_VERIFYHOST, 2)
        handle.setopt(pycurl.CAINFO, self._cainfo)
        handle.setopt(pycurl.WRITEFUNCTION, transfer.write)
        handle.setopt(pycurl.HEADERFUNCTION, transfer.header)
        if not self._allow_private_urls:
            handle.setopt(pycurl.OPENSOCKETFUNCTION, transfer.open_socket)
        return transfer

    def _prepare(self, transfer: _Transfer, delivery: ClaimedDelivery) -> None:
        transfer.delivery = delivery
        transfer.started_at = now = time.time()
        transfer.clock = time.perf_counter()
        request = build_request(delivery, now)
        transfer.url = request.url
        handle = transfer.handle
        handle.setopt(pycurl.URL, request.url)
        handle.setopt(pycurl.HTTPHEADER, request.header_lines)
        if request.body is None:
            handle.setopt(pycurl.HTTPGET, 1)
        else:
            handle.setopt(pycurl.POSTFIELDS, request.body)

    def _hand_back(
        self, multi: pycurl.CurlMulti, idle: list[_Transfer], active: dict[pycurl.Curl, _Transfer]
    ) -> None:
        """The finished attempts' results, each one's slot to the next that may go."""
        while True:
            queued, succeeded, failed = multi.info_read()
            for handle, code, message in [(h, pycurl.E_OK, "") for h in succeeded] + failed:
                transfer = active.pop(handle)
                delivery = transfer.delivery
                assert delivery is not None
                try:
                    multi.remove_handle(handle)
                    result = self._result(transfer, code, message)
                except Exception as exc:  # this attempt's account only: the others go on
                    log.exception("the outcome of an attempt could not be read")
                    result = self._result(transfer, None, describe_error(exc))
                    handle.close()  # it may still be in the multi handle: not reused
                else:
                    transfer.reset()
                    idle.append(transfer)
                self._results.append((delivery, result))
                self._send_next(delivery.webhook_id, multi, idle, active)
            if not queued:
                break

    def _result(self, transfer: _Transfer, code: int | None, message: str) -> SendResult:
        """The attempt as it ended: ``code`` is libcurl's, None when it never started."""
        duration_ms = (time.perf_counter() - transfer.clock) * 1000
        if code is None:
            return SendResult(transfer.started_at, duration_ms, None, None, message)
        handle = transfer.handle
        # Once the whole head has come, its status stands, whatever the body does after.
        status = None
        if transfer.head_ended:
            status = handle.getinfo(pycurl.RESPONSE_CODE)
            if status < HTTPStatus.OK:  # only an interim (1xx) head came: no answer
                status = None
        error = None
        if status is None:
            error = self._describe_failure(transfer, code, message)
        elif code not in (pycurl.E_OK, pycurl.E_OPERATION_TIMEDOUT, pycurl.E_WRITE_ERROR):
            # The answer came, then the connection failed mid-body: the status stands.
            error = self._describe_failure(transfer, code, message)
        excerpt = None
        retry_after = None
        if status is not None:
            excerpt = b"".join(transfer.chunks)[:EXCERPT_BYTES].decode("utf-8", errors="replace")
            if status in RETRY_AFTER_STATUSES:
                # libcurl read Retry-After (seconds or a date); 0 is its "none".
                retry_after = float(handle.getinfo(pycurl.RETRY_AFTER)) or None
        return SendResult(transfer.started_at, duration_ms, status, excerpt, error, retry_after)

    def _describe_failure(self, transfer: _Transfer, code: int, message: str) -> str:
        """A short, secret-free account of why an attempt got no full HTTP answer."""
        if transfer.refusal is not None:
            return f"destination refused: {transfer.refusal}"
        if transfer.socket_errno:
            return f"connection failed: {os.strerror(transfer.socket_errno)}"
        if code == pycurl.E_OPERATION_TIMEDOUT:
            return f"timed out after {self._timeout:g} s"
        if code == pycurl.E_COULDNT_RESOLVE_HOST:
            return f"name not resolved: {transfer.host()}"
        if code in (pycurl.E_GOT_NOTHING, pycurl.E_OK):  # E_OK: closed in the head
            return "server disconnected before answering"
        errno = transfer.handle.getinfo(pycurl.OS_ERRNO)
        if code in (pycurl.E_COULDNT_CONNECT, pycurl.E_SEND_ERROR, pycurl.E_RECV_ERROR):
            if errno:
                return f"connection failed: {os.strerror(errno)}"
            return "server disconnected before answering"
        return f"{message} (curl error {code})"

    def _to_loop(self, finished: Sent) -> None:
        """Results to ``on_sent``, on the loop's thread; none once the loop has closed (it
        was ended without ``close()``: nothing waits any more)."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._on_sent, finished)


def describe_error(exc: BaseException) -> str:
    """Why an attempt could not start: its stored URL no longer passes, or a fault."""
    if isinstance(exc, InvalidInput):
        return f"invalid destination URL: {exc.problems[0].message}"
    return f"could not send: {type(exc).__name__}: {exc}"


def _close_handles(idle: list[_Transfer], active: dict[pycurl.Curl, _Transfer]) -> None:
    for transfer in [*active.values(), *idle]:
        transfer.handle.close()


def _curl_events(events: int) -> int:
    """epoll's readiness as libcurl's socket action."""
    action = 0
    if events & select.EPOLLIN:
        action |= pycurl.CSELECT_IN
    if events & select.EPOLLOUT:
        action |= pycurl.CSELECT_OUT
    if events & (select.EPOLLERR | select.EPOLLHUP):
        action |= pycurl.CSELECT_ERR
    return action
