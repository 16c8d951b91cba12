"""Absence, asserted by a positive signal: a later marker event arrives, then nothing
else did. No fixed sleep: the marker comes when the server has got that far, however
busy the machine."""

from __future__ import annotations

import uuid

from tests.conftest import seed_example
from tests.support.receiver import Receiver, Reply
from tests.support.workspace import Workspace

# The shared server's HOOKLINE_RETRY_SCHEDULE (0.3,0.3,0.3): its number of retries.
WHOLE_SCHEDULE = 3


def marker_arrives(
    workspace: Workspace, receiver: Receiver, failures: int = 1, timeout: float = 15.0
) -> None:
    """Publish a marker event to a webhook of its own and wait for its last attempt.

    The marker's endpoint answers 500 ``failures`` times, then 200, so its last attempt
    waits out ``failures`` steps of the retry schedule. The worker claims deliveries in
    the order they fall due, so whatever was due before that — an attempt that should not
    happen, a retry that should have been cancelled — was claimed in an earlier claim and
    sent before the marker's last attempt. With ``failures=WHOLE_SCHEDULE`` the marker
    outlasts every retry of anything the test saw before publishing it."""
    marker = uuid.uuid4().hex[:10]
    path, posting_id = f"/marker_{marker}", f"marker_{marker}"
    receiver.script(path, [Reply(500, b"marker")] * failures + [Reply(200, b"marker")])
    workspace.create_webhook(receiver.url(path), posting_id, "interview_started")
    payload = seed_example("interview_started") | {"posting_id": posting_id}
    published = workspace.publish("interview_started", payload)
    assert published.status_code == 202, published.text
    assert published.json()["deliveries"] == 1
    receiver.wait_for(path, failures + 1, timeout=timeout)
