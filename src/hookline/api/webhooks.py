"""``/api/webhook``: the seed document's four calls, exactly, and the extensions."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hookline.api.auth import CurrentPrincipal
from hookline.api.errors import API_ERRORS, error, validation_response
from hookline.delivery.url_safety import UnsafeDestination, check_url
from hookline.domain.events import EventType
from hookline.domain.webhooks import DeliveryStatus, HttpMethod, check_url_shape
from hookline.store import deliveries as delivery_store
from hookline.store import events as event_store
from hookline.store import webhooks as webhook_store
from hookline.store.webhooks import Webhook

router = APIRouter(prefix="/api/webhook", tags=["webhooks"], responses=API_ERRORS)

SEED_WEBHOOK = {
    "webhook_id": "webhook_789",
    "posting_id": "posting_123",
    "url": "https://your-domain.com/webhook-endpoint",
    "event_type": "interview_completed",
    "http_method": "post",
    "is_active": True,
    "created_at": 1703097600.0,
    "updated_at": 1703097600.0,
}


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "posting_id": "posting_123",
                    "url": "https://your-domain.com/webhook-endpoint",
                    "event_type": "interview_completed",
                    "http_method": "post",
                }
            ]
        }
    )

    posting_id: str = Field(min_length=1, max_length=200, description="ID of the job posting")
    url: str = Field(description="The destination URL that will receive the webhook payload")
    event_type: EventType
    http_method: HttpMethod = Field(HttpMethod.POST, description="get or post (default: post)")

    @field_validator("posting_id")
    @classmethod
    def _posting_id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        return check_url_shape(value)

    @field_validator("http_method", mode="before")
    @classmethod
    def _method_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class WebhookOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SEED_WEBHOOK]})

    webhook_id: str
    posting_id: str
    url: str
    event_type: str
    http_method: str
    is_active: bool
    created_at: float
    updated_at: float
    disabled_reason: str | None = Field(
        None, description="Why Hookline deactivated the webhook itself (410 Gone, failing too long)"
    )

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookOut:
        return cls(
            webhook_id=webhook.webhook_id,
            posting_id=webhook.posting_id,
            url=webhook.url,
            event_type=webhook.event_type,
            http_method=webhook.http_method,
            is_active=webhook.is_active,
            created_at=webhook.created_at,
            updated_at=webhook.updated_at,
            disabled_reason=webhook.disabled_reason,
        )


class WebhookCreated(WebhookOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**SEED_WEBHOOK, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]
        }
    )

    secret: str = Field(description="Signing secret; also at GET /api/webhook/secret/{id}")


class SecretOut(BaseModel):
    secret: str
    previous_secret_expires_at: float | None = None


class TestSent(BaseModel):
    event_id: str
    deliveries: int


class AttemptOut(BaseModel):
    attempt_number: int
    started_at: float
    duration_ms: float
    status_code: int | None
    response_excerpt: str | None
    error: str | None


class DeliveryOut(BaseModel):
    delivery_id: str
    event_id: str
    event_type: str
    webhook_id: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: float | None
    created_at: float
    updated_at: float
    attempts: list[AttemptOut]


class DeliveryPageOut(BaseModel):
    data: list[DeliveryOut]
    next_cursor: str | None


class Recovered(BaseModel):
    recovered: int = Field(description="How many failed deliveries were queued again")


class Redelivered(BaseModel):
    delivery_id: str
    status: DeliveryStatus


async def _owned(request: Request, principal: CurrentPrincipal, webhook_id: str) -> Webhook:
    webhook = await webhook_store.get_webhook(
        request.app.state.engine, principal.workspace_id, webhook_id
    )
    if webhook is None:
        raise HTTPException(404, "webhook not found")
    return webhook


@router.post("/create", response_model=WebhookCreated, summary="Create Webhook")
async def create_webhook(request: Request, principal: CurrentPrincipal, body: WebhookCreate):
    if not request.app.state.settings.allow_private_urls:
        try:
            await check_url(body.url)
        except UnsafeDestination as exc:
            return validation_response([{"field": "url", "message": str(exc)}])
    webhook = await webhook_store.create_webhook(
        request.app.state.engine,
        principal.workspace_id,
        body.posting_id,
        body.url,
        body.event_type.value,
        body.http_method,
    )
    return WebhookCreated(**WebhookOut.of(webhook).model_dump(), secret=webhook.secret)


@router.get("/fetch/{webhook_id}", response_model=WebhookOut, summary="Get Webhook")
async def fetch_webhook(request: Request, principal: CurrentPrincipal, webhook_id: str):
    return WebhookOut.of(await _owned(request, principal, webhook_id))


@router.get("/all", response_model=list[WebhookOut], summary="Get All Webhooks")
async def all_webhooks(
    request: Request,
    principal: CurrentPrincipal,
    posting_id: str | None = None,
    event_type: EventType | None = None,
):
    found = await webhook_store.list_webhooks(
        request.app.state.engine,
        principal.workspace_id,
        posting_id,
        event_type.value if event_type else None,
    )
    return [WebhookOut.of(w) for w in found]


async def _set_active(request: Request, principal: CurrentPrincipal, webhook_id: str, active: bool):
    webhook = await webhook_store.set_active(
        request.app.state.engine, principal.workspace_id, webhook_id, active
    )
    if webhook is None:
        raise HTTPException(404, "webhook not found")
    return WebhookOut.of(webhook)


@router.post("/deactivate/{webhook_id}", response_model=WebhookOut, summary="Deactivate Webhook")
async def deactivate_webhook(request: Request, principal: CurrentPrincipal, webhook_id: str):
    """Stops new deliveries and cancels the pending ones."""
    return await _set_active(request, principal, webhook_id, active=False)


@router.post("/activate/{webhook_id}", response_model=WebhookOut, summary="Re-activate Webhook")
async def activate_webhook(request: Request, principal: CurrentPrincipal, webhook_id: str):
    return await _set_active(request, principal, webhook_id, active=True)


@router.get("/secret/{webhook_id}", response_model=SecretOut, summary="Get the signing secret")
async def get_secret(request: Request, principal: CurrentPrincipal, webhook_id: str):
    webhook = await _owned(request, principal, webhook_id)
    expires = webhook.previous_secret_expires_at
    return SecretOut(
        secret=webhook.secret,
        previous_secret_expires_at=expires if expires and expires > time.time() else None,
    )


@router.post("/rotate-secret/{webhook_id}", response_model=SecretOut, summary="Rotate the secret")
async def rotate_secret(request: Request, principal: CurrentPrincipal, webhook_id: str):
    """A new secret signs from now on; the previous one also signs for 24 hours."""
    webhook = await webhook_store.rotate_secret(
        request.app.state.engine, principal.workspace_id, webhook_id
    )
    if webhook is None:
        raise HTTPException(404, "webhook not found")
    return SecretOut(
        secret=webhook.secret, previous_secret_expires_at=webhook.previous_secret_expires_at
    )


@router.post(
    "/test/{webhook_id}",
    response_model=TestSent,
    status_code=202,
    summary="Send a test event",
    responses={409: error("The webhook is deactivated; activate it first")},
)
async def send_test_event(request: Request, principal: CurrentPrincipal, webhook_id: str):
    """Delivers the seed's example payload of the webhook's event type, now."""
    webhook = await _owned(request, principal, webhook_id)
    if not webhook.is_active:
        raise HTTPException(409, "webhook is deactivated; activate it first")
    published = await event_store.publish_test_event(request.app.state.engine, webhook)
    request.app.state.wake_worker()
    return TestSent(event_id=published.event_id, deliveries=published.deliveries)


@router.get("/deliveries/{webhook_id}", response_model=DeliveryPageOut, summary="Delivery log")
async def list_deliveries(
    request: Request,
    principal: CurrentPrincipal,
    webhook_id: str,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=delivery_store.MAX_PAGE_SIZE)] = 20,
    cursor: str | None = None,
):
    """The webhook's deliveries with every attempt, newest first. Pass ``next_cursor`` back
    as ``cursor`` for the next page."""
    await _owned(request, principal, webhook_id)
    try:
        page = await delivery_store.list_deliveries(
            request.app.state.engine, webhook_id, status, limit, cursor
        )
    except delivery_store.InvalidCursor as exc:
        return validation_response([{"field": "cursor", "message": str(exc)}])
    return page


@router.post(
    "/redeliver/{delivery_id}",
    response_model=Redelivered,
    status_code=202,
    summary="Redeliver",
    responses={409: error("The webhook is deactivated; activate it first")},
)
async def redeliver(request: Request, principal: CurrentPrincipal, delivery_id: str):
    """Queue a new attempt of a delivery now, whatever its state."""
    result = await delivery_store.redeliver(
        request.app.state.engine, principal.workspace_id, delivery_id
    )
    if not result.found:
        raise HTTPException(404, "delivery not found")
    if not result.webhook_active:
        raise HTTPException(409, "the delivery's webhook is deactivated; activate it first")
    request.app.state.wake_worker()
    return Redelivered(delivery_id=delivery_id, status=DeliveryStatus.PENDING)


@router.post(
    "/recover/{webhook_id}",
    response_model=Recovered,
    status_code=202,
    summary="Recover failures",
    responses={409: error("The webhook is deactivated; activate it first")},
)
async def recover_failed(
    request: Request,
    principal: CurrentPrincipal,
    webhook_id: str,
    since: Annotated[float, Query(ge=0, description="Unix time: recover failures from then on")],
):
    """Queue every failed delivery created since ``since`` for a new attempt now: after
    re-activating a webhook, this is how an integrator catches up."""
    webhook = await _owned(request, principal, webhook_id)
    if not webhook.is_active:
        raise HTTPException(409, "webhook is deactivated; activate it first")
    count = await delivery_store.recover_failed(request.app.state.engine, webhook_id, since)
    if count:
        request.app.state.wake_worker()
    return Recovered(recovered=count)
