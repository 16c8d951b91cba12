"""The dashboard's pages and forms. Every form carries the session's CSRF token; the
session cookie is HttpOnly and SameSite=Strict; the API key itself never reaches the
browser again after sign-in. Messages shown after a redirect are codes looked up in
NOTICES, never text taken from the URL."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from hookline.api.deps import ServicesDep
from hookline.domain.events import EventType
from hookline.domain.keys import Role
from hookline.domain.webhooks import DeliveryStatus
from hookline.errors import Forbidden, HooklineError, InvalidInput, NotFound, Unauthorized
from hookline.service.sessions import SESSION_SECONDS, UiSession
from hookline.service.webhooks import WebhookDraft
from hookline.text import when

PREFIX = "/ui"
SESSION_COOKIE = "hookline_session"
LOGIN_CSRF_COOKIE = "hookline_login_csrf"
UI_FILES = resources.files("hookline.ui")
# What a page may say after a redirect: ?notice=<code> shows the text, anything else nothing.
NOTICES = {
    "created": "Webhook created",
    "activated": "Webhook activated",
    "deactivated": "Webhook deactivated",
    "rotated": "New secret; the previous one keeps signing for 24 hours",
    "test_sent": "Test event sent",
    "recovered": "Failed deliveries queued again",
    "redelivered": "Redelivery queued",
    "inactive": "Activate the webhook first",
    "bad_since": "Give a date and time to recover from",
}

router = APIRouter(prefix=PREFIX, include_in_schema=False)
templates = Jinja2Templates(directory=str(UI_FILES.joinpath("templates")))
templates.env.filters["when"] = when
static_files = StaticFiles(directory=str(UI_FILES.joinpath("static")))


async def current_session(request: Request, services: ServicesDep) -> UiSession:
    return await services.sessions.find(request.cookies.get(SESSION_COOKIE))


Session = Annotated[UiSession, Depends(current_session)]


async def _form(request: Request, session: UiSession) -> dict[str, str]:
    """The posted form, once its CSRF token matches the session's. Every field is text:
    a file part is refused, not stored as the text of the upload."""
    posted = await request.form()
    form = {key: value for key, value in posted.items() if isinstance(value, str)}
    if not hmac.compare_digest(form.get("csrf_token", "").encode(), session.csrf_token.encode()):
        raise Forbidden("The form expired: go back, reload the page and try again.")
    files = sorted(key for key, value in posted.items() if not isinstance(value, str))
    if files:
        raise InvalidInput.field(files[0], "must be text, not a file")
    return form


async def _page(
    request: Request,
    services: ServicesDep,
    session: UiSession,
    template: str,
    status_code: int = 200,
    **context: Any,
) -> Response:
    operator = session.principal.role is Role.ADMIN
    counts = {} if operator else await services.deliveries.counts(session.principal)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    context = {"session": session, "counts": counts, "notice": notice, "error": None} | context
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def _back(url: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{url}?notice={notice}", status_code=303)


def render_error(request: Request, error: HooklineError) -> Response:
    """The dashboard's one mapping of errors: no session → sign in; others a short page."""
    if isinstance(error, Unauthorized):
        return RedirectResponse(f"{PREFIX}/login", status_code=303)
    if isinstance(error, NotFound | Forbidden):
        return HTMLResponse(error.detail, error.status)
    if error.status >= 500:
        return HTMLResponse("Hookline could not do that just now; try again shortly.", 503)
    return HTMLResponse(error.detail, error.status)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(f"{PREFIX}/static", static_files, name="ui-static")


