"""SSRF protection: private destinations are refused at registration and at every send."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from hookline.delivery.url_safety import is_forbidden, literal_address
from tests.support.receiver import Receiver
from tests.support.sending import send_all
from tests.support.server import HooklineServer

FORBIDDEN_URLS = [
    "http://127.0.0.1/hook",
    "http://127.1/hook",
    "http://2130706433/hook",  # decimal
    "http://0177.0.0.1/hook",  # octal
    "http://0x7f.0.0.1/hook",  # hex
    "http://017700000001/hook",  # octal, one number
    "http://localhost:8080/hook",
    "http://10.0.0.5/hook",
    "http://172.16.3.4/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data",  # cloud metadata, link-local
    "http://100.64.0.1/hook",  # carrier-grade NAT
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",  # multicast
    "http://240.0.0.1/hook",  # reserved
    "http://255.255.255.255/hook",
    "http://[::1]/hook",
    "http://[::]/hook",
    "http://[fe80::1]/hook",
    "http://[fc00::1]/hook",
    "http://[ff02::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped IPv6
    "http://[::ffff:10.0.0.1]/hook",
    "http://[64:ff9b::7f00:1]/hook",  # NAT64 of 127.0.0.1
    "http://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
    "http://[::127.0.0.1]/hook",  # IPv4-compatible IPv6 (deprecated, reserved)
    "http://[::ffff:0:127.0.0.1]/hook",  # SIIT's IPv4-translated form (reserved)
    "http://[::8.8.8.8]/hook",  # reserved whatever the address inside
]


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("[::1]", "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("example.com", None),
        ("1.2.3.4.5", None),
        ("256.1.1.1", None),
    ],
)
def test_literal_addresses_in_every_spelling(host: str, address: str | None) -> None:
    parsed = literal_address(host)
    assert (str(parsed) if parsed else None) == address


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not is_forbidden(ipaddress.ip_address(address))


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HooklineServer]:
    running = HooklineServer(
        tmp_path_factory.mktemp("strict"), env={"HOOKLINE_ALLOW_PRIVATE_URLS": "false"}
    ).start()
    yield running
    running.stop()


def test_registration_refuses_every_private_destination(strict_server: HooklineServer) -> None:
    with strict_server.client(strict_server.create_key("strict")) as client:
        for url in FORBIDDEN_URLS:
            response = client.post(
                "/api/webhook/create",
                json={"posting_id": "p", "url": url, "event_type": "interview_started"},
            )
            assert response.status_code == 422, (url, response.text)
            assert response.json()["errors"][0]["field"] == "url"
            assert "HOOKLINE_ALLOW_PRIVATE_URLS" in response.json()["detail"]
        # A public address is accepted (nothing is sent to it here).
        public = client.post(
            "/api/webhook/create",
            json={
                "posting_id": "p",
                "url": "https://1.1.1.1/hook",
                "event_type": "interview_started",
            },
        )
        assert public.status_code == 200, public.text


def test_send_refuses_private_destinations_even_when_registered(receiver: Receiver) -> None:
    """DNS can change after registration: the sender checks the address it connects to."""
    hosts = ("127.0.0.1", "localhost", "2130706433", "[::ffff:127.0.0.1]")
    results = send_all(False, *(f"http://{host}:{receiver.port}/ssrf" for host in hosts))
    for result in results:
        assert result.status_code is None
        assert result.error is not None and result.error.startswith("destination refused"), result
    assert receiver.at("/ssrf") == []


def test_send_reaches_loopback_when_private_urls_are_allowed(receiver: Receiver) -> None:
    (result,) = send_all(True, receiver.url("/allowed"))
    assert result.status_code == 200
    assert len(receiver.at("/allowed")) == 1
