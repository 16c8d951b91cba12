"""The delivery worker: claim due deliveries in batches, send them concurrently, and record
the outcomes in batches, the three overlapping rather than taking turns."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Collection
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncEngine

from hookline import metrics, outage
from hookline.config import Settings
from hookline.delivery.retry import honour_retry_after, retry_delay
from hookline.delivery.sender import Sender, SendResult, Sent
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
# Outcomes wait this long for the ones close behind, so a write carries many; the
# receiver has its delivery already, and the lease covers the wait.
RECORD_LINGER_SECONDS = 0.01
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
        claimed_updated_at=delivery.updated_at,
    )


class Finished(NamedTuple):
    """An attempt's outcome waiting to be recorded, and what is needed of its delivery
    after (not the delivery itself: its payload may be large)."""

    created_at: float  # the event's, for the latency metric
    ordered: bool  # the delivery held a place in its interview's line
    outcome: AttemptOutcome


def _count(batch: list[Finished], overtaken: Collection[str]) -> None:
    """The batch's attempts into the metrics: one increment per label, not per attempt.
    A delivery ``overtaken`` (cancelled or redelivered while its attempt was in flight)
    did not finish: its attempt counts, it does not."""
    classes: Counter[str] = Counter()
    finished: Counter[str] = Counter()
    for created_at, _, outcome in batch:
        classes[metrics.status_class(outcome.status_code)] += 1
        if outcome.delivery_id in overtaken:
            continue
        if outcome.new_status is DeliveryStatus.SUCCEEDED:
            finished["succeeded"] += 1
            finished_at = outcome.started_at + outcome.duration_ms / 1000
            metrics.DELIVERY_LATENCY.observe(finished_at - created_at)
        elif outcome.new_status is DeliveryStatus.FAILED:
            finished["failed"] += 1
    for label, count in classes.items():
        metrics.ATTEMPTS.labels(label).inc(count)
    for label, count in finished.items():
        metrics.DELIVERIES_FINISHED.labels(label).inc(count)


class DeliveryWorker:
    """Each claim's deliveries go to the sender, which holds them to the worker's
    concurrency and each webhook's; it hands the finished attempts back in batches, and
    their outcomes gather in a buffer that one task records in batches. No task or future
    per delivery: a hand-back takes one call on the loop for all the attempts it
    carries."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._sender = Sender(
            timeout=settings.delivery_timeout,
            concurrency=settings.worker_concurrency,
            endpoint_concurrency=settings.endpoint_concurrency,
            allow_private_urls=settings.allow_private_urls,
            on_sent=self._sent,
        )
        self._wake = asyncio.Event()
        self._room = asyncio.Event()  # the claim loop may take more
        self._stopping = False
        # Claimed deliveries may run ahead of the sends by one concurrency's worth, so the
        # next sends never wait for a claim, and no claim waits in line longer than two
        # sends' time (well within its lease); a claim waits until it can take a whole
        # concurrency's worth, so claims stay few and large (a claim's cost is mostly per
        # statement: per delivery, batches of 100 cost 20 % less than batches of 50).
        self._most_outstanding = 2 * settings.worker_concurrency
        self._worth_claiming = max(1, min(settings.claim_batch_size, settings.worker_concurrency))
        self._outstanding = 0  # claimed and not yet finished
        self._none_outstanding = asyncio.Event()  # what a stop waits for
        self._none_outstanding.set()
        # Cleared while outcomes cannot be written: no claims meanwhile. SQLite's claims
        # are reads and would go on working through a write outage, and the leases of the
        # sends piling up unrecorded would run out and have them sent again.
        self._recording = asyncio.Event()
        self._recording.set()
        # Claimed but unfinished deliveries per webhook. A claim takes at most
        # endpoint_concurrency of one webhook, and none of a webhook holding more than
        # that already: so a webhook has up to one concurrency's worth waiting behind the
        # one being sent, and the next claim runs while those are sent instead of after
        # them (a claim on PostgreSQL takes as long as sending a concurrency's worth).
        # What waits has one round of sends ahead of it, well within its lease. The sender
        # holds the sends themselves to the limit.
        self._claim_ahead = settings.endpoint_concurrency
        self._per_webhook_claimed: Counter[str] = Counter()
        # A claim that took a webhook's whole share is followed at once by another, for
        # what is due behind that webhook's rows; but not for a poll interval after a
        # claim that passed over busy webhooks came back short (unless new work is
        # stored): it read past their whole backlog, and doing that at every free slot
        # would cost more than the sends.
        self._pass_busy_after = 0.0  # time.monotonic()
        self._outcomes: list[Finished] = []
        self._outcomes_waiting = asyncio.Event()
        self._last_outcomes = False  # stop: record what is buffered, then end
        self._unsent: list[str] = []  # claimed, then not sent because the worker stopped
        self._claim_task: asyncio.Task[None] | None = None
        # The claim running now, in a task of its own: a stop does not cancel it midway
        # (on PostgreSQL it commits by itself), it waits for it and releases what it took.
        self._claim_in_flight: asyncio.Task[list[ClaimedDelivery]] | None = None
        self._record_task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """New work was stored: claim now instead of at the next poll."""
        self._pass_busy_after = 0.0
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
        self._sender.hold()  # nothing more starts; what has not started comes back unsent
        self._wake.set()
        self._room.set()
        if self._claim_task is not None:
            self._claim_task.cancel()
            try:
                await self._claim_task
            except asyncio.CancelledError:
                pass
            except Exception:  # the rest of the stop must still run
                log.exception("the claim loop failed")
        await self._end_claim_in_flight()
        await self._none_outstanding.wait()  # the sends in flight, each within its timeout
        self._last_outcomes = True
        self._outcomes_waiting.set()
        if self._record_task is not None:
            await self._record_task
        try:
            released = await release_claims(self._engine, self._unsent)
        except Exception as exc:
            note_failure("releasing unsent claims (their leases will expire)", exc, log)
        else:
            if released:
                log.info("released %d claimed deliveries not yet sent", released)
        await self._sender.close()

    async def _claim_loop(self) -> None:
        settings = self._settings
        while not self._stopping:
            if not self._recording.is_set():
                await self._recording.wait()
                continue
            free = self._most_outstanding - self._outstanding
            if free < self._worth_claiming and self._outstanding:
                self._room.clear()
                await self._room.wait()
                continue
            self._wake.clear()
            limit = min(settings.claim_batch_size, free)
            busy = [
                webhook_id
                for webhook_id, count in self._per_webhook_claimed.items()
                if count > self._claim_ahead
            ]
            claim = asyncio.create_task(
                claim_due(
                    self._engine,
                    limit,
                    settings.lease_seconds,
                    settings.endpoint_concurrency,
                    busy,
                )
            )
            self._claim_in_flight = claim  # until its result is in this loop's hands
            try:
                claimed = await asyncio.shield(claim)
            except Exception as exc:
                self._claim_in_flight = None
                note_failure("claiming deliveries", exc, log)
                await asyncio.sleep(DATABASE_RETRY_SECONDS)
                continue
            self._claim_in_flight = None
            outage.database.succeeded("claiming deliveries")
            metrics.CLAIMS.inc()
            metrics.CLAIMED.inc(len(claimed))
            if claimed:
                self._outstanding += len(claimed)
                self._none_outstanding.clear()
            per_webhook = self._per_webhook_claimed
            for delivery in claimed:
                per_webhook[delivery.webhook_id] += 1
                self._sender.submit(delivery)
            if len(claimed) == limit:
                continue  # there may be more due right now
            if busy:
                self._pass_busy_after = time.monotonic() + settings.poll_interval
            elif self._filled_a_share(claimed) and time.monotonic() >= self._pass_busy_after:
                continue
            ahead = self._claim_ahead
            await self._sleep_until_due(any(n > ahead for n in per_webhook.values()))

    def _filled_a_share(self, claimed: list[ClaimedDelivery]) -> bool:
        """Whether the claim took all one claim may take of some webhook: what is due
        behind that webhook's rows is for the next claims, which pass over the webhook
        once it holds more than its share."""
        share = self._settings.endpoint_concurrency
        return any(n >= share for n in Counter(d.webhook_id for d in claimed).values())

    async def _end_claim_in_flight(self) -> None:
        """Wait for a claim the stop came in the middle of (at most the database timeout:
        past it, the claim is cancelled and what it may have leased expires); what it
        took goes unsent, so it is released with the rest."""
        claim, self._claim_in_flight = self._claim_in_flight, None
        if claim is None:
            return
        try:
            claimed = await asyncio.wait_for(claim, self._settings.database_timeout)
        except Exception as exc:
            note_failure("claiming deliveries", exc, log)
            return
        self._unsent.extend(delivery.delivery_id for delivery in claimed)

    async def _sleep_until_due(self, skipped_busy: bool) -> None:
        timeout = self._settings.poll_interval
        try:
            due = await next_due_at(self._engine)
        except Exception as exc:
            note_failure("reading the next due time", exc, log)
            due = None
        if due is not None:
            wait = due - time.time()
            if wait <= 0 and skipped_busy:
                # Due now, yet the claim took less than it could: what is due belongs to
                # webhooks this worker keeps busy, and their next free slot wakes it.
                # Claiming again at once would only spin, each claim scanning past the
                # busy webhooks' backlog.
                wait = timeout
            timeout = min(timeout, max(wait, 0.0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def _sent(self, batch: Sent) -> None:
        """On the loop, from the sender: finished attempts, each to the outcomes to record;
        deliveries given back unsent (stopping), each to the claims to release."""
        for delivery, result in batch:
            try:
                if result is None:
                    self._unsent.append(delivery.delivery_id)
                else:
                    self._outcomes.append(self._finish(delivery, result))
            except Exception as exc:
                # Its claim stays leased and expires: the delivery is sent again later.
                log.error("an attempt's outcome could not be taken", exc_info=exc)
            finally:
                self._finished(delivery.webhook_id)
        self._outcomes_waiting.set()

    def _finish(self, delivery: ClaimedDelivery, result: SendResult) -> Finished:
        outcome = outcome_of(delivery, result, self._settings)
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
        return Finished(delivery.created_at, delivery.ordering_key is not None, outcome)

    def _finished(self, webhook_id: str) -> None:
        self._outstanding -= 1
        if not self._outstanding:
            self._none_outstanding.set()
        if self._outstanding <= self._most_outstanding - self._worth_claiming:
            self._room.set()
        claimed = self._per_webhook_claimed
        if claimed[webhook_id] == self._claim_ahead + 1:
            # The webhook was skipped by claims and may take more now. Only then: a
            # claim while it is still past its cap would scan past its whole backlog.
            self._wake.set()
        if claimed[webhook_id] <= 1:
            del claimed[webhook_id]
        else:
            claimed[webhook_id] -= 1

    async def _record_loop(self) -> None:
        while True:
            if not self._outcomes:
                if self._last_outcomes:
                    return
                self._outcomes_waiting.clear()
                await self._outcomes_waiting.wait()
                continue
            if not self._last_outcomes:
                # Linger a moment for the outcomes close behind, so a write carries many.
                await asyncio.sleep(RECORD_LINGER_SECONDS)
            batch = self._outcomes[:RECORD_BATCH_SIZE]
            del self._outcomes[:RECORD_BATCH_SIZE]
            outcomes = [finished.outcome for finished in batch]
            overtaken = await self._record(outcomes)
            _count(batch, set(overtaken))
            # A retry's new due time, an interview's line moved on, or a redelivery queued
            # while its attempt was in flight: claim again.
            if overtaken or any(
                f.ordered or f.outcome.new_status is DeliveryStatus.PENDING for f in batch
            ):
                self._wake.set()

    async def _record(self, batch: list[AttemptOutcome]) -> list[str]:
        """Store a batch; the ids of its deliveries the outcome did not settle (a cancel or
        a redelivery overtook the attempt). While the database is unreachable, keep trying
        (the claims stay leased; if this process dies they expire and the deliveries are
        sent again). A batch the database refuses for its data is split, so one row cannot
        hold up the others; a single row still refused is stored with a placeholder
        instead."""
        while True:
            try:
                overtaken = await record_outcomes(self._engine, batch, self._health(batch))
                outage.database.succeeded("recording outcomes")
                self._recording.set()
                return overtaken
            except DataProblem:
                break
            except Exception as exc:
                self._recording.clear()
                note_failure("recording outcomes", exc, log)
                await asyncio.sleep(DATABASE_RETRY_SECONDS)
        if len(batch) > 1:
            middle = len(batch) // 2
            return await self._record(batch[:middle]) + await self._record(batch[middle:])
        (outcome,) = batch
        log.error("the outcome of delivery %s could not be stored as it was", outcome.delivery_id)
        placeholder = outcome._replace(response_excerpt=None, error=UNSTORABLE_OUTCOME)
        try:
            return await record_outcomes(self._engine, [placeholder], self._health([placeholder]))
        except Exception:
            log.exception("the outcome of delivery %s was dropped", outcome.delivery_id)
            return []

    def _health(self, batch: list[AttemptOutcome]) -> HealthDecision:
        return judge_health(batch, time.time(), self._settings.disable_after_hours * 3600)
