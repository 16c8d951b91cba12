"""``/api/admin``: the operator's API (admin keys only): workspaces, their keys, portal
links."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from hookline.api.deps import Admin, ServicesDep
from hookline.api.errors import API_ERRORS, error
from hookline.api.strict_json import StrictJsonRoute
from hookline.domain.keys import Role
from hookline.service.workspaces import MAX_PORTAL_TTL_SECONDS, ApiKeyInfo

TTL_HELP = f"Seconds it stays valid: 900 by default, at most {MAX_PORTAL_TTL_SECONDS:g}"
TTL_HELP = f"Seconds it stays valid: 900 by default, at most {MAX_PORTAL_TTL_SECONDS:g}"
router = APIRouter(
    prefix="/api/admin", tags=["admin"], responses=API_ERRORS, route_class=StrictJsonRoute
)


class WorkspaceCreate(BaseModel):
    name: str = Field(description='Letters, digits, ".", "_" and "-"; at most 100')


class WorkspaceOut(BaseModel):
    name: str
    created_at: float


class WorkspaceSummaryOut(WorkspaceOut):
    webhooks: int = Field(description="How many webhooks it has")
    keys: int = Field(description="How many API keys it has, not revoked")


class KeyCreate(BaseModel):
    role: Literal["integrator", "publisher"]
    label: str | None = Field(None, description="What the key is for, like `crm`")


class KeyOut(BaseModel):
    key_id: str
    role: str
    label: str | None
    created_at: float
    last_used_at: float | None = Field(description="To the minute")
    revoked_at: float | None

    @classmethod
    def of(cls, info: ApiKeyInfo) -> KeyOut:
        return cls(
            key_id=info.key_id, role=info.role.value, label=info.label,
            created_at=info.created_at, last_used_at=info.last_used_at,
            revoked_at=info.revoked_at,
        )  # fmt: skip


class KeyCreated(BaseModel):
    key_id: str
    key: str = Field(description="The key itself: shown this once, stored only as a hash")
    role: str
    workspace: str
    label: str | None
    created_at: float


class KeyRevoked(BaseModel):
    key_id: str
    revoked_at: float


class PortalLinkOut(BaseModel):
    url: str = Field(description="Opening it signs that browser into the workspace's dashboard")
    expires_at: float


@router.post(
    "/workspaces",
    status_code=201,
    summary="Create a workspace",
    responses={409: error("A workspace of that name exists")},
)
async def create_workspace(
    services: ServicesDep, principal: Admin, body: WorkspaceCreate
) -> WorkspaceOut:
    created = await services.workspaces.create(principal, body.name)
    return WorkspaceOut(name=created.name, created_at=created.created_at)


@router.get("/workspaces", summary="Every workspace, with counts")
async def list_workspaces(services: ServicesDep, principal: Admin) -> list[WorkspaceSummaryOut]:
    found = await services.workspaces.list(principal)
    return [WorkspaceSummaryOut.model_validate(w, from_attributes=True) for w in found]


@router.post("/workspaces/{name}/keys", status_code=201, summary="Issue an API key")
async def issue_key(
    services: ServicesDep, principal: Admin, name: str, body: KeyCreate
) -> KeyCreated:
    created = await services.workspaces.issue_key(principal, name, Role(body.role), body.label)
    info = created.info
    return KeyCreated(
        key_id=info.key_id, key=created.key, role=info.role.value, workspace=name,
        label=info.label, created_at=info.created_at,
    )  # fmt: skip


@router.get("/workspaces/{name}/keys", summary="A workspace's keys (never the keys)")
async def list_keys(services: ServicesDep, principal: Admin, name: str) -> list[KeyOut]:
    return [KeyOut.of(info) for info in await services.workspaces.keys(principal, name)]


@router.post("/keys/{key_id}/revoke", summary="Revoke a key")
async def revoke_key(services: ServicesDep, principal: Admin, key_id: str) -> KeyRevoked:
    """The key is refused (401) from the next request on."""
    revoked_at = await services.workspaces.revoke_key(principal, key_id)
    return KeyRevoked(key_id=key_id, revoked_at=revoked_at)


@router.post("/workspaces/{name}/portal-link", status_code=201, summary="A one-time dashboard link")
async def portal_link(
    request: Request,
    services: ServicesDep,
    principal: Admin,
    name: str,
    ttl: Annotated[float | None, Query(description=TTL_HELP)] = None,
) -> PortalLinkOut:
    """Opening the URL signs that browser into the workspace's dashboard as an
    integrator, once; the link then stops working."""
    base = services.settings.public_url or str(request.base_url)
    link = await services.workspaces.portal_link(principal, name, base, ttl)
    return PortalLinkOut(url=link.url, expires_at=link.expires_at)
