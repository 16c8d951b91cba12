"""The integrators' kit (hookline_receiver) and `hookline listen`, against real deliveries
from a running Hookline."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import httpx
import pytest
import uvicorn
from fastapi import Depends, FastAPI, Request
from flask import Flask
from flask import request as flask_request
from werkzeug.serving import make_server

from hookline_receiver import (
    EventNotice,
    InterviewStarted,
    ReportAvailable,
    VerificationError,
    sign,
    verify,
    verify_signature,
)
from hookline_receiver.fastapi import webhook_event
from hookline_receiver.flask import verify_flask
from tests.conftest import seed_example, unique
from tests.support.receiver import Receiver
from tests.support.server import HooklineServer, free_port, hookline_command
from tests.support.waiting import eventually
from tests.support.workspace import Workspace


def test_verify_returns_the_typed_event(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    started = acme.create_webhook(receiver.url(path + "-s"), posting_id, "interview_started")
    report = acme.create_webhook(receiver.url(path + "-r"), posting_id, "report_available")
    acme.publish(
        "interview_started", seed_example("interview_started") | {"posting_id": posting_id}
    )
    acme.publish("report_available", seed_example("report_available") | {"posting_id": posting_id})
    (started_request,) = receiver.wait_for(path + "-s")
    (report_request,) = receiver.wait_for(path + "-r")

    event = verify(started_request.body, started_request.headers, started["secret"])
    assert isinstance(event, InterviewStarted)
    assert event.metadata.candidate_name == "Jane Doe"
    typed_report = verify(report_request.body, report_request.headers, report["secret"])
    assert isinstance(typed_report, ReportAvailable)
    assert typed_report.agentic_data.web_interview_info is not None
    assert typed_report.agentic_data.web_interview_info.summary.match_score == 78

    with pytest.raises(VerificationError, match="no signature"):
        verify(started_request.body, started_request.headers, report["secret"])
    with pytest.raises(VerificationError, match="no signature"):
        verify(started_request.body + b" ", started_request.headers, started["secret"])
    stale = started_request.headers | {"webhook-timestamp": str(int(time.time()) - 3600)}
    with pytest.raises(VerificationError, match="tolerance"):
        verify_signature(started_request.body, stale, started["secret"])
    unknown = started_request.headers | {"x-hookline-event-type": "interview_paused"}
    with pytest.raises(VerificationError, match="unknown event type 'interview_paused'"):
        verify(started_request.body, unknown, started["secret"])


def test_verify_get_delivery_returns_the_notice(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    url = receiver.url(path) + "?token=abc&flag"  # the URL's own query comes first
    webhook = acme.create_webhook(url, posting_id, "interview_completed", "get")
    payload = seed_example("interview_completed") | {"posting_id": posting_id}
    event_id = acme.publish("interview_completed", payload).json()["event_id"]
    (request,) = receiver.wait_for(path)
    assert request.method == "GET"
    assert request.query.startswith("token=abc&flag&event_type=interview_completed&")

    notice = verify(request.query, request.headers, webhook["secret"])
    assert notice == EventNotice(
        event_type="interview_completed",
        event_id=event_id,
        interview_id=payload["interview_id"],
        posting_id=posting_id,
        timestamp=payload["timestamp"],
    )
    assert verify(request.query.encode(), request.headers, ["whsec_AAAA", webhook["secret"]])
    with pytest.raises(VerificationError, match="no signature"):
        verify(request.query.replace("token=abc", "token=abd"), request.headers, webhook["secret"])
    # Signed at once, but with the type swapped in the header: refused.
    swapped = request.headers | {"x-hookline-event-type": "interview_started"}
    with pytest.raises(VerificationError, match="differs"):
        verify(request.query, swapped, webhook["secret"])


def test_rotation_both_secrets_verify(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    webhook = acme.create_webhook(receiver.url(path), posting_id, "interview_started")
    rotated = acme.integrator.post(f"/api/webhook/rotate-secret/{webhook['webhook_id']}").json()
    acme.publish(
        "interview_started", seed_example("interview_started") | {"posting_id": posting_id}
    )
    (request,) = receiver.wait_for(path)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (webhook["secret"], rotated["secret"]):
        assert isinstance(verify(request.body, request.headers, secret), InterviewStarted)


def test_sign_matches_what_hookline_sends(acme: Workspace, receiver: Receiver, path: str) -> None:
    webhook = acme.create_webhook(receiver.url(path), unique_posting(), "interview_started")
    acme.integrator.post(f"/api/webhook/test/{webhook['webhook_id']}")
    (request,) = receiver.wait_for(path)
    headers = request.headers
    expected = sign(
        webhook["secret"], headers["webhook-id"], int(headers["webhook-timestamp"]), request.body
    )
    assert headers["webhook-signature"] == expected


def test_listen_verifies_and_prints_deliveries(
    server: HooklineServer, acme: Workspace, posting_id: str
) -> None:
    port = free_port()
    probe = acme.create_webhook(f"http://127.0.0.1:{port}/hook", posting_id, "report_available")
    listener = subprocess.Popen(
        [*hookline_command("listen", "--port", str(port), "--secret", probe["secret"])],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def accepting() -> bool:
        assert listener.poll() is None, "hookline listen exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    try:
        eventually(accepting, timeout=15, what=f"hookline listen accepting on {port}")
        payload = seed_example("report_available") | {"posting_id": posting_id}
        event_id = acme.publish("report_available", payload).json()["event_id"]
        acme.wait_for_event(event_id, "succeeded", timeout=15)
    finally:
        listener.terminate()
        output = listener.communicate(timeout=10)[0]
    assert "report_available" in output
    assert "candidate Jane Doe" in output
    assert "score 78" in output
    assert "verified" in output


def unique_posting() -> str:
    return unique("posting")


class ThreadedServer:
    """A WSGI or ASGI app served on 127.0.0.1 from a thread, for the kit's examples."""

    def __init__(self, app: object, port: int, asgi: bool) -> None:
        self.port = port
        if asgi:
            config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
            self._uvicorn = uvicorn.Server(config)
            self._thread = threading.Thread(target=self._uvicorn.run, daemon=True)
        else:
            self._wsgi = make_server("127.0.0.1", self.port, app, threaded=True)
            self._thread = threading.Thread(target=self._wsgi.serve_forever, daemon=True)
        self._asgi = asgi

    def __enter__(self) -> ThreadedServer:
        self._thread.start()

        def answers() -> bool:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1)
            except httpx.HTTPError:
                return False
            return True

        eventually(answers, what="the example receiver to start")
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._asgi:
            self._uvicorn.should_exit = True
        else:
            self._wsgi.shutdown()
        self._thread.join(timeout=10)


