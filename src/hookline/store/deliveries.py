"""Deliveries and their attempts: claiming due work, recording outcomes, reading the log."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from http import HTTPStatus

from sqlalchemy import bindparam, func, insert, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ColumnElement, Update

from hookline.domain.webhooks import DeliveryStatus
from hookline.store.notify import notify_new_work
from hookline.store.schema import attempts, deliveries, events, webhooks
from hookline.store.webhooks import cancel_pending

log = logging.getLogger("hookline.store")

# Spelled as a literal, not a bound parameter, so SQLite's planner can match the query to
# the partial index on pending deliveries.
IS_PENDING = deliveries.c.status == literal_column("'pending'")
MAX_PAGE_SIZE = 100
# How many due rows a claim looks at per delivery it may take, so that the per-webhook cap
# can pass over a busy webhook's backlog to reach the others.
CLAIM_SCAN_FACTOR = 4
GONE_REASON = "the endpoint answered 410 Gone"


@dataclass(frozen=True)
class ClaimedDelivery:
    """Everything the sender needs for one attempt."""

    delivery_id: str
    attempt_count: int
    event_id: str
    event_type: str
    payload: bytes
    webhook_id: str
    url: str
    http_method: str
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: float | None
    created_at: float  # when the event was published


@dataclass(frozen=True)
class AttemptOutcome:
    delivery_id: str
    webhook_id: str
    attempt_number: int
    started_at: float
    duration_ms: float
    status_code: int | None
    response_excerpt: str | None
    error: str | None
    new_status: DeliveryStatus
    next_attempt_at: float | None  # set when the delivery goes back to pending

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Attempt:
    attempt_number: int
    started_at: float
    duration_ms: float
    status_code: int | None
    response_excerpt: str | None
    error: str | None


@dataclass(frozen=True)
class DeliveryLog:
    delivery_id: str
    event_id: str
    event_type: str
    webhook_id: str
    status: str
    attempt_count: int
    next_attempt_at: float | None
    created_at: float
    updated_at: float
    attempts: list[Attempt]


@dataclass(frozen=True)
class DeliveryPage:
    data: list[DeliveryLog]
    next_cursor: str | None


class InvalidCursor(ValueError):
    pass


def _build_claim() -> Update:
    """The claim, built once: every value is a bound parameter, so each call only binds."""
    now = bindparam("now")
    candidates = (
        select(deliveries.c.id, deliveries.c.webhook_id, deliveries.c.next_attempt_at)
        .where(
            IS_PENDING,
            deliveries.c.next_attempt_at <= now,
            or_(deliveries.c.locked_until.is_(None), deliveries.c.locked_until < now),
            deliveries.c.webhook_id.not_in(bindparam("skip_webhooks", expanding=True)),
        )
        .order_by(deliveries.c.next_attempt_at)
        .limit(bindparam("scan_limit"))
        .with_for_update(skip_locked=True)
        .subquery("candidates")
    )
    ranked = select(
        candidates.c.id,
        candidates.c.next_attempt_at,
        func.row_number()
        .over(partition_by=candidates.c.webhook_id, order_by=candidates.c.next_attempt_at)
        .label("rank"),
    ).subquery("ranked")
    chosen = (
        select(ranked.c.id)
        .where(ranked.c.rank <= bindparam("per_webhook"))
        .order_by(ranked.c.next_attempt_at)
        .limit(bindparam("limit"))
    )
    return (
        update(deliveries)
        .where(deliveries.c.id.in_(chosen.scalar_subquery()))
        .values(locked_until=bindparam("locked_until"))
        .returning(deliveries.c.id)
    )


CLAIM = _build_claim()
LOAD_CLAIMED = (
    select(
        deliveries.c.id,
        deliveries.c.attempt_count,
        events.c.id,
        events.c.event_type,
        events.c.payload,
        webhooks.c.id,
        webhooks.c.url,
        webhooks.c.http_method,
        webhooks.c.secret,
        webhooks.c.previous_secret,
        webhooks.c.previous_secret_expires_at,
        deliveries.c.created_at,
    )
    .join(events, events.c.id == deliveries.c.event_id)
    .join(webhooks, webhooks.c.id == deliveries.c.webhook_id)
    .where(deliveries.c.id.in_(bindparam("ids", expanding=True)))
)


async def claim_due(
    engine: AsyncEngine,
    limit: int,
    lease_seconds: float,
    per_webhook: int,
    skip_webhooks: Collection[str] = (),
) -> list[ClaimedDelivery]:
    """Lease up to ``limit`` due deliveries to this worker, at most ``per_webhook`` of any
    one webhook and none of ``skip_webhooks`` (those this worker already keeps busy), so a
    slow endpoint's backlog cannot fill the worker. One UPDATE, then one SELECT."""
    now = time.time()
    params = {
        "now": now,
        "skip_webhooks": list(skip_webhooks),
        "scan_limit": limit * CLAIM_SCAN_FACTOR,
        "per_webhook": per_webhook,
        "limit": limit,
        "locked_until": now + lease_seconds,
    }
    async with engine.begin() as conn:
        ids = (await conn.execute(CLAIM, params)).scalars().all()
        if not ids:
            return []
        rows = (await conn.execute(LOAD_CLAIMED, {"ids": ids})).all()
    return [ClaimedDelivery(*row) for row in rows]


