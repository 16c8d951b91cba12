"""Refuse destinations inside the operator's network (SSRF protection).

A URL is checked when it is registered and again at every send, since DNS can change.
At send time the check is on the very address connected: the sender checks each address
as libcurl opens its socket to it (``delivery.sender``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from hookline.domain.inputs import parse_ipv4

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REGISTRATION_DNS_TIMEOUT = 3.0
RESERVED_IPV6 = ipaddress.IPv6Network("::/8")


class UnsafeDestination(ValueError):
    """The URL's host is, or resolves to, an address Hookline must not call."""


def is_forbidden(address: IPAddress) -> bool:
    """Loopback, private, link-local, multicast, reserved, unspecified, or otherwise not
    globally routable (shared, documentation and benchmarking ranges among them)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or _nat64_ipv4(address)
        if embedded is not None and is_forbidden(embedded):
            return True
        # The rest of ::/8 (IPv4-compatible ::a.b.c.d, SIIT's ::ffff:0:a.b.c.d, ...) is
        # reserved, with no public use, yet Python counts it as global.
        if embedded is None and address in RESERVED_IPV6:
            return True
    return address.is_multicast or not address.is_global


def _nat64_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally, in any spelling, or None for a DNS name."""
    host = host.strip("[]").split("%", 1)[0]  # brackets and an IPv6 zone id
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return parse_ipv4(host)


def check_address(host: str, address: IPAddress) -> None:
    if is_forbidden(address):
        raise UnsafeDestination(
            f"{host} is a private, loopback or reserved address ({address}); "
            "set HOOKLINE_ALLOW_PRIVATE_URLS=true to allow it"
        )


async def check_url(url: str) -> None:
    """At registration: refuse a URL whose host is, or resolves to, a forbidden address.

    A name that does not resolve now is accepted; the send-time check covers it.
    """
    host = urlsplit(url).hostname or ""
    literal = literal_address(host)
    if literal is not None:
        check_address(host, literal)
        return
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), REGISTRATION_DNS_TIMEOUT
        )
    except (OSError, TimeoutError):
        return
    for info in infos:
        check_address(host, ipaddress.ip_address(info[4][0].split("%", 1)[0]))
