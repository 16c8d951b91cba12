"""Small SQL helpers that need a spelling per backend."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal


class random_id(FunctionElement[str]):
    """A new ``prefix_<20 hex digits>`` id computed by the database, for set-based inserts."""

    type = String()
    inherit_cache = True
    # The prefix is spelled into the SQL, so it must be part of the statement cache key.
    _traverse_internals = [("prefix", InternalTraversal.dp_string)]  # noqa: RUF012

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        super().__init__()


@compiles(random_id, "sqlite")
def _random_id_sqlite(element: random_id, compiler: Any, **kw: Any) -> str:
    return f"'{element.prefix}_' || lower(hex(randomblob(10)))"


@compiles(random_id, "postgresql")
def _random_id_postgresql(element: random_id, compiler: Any, **kw: Any) -> str:
    return f"'{element.prefix}_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 20)"