def _login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    context = {"session": None, "counts": {}, "login_csrf": token, "error": error}
    response = templates.TemplateResponse(request, "login.html", context, status_code=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path=PREFIX)
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request, services: ServicesDep) -> Response:
    form = await request.form()
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    given = str(form.get("csrf_token", ""))
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden("The form expired: go back, reload the page and try again.")
    try:
        token = await services.sessions.open(str(form.get("api_key", "")))
    except Unauthorized:
        return _login_page(request, "That API key is not valid (or was revoked).", 401)
    except Forbidden:
        return _login_page(request, "That key's role cannot use the dashboard.", 403)
    response = _signed_in(request, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


def _signed_in(request: Request, session_token: str) -> RedirectResponse:
    response = RedirectResponse(PREFIX, status_code=303)
    _set_session_cookie(request, response, session_token)
    return response


def _set_session_cookie(request: Request, response: Response, session_token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=PREFIX,
        max_age=SESSION_SECONDS,
    )


@router.post("/logout")
async def logout(request: Request, services: ServicesDep, session: Session) -> Response:
    await _form(request, session)
    await services.sessions.close(request.cookies[SESSION_COOKIE])
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/counts")
async def counts(services: ServicesDep, session: Session) -> Response:
    return JSONResponse(await services.deliveries.counts(session.principal))


async def _webhooks_page(
    request: Request, services: ServicesDep, session: UiSession, error: str | None = None
) -> Response:
    found = await services.webhooks.list(session.principal)
    event_types = [t.value for t in EventType]
    return await _page(
        request, services, session, "webhooks.html", status_code=422 if error else 200,
        webhooks=found, event_types=event_types, error=error,
    )  # fmt: skip


@router.get("")
async def webhooks_page(request: Request, services: ServicesDep, session: Session) -> Response:
    if session.principal.role is Role.ADMIN:
        return RedirectResponse(f"{PREFIX}/operator", status_code=303)
    return await _webhooks_page(request, services, session)


@router.get("/operator")
async def operator_page(request: Request, services: ServicesDep, session: Session) -> Response:
    """The operator's view: every workspace, and the webhooks in trouble across them."""
    workspaces = await services.workspaces.list(session.principal)
    troubled = await services.workspaces.troubled_webhooks(session.principal)
    return await _page(
        request, services, session, "operator.html", workspaces=workspaces, troubled=troubled
    )


@router.get("/portal/{token}")
async def open_portal(request: Request, services: ServicesDep, token: str) -> Response:
    """A portal link: signs this browser into its workspace's dashboard, once."""
    try:
        session_token = await services.sessions.open_portal(token)
    except Unauthorized:
        return HTMLResponse("This link was used already, has expired, or is not one.", 401)
    # The link is opened from another site (an e-mail, the platform's app): a redirect
    # would still count as that site's request, and the SameSite=Strict cookie would not
    # come along. A page of ours that moves on is this site's own navigation.
    page = HTMLResponse(
        f'<!doctype html><meta http-equiv="refresh" content="0;url={PREFIX}">'
        f'<p>Signed in. <a href="{PREFIX}">Continue to the dashboard</a>.</p>'
    )
    _set_session_cookie(request, page, session_token)
    return page


@router.post("/webhooks")
async def create_webhook(request: Request, services: ServicesDep, session: Session) -> Response:
    form = await _form(request, session)
    draft = WebhookDraft(
        posting_id=form.get("posting_id", "").strip(),
        url=form.get("url", "").strip(),
        event_type=form.get("event_type", ""),
        http_method=form.get("http_method", "post"),
        ordering=form.get("ordering", "none"),
    )
    try:
        webhook = await services.webhooks.create(session.principal, draft)
    except InvalidInput as exc:
        return await _webhooks_page(request, services, session, error=f"Not created: {exc}")
    return _back(f"{PREFIX}/webhooks/{webhook.webhook_id}", "created")


@router.get("/webhooks/{webhook_id}")
async def webhook_page(
    request: Request,
    services: ServicesDep,
    session: Session,
    webhook_id: str,
    status: str | None = None,
) -> Response:
    webhook = await services.webhooks.get(session.principal, webhook_id)
    wanted = DeliveryStatus(status) if status in {s.value for s in DeliveryStatus} else None
    page = await services.deliveries.page(session.principal, webhook_id, wanted, limit=50)
    hidden = "activate" if webhook.is_active else "deactivate"
    actions = [(action, label) for action, label in WEBHOOK_ACTIONS.items() if action != hidden]
    return await _page(
        request, services, session, "webhook.html",
        webhook=webhook, deliveries=page.data, status=wanted.value if wanted else None,
        statuses=[s.value for s in DeliveryStatus], actions=actions,
    )  # fmt: skip


WEBHOOK_ACTIONS = {"activate": "Activate", "deactivate": "Deactivate",
                   "rotate": "Rotate secret", "test": "Send test event"}  # fmt: skip


@router.post("/webhooks/{webhook_id}/{action}")
async def webhook_action(
    request: Request, services: ServicesDep, session: Session, webhook_id: str, action: str
) -> Response:
    form = await _form(request, session)
    principal, webhooks = session.principal, services.webhooks
    here = f"{PREFIX}/webhooks/{webhook_id}"
    try:
        if action in ("activate", "deactivate"):
            await webhooks.set_active(principal, webhook_id, active=action == "activate")
            return _back(here, f"{action}d")
        if action == "rotate":
            await webhooks.rotate_secret(principal, webhook_id)
            return _back(here, "rotated")
        if action == "test":
            await webhooks.send_test_event(principal, webhook_id)
            return _back(here, "test_sent")
        if action == "recover":
            try:
                since = datetime.fromisoformat(form.get("since", "")).replace(tzinfo=UTC)
            except ValueError:
                return _back(here, "bad_since")
            try:
                await webhooks.recover_failed(principal, webhook_id, since.timestamp())
            except InvalidInput as exc:  # before 1970: the service's rule for since
                if exc.problems[0].field != "since":
                    raise
                return _back(here, "bad_since")
            return _back(here, "recovered")
    except HooklineError as exc:
        if exc.code == "webhook_inactive":
            return _back(here, "inactive")
        raise
    return HTMLResponse("Unknown action.", 404)


@router.post("/deliveries/{delivery_id}/redeliver")
async def redeliver(
    request: Request, services: ServicesDep, session: Session, delivery_id: str
) -> Response:
    form = await _form(request, session)
    webhook = await services.webhooks.get(session.principal, form.get("webhook_id", ""))
    here = f"{PREFIX}/webhooks/{webhook.webhook_id}"
    try:
        await services.deliveries.redeliver(session.principal, delivery_id)
    except HooklineError as exc:
        if exc.code == "webhook_inactive":
            return _back(here, "inactive")
        raise
    return _back(here, "redelivered")


@router.get("/events")
async def events_page(
    request: Request,
    services: ServicesDep,
    session: Session,
    interview_id: str | None = None,
    posting_id: str | None = None,
) -> Response:
    # A search form's field is trimmed, as the create form's are; an empty one is no filter.
    interview_id = (interview_id or "").strip() or None
    posting_id = (posting_id or "").strip() or None
    found, error = [], None
    try:
        found = await services.events.search(session.principal, interview_id, posting_id)
    except InvalidInput as exc:
        error = f"Not searched: {exc}"
    return await _page(
        request, services, session, "events.html", status_code=422 if error else 200,
        events=found, interview_id=interview_id, posting_id=posting_id, error=error,
    )  # fmt: skip


@router.get("/interviews/{interview_id}")
async def interview_page(
    request: Request, services: ServicesDep, session: Session, interview_id: str
) -> Response:
    found = await services.events.search(session.principal, interview_id=interview_id)
    steps = [
        {"event_type": t.value, "events": [e for e in reversed(found) if e.event_type == t.value]}
        for t in EventType
    ]
    return await _page(
        request, services, session, "interview.html", interview_id=interview_id, steps=steps
    )
