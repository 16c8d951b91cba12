"""a platform for many customers: installation-wide keys with labels, portal links,
dashboard sessions without a key, per-interview ordering

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # Installation-wide keys (admin, publisher) belong to no workspace.
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.alter_column("workspace_id", existing_type=sa.String(40), nullable=True)
        batch_op.add_column(sa.Column("label", sa.String(200), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", sa.Float(), nullable=True))
    # A portal link opens a session for a workspace without any key. Sessions now name
    # their workspace and role: earlier ones are ended (their users sign in again).
    op.execute("DELETE FROM ui_sessions")
    with op.batch_alter_table("ui_sessions", schema=None) as batch_op:
        batch_op.alter_column("key_id", existing_type=sa.String(40), nullable=True)
        batch_op.add_column(sa.Column("workspace_id", sa.String(40), nullable=True))
        batch_op.add_column(sa.Column("role", sa.String(20), nullable=True))
    op.create_table(
        "portal_links",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=True),
    )
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ordering", sa.String(16), nullable=False, server_default="none")
        )
    # Set at fan-out for webhooks that keep per-interview order: the interview's id.
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ordering_key", sa.String(200), nullable=True))
    op.create_index(
        "ix_deliveries_ordered_pending",
        "deliveries",
        ["webhook_id", "ordering_key", "created_at"],
        sqlite_where=sa.text("status = 'pending' AND ordering_key IS NOT NULL"),
        postgresql_where=sa.text("status = 'pending' AND ordering_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_ordered_pending", table_name="deliveries")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("ordering_key")
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_column("ordering")
    op.drop_table("portal_links")
    with op.batch_alter_table("ui_sessions", schema=None) as batch_op:
        batch_op.drop_column("role")
        batch_op.drop_column("workspace_id")
        batch_op.alter_column("key_id", existing_type=sa.String(40), nullable=False)
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("label")
        batch_op.alter_column("workspace_id", existing_type=sa.String(40), nullable=False)
