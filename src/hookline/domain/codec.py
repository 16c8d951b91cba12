"""JSON on the hot paths, through orjson, with the standard library behind it for what
orjson does not take the same way.

orjson refuses NaN, Infinity, numbers beyond a double, lone surrogates and nesting past
1,024 levels where the standard library lets them through for ``json_problem`` to name: such
a document is decoded again by the standard library, so a refusal says the same as before.
orjson reads an integer beyond 64 bits as a float; a document with a run of 19 digits or
more (20 past 2**64, 19 after a minus sign below -2**63) is decoded by the standard
library too, so no number is rounded.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# Every digit as "0", every other byte as " ": a run of digits is then a substring search,
# some ten times faster than a regular expression over a 14 KB document.
DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
LONG_RUN = b"0" * 19


def decode(document: bytes) -> Any:
    """A JSON document's value; raises what ``json.loads`` raises for a bad document."""
    return parse(document)[0]


def parse(document: bytes) -> tuple[Any, bool]:
    """A JSON document's value, and whether orjson read it: then it holds no NaN,
    Infinity, number beyond a double or lone surrogate. Raises what ``json.loads`` raises
    for a bad document."""
    if LONG_RUN not in document.translate(DIGITS_AS_ZEROS):
        try:
            return orjson.loads(document), True
        except orjson.JSONDecodeError:
            pass
    # Decoded as UTF-8 here: json.loads would take UTF-16, UTF-32 and a byte order mark
    # too. Surrogates pass, for the strict check to name rather than a decoding error.
    return json.loads(document.decode("utf-8", "surrogatepass")), False


def encode(value: Any) -> bytes:
    """Compact JSON, Unicode kept as is (UTF-8)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer beyond 64 bits
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
