"""The input boundary: what Hookline accepts from outside, whoever passes it on (the API,
the dashboard, the CLI). Both backends store whatever passes here, so a value one of
them would refuse (NUL, a lone surrogate, an over-long string) is refused before SQL.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import idna

from hookline.domain.codec import parse
from hookline.errors import FieldProblem, InvalidInput

MAX_JSON_DEPTH = 64
MAX_ID_LENGTH = 200  # posting and interview ids, filters, Idempotency-Key
WORKSPACE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
MAX_URL_LENGTH = 2048
MAX_HOST_LENGTH = 253
MAX_LABEL_LENGTH = 63
# Characters kept as they are when a URL's path and query are percent-encoded: every
# printable ASCII character that may stand in a URL, and "%" of existing escapes.
URL_SAFE = "!#$%&'()*+,-./:;=?@[]_~"
AFTER_BRACKETS = re.compile(r"(:[0-9]*)?")
# A decimal, octal or hex number, as a part of an IPv4 address and a host's last label.
NUMBER = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")


NOT_FINITE = "must be a finite number (NaN, Infinity and numbers beyond a double are not JSON)"


class MalformedJson(ValueError):
    """The body is not JSON at all (a 400, unlike a JSON value Hookline refuses)."""


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored as it is, or None when it can."""
    if value.isascii():
        if "\x00" in value:
            return "must not contain NUL characters"
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain lone surrogates (invalid Unicode)"
    if "\x00" in value:
        return "must not contain NUL characters"
    return None


def check_text(field: str, value: str, max_length: int | None = None) -> str:
    """Refuse a string that is not storable text, or longer than ``max_length``."""
    problem = text_problem(value)
    if problem is None and max_length is not None and len(value) > max_length:
        problem = f"must be at most {max_length} characters"
    if problem is not None:
        raise InvalidInput.field(field, problem)
    return value


def check_id(field: str, value: str) -> str:
    """An id given by the platform or an integrator: non-blank, storable, ≤ 200 chars."""
    check_text(field, value, MAX_ID_LENGTH)
    if not value.strip():
        raise InvalidInput.field(field, "must not be blank")
    return value


def check_workspace_name(name: str) -> str:
    """A workspace's name stands in URLs (/api/admin/workspaces/acme): letters, digits,
    ".", "_" and "-", starting with a letter or digit, at most 100."""
    if not WORKSPACE_NAME.fullmatch(name):
        raise InvalidInput.field(
            "name", 'must be 1 to 100 letters, digits, ".", "_" or "-", starting with a '
            "letter or digit"
        )  # fmt: skip
    return name


