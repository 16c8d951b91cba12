"""JSON on the hot paths, through orjson, with the standard library behind it for what
orjson does not take the same way.

orjson refuses NaN, Infinity, numbers beyond a double, lone surrogates and nesting past
1,024 levels where the standard library lets them through for ``check_json`` to name: such
a document is decoded again by the standard library, so a refusal says the same as before.
orjson reads an integer beyond 64 bits as a float; a document with a run of 20 digits, or
of 19 after a minus sign (below -2**63), is decoded by the standard library too, so no
number is rounded.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

LONG_NUMBER = re.compile(rb"-[0-9]{19}|[0-9]{20}")


def decode(document: bytes) -> Any:
    """A JSON document's value; raises what ``json.loads`` raises for a bad document."""
    return parse(document)[0]


def parse(document: bytes) -> tuple[Any, bool]:
    """A JSON document's value, and whether orjson read it: then it holds no NaN,
    Infinity, number beyond a double or lone surrogate. Raises what ``json.loads`` raises
    for a bad document."""
    if LONG_NUMBER.search(document) is None:
        try:
            return orjson.loads(document), True
        except orjson.JSONDecodeError:
            pass
    return json.loads(document), False


def encode(value: Any) -> bytes:
    """Compact JSON, Unicode kept as is (UTF-8)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer beyond 64 bits
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
