"""The integrators' kit and `hookline listen`, against real deliveries from a running Hookline."""

from __future__ import annotations

import subprocess
import time

import pytest

from hookline.domain.payloads import InterviewStarted, ReportAvailable
from hookline.receiver import VerificationError, verify, verify_signature
from tests.conftest import seed_example
from tests.support.receiver import Receiver
from tests.support.server import HooklineServer, free_port, hookline_command
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
    try:
        deadline = time.monotonic() + 15
        payload = seed_example("report_available") | {"posting_id": posting_id}
        event_id = acme.publish("report_available", payload).json()["event_id"]
        while True:
            event = acme.integrator.get(f"/api/events/{event_id}").json()
            if event["deliveries"][0]["status"] == "succeeded":
                break
            assert time.monotonic() < deadline, event
            if event["deliveries"][0]["attempt_count"] > 0:
                # The listener may not have been up for the first attempt: send again.
                acme.integrator.post(
                    f"/api/webhook/redeliver/{event['deliveries'][0]['delivery_id']}"
                )
            time.sleep(0.3)
    finally:
        listener.terminate()
        output = listener.communicate(timeout=10)[0]
    assert "report_available" in output
    assert "candidate Jane Doe" in output
    assert "score 78" in output
    assert "verified" in output
