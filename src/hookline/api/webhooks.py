"""``/api/webhook``: the seed document's four calls, exactly, and the extensions."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hookline.api.deps import Integrator, ServicesDep
from hookline.api.errors import API_ERRORS, error
from hookline.api.strict_json import StrictJsonRoute
from hookline.domain.events import WILDCARD, EventType
from hookline.domain.inputs import MAX_ID_LENGTH
from hookline.domain.webhooks import DeliveryStatus, HttpMethod, Ordering
from hookline.service.deliveries import MAX_PAGE_SIZE
from hookline.service.webhooks import Webhook, WebhookDraft

router = APIRouter(
    prefix="/api/webhook", tags=["webhooks"], responses=API_ERRORS, route_class=StrictJsonRoute
)
SUBSCRIBABLE_TYPES = [*(t.value for t in EventType), WILDCARD]
INACTIVE = {409: error("The webhook is deactivated; activate it first")}

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

    # The service checks every rule; the bounds here document them.
    posting_id: str = Field(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        description='ID of the job posting, or "*" for every posting of the workspace',
    )
    url: str = Field(description="The destination URL that will receive the webhook payload")
    # A plain string, checked by the service, so a wrong one gets one clear message.
    event_type: str = Field(
        description='The event type, or "*" for every one (operational events included)',
        json_schema_extra={"enum": SUBSCRIBABLE_TYPES},
    )
    http_method: HttpMethod = Field(HttpMethod.POST, description="get or post (default: post)")
    ordering: Ordering = Field(
        Ordering.NONE,
        description='"interview": deliveries of one interview go one at a time, in publish '
        "order (a failing one holds back the later ones of its interview)",
    )

    def draft(self) -> WebhookDraft:
        return WebhookDraft(
            self.posting_id, self.url, self.event_type, self.http_method, self.ordering
        )

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
    ordering: Ordering = Field(Ordering.NONE, description='"none" or "interview"')

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
            ordering=Ordering(webhook.ordering),
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

    @classmethod
    def of(cls, webhook: Webhook) -> SecretOut:
        expires = webhook.previous_secret_expires_at
        return cls(
            secret=webhook.secret,
            previous_secret_expires_at=expires if expires and expires > time.time() else None,
        )


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


@router.post("/create", summary="Create Webhook")
async def create_webhook(
    services: ServicesDep, principal: Integrator, body: WebhookCreate
) -> WebhookCreated:
    webhook = await services.webhooks.create(principal, body.draft())
    return WebhookCreated(**WebhookOut.of(webhook).model_dump(), secret=webhook.secret)


@router.get("/fetch/{webhook_id}", summary="Get Webhook")
async def fetch_webhook(
    services: ServicesDep, principal: Integrator, webhook_id: str
) -> WebhookOut:
    return WebhookOut.of(await services.webhooks.get(principal, webhook_id))


@router.get("/all", summary="Get All Webhooks")
async def all_webhooks(
    services: ServicesDep,
    principal: Integrator,
    posting_id: str | None = None,
    event_type: Annotated[str | None, Query(json_schema_extra={"enum": SUBSCRIBABLE_TYPES})] = None,
) -> list[WebhookOut]:
    found = await services.webhooks.list(principal, posting_id, event_type)
    return [WebhookOut.of(w) for w in found]


@router.post("/deactivate/{webhook_id}", summary="Deactivate Webhook")
async def deactivate_webhook(
    services: ServicesDep, principal: Integrator, webhook_id: str
) -> WebhookOut:
    """Stops new deliveries and cancels the pending ones."""
    return WebhookOut.of(await services.webhooks.set_active(principal, webhook_id, active=False))


@router.post("/activate/{webhook_id}", summary="Re-activate Webhook")
async def activate_webhook(
    services: ServicesDep, principal: Integrator, webhook_id: str
) -> WebhookOut:
    return WebhookOut.of(await services.webhooks.set_active(principal, webhook_id, active=True))


@router.get("/secret/{webhook_id}", summary="Get the signing secret")
async def get_secret(services: ServicesDep, principal: Integrator, webhook_id: str) -> SecretOut:
    return SecretOut.of(await services.webhooks.get(principal, webhook_id))


@router.post("/rotate-secret/{webhook_id}", summary="Rotate the secret")
async def rotate_secret(services: ServicesDep, principal: Integrator, webhook_id: str) -> SecretOut:
    """A new secret signs from now on; the previous one also signs for 24 hours."""
    return SecretOut.of(await services.webhooks.rotate_secret(principal, webhook_id))


@router.post("/test/{webhook_id}", status_code=202, summary="Send a test event", responses=INACTIVE)
async def send_test_event(
    services: ServicesDep, principal: Integrator, webhook_id: str
) -> TestSent:
    """Delivers the seed's example payload of the webhook's event type, now."""
    published = await services.webhooks.send_test_event(principal, webhook_id)
    return TestSent(event_id=published.event_id, deliveries=published.deliveries)


@router.get("/deliveries/{webhook_id}", summary="Delivery log")
async def list_deliveries(
    services: ServicesDep,
    principal: Integrator,
    webhook_id: str,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    cursor: str | None = None,
) -> DeliveryPageOut:
    """The webhook's deliveries with every attempt, newest first. Pass ``next_cursor`` back
    as ``cursor`` for the next page."""
    page = await services.deliveries.page(principal, webhook_id, status, limit, cursor)
    return DeliveryPageOut.model_validate(page, from_attributes=True)


@router.post("/redeliver/{delivery_id}", status_code=202, summary="Redeliver", responses=INACTIVE)
async def redeliver(services: ServicesDep, principal: Integrator, delivery_id: str) -> Redelivered:
    """Queue a new attempt of a delivery now, whatever its state."""
    await services.deliveries.redeliver(principal, delivery_id)
    return Redelivered(delivery_id=delivery_id, status=DeliveryStatus.PENDING)


@router.post(
    "/recover/{webhook_id}", status_code=202, summary="Recover failures", responses=INACTIVE
)
async def recover_failed(
    services: ServicesDep,
    principal: Integrator,
    webhook_id: str,
    since: Annotated[
        float,
        Query(ge=0, allow_inf_nan=False, description="Unix time: recover failures from then on"),
    ],
) -> Recovered:
    """Queue every failed delivery created since ``since`` for a new attempt now: after
    re-activating a webhook, this is how an integrator catches up."""
    return Recovered(recovered=await services.webhooks.recover_failed(principal, webhook_id, since))
