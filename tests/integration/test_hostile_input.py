"""The input boundary: every hostile value is a 422 naming the field (400 for what is not
JSON at all), the same on both backends, and nothing half-written is left behind."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest

from tests.conftest import seed_example
from tests.support.workspace import Workspace


def _publish_raw(acme: Workspace, body: bytes, key: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"content-type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return acme.publisher.post("/api/events", content=body, headers=headers)


def _started(posting_id: str, **changes: object) -> dict:
    return seed_example("interview_started") | {"posting_id": posting_id} | changes


@pytest.mark.parametrize(
    ("spelling", "field"),
    [
        ("NaN", "payload.timestamp"),
        ("Infinity", "payload.timestamp"),
        ("-Infinity", "payload.timestamp"),
        ("1e400", "payload.timestamp"),
    ],
)
def test_numbers_that_are_not_json_are_refused(
    acme: Workspace, posting_id: str, spelling: str, field: str
) -> None:
    body = json.dumps({"event_type": "interview_started", "payload": _started(posting_id)})
    body = body.replace('"timestamp": 1770816760.310334', f'"timestamp": {spelling}')
    response = _publish_raw(acme, body.encode())
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_input"
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(
    ("escape", "message"),
    [("\\ud800", "lone surrogates"), ("\\udfff", "lone surrogates"), ("\\u0000", "NUL")],
)
def test_unstorable_strings_are_refused_wherever_they_are(
    acme: Workspace, posting_id: str, escape: str, message: str
) -> None:
    for where, field in [
        ('"candidate_name": "Jane Doe"', "payload.metadata.candidate_name"),
        ('"interview_id": "A1B2C3D4E5F60718"', "payload.interview_id"),
        ('"source": "user_ingestion"', "payload.metadata.metadata.source"),
    ]:
        body = json.dumps({"event_type": "interview_started", "payload": _started(posting_id)})
        key, value = where.split(": ")
        body = body.replace(where, f'{key}: "{value[1:-1]}{escape}"')
        response = _publish_raw(acme, body.encode())
        assert response.status_code == 422, (field, response.text)
        assert response.json()["errors"][0]["field"] == field
        assert message in response.json()["detail"]
    assert acme.integrator.get("/api/webhook/all", params={"posting_id": posting_id}).json() == []


def test_a_number_too_long_to_read_is_refused_not_a_fault(acme: Workspace, posting_id: str) -> None:
    digits = "9" * 5000
    for path, body in [
        ("/api/events", {"event_type": "interview_started", "payload": _started(posting_id)}),
        ("/api/webhook/create", {"posting_id": posting_id, "url": "https://example.com/h",
                                 "event_type": "interview_started"}),
    ]:  # fmt: skip
        raw = json.dumps(body)[:-1] + f', "extra": {digits}}}'
        client = acme.publisher if path == "/api/events" else acme.integrator
        response = client.post(path, content=raw, headers={"content-type": "application/json"})
        assert response.status_code == 422, (path, response.text[:300])
        assert response.json()["errors"][0]["field"] == "body"
    assert acme.integrator.get("/api/webhook/all", params={"posting_id": posting_id}).json() == []


@pytest.mark.parametrize(
    "number",
    [
        "-9223372036854775808",
        "-9223372036854775809",
        "-99999999999999999999",
        "18446744073709551616",
    ],
)
def test_integers_past_64_bits_read_back_exactly(
    acme: Workspace, posting_id: str, number: str
) -> None:
    body = json.dumps({"event_type": "interview_started", "payload": _started(posting_id)})
    raw = body[:-2] + f', "score_delta": {number}' + body[-2:]
    published = _publish_raw(acme, raw.encode())
    assert published.status_code == 202, published.text
    event = acme.publisher.get(f"/api/events/{published.json()['event_id']}")
    assert event.json()["payload"]["score_delta"] == int(number)
    assert f'"score_delta":{number}' in event.text


@pytest.mark.parametrize(
    ("path", "member", "field"),
    [
        ("/api/events", '"note": NaN', "note"),
        ("/api/events", '"\\ud800": 1', "body"),
        ("/api/webhook/create", '"note": Infinity', "note"),
        ("/api/webhook/create", '"note": "a\\u0000"', "note"),
        ("/api/webhook/create", '"note": ' + "[" * 70 + "]" * 70, "note"),
    ],
)
def test_strict_json_holds_in_the_whole_body_not_only_the_payload(
    acme: Workspace, posting_id: str, path: str, member: str, field: str
) -> None:
    if path == "/api/events":
        client, body = acme.publisher, {"event_type": "interview_started"}
        body["payload"] = _started(posting_id)
    else:
        client, body = acme.integrator, {"posting_id": posting_id, "event_type": "report_available"}
        body["url"] = "https://example.com/h"
    raw = json.dumps(body)[:-1] + f", {member}}}"
    response = client.post(path, content=raw.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_input"
    assert response.json()["errors"][0]["field"].startswith(field)
    assert acme.integrator.get("/api/webhook/all", params={"posting_id": posting_id}).json() == []


@pytest.mark.parametrize(
    ("field", "change"),
    [("payload.interview_id", {"interview_id": ""}), ("payload.posting_id", {"posting_id": "   "})],
)
def test_blank_ids_in_a_payload_are_refused(
    acme: Workspace, posting_id: str, field: str, change: dict
) -> None:
    response = acme.publish("interview_started", _started(posting_id) | change)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert "blank" in response.json()["detail"]


def test_a_blank_idempotency_key_is_refused(acme: Workspace, posting_id: str) -> None:
    body = {"event_type": "interview_started", "payload": _started(posting_id)}
    response = acme.publisher.post("/api/events", json=body, headers={"Idempotency-Key": ""})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


@pytest.mark.parametrize("value", ["", "  ", "p" * 201])
def test_a_filter_is_an_id_too(acme: Workspace, value: str) -> None:
    response = acme.integrator.get("/api/webhook/all", params={"posting_id": value})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "posting_id"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_not_declared_json_is_held_to_the_same_rules(
    acme: Workspace, posting_id: str, content_type: str | None
) -> None:
    body = json.dumps({"event_type": "interview_started", "payload": _started(posting_id)})
    raw = body.replace('"timestamp": 1770816760.310334', '"timestamp": NaN')
    headers = {"content-type": content_type} if content_type else {}
    response = acme.publisher.post("/api/events", content=raw, headers=headers)
    assert response.request.headers.get("content-type") == content_type  # None: FastAPI reads JSON
    assert response.status_code == 422, response.text
    if content_type is None:
        assert response.json()["errors"][0]["field"] == "payload.timestamp"


def test_nesting_deeper_than_64_is_refused(acme: Workspace, posting_id: str) -> None:
    for depth, status in [(60, 202), (70, 422), (100_000, 422)]:
        body = json.dumps({"event_type": "interview_started", "payload": _started(posting_id)})
        deep = "[" * depth + "1" + "]" * depth
        body = body[:-2] + f', "extra": {deep}' + body[-2:]
        response = _publish_raw(acme, body.encode())
        assert response.status_code == status, (depth, response.text[:300])
        if status == 422:
            assert "deeper than 64" in response.json()["detail"]


def test_every_published_event_reads_back(acme: Workspace, posting_id: str) -> None:
    deep = {"level": 1}
    for _ in range(60):
        deep = {"level": deep}
    published = acme.publish("interview_started", _started(posting_id, extra=deep))
    assert published.status_code == 202, published.text
    event = acme.publisher.get(f"/api/events/{published.json()['event_id']}")
    assert event.status_code == 200
    assert event.json()["payload"]["extra"] == deep


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://a..b.com/", "empty label"),
        ("http://.example.com/", "empty label"),
        ("http://" + "a" * 64 + ".com/", "at most 63"),
        ("http://" + ".".join(["abcdefghij"] * 24) + ".com/", "at most 253"),
        ("http://x\udfff.com/", "lone surrogates"),
        ("http://exa\x00mple.com/", "NUL"),
        ("http://ex ample.com/", "whitespace"),
        ("http://b\u00fccher..de/", "invalid host name"),
        ("ftp://example.com/", "http(s)"),
        ("http://user:pw@example.com/", "credentials"),
        ("http://[v1.fe]/", "invalid IPv6"),
        ("http://[2606:4700::1111]x/", "only a port"),
        ("http://999.1.1.1/", "not a valid IPv4"),
        ("http://1.2.3.4.5/", "not a valid IPv4"),
        ("http://4294967296/", "not a valid IPv4"),
        ("http://xn--/", "invalid host name"),
    ],
)
def test_urls_are_checked_and_refused_with_their_reason(
    acme: Workspace, posting_id: str, url: str, message: str
) -> None:
    body = json.dumps(
        {"posting_id": posting_id, "url": url, "event_type": "interview_started"}
    ).encode()
    response = acme.integrator.post(
        "/api/webhook/create", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "url"
    assert message in response.json()["detail"]


def test_international_hosts_are_stored_idna_encoded(acme: Workspace, posting_id: str) -> None:
    webhook = acme.create_webhook(
        "https://b\u00fccher.example/hook?q=\u00e9", posting_id, "interview_started"
    )
    assert webhook["url"] == "https://xn--bcher-kva.example/hook?q=%C3%A9"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("posting_id", "p" * 201, "at most 200"),
        ("posting_id", "   ", "blank"),
        ("posting_id", "a\x00b", "NUL"),
        ("posting_id", "a\ud800", "unicode"),
    ],
)
def test_posting_ids_are_checked(acme: Workspace, field: str, value: str, message: str) -> None:
    body = {"posting_id": "p", "url": "https://example.com/h", "event_type": "interview_started"}
    raw = json.dumps(body | {field: value}).encode()
    response = acme.integrator.post(
        "/api/webhook/create", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert message.lower() in response.json()["detail"].lower()


@pytest.mark.parametrize("value", ["a\x00b", "x" * 5000])
def test_filters_and_ids_with_nul_are_refused_not_a_database_error(
    acme: Workspace, posting_id: str, value: str
) -> None:
    webhook = acme.create_webhook("https://example.com/h", posting_id, "interview_started")
    for path, params in [
        ("/api/webhook/all", {"posting_id": value}),
        (f"/api/webhook/fetch/{quote(value)}", None),
        (f"/api/events/{quote(value)}", None),
        (f"/api/webhook/deliveries/{webhook['webhook_id']}", {"cursor": value}),
    ]:
        response = acme.integrator.get(path, params=params)
        if "\x00" in value or "cursor" in (params or {}) or "posting_id" in (params or {}):
            assert response.status_code == 422, (path, response.text)
            assert response.json()["code"] == "invalid_input"
        else:
            assert response.status_code in (200, 404), (path, response.text)


def test_same_idempotency_key_and_body_replays(acme: Workspace, posting_id: str) -> None:
    first = acme.publish("interview_started", _started(posting_id), idempotency_key=posting_id)
    again = acme.publish("interview_started", _started(posting_id), idempotency_key=posting_id)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


def test_same_idempotency_key_with_another_body_is_a_conflict(
    acme: Workspace, posting_id: str
) -> None:
    first = acme.publish("interview_started", _started(posting_id), idempotency_key=posting_id)
    other = acme.publish(
        "interview_started",
        _started(posting_id, interview_id="ANOTHER"),
        idempotency_key=posting_id,
    )
    assert first.status_code == 202
    assert other.status_code == 409, other.text
    assert other.json()["code"] == "idempotency_conflict"
    assert first.json()["event_id"] in other.json()["detail"]


@pytest.mark.parametrize("since", ["inf", "1e400", "nan", "-1"])
def test_recovery_since_must_be_a_finite_time(acme: Workspace, posting_id: str, since: str) -> None:
    webhook = acme.create_webhook("https://example.com/h", posting_id, "interview_started")
    response = acme.integrator.post(
        f"/api/webhook/recover/{webhook['webhook_id']}", params={"since": since}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "since"
    assert any(word in response.json()["detail"] for word in ("finite", "greater than"))


@pytest.mark.parametrize("position", ["nan", "inf", "-inf"])
def test_a_cursor_with_a_position_that_is_not_a_number_is_refused(
    acme: Workspace, posting_id: str, position: str
) -> None:
    webhook = acme.create_webhook("https://example.com/h", posting_id, "interview_started")
    cursor = base64.urlsafe_b64encode(f"{position}|dlv_x".encode()).decode()
    response = acme.integrator.get(
        f"/api/webhook/deliveries/{webhook['webhook_id']}", params={"cursor": cursor}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "cursor"