def decode_json(body: bytes) -> Any:
    """Decode a request body by the strict rules of ``json_problem``, in the whole body:
    MalformedJson when it is not JSON at all, InvalidInput naming the place of a value
    Hookline refuses."""
    try:
        value, by_orjson = parse(body)
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"request body is not valid JSON: {exc.msg} at {exc.pos}") from None
    except UnicodeDecodeError:
        raise MalformedJson("request body is not UTF-8 text") from None
    except RecursionError:
        raise InvalidInput.field("body", f"nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:  # an integer of more digits than Python converts (4,300)
        raise InvalidInput.field("body", "holds a number too long to read") from None
    # What orjson read holds no NaN, Infinity, 1e400 or lone surrogate; without a NUL
    # escape, only its nesting is left to check, and only with brackets enough to nest
    # past the limit.
    if not by_orjson or b"\\u0000" in body or _nests_too_deep(body, value):
        problem = json_problem(value)
        if problem is not None:
            raise InvalidInput([problem])
    return value


def _nests_too_deep(body: bytes, value: Any) -> bool:
    if body.count(b"{") + body.count(b"[") <= MAX_JSON_DEPTH:
        return False
    level: list[Any] = [value]
    for _ in range(MAX_JSON_DEPTH):
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True


def json_problem(value: Any) -> FieldProblem | None:
    """The first string that cannot be stored, number that is not finite (NaN, Infinity,
    1e400, which Python's parser lets through) or nesting over the limit in a decoded
    JSON value; None when all is well. Iterative, so no input can exhaust the stack."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
        elif isinstance(item, float):
            problem = None if math.isfinite(item) else NOT_FINITE
        elif isinstance(item, dict | list):
            problem = None
            if len(path) >= MAX_JSON_DEPTH:
                problem = f"nests deeper than {MAX_JSON_DEPTH} levels"
            elif isinstance(item, dict):
                for key, child in item.items():
                    if (key_problem := text_problem(key)) is not None:
                        return FieldProblem(_dotted(path) or "body", f"a key {key_problem}")
                    stack.append((child, (*path, key)))
            else:
                stack.extend((child, (*path, i)) for i, child in enumerate(item))
        else:
            continue
        if problem is not None:
            return FieldProblem(_dotted(path) or "body", problem)
    return None


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path)


def normalize_url(field: str, url: str) -> str:
    """An absolute http(s) URL as Hookline stores and sends it: the host checked and
    IDNA-encoded (UTS 46), the path and query percent-encoded where they are not ASCII.
    Raises InvalidInput naming ``field``."""

    def refuse(message: str) -> InvalidInput:
        return InvalidInput.field(field, message)

    check_text(field, url, MAX_URL_LENGTH)
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\x7f" for ch in url):
        raise refuse("must not contain whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError:
        raise refuse("must be a valid absolute http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refuse("must be an absolute http(s) URL, like https://example.com/hook")
    if parts.username is not None or parts.password is not None:
        raise refuse("must not contain credentials")
    if port == 0:
        raise refuse("must not use port 0")
    host = _encode_host(field, parts.netloc, parts.hostname)
    # An ASCII host is kept as it was written; only a non-ASCII one is rewritten.
    rewritten = host if port is None else f"{host}:{port}"
    netloc = parts.netloc if parts.netloc.isascii() else rewritten
    encoded = [quote(part, safe=URL_SAFE) for part in (parts.path, parts.query, parts.fragment)]
    normalized = urlunsplit((parts.scheme, netloc, *encoded))
    if len(normalized) > MAX_URL_LENGTH:
        raise refuse(f"must be at most {MAX_URL_LENGTH} characters once encoded")
    return normalized


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """IPv4 in every spelling inet_aton accepts (2130706433, 0177.0.0.1, 0x7f.1, 127.1),
    or None."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(NUMBER.fullmatch(part) for part in parts):
        return None
    numbers = []
    for part in parts:
        try:
            if part[:2].lower() == "0x":
                numbers.append(int(part[2:], 16))
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part, 8))
            else:
                numbers.append(int(part, 10))
        except ValueError:  # 08, 09: not octal; 0x: no digits
            return None
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = 0
    for n in leading:
        value = value * 256 + n
    value = value * 256 ** (5 - len(numbers)) + last
    return ipaddress.IPv4Address(value)


def _encode_host(field: str, netloc: str, hostname: str) -> str:
    if "[" in netloc:  # an IPv6 literal (urlsplit also lets IPvFuture's [v1.x] through)
        try:
            ipaddress.IPv6Address(hostname)
        except ValueError:
            raise InvalidInput.field(field, "has an invalid IPv6 address") from None
        if not AFTER_BRACKETS.fullmatch(netloc.rsplit("]", 1)[1]):
            raise InvalidInput.field(field, "must have only a port after an IPv6 address")
        return f"[{hostname}]"
    if hostname.isascii():
        ascii_host = hostname
        for label in hostname.split("."):
            if label[:4].lower() == "xn--":  # punycode written out must decode (UTS 46)
                try:
                    idna.decode(label, uts46=True)
                except (idna.IDNAError, UnicodeError) as exc:
                    raise InvalidInput.field(field, f"has an invalid host name: {exc}") from None
    else:
        try:
            ascii_host = idna.encode(hostname, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise InvalidInput.field(field, f"has an invalid host name: {exc}") from None
    labels = ascii_host.removesuffix(".").split(".")
    if len(ascii_host) > MAX_HOST_LENGTH:
        raise InvalidInput.field(field, f"host must be at most {MAX_HOST_LENGTH} characters")
    for label in labels:
        if not label:
            raise InvalidInput.field(field, "host must not have an empty label (like a..b)")
        if len(label) > MAX_LABEL_LENGTH:
            raise InvalidInput.field(
                field, f"host labels must be at most {MAX_LABEL_LENGTH} characters"
            )
        if not all(ch.isalnum() or ch in "-_" for ch in label):
            raise InvalidInput.field(field, f"host has an invalid character in {label!r}")
    if NUMBER.fullmatch(labels[-1]) and parse_ipv4(ascii_host.removesuffix(".")) is None:
        # A host ending in a number is an IPv4 address (in any spelling inet_aton takes),
        # as browsers and resolvers read it, or nothing.
        raise InvalidInput.field(field, "host is not a valid IPv4 address")
    return ascii_host
