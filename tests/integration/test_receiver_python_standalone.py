"""receivers/python installed alone in a fresh virtual environment: it needs pydantic and
nothing of Hookline's (no FastAPI, no SQLAlchemy), and verifies real deliveries there."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import seed_example, unique
from tests.support.receiver import Receiver
from tests.support.server import HooklineServer
from tests.support.workspace import Workspace

KIT = Path(__file__).resolve().parents[2] / "receivers/python"
# What may be installed besides pip: the kit, pydantic and pydantic's own dependencies.
ALLOWED = {"hookline-receiver", "pydantic", "pydantic-core", "annotated-types",
           "typing-extensions", "typing-inspection", "pip", "setuptools"}  # fmt: skip

# Runs inside the fresh environment: verifies the captured deliveries and reports.
CHECK = """
import importlib.util, json, sys, time
import hookline_receiver as kit

captured = json.load(open(sys.argv[1]))
report = {"missing": [m for m in ("fastapi", "sqlalchemy", "hookline", "flask")
                      if importlib.util.find_spec(m) is None]}
post, get = captured["post"], captured["get"]
event = kit.verify(post["body"].encode(), post["headers"], post["secret"])
report["post"] = [type(event).__name__, event.metadata.candidate_name]
notice = kit.verify(get["query"], get["headers"], get["secret"])
report["get"] = [type(notice).__name__, notice.event_id, notice.timestamp]
report["webhook_id"] = kit.verify_signature(post["body"], post["headers"], post["secret"])
refused = {}
try:
    kit.verify(post["body"].replace("Jane", "John").encode(), post["headers"], post["secret"])
except kit.VerificationError as exc:
    refused["tampered"] = str(exc)
old = str(int(time.time()) - 3600)
resigned = dict(post["headers"], **{"webhook-timestamp": old, "webhook-signature":
    kit.sign(post["secret"], post["headers"]["webhook-id"], int(old), post["body"].encode())})
try:
    kit.verify(post["body"].encode(), resigned, post["secret"])
except kit.VerificationError as exc:
    refused["old"] = str(exc)
report["refused"] = refused
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HooklineServer]:
    running = HooklineServer(tmp_path_factory.mktemp("standalone")).start()
    yield running
    running.stop()


def test_kit_alone_in_a_fresh_venv_verifies_real_deliveries(
    sqlite_server: HooklineServer, receiver: Receiver, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin/python")
    installed = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(KIT)],
        capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    listing = subprocess.run(
        [python, "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    names = {p["name"].lower().replace("_", "-") for p in json.loads(listing.stdout)}
    assert "hookline-receiver" in names and "pydantic" in names
    assert names <= ALLOWED, names - ALLOWED

    acme = Workspace.on(sqlite_server, "standalone")
    posting_id, path = unique("posting"), "/" + unique("hook")
    by_post = acme.create_webhook(receiver.url(path + "-post"), posting_id, "interview_started")
    by_get = acme.create_webhook(
        receiver.url(path + "-get"), posting_id, "interview_started", "get"
    )
    payload = seed_example("interview_started") | {"posting_id": posting_id}
    event_id = acme.publish("interview_started", payload).json()["event_id"]
    (post,) = receiver.wait_for(path + "-post")
    (get,) = receiver.wait_for(path + "-get")
    captured = tmp_path / "captured.json"
    captured.write_text(
        json.dumps(
            {
                "post": {"body": post.body.decode(), "headers": post.headers,
                         "secret": by_post["secret"]},
                "get": {"query": get.query, "headers": get.headers, "secret": by_get["secret"]},
            }
        )
    )  # fmt: skip

    # Run from the temporary directory so nothing of this repository is importable.
    done = subprocess.run(
        [python, "-c", CHECK, str(captured)],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["missing"] == ["fastapi", "sqlalchemy", "hookline", "flask"]
    assert report["post"] == ["InterviewStarted", "Jane Doe"]
    assert report["get"] == ["EventNotice", event_id, payload["timestamp"]]
    assert report["webhook_id"] == post.headers["webhook-id"]
    assert "no signature" in report["refused"]["tampered"]
    assert "tolerance" in report["refused"]["old"]
