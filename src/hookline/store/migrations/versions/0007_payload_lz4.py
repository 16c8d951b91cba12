"""events.payload: compressed with lz4 on PostgreSQL, not pglz

A 14 KB payload is stored out of line, compressed. With pglz, the default, PostgreSQL
spent about 290 µs of CPU per event published and 39 µs per payload a claim read back;
with lz4, about 110 and 27 µs, for as small a payload (scripts/measure_payload_compression.py),
on the same two cores the API and the workers run on. Rows stored before keep pglz:
PostgreSQL reads either. A server older than 14, or built without lz4, keeps pglz; a copy
restored or replicated onto such a server cannot read the lz4 rows (the PostgreSQL
packages of Debian, Ubuntu and postgresql.org, and the official images, are built with
it). Like any change to a column, it locks events for an instant.
SQLite stores payloads uncompressed.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

OFFERS_LZ4 = text(
    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and bind.scalar(OFFERS_LZ4):
        op.execute("ALTER TABLE events ALTER COLUMN payload SET COMPRESSION lz4")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and bind.scalar(OFFERS_LZ4):
        op.execute("ALTER TABLE events ALTER COLUMN payload SET COMPRESSION default")
