"""deliveries: autovacuum and analyze early on PostgreSQL, so the head of the pending
index stays clean under a deep backlog

Every attempt rewrites its delivery row (the status leaves the partial index of pending
deliveries), so the claim's index scan meets the dead entries of finished rows at the head
of that index until a vacuum removes them. At the default scale factor (20 % of the table)
a table of 500,000 rows waits for 100,000 dead rows; here a vacuum starts after 1 % plus
1,000, unthrottled, and statistics are refreshed after 2 %, so a bulk of new rows does not
leave the planner with the empty table's statistics. SQLite has no such settings.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SETTINGS = {
    "autovacuum_vacuum_scale_factor": "0.01",
    "autovacuum_vacuum_threshold": "1000",
    "autovacuum_vacuum_insert_scale_factor": "0.01",
    "autovacuum_analyze_scale_factor": "0.02",
    "autovacuum_vacuum_cost_delay": "0",
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        assignments = ", ".join(f"{name} = {value}" for name, value in SETTINGS.items())
        op.execute(f"ALTER TABLE deliveries SET ({assignments})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE deliveries RESET ({', '.join(SETTINGS)})")
