"""The tables. Migrations create them; queries in this package use these definitions."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
AutoIncrementId = BigInteger().with_variant(Integer(), "sqlite")

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    # None for installation-wide keys (admin, or a publisher to every workspace).
    Column("workspace_id", String(40), ForeignKey("workspaces.id")),
    Column("role", String(20), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("label", String(200)),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float),
    Column("revoked_at", Float),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("posting_id", String(200), nullable=False),
    Column("url", Text, nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("http_method", String(8), nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("secret", String(100), nullable=False),
    Column("previous_secret", String(100)),
    Column("previous_secret_expires_at", Float),
    # Set when Hookline deactivated the webhook itself (410 Gone, failing too long).
    Column("disabled_reason", Text),
    # When the current run of failed attempts began; cleared by any success.
    Column("failing_since", Float),
    # "interview": deliveries of one interview go one at a time, in publish order.
    Column("ordering", String(16), nullable=False, server_default="none"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_webhooks_fanout", "workspace_id", "posting_id", "event_type"),
)

events = Table(
    "events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("posting_id", String(200), nullable=False),
    Column("interview_id", String(200), nullable=False),
    # The exact bytes sent as a POST body.
    Column("payload", LargeBinary, nullable=False),
    Column("idempotency_key", String(200)),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("workspace_id", "idempotency_key", name="uq_events_idempotency"),
    Index("ix_events_workspace_created", "workspace_id", "created_at"),
    Index("ix_events_created", "created_at"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("event_id", String(40), ForeignKey("events.id"), nullable=False),
    Column("webhook_id", String(40), ForeignKey("webhooks.id"), nullable=False),
    Column("workspace_id", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempt_count", Integer, nullable=False),
    Column("next_attempt_at", Float),
    Column("locked_until", Float),
    # The interview's id where the webhook keeps per-interview order, else None.
    Column("ordering_key", String(200)),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_deliveries_event", "event_id"),
    Index("ix_deliveries_webhook_created", "webhook_id", "created_at"),
    # Only pending rows are ever claimed: a partial index keeps the claim's scan as small
    # as the backlog of due work, however many finished deliveries the table holds.
    Index(
        "ix_deliveries_due",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    # The claim's look for an earlier pending delivery of the same interview.
    Index(
        "ix_deliveries_ordered_pending",
        "webhook_id",
        "ordering_key",
        "created_at",
        sqlite_where=text("status = 'pending' AND ordering_key IS NOT NULL"),
        postgresql_where=text("status = 'pending' AND ordering_key IS NOT NULL"),
    ),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", AutoIncrementId, primary_key=True, autoincrement=True),
    Column("delivery_id", String(40), ForeignKey("deliveries.id"), nullable=False),
    Column("attempt_number", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("status_code", Integer),
    Column("response_excerpt", Text),
    Column("error", Text),
    Index("ix_attempts_delivery", "delivery_id"),
    Index("ix_attempts_started", "started_at"),
)

# Dashboard sign-ins: the cookie holds a random token, the table only its hash.
ui_sessions = Table(
    "ui_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    # The key signed in with; None for a session opened by a portal link, which names
    # its workspace and role itself.
    Column("key_id", String(40), ForeignKey("api_keys.id")),
    Column("workspace_id", String(40)),
    Column("role", String(20)),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# One-time dashboard sign-in links for a workspace: the URL holds a random token, the
# table only its hash.
portal_links = Table(
    "portal_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float),
)
