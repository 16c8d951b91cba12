"""The dashboard, driven in headless Chromium: sign in, create a webhook, watch a delivery
arrive, redeliver it, sign out; a wrong key is refused; forms need their CSRF token."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import seed_example
from tests.support.receiver import Receiver, Reply
from tests.support.server import HooklineServer
from tests.support.workspace import Workspace

# Set HOOKLINE_SCREENSHOTS=docs/screenshots to refresh the README's pictures.
SCREENSHOTS = os.environ.get("HOOKLINE_SCREENSHOTS")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    yield context.new_page()
    context.close()


def shoot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def sign_in(page: Page, server: HooklineServer, key: str) -> None:
    page.goto(f"{server.base_url}/ui")
    expect(page).to_have_url(re.compile(r"/ui/login$"))
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_dashboard_journey(
    page: Page, server: HooklineServer, acme: Workspace, receiver: Receiver, path: str,
    posting_id: str,
) -> None:  # fmt: skip
    page.goto(f"{server.base_url}/ui/login")
    shoot(page, "0-sign-in")
    sign_in(page, server, acme.integrator.headers["X-API-KEY"])
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "hookline_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    page.get_by_label("Posting ID").fill(posting_id)
    page.get_by_label("URL").fill(receiver.url(path))
    page.get_by_label("Event type").select_option("interview_started")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_have_text("Webhook created")
    webhook_id = page.url.split("?")[0].rsplit("/", 1)[1]

    payload = seed_example("interview_started") | {"posting_id": posting_id}
    assert acme.publish("interview_started", payload).status_code == 202
    receiver.wait_for(path)
    # No reload: the page's live section shows the delivery as it happens.
    expect(page.locator(".delivery .pill.succeeded")).to_be_visible(timeout=10_000)
    expect(page.locator(".delivery table tbody tr").first).to_contain_text("200")
    shoot(page, "2-webhook-deliveries")

    page.locator(".delivery").first.get_by_role("button", name="Redeliver").click()
    expect(page.get_by_role("status")).to_have_text("Redelivery queued")
    receiver.wait_for(path, 2)

    page.goto(f"{server.base_url}/ui")
    expect(page.get_by_role("link", name=webhook_id)).to_be_visible()
    shoot(page, "1-webhooks")
    page.goto(f"{server.base_url}/ui/events?posting_id={posting_id}")
    expect(page.locator("tbody tr")).to_have_count(1)
    shoot(page, "3-events")
    page.get_by_role("link", name=payload["interview_id"]).first.click()
    expect(page.locator(".timeline li.done")).to_have_count(1)
    shoot(page, "4-interview-timeline")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/ui/login$"))
    page.goto(f"{server.base_url}/ui")
    expect(page).to_have_url(re.compile(r"/ui/login$"))


def test_wrong_key_is_refused(page: Page, server: HooklineServer) -> None:
    sign_in(page, server, "hl_not-a-real-key")
    expect(page.get_by_role("alert")).to_have_text("That API key is not valid (or was revoked).")
    expect(page).to_have_url(re.compile(r"/ui/login$"))
    assert not [c for c in page.context.cookies() if c["name"] == "hookline_session"]


def test_forms_need_the_csrf_token(page: Page, server: HooklineServer, acme: Workspace) -> None:
    sign_in(page, server, acme.integrator.headers["X-API-KEY"])
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    session = next(c for c in page.context.cookies() if c["name"] == "hookline_session")
    forged = httpx.post(
        f"{server.base_url}/ui/webhooks",
        data={"posting_id": "p", "url": "http://127.0.0.1:9/x", "event_type": "interview_started"},
        cookies={"hookline_session": session["value"]},
    )
    assert forged.status_code == 403


def test_a_refused_form_is_a_4xx_and_a_file_part_is_not_text(
    page: Page, server: HooklineServer, acme: Workspace, posting_id: str
) -> None:
    sign_in(page, server, acme.integrator.headers["X-API-KEY"])
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    session = next(c for c in page.context.cookies() if c["name"] == "hookline_session")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    fields = {"url": "https://example.com/h", "event_type": "interview_started"}
    fields |= {"csrf_token": token or ""}
    cookies = {"hookline_session": session["value"]}
    as_file = httpx.post(
        f"{server.base_url}/ui/webhooks",
        data=fields,
        files={"posting_id": ("name.txt", posting_id.encode())},
        cookies=cookies,
    )
    assert as_file.status_code == 422, as_file.text
    assert "must be text, not a file" in as_file.text
    refused = httpx.post(
        f"{server.base_url}/ui/webhooks", data=fields | {"posting_id": "  "}, cookies=cookies
    )
    assert refused.status_code == 422
    assert "must not be blank" in refused.text
    created = httpx.post(
        f"{server.base_url}/ui/webhooks", data=fields | {"posting_id": posting_id}, cookies=cookies
    )
    assert created.status_code == 303
    listed = acme.integrator.get("/api/webhook/all", params={"posting_id": posting_id}).json()
    assert [w["url"] for w in listed] == ["https://example.com/h"]
    # A recovery from before 1970 is the form's notice, not an error page.
    recover = httpx.post(
        f"{server.base_url}/ui/webhooks/{listed[0]['webhook_id']}/recover",
        data={"csrf_token": token or "", "since": "0001-01-01T00:00"},
        cookies=cookies,
    )
    assert recover.status_code == 303
    assert recover.headers["location"].endswith("notice=bad_since")


def test_the_events_search_trims_its_fields_and_shows_a_refusal_on_its_page(
    page: Page, server: HooklineServer, acme: Workspace
) -> None:
    sign_in(page, server, acme.integrator.headers["X-API-KEY"])
    page.goto(f"{server.base_url}/ui/events?interview_id=%20%20&posting_id=")
    expect(page.get_by_role("heading", name="Events")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    refused = page.goto(f"{server.base_url}/ui/events?interview_id={'i' * 201}")
    assert refused is not None and refused.status == 422
    expect(page.get_by_role("alert")).to_contain_text("interview_id: must be at most 200")
    expect(page.get_by_label("Interview ID")).to_be_visible()  # the search form is still there


def test_phone_sized_screen(browser: Browser, server: HooklineServer, acme: Workspace) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in(page, server, acme.integrator.headers["X-API-KEY"])
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    # Nothing wider than the screen but the tables, which scroll inside their box.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    shoot(page, "5-phone")
    context.close()


def test_a_publisher_key_cannot_sign_in(
    page: Page, server: HooklineServer, acme: Workspace
) -> None:
    sign_in(page, server, acme.publisher.headers["X-API-KEY"])
    expect(page.get_by_role("alert")).to_have_text("That key's role cannot use the dashboard.")
    assert not [c for c in page.context.cookies() if c["name"] == "hookline_session"]
    page.goto(f"{server.base_url}/ui")
    expect(page).to_have_url(re.compile(r"/ui/login$"))


def test_messages_come_from_the_server_not_the_url(
    page: Page, server: HooklineServer, acme: Workspace
) -> None:
    sign_in(page, server, acme.integrator.headers["X-API-KEY"])
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    page.goto(f"{server.base_url}/ui?notice=Your+account+is+locked&error=Call+us")
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    assert "locked" not in page.content()
    assert "Call us" not in page.content()
    page.goto(f"{server.base_url}/ui?notice=created")
    expect(page.get_by_role("status")).to_have_text("Webhook created")


def test_the_create_form_keeps_the_apis_rules(
    page: Page, server: HooklineServer, acme: Workspace
) -> None:
    sign_in(page, server, acme.integrator.headers["X-API-KEY"])
    for posting_id, url, refusal in [
        ("p" * 5000, "http://example.com/hook", "posting_id: must be at most 200"),
        ("fine", "http://a..b.example/hook", "url: host must not have an empty label"),
    ]:
        page.get_by_label("Posting ID").fill(posting_id)
        page.get_by_label("URL").fill(url)
        page.get_by_role("button", name="Create", exact=True).click()
        expect(page.get_by_role("alert")).to_contain_text(refusal)
    listed = acme.integrator.get("/api/webhook/all", params={"posting_id": "fine"}).json()
    assert listed == []


def test_an_admin_sees_the_operator_view(
    page: Page, server: HooklineServer, acme: Workspace, receiver: Receiver, posting_id: str
) -> None:
    gone = "/" + posting_id
    receiver.script(gone, [Reply(410)])
    webhook = acme.create_webhook(receiver.url(gone), posting_id, "interview_started")
    payload = seed_example("interview_started") | {"posting_id": posting_id}
    acme.wait_for_event(acme.publish("interview_started", payload).json()["event_id"], "cancelled")
    sign_in(page, server, server.create_key(None, "admin"))
    expect(page).to_have_url(re.compile(r"/ui/operator$"))
    expect(page.get_by_role("heading", name="Workspaces")).to_be_visible()
    expect(page.get_by_role("cell", name="acme", exact=True).first).to_be_visible()
    row = page.get_by_role("row").filter(has_text=webhook["webhook_id"])
    expect(row).to_contain_text("disabled")
    expect(row).to_contain_text("410")
    shoot(page, "6-operator")


def test_a_portal_link_signs_a_browser_in_once(
    page: Page, browser: Browser, server: HooklineServer, acme: Workspace
) -> None:
    with server.client(server.create_key(None, "admin")) as admin:
        link = admin.post("/api/admin/workspaces/acme/portal-link").json()["url"]
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/ui$"))
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    other = browser.new_context().new_page()
    other.goto(link)
    expect(other.get_by_text("This link was used already")).to_be_visible()
    other.context.close()
