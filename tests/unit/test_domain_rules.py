"""The pure rules: input, attempts and health, roles."""

from __future__ import annotations

import json

import pytest

from hookline.domain.attempts import (
    GONE_REASON,
    AttemptOutcome,
    is_success,
    judge_health,
    storable_text,
)
from hookline.domain.codec import parse
from hookline.domain.inputs import (
    MalformedJson,
    check_id,
    decode_json,
    json_problem,
    normalize_url,
)
from hookline.domain.keys import Permission, Principal, Role
from hookline.domain.webhooks import DeliveryStatus
from hookline.errors import Forbidden, InvalidInput


def _outcome(webhook_id: str, status_code: int | None, started_at: float) -> AttemptOutcome:
    return AttemptOutcome(
        delivery_id="d", webhook_id=webhook_id, event_type="interview_started",
        attempt_number=1, started_at=started_at, duration_ms=1, status_code=status_code,
        response_excerpt=None, error=None,
        new_status=DeliveryStatus.PENDING, next_attempt_at=None, claimed_updated_at=0.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("code", "success"), [(None, False), (199, False), (200, True), (204, True), (299, True),
                          (300, False), (410, False)],
)  # fmt: skip
def test_success_is_any_2xx(code: int | None, success: bool) -> None:
    assert is_success(code) is success


def test_health_decision() -> None:
    decision = judge_health(
        [
            _outcome("healthy", 200, 10),
            _outcome("healthy", 500, 5),  # a success in the batch wins
            _outcome("failing", 500, 7),
            _outcome("failing", None, 3),
            _outcome("gone", 410, 8),
        ],
        now=1000,
        disable_after_seconds=3600,
    )
    assert decision.recovered == {"healthy"}
    assert decision.failing_since == {"failing": 3, "gone": 8}
    assert decision.gone == {"gone"}
    assert decision.disable_failing_before == 1000 - 3600
    assert decision.failing_reason == "every delivery attempt failed for 1 hours"
    assert "410" in GONE_REASON


def test_stored_text_is_storable_everywhere() -> None:
    assert storable_text(None) is None
    assert storable_text("a\x00b\ud800c") == "ab?c"
    assert storable_text("plain") == "plain"


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("https://example.com/hook", "https://example.com/hook"),
        ("https://Example.COM:8443/a?b=c#frag", "https://Example.COM:8443/a?b=c#frag"),
        ("https://bücher.example/ü?q=é", "https://xn--bcher-kva.example/%C3%BC?q=%C3%A9"),
        ("http://[::1]:9000/x", "http://[::1]:9000/x"),
        ("http://127.0.0.1/x", "http://127.0.0.1/x"),
        ("http://127.1/x", "http://127.1/x"),  # IPv4 in a spelling inet_aton takes
        ("http://0x7f.1/x", "http://0x7f.1/x"),
        ("http://[fe80::1%25eth0]/x", "http://[fe80::1%25eth0]/x"),  # a zone id
        ("http://my_svc.xn--p1ai/x", "http://my_svc.xn--p1ai/x"),  # punycode checked per label
        ("http://ab--cd.xn--p1ai/x", "http://ab--cd.xn--p1ai/x"),
        ("http://sub.4ever.example/x", "http://sub.4ever.example/x"),
    ],
)
def test_urls_are_normalized(url: str, stored: str) -> None:
    assert normalize_url("url", url) == stored


@pytest.mark.parametrize(
    "url",
    [
        "http://a..b.com/", "http://.example.com/", "http://" + "a" * 64 + ".com/",
        "http://x\udfff.com/", "ftp://example.com/", "http://u:p@example.com/", "/relative",
        "http://example.com:0/", "http://example.com:99999/", "http://exa mple.com/",
        "http://example.com/" + "p" * 2048, "http://ex%41mple.com/",
        "http://[v1.fe]/", "http://[2606:4700::1111]x/", "http://999.1.1.1/",
        "http://1.2.3.4.5/", "http://4294967296/", "http://08.1.1.1/", "http://1_0.0.0.1/",
        "http://xn--/", "http://xn--a.example/",
    ],
)  # fmt: skip
def test_bad_urls_are_refused_naming_the_field(url: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        normalize_url("url", url)
    assert raised.value.problems[0].field == "url"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"a": NaN}', "a"),
        (b'{"a": [1, -Infinity]}', "a.1"),
        (b'{"a": 1e999}', "a"),
        (b'{"a": "\\u0000"}', "a"),
        (b'{"a": {"\\ud800": 1}}', "a"),
        (b"[" * 65 + b"]" * 65, ".".join(["0"] * 64)),
    ],
)
def test_json_the_parser_lets_through_is_refused(body: bytes, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        decode_json(body)
    assert raised.value.problems[0].field == field
    assert json_problem(json.loads(body)) == raised.value.problems[0]


@pytest.mark.parametrize(
    "body", ['{"a": 1}'.encode("utf-16"), '{"a": 1}'.encode("utf-32"), b'\xef\xbb\xbf{"a": 1}']
)
def test_json_bodies_are_utf_8_without_a_byte_order_mark(body: bytes) -> None:
    with pytest.raises(MalformedJson):
        decode_json(body)


def test_json_nested_past_the_parsers_stack_is_refused() -> None:
    with pytest.raises(InvalidInput, match="deeper than 64"):
        decode_json(b"[" * 200_000)


def test_ids() -> None:
    assert check_id("posting_id", "p-1") == "p-1"
    for bad in ("", "  ", "x" * 201, "a\x00"):
        with pytest.raises(InvalidInput):
            check_id("posting_id", bad)


def test_roles_hold_only_their_permissions() -> None:
    integrator = Principal("k", "w", Role.INTEGRATOR)
    publisher = Principal("k", "w", Role.PUBLISHER)
    integrator.require(Permission.MANAGE_WEBHOOKS)
    publisher.require(Permission.PUBLISH)
    for principal, permission in [
        (integrator, Permission.PUBLISH),
        (publisher, Permission.MANAGE_WEBHOOKS),
        (publisher, Permission.USE_DASHBOARD),
    ]:
        with pytest.raises(Forbidden):
            principal.require(permission)


@pytest.mark.parametrize(
    "number",
    [
        "-922337203685477580",  # 18 digits: orjson's
        "-9223372036854775808",  # 19 digits and past: the standard library's
        "-9223372036854775809",  # below 64 bits
        "18446744073709551615",
        "18446744073709551616",
        "-" + "9" * 40,
    ],
)
def test_integers_of_any_size_decode_exactly(number: str) -> None:
    document = f'{{"n": {number}, "s": "{number}"}}'.encode()
    assert parse(document) == ({"n": int(number), "s": number}, len(number.lstrip("-")) < 19)
    assert decode_json(document) == {"n": int(number), "s": number}
