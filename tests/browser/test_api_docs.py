"""/docs and /redoc in headless Chromium with every other host blocked: the operations
render, and no request leaves the Hookline server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Route, expect

from tests.support.server import HooklineServer


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HooklineServer]:
    # The pages do not depend on the database: one SQLite server is enough.
    running = HooklineServer(tmp_path_factory.mktemp("docs")).start()
    yield running
    running.stop()


class Offline:
    """A browser context where only the Hookline server answers: any request to another
    host is aborted and recorded."""

    def __init__(self, browser: Browser, server: HooklineServer) -> None:
        self.origin = urlsplit(server.base_url).netloc
        self.elsewhere: list[str] = []
        self.served: list[str] = []
        self.context: BrowserContext = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.route("**/*", self._route)

    def _route(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == self.origin:
            self.served.append(url)
            route.continue_()
        else:
            self.elsewhere.append(url)
            route.abort()


@pytest.fixture
def offline(browser: Browser, docs_server: HooklineServer) -> Iterator[Offline]:
    blocked = Offline(browser, docs_server)
    yield blocked
    blocked.context.close()


def test_swagger_ui_renders_every_operation_offline(
    offline: Offline, docs_server: HooklineServer
) -> None:
    spec = httpx.get(f"{docs_server.base_url}/openapi.json", timeout=10).json()
    operations = sum(len(methods) for methods in spec["paths"].values())
    page = offline.context.new_page()
    page.goto(f"{docs_server.base_url}/docs")

    expect(page.locator(".opblock")).to_have_count(operations, timeout=15_000)
    expect(page.locator(".opblock-summary-path", has_text="/api/event-types")).to_be_visible()
    page.locator(".opblock-summary", has_text="/api/webhook/create").click()
    expect(page.get_by_text("posting_123").first).to_be_visible()  # the seed's example
    page.wait_for_load_state("networkidle")

    assert offline.elsewhere == []
    assert any(url.endswith("/docs-assets/swagger-ui-bundle.js") for url in offline.served)
    assert any(url.endswith("/openapi.json") for url in offline.served)


def test_redoc_renders_every_operation_offline(
    offline: Offline, docs_server: HooklineServer, tmp_path: Path
) -> None:
    spec = httpx.get(f"{docs_server.base_url}/openapi.json", timeout=10).json()
    summaries = [op["summary"] for methods in spec["paths"].values() for op in methods.values()]
    page = offline.context.new_page()
    page.goto(f"{docs_server.base_url}/redoc")

    expect(page.get_by_role("heading", name="Hookline").first).to_be_visible(timeout=15_000)
    for summary in summaries:
        expect(page.locator("h2", has_text=summary).first).to_be_attached()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(tmp_path / "redoc.png"))

    assert offline.elsewhere == []
    assert any(url.endswith("/docs-assets/redoc.standalone.js") for url in offline.served)


def test_pages_allow_nothing_but_their_own_origin(docs_server: HooklineServer) -> None:
    for path in ("/docs", "/redoc"):
        page = httpx.get(f"{docs_server.base_url}{path}", timeout=10)
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert "cdn." not in page.text and "fonts.googleapis" not in page.text
