"""The dashboard's pages and forms. Every form carries the session's CSRF token; the
session cookie is HttpOnly and SameSite=Strict; the API key itself never reaches the
browser again after sign-in."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from hookline.delivery.url_safety import UnsafeDestination, check_url
from hookline.domain.events import EventType
from hookline.domain.webhooks import DeliveryStatus, HttpMethod, check_url_shape
from hookline.store import deliveries as delivery_store
from hookline.store import events as event_store
from hookline.store import keys as key_store
from hookline.store import ui_sessions
from hookline.store import webhooks as webhook_store
from hookline.store.ui_sessions import UiSession

SESSION_COOKIE = "hookline_session"
LOGIN_CSRF_COOKIE = "hookline_login_csrf"
UI_FILES = resources.files("hookline.ui")

router = APIRouter(prefix="/ui", include_in_schema=False)
templates = Jinja2Templates(directory=str(UI_FILES.joinpath("templates")))
templates.env.filters["when"] = lambda t: (
    "-" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
)
static_files = StaticFiles(directory=str(UI_FILES.joinpath("static")))


class SignInRequired(Exception):
    pass


class BadCsrfToken(Exception):
    pass


def _engine(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.engine


async def _session(request: Request) -> UiSession:
    token = request.cookies.get(SESSION_COOKIE)
    session = await ui_sessions.find_session(_engine(request), token) if token else None
    if session is None:
        raise SignInRequired
    return session


async def _form(request: Request, session: UiSession) -> dict[str, Any]:
    """The posted form, once its CSRF token matches the session's."""
    form = dict(await request.form())
    if not hmac.compare_digest(str(form.get("csrf_token", "")), session.csrf_token):
        raise BadCsrfToken
    return form


async def _page(request: Request, session: UiSession, template: str, **context: Any) -> Response:
    counts = await delivery_store.status_counts(_engine(request), session.principal.workspace_id)
    context |= {"session": session, "counts": counts, "notice": request.query_params.get("notice")}
    return templates.TemplateResponse(request, template, context)