def test_fastapi_dependency_receives_typed_events_once(acme: Workspace, posting_id: str) -> None:
    port = free_port()
    webhook = acme.create_webhook(f"http://127.0.0.1:{port}/hook", posting_id, "report_available")
    # The README's receiver, as an integrator would write it.
    app = FastAPI()
    seen: set[str] = set()
    processed: list[ReportAvailable] = []

    verified_report = Depends(webhook_event(webhook["secret"]))

    @app.post("/hook")
    async def hook(request: Request, event: ReportAvailable = verified_report) -> dict:
        if request.headers["webhook-id"] in seen:
            return {"duplicate": True}
        seen.add(request.headers["webhook-id"])
        processed.append(event)
        return {"received": True}

    with ThreadedServer(app, port, asgi=True):
        payload = seed_example("report_available") | {"posting_id": posting_id}
        event_id = acme.publish("report_available", payload).json()["event_id"]
        eventually(lambda: len(processed) == 1, what="the event processed")
        # Most often still in flight: the worker records the attempt a moment later.
        (delivery,) = acme.event(event_id)["deliveries"]
        acme.integrator.post(f"/api/webhook/redeliver/{delivery['delivery_id']}")
        eventually(
            lambda: acme.event(event_id)["deliveries"][0]["attempt_count"] == 2,
            what="the redelivery's attempt recorded",
        )
        forged = httpx.post(
            f"http://127.0.0.1:{port}/hook",
            content=b"{}",
            headers={"webhook-id": "x", "webhook-timestamp": str(int(time.time())),
                     "webhook-signature": "v1,AAAA", "x-hookline-event-type": "report_available"},
        )  # fmt: skip

    assert len(processed) == 1  # the redelivery was recognised by its webhook-id
    assert processed[0].interview_data_model.posting_info.title == "Senior Software Engineer"
    assert forged.status_code == 400
    assert "no signature" in forged.json()["detail"]


def test_flask_helper_verifies_real_deliveries(acme: Workspace, posting_id: str) -> None:
    port = free_port()
    webhook = acme.create_webhook(f"http://127.0.0.1:{port}/hook", posting_id, "interview_started")
    app = Flask(__name__)
    received: list[str] = []

    by_get = acme.create_webhook(
        f"http://127.0.0.1:{port}/hook", posting_id, "interview_started", "get"
    )

    @app.route("/hook", methods=["GET", "POST"])
    def hook():  # type: ignore[no-untyped-def]
        try:
            event = verify_flask(flask_request, [webhook["secret"], by_get["secret"]])
        except VerificationError as exc:
            return {"error": str(exc)}, 400
        if isinstance(event, EventNotice):
            received.append(f"GET {event.interview_id}")
        else:
            received.append(event.metadata.candidate_email)
        return {"received": True}

    with ThreadedServer(app, port, asgi=False):
        payload = seed_example("interview_started") | {"posting_id": posting_id}
        acme.publish("interview_started", payload)
        eventually(lambda: len(received) == 2, what="both deliveries received")
        forged = httpx.post(f"http://127.0.0.1:{port}/hook", content=b"{}")

    assert sorted(received) == ["GET A1B2C3D4E5F60718", "jane.doe@example.com"]

    assert forged.status_code == 400
