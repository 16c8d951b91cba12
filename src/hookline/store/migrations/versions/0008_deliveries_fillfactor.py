"""deliveries: half of each page left free on PostgreSQL, so a claim's lease is a HOT update

A claim writes each delivery's lease (``locked_until``, in no index). PostgreSQL keeps
such a new row version on the row's own page, with no new index entry (a heap-only
update), but only where the page has room; rows packed in full by their inserts left
none, so each lease added an entry to four indexes. With half of each page left free,
every lease of a claim fits beside its row. ``scripts/measure_claim_loop.py`` (15,000
deliveries, claims of 50), two rounds each, the server's times from pg_stat_statements:
the claim's execution 17.8 and 15.3 µs per delivery before, 11.5 and 10.8 after; its
WAL records 5.0 per delivery before, 2.1 after; the loop's wall time 130 and 114 µs per
delivery before, 112 and 108 after. The table grows no larger for it once its rows have
been claimed and recorded (7.3 MB against 7.2 MB with indexes, 20,000 deliveries): with
full pages, each update's new version went to another page anyway; rows not yet
claimed take twice the pages meanwhile. Pages written before keep their rows as they
are. SQLite has no such setting.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries RESET (fillfactor)")