def _back(url: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{url}?{urlencode({'notice': notice})}", status_code=303)


def install(app) -> None:  # type: ignore[no-untyped-def]
    app.include_router(router)
    app.mount("/ui/static", static_files, name="ui-static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(_request: Request, _exc: SignInRequired) -> Response:
        return RedirectResponse("/ui/login", status_code=303)

    @app.exception_handler(BadCsrfToken)
    async def _bad_token(_request: Request, _exc: BadCsrfToken) -> Response:
        return HTMLResponse("The form expired: go back, reload the page and try again.", 403)


@router.get("/login")
async def login_form(request: Request, error: str | None = None) -> Response:
    token = secrets.token_urlsafe(32)
    context = {"session": None, "counts": {}, "login_csrf": token, "error": error}
    response = templates.TemplateResponse(
        request, "login.html", context, status_code=401 if error else 200
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/ui")
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(str(form.get("csrf_token", "")), expected):
        raise BadCsrfToken
    principal = await key_store.authenticate(_engine(request), str(form.get("api_key", "")))
    if principal is None:
        return await login_form(request, error="That API key is not valid (or was revoked).")
    token, _csrf = await ui_sessions.open_session(_engine(request), principal)
    response = RedirectResponse("/ui", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/ui",
        max_age=ui_sessions.SESSION_SECONDS,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = await _session(request)
    await _form(request, session)
    await ui_sessions.close_session(_engine(request), request.cookies[SESSION_COOKIE])
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response


@router.get("/counts")
async def counts(request: Request) -> Response:
    session = await _session(request)
    found = await delivery_store.status_counts(_engine(request), session.principal.workspace_id)
    return JSONResponse(found)


@router.get("")
async def webhooks_page(request: Request, error: str | None = None) -> Response:
    session = await _session(request)
    found = await webhook_store.list_webhooks(_engine(request), session.principal.workspace_id)
    event_types = [t.value for t in EventType]
    return await _page(
        request, session, "webhooks.html", webhooks=found, event_types=event_types, error=error
    )


@router.post("/webhooks")
async def create_webhook(request: Request) -> Response:
    session = await _session(request)
    form = await _form(request, session)
    posting_id, url = str(form.get("posting_id", "")).strip(), str(form.get("url", "")).strip()
    try:
        event_type = EventType(form.get("event_type"))
        method = HttpMethod(str(form.get("http_method", "post")).lower())
        if not posting_id:
            raise ValueError("Posting ID must not be empty")
        check_url_shape(url)
        if not request.app.state.settings.allow_private_urls:
            await check_url(url)
    except (ValueError, UnsafeDestination) as exc:
        return await webhooks_page(request, error=f"Not created: {exc}")
    webhook = await webhook_store.create_webhook(
        _engine(request), session.principal.workspace_id, posting_id, url, event_type.value, method
    )
    return _back(f"/ui/webhooks/{webhook.webhook_id}", "Webhook created")


WEBHOOK_ACTIONS = {"activate": "Activate", "deactivate": "Deactivate",
                   "rotate": "Rotate secret", "test": "Send test event"}  # fmt: skip


@router.get("/webhooks/{webhook_id}")
async def webhook_page(request: Request, webhook_id: str, status: str | None = None) -> Response:
    session = await _session(request)
    webhook = await webhook_store.get_webhook(
        _engine(request), session.principal.workspace_id, webhook_id
    )
    if webhook is None:
        return HTMLResponse("No such webhook in your workspace.", 404)
    wanted = DeliveryStatus(status) if status in {s.value for s in DeliveryStatus} else None
    page = await delivery_store.list_deliveries(_engine(request), webhook_id, wanted, 50, None)
    actions = [
        (action, label)
        for action, label in WEBHOOK_ACTIONS.items()
        if action != ("deactivate" if not webhook.is_active else "activate")
    ]
    return await _page(
        request,
        session,
        "webhook.html",
        webhook=webhook,
        deliveries=page.data,
        status=wanted.value if wanted else None,
        statuses=[s.value for s in DeliveryStatus],
        actions=actions,
    )


@router.post("/webhooks/{webhook_id}/{action}")
async def webhook_action(request: Request, webhook_id: str, action: str) -> Response:
    session = await _session(request)
    form = await _form(request, session)
    engine, workspace_id = _engine(request), session.principal.workspace_id
    webhook = await webhook_store.get_webhook(engine, workspace_id, webhook_id)
    if webhook is None:
        return HTMLResponse("No such webhook in your workspace.", 404)
    here = f"/ui/webhooks/{webhook_id}"
    if action in ("activate", "deactivate"):
        await webhook_store.set_active(engine, workspace_id, webhook_id, action == "activate")
        return _back(here, f"Webhook {action}d")
    if action == "rotate":
        await webhook_store.rotate_secret(engine, workspace_id, webhook_id)
        return _back(here, "New secret; the previous one keeps signing for 24 hours")
    if action == "test":
        if not webhook.is_active:
            return _back(here, "Activate the webhook first")
        await event_store.publish_test_event(engine, webhook)
        request.app.state.wake_worker()
        return _back(here, "Test event sent")
    if action == "recover":
        try:
            since = datetime.fromisoformat(str(form.get("since"))).replace(tzinfo=UTC)
        except ValueError:
            return _back(here, "Give a date and time to recover from")
        if not webhook.is_active:
            return _back(here, "Activate the webhook first")
        count = await delivery_store.recover_failed(engine, webhook_id, since.timestamp())
        request.app.state.wake_worker()
        return _back(here, f"{count} failed deliveries queued again")
    return HTMLResponse("Unknown action.", 404)


@router.post("/deliveries/{delivery_id}/redeliver")
async def redeliver(request: Request, delivery_id: str) -> Response:
    session = await _session(request)
    form = await _form(request, session)
    result = await delivery_store.redeliver(
        _engine(request), session.principal.workspace_id, delivery_id
    )
    here = f"/ui/webhooks/{form.get('webhook_id', '')}"
    if not result.found:
        return HTMLResponse("No such delivery in your workspace.", 404)
    if not result.webhook_active:
        return _back(here, "Activate the webhook first")
    request.app.state.wake_worker()
    return _back(here, "Redelivery queued")


@router.get("/events")
async def events_page(
    request: Request, interview_id: str | None = None, posting_id: str | None = None
) -> Response:
    session = await _session(request)
    found = await event_store.search_events(
        _engine(request), session.principal.workspace_id, interview_id, posting_id
    )
    return await _page(
        request, session, "events.html", events=found, interview_id=interview_id,
        posting_id=posting_id,
    )  # fmt: skip


@router.get("/interviews/{interview_id}")
async def interview_page(request: Request, interview_id: str) -> Response:
    session = await _session(request)
    found = await event_store.search_events(
        _engine(request), session.principal.workspace_id, interview_id=interview_id
    )
    steps = [
        {"event_type": t.value, "events": [e for e in reversed(found) if e.event_type == t.value]}
        for t in EventType
    ]
    return await _page(request, session, "interview.html", interview_id=interview_id, steps=steps)