async def record_outcomes(
    engine: AsyncEngine, outcomes: Sequence[AttemptOutcome], disable_after_seconds: float
) -> None:
    """Write a batch of attempts, the deliveries' new states and their webhooks' health in
    one transaction, each as one statement.

    A delivery cancelled while its attempt was in flight stays cancelled; the attempt
    itself is still logged. A webhook that answered 410 Gone, or whose attempts have all
    failed for ``disable_after_seconds``, is deactivated with the reason recorded.
    """
    if not outcomes:
        return
    now = time.time()
    attempt_rows = [
        {
            "delivery_id": o.delivery_id,
            "attempt_number": o.attempt_number,
            "started_at": o.started_at,
            "duration_ms": o.duration_ms,
            "status_code": o.status_code,
            "response_excerpt": o.response_excerpt,
            "error": o.error,
        }
        for o in outcomes
    ]
    state_rows = [
        {
            "b_id": o.delivery_id,
            "b_status": o.new_status.value,
            "b_attempt_count": o.attempt_number,
            "b_next_attempt_at": o.next_attempt_at,
        }
        for o in outcomes
    ]
    set_state = (
        update(deliveries)
        .where(deliveries.c.id == bindparam("b_id"), IS_PENDING)
        .values(
            status=bindparam("b_status"),
            attempt_count=bindparam("b_attempt_count"),
            next_attempt_at=bindparam("b_next_attempt_at"),
            locked_until=None,
            updated_at=now,
        )
    )
    healthy = {o.webhook_id for o in outcomes if o.succeeded}
    failing = {o.webhook_id for o in outcomes if not o.succeeded} - healthy
    gone = {o.webhook_id for o in outcomes if o.status_code == HTTPStatus.GONE}
    async with engine.begin() as conn:
        await conn.execute(insert(attempts).values(attempt_rows))
        await conn.execute(set_state, state_rows)
        if healthy:
            await conn.execute(
                update(webhooks)
                .where(webhooks.c.id.in_(healthy), webhooks.c.failing_since.is_not(None))
                .values(failing_since=None)
            )
        if failing:
            await conn.execute(
                update(webhooks)
                .where(webhooks.c.id.in_(failing), webhooks.c.failing_since.is_(None))
                .values(
                    failing_since=min(o.started_at for o in outcomes if o.webhook_id in failing)
                )
            )
            failing_too_long = webhooks.c.id.in_(failing) & (
                webhooks.c.failing_since <= now - disable_after_seconds
            )
            hours = disable_after_seconds / 3600
            reason = f"every delivery attempt failed for {hours:g} hours"
            await _disable(conn, failing_too_long, reason, now)
        if gone:
            await _disable(conn, webhooks.c.id.in_(gone), GONE_REASON, now)


async def _disable(
    conn: AsyncConnection, which: ColumnElement[bool], reason: str, now: float
) -> None:
    disabled = (
        (
            await conn.execute(
                update(webhooks)
                .where(which, webhooks.c.is_active.is_(True))
                .values(is_active=False, disabled_reason=reason, updated_at=now)
                .returning(webhooks.c.id)
            )
        )
        .scalars()
        .all()
    )
    if disabled:
        log.warning("disabled webhooks %s: %s", ", ".join(disabled), reason)
        await cancel_pending(conn, disabled, now)


async def release_claims(engine: AsyncEngine, delivery_ids: Collection[str] | None = None) -> int:
    """Drop leases so other workers may claim the deliveries at once: the given ones (a
    worker stopping before it sent them), or all (a single SQLite process starting up,
    for which every lease left is a dead run's)."""
    query = update(deliveries).where(IS_PENDING, deliveries.c.locked_until.is_not(None))
    if delivery_ids is not None:
        if not delivery_ids:
            return 0
        query = query.where(deliveries.c.id.in_(delivery_ids))
    async with engine.begin() as conn:
        result = await conn.execute(query.values(locked_until=None))
    return result.rowcount


async def next_due_at(engine: AsyncEngine) -> float | None:
    """When the earliest unclaimed pending delivery falls due."""
    query = select(func.min(deliveries.c.next_attempt_at)).where(
        IS_PENDING, deliveries.c.locked_until.is_(None)
    )
    async with engine.connect() as conn:
        return await conn.scalar(query)


