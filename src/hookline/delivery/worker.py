"""The delivery worker: claim due deliveries in batches, send them concurrently, and record
the outcomes in batches, the three overlapping rather than taking turns."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import Counter, defaultdict

from sqlalchemy.ext.asyncio import AsyncEngine

from hookline import metrics, outage
from hookline.config import Settings
from hookline.delivery.retry import honour_retry_after, retry_delay
from hookline.delivery.sender import Sender, SendResult
from hookline.domain.attempts import (
    AttemptOutcome,
    HealthDecision,
    is_success,
    judge_health,
    storable_text,
)
from hookline.domain.webhooks import DeliveryStatus
from hookline.store.faults import note_failure
from hookline.store.queue import (
    ClaimedDelivery,
    DataProblem,
    claim_due,
    next_due_at,
    record_outcomes,
    release_claims,
)

log = logging.getLogger("hookline.worker")
RECORD_BATCH_SIZE = 500
RECORD_LINGER_SECONDS = 0.005
DATABASE_RETRY_SECONDS = 1.0
UNSTORABLE_OUTCOME = "the attempt's reply or error could not be stored"


def outcome_of(delivery: ClaimedDelivery, result: SendResult, settings: Settings) -> AttemptOutcome:
    attempt_number = delivery.attempt_count + 1
    next_attempt_at = None
    if is_success(result.status_code):
        status = DeliveryStatus.SUCCEEDED
    else:
        delay = retry_delay(settings.retry_schedule, attempt_number, settings.retry_jitter)
        if delay is None:
            status = DeliveryStatus.FAILED
        else:
            status = DeliveryStatus.PENDING
            delay = honour_retry_after(delay, result.retry_after)
            next_attempt_at = result.started_at + result.duration_ms / 1000 + delay
    return AttemptOutcome(
        delivery_id=delivery.delivery_id,
        webhook_id=delivery.webhook_id,
        event_type=delivery.event_type,
        attempt_number=attempt_number,
        started_at=result.started_at,
        duration_ms=result.duration_ms,
        status_code=result.status_code,
        response_excerpt=storable_text(result.response_excerpt),
        error=storable_text(result.error),
        new_status=status,
        next_attempt_at=next_attempt_at,
    )


def _count(delivery: ClaimedDelivery, outcome: AttemptOutcome) -> None:
    metrics.ATTEMPTS.labels(metrics.status_class(outcome.status_code)).inc()
    if outcome.new_status is DeliveryStatus.SUCCEEDED:
        metrics.DELIVERIES_FINISHED.labels("succeeded").inc()
        finished_at = outcome.started_at + outcome.duration_ms / 1000
        metrics.DELIVERY_LATENCY.observe(finished_at - delivery.created_at)
    elif outcome.new_status is DeliveryStatus.FAILED:
        metrics.DELIVERIES_FINISHED.labels("failed").inc()


class DeliveryWorker:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._sender = Sender(
            timeout=settings.delivery_timeout,
            max_connections=settings.worker_concurrency,
            allow_private_urls=settings.allow_private_urls,
        )
        self._send_slots = asyncio.Semaphore(settings.worker_concurrency)
        self._wake = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._stopping = False
        self._in_flight: set[asyncio.Task[None]] = set()
        # Claimed but unfinished deliveries per webhook. Claims never take more than
        # endpoint_concurrency of one webhook, nor any of a webhook already at it; the
        # semaphores hold the sends themselves to the limit.
        self._per_webhook_claimed: Counter[str] = Counter()
        self._per_webhook: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.endpoint_concurrency)
        )
        self._outcomes: asyncio.Queue[AttemptOutcome] = asyncio.Queue()
        self._unsent: list[str] = []  # claimed, then not sent because the worker stopped
        self._claim_task: asyncio.Task[None] | None = None
        self._record_task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """New work was stored: claim now instead of at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        await self._sender.start()
        self._record_task = asyncio.create_task(self._record_loop(), name="hookline-record")
        self._claim_task = asyncio.create_task(self._claim_loop(), name="hookline-claim")

    async def stop(self) -> None:
        """Stop claiming, let in-flight attempts finish (each bounded by the timeout),
        record their outcomes and release the claims not yet sent, so that nothing is left
        locked."""
        self._stopping = True
        self._wake.set()
        self._slot_freed.set()
        if self._claim_task is not None:
            self._claim_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._claim_task
        if self._in_flight:
            await asyncio.wait(self._in_flight)
        await self._outcomes.join()
        try:
            released = await release_claims(self._engine, self._unsent)
        except Exception as exc:
            note_failure("releasing unsent claims (their leases will expire)", exc, log)
        else:
            if released:
                log.info("released %d claimed deliveries not yet sent", released)
        if self._record_task is not None:
            self._record_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._record_task
        await self._sender.close()

    async def _claim_loop(self) -> None:
        settings = self._settings
        # Claimed deliveries may run ahead of the sends by one concurrency's worth, so the
        # next sends never wait for a claim; and a claim waits until it can take a good
        # batch, so claims stay few and large.
        most_outstanding = 2 * settings.worker_concurrency
        worth_claiming = max(1, min(settings.claim_batch_size, settings.worker_concurrency // 2))
        while not self._stopping:
            free = most_outstanding - len(self._in_flight)
            if free < worth_claiming and self._in_flight:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            self._wake.clear()
            limit = min(settings.claim_batch_size, free)
            busy = [
                webhook_id
                for webhook_id, count in self._per_webhook_claimed.items()
                if count >= settings.endpoint_concurrency
            ]
            try:
                claimed = await claim_due(
                    self._engine,
                    limit,
                    settings.lease_seconds,
                    settings.endpoint_concurrency,
                    busy,
                )
            except Exception as exc:
                note_failure("claiming deliveries", exc, log)
                await asyncio.sleep(DATABASE_RETRY_SECONDS)
                continue
            outage.database.succeeded("claiming deliveries")
            metrics.CLAIMS.inc()
            metrics.CLAIMED.inc(len(claimed))
            for delivery in claimed:
                self._per_webhook_claimed[delivery.webhook_id] += 1
                task = asyncio.create_task(self._deliver(delivery))
                self._in_flight.add(task)
                task.add_done_callback(self._finished)
            if len(claimed) == limit:
                continue  # there may be more due right now
            await self._sleep_until_due()

    async def _sleep_until_due(self) -> None:
        timeout = self._settings.poll_interval
        try:
            due = await next_due_at(self._engine)
        except Exception as exc:
            note_failure("reading the next due time", exc, log)
            due = None
        if due is not None:
            timeout = min(timeout, max(due - time.time(), 0.0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slot_freed.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed", exc_info=task.exception())

    async def _deliver(self, delivery: ClaimedDelivery) -> None:
        try:
            async with self._per_webhook[delivery.webhook_id], self._send_slots:
                if self._stopping:
                    self._unsent.append(delivery.delivery_id)
                    return
                result = await self._send(delivery)
        finally:
            self._release_webhook_slot(delivery.webhook_id)
        outcome = outcome_of(delivery, result, self._settings)
        _count(delivery, outcome)
        if log.isEnabledFor(logging.INFO):  # the hot path skips building the record
            log.info(
                "attempt %d of delivery %s (event %s, webhook %s): %s",
                outcome.attempt_number,
                delivery.delivery_id,
                delivery.event_id,
                delivery.webhook_id,
                result.status_code if result.error is None else result.error,
                extra={
                    "delivery_id": delivery.delivery_id,
                    "event_id": delivery.event_id,
                    "webhook_id": delivery.webhook_id,
                },
            )
        self._outcomes.put_nowait(outcome)

    async def _send(self, delivery: ClaimedDelivery) -> SendResult:
        """The attempt's result, whatever happens: a fault while building, signing or
        sending this one delivery becomes its failed attempt, never a stuck claim."""
        started_at = time.time()
        try:
            return await self._sender.send(delivery)
        except Exception as exc:
            log.warning(
                "delivery %s could not be sent: %s",
                delivery.delivery_id,
                type(exc).__name__,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            duration_ms = (time.time() - started_at) * 1000
            return SendResult(
                started_at, duration_ms, None, None, f"could not send: {type(exc).__name__}: {exc}"
            )

    def _release_webhook_slot(self, webhook_id: str) -> None:
        if self._per_webhook_claimed[webhook_id] >= self._settings.endpoint_concurrency:
            self._wake.set()  # the webhook was skipped by claims; it may take more now
        self._per_webhook_claimed[webhook_id] -= 1
        if self._per_webhook_claimed[webhook_id] <= 0:
            del self._per_webhook_claimed[webhook_id]
            self._per_webhook.pop(webhook_id, None)

    async def _record_loop(self) -> None:
        while True:
            batch = [await self._outcomes.get()]
            # Linger a moment for the outcomes close behind, so a write carries many.
            await asyncio.sleep(RECORD_LINGER_SECONDS)
            while len(batch) < RECORD_BATCH_SIZE and not self._outcomes.empty():
                batch.append(self._outcomes.get_nowait())
            await self._record(batch)
            for _ in batch:
                self._outcomes.task_done()
            if any(o.new_status is DeliveryStatus.PENDING for o in batch):
                self._wake.set()

    async def _record(self, batch: list[AttemptOutcome]) -> None:
        """Store a batch. While the database is unreachable, keep trying (the claims stay
        leased; if this process dies they expire and the deliveries are sent again). A
        batch the database refuses for its data is split, so one row cannot hold up the
        others; a single row still refused is stored with a placeholder instead."""
        while True:
            try:
                await record_outcomes(self._engine, batch, self._health(batch))
                outage.database.succeeded("recording outcomes")
                return
            except DataProblem:
                break
            except Exception as exc:
                note_failure("recording outcomes", exc, log)
                await asyncio.sleep(DATABASE_RETRY_SECONDS)
        if len(batch) > 1:
            middle = len(batch) // 2
            await self._record(batch[:middle])
            await self._record(batch[middle:])
            return
        (outcome,) = batch
        log.error("the outcome of delivery %s could not be stored as it was", outcome.delivery_id)
        placeholder = dataclasses.replace(outcome, response_excerpt=None, error=UNSTORABLE_OUTCOME)
        try:
            await record_outcomes(self._engine, [placeholder], self._health([placeholder]))
        except Exception:
            log.exception("the outcome of delivery %s was dropped", outcome.delivery_id)

    def _health(self, batch: list[AttemptOutcome]) -> HealthDecision:
        return judge_health(batch, time.time(), self._settings.disable_after_hours * 3600)