def _encode_cursor(created_at: float, delivery_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at!r}|{delivery_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        created_at, delivery_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return float(created_at), delivery_id
    except ValueError:
        raise InvalidCursor("cursor is not one this API returned") from None


async def list_deliveries(
    engine: AsyncEngine,
    webhook_id: str,
    status: DeliveryStatus | None,
    limit: int,
    cursor: str | None,
) -> DeliveryPage:
    """A webhook's deliveries with their attempts, newest first, one page at a time."""
    query = (
        select(deliveries, events.c.event_type)
        .join(events, events.c.id == deliveries.c.event_id)
        .where(deliveries.c.webhook_id == webhook_id)
        .order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc())
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(deliveries.c.status == status.value)
    if cursor is not None:
        created_at, delivery_id = _decode_cursor(cursor)
        query = query.where(
            or_(
                deliveries.c.created_at < created_at,
                (deliveries.c.created_at == created_at) & (deliveries.c.id < delivery_id),
            )
        )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
        page, more = rows[:limit], len(rows) > limit
        attempt_rows = (
            await conn.execute(
                select(attempts)
                .where(attempts.c.delivery_id.in_([r.id for r in page]))
                .order_by(attempts.c.attempt_number.desc(), attempts.c.id.desc())
            )
        ).all()
    by_delivery: dict[str, list[Attempt]] = {}
    for a in attempt_rows:
        by_delivery.setdefault(a.delivery_id, []).append(
            Attempt(
                a.attempt_number,
                a.started_at,
                a.duration_ms,
                a.status_code,
                a.response_excerpt,
                a.error,
            )
        )
    data = [
        DeliveryLog(
            delivery_id=r.id,
            event_id=r.event_id,
            event_type=r.event_type,
            webhook_id=r.webhook_id,
            status=r.status,
            attempt_count=r.attempt_count,
            next_attempt_at=r.next_attempt_at,
            created_at=r.created_at,
            updated_at=r.updated_at,
            attempts=by_delivery.get(r.id, []),
        )
        for r in page
    ]
    next_cursor = _encode_cursor(page[-1].created_at, page[-1].id) if more else None
    return DeliveryPage(data, next_cursor)


@dataclass(frozen=True)
class RedeliverResult:
    found: bool
    webhook_active: bool


async def redeliver(engine: AsyncEngine, workspace_id: str, delivery_id: str) -> RedeliverResult:
    """Queue one more attempt now, whatever the delivery's state, if its webhook is active."""
    now = time.time()
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                select(webhooks.c.is_active)
                .join(deliveries, deliveries.c.webhook_id == webhooks.c.id)
                .where(deliveries.c.id == delivery_id, deliveries.c.workspace_id == workspace_id)
            )
        ).first()
        if row is None:
            return RedeliverResult(found=False, webhook_active=False)
        if not row.is_active:
            return RedeliverResult(found=True, webhook_active=False)
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id)
            .values(
                status=DeliveryStatus.PENDING.value,
                next_attempt_at=now,
                locked_until=None,
                updated_at=now,
            )
        )
        await notify_new_work(conn)
    return RedeliverResult(found=True, webhook_active=True)


async def recover_failed(engine: AsyncEngine, webhook_id: str, since: float) -> int:
    """Queue every failed delivery of the webhook created since ``since`` for one more
    attempt now; how many."""
    now = time.time()
    async with engine.begin() as conn:
        result = await conn.execute(
            update(deliveries)
            .where(
                deliveries.c.webhook_id == webhook_id,
                deliveries.c.status == DeliveryStatus.FAILED.value,
                deliveries.c.created_at >= since,
            )
            .values(
                status=DeliveryStatus.PENDING.value,
                next_attempt_at=now,
                locked_until=None,
                updated_at=now,
            )
        )
        if result.rowcount:
            await notify_new_work(conn)
    return result.rowcount


async def backlog(engine: AsyncEngine, now: float) -> tuple[int, int, float | None]:
    """Pending deliveries, how many of them are due, and when the oldest due one fell due."""
    due = deliveries.c.next_attempt_at <= now
    query = select(
        func.count(),
        func.count().filter(due),
        func.min(deliveries.c.next_attempt_at).filter(due),
    ).where(IS_PENDING)
    async with engine.connect() as conn:
        pending, due_count, oldest = (await conn.execute(query)).one()
    return pending, due_count, oldest


async def status_counts(engine: AsyncEngine, workspace_id: str) -> dict[str, int]:
    """How many of the workspace's deliveries are in each state."""
    query = (
        select(deliveries.c.status, func.count())
        .where(deliveries.c.workspace_id == workspace_id)
        .group_by(deliveries.c.status)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {status.value: 0 for status in DeliveryStatus} | {row[0]: row[1] for row in rows}
