"""The API reference at /docs and the desk's help, in Debian's Chromium against a real server.

/docs is public (like /openapi.json): it is opened without logging in, under the policy the server
sends (no bypass), and every Content-Security-Policy violation, console error and failed file fails
the test. The help is opened from the login card and from the logged-in desk, in Chinese and English.
Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.conftest import HTTP_TIMEOUT, Desk
from tests.e2e.test_browser_desk import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    WAIT_MS,
    expect,
    logged_in_tab,
    playwright_api,
)
from tests.e2e.test_browser_desk import pytestmark as browser_marks
from views import ui

pytestmark = [*browser_marks, pytest.mark.skipif(
    not all((ui.MODULES / path).is_file() for path in getattr(ui, "DOCS_VENDOR", {}).values()),
    reason="ui/node_modules missing: `make test` runs tools/ensure_ui.sh (npm ci)")]  # fmt: skip
# Registered before any page script runs (through the driver, so the page's own policy does not apply).
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (event) => window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`));
"""
HELP_SECTIONS = 8
PREFIX = "/desk"  # a proxy's path prefix


# First: logged_in_tab runs a Playwright of its own, which cannot start while the module's tab (below) is open.
def test_the_help_opens_on_the_desk_in_chinese_then_in_english(desk: Desk):
    with logged_in_tab(desk, console_errors=True) as page:
        page.get_by_test_id("help-open").click()
        dialog = page.get_by_test_id("help-dialog")
        expect(dialog).to_be_visible()
        expect(dialog.locator(".help-section")).to_have_count(HELP_SECTIONS)
        expect(dialog.locator(".help-section h3").first).to_have_text("登录")
        expect(dialog).to_contain_text("F1 买开")
        link = page.get_by_test_id("help-docs")
        assert link.evaluate("node => node.href") == desk.base + "/docs"
        page.screenshot(path=str(ARTIFACTS / "help-zh.png"))
        page.get_by_test_id("help-close").click()
        page.get_by_test_id("lang-switch").click()  # reloads the page in English, still logged in
        expect(page.get_by_test_id("help-open")).to_have_text("Help")
        page.get_by_test_id("help-open").click()
        expect(dialog.locator("h2")).to_have_text("ctpdesk help")
        expect(dialog.locator(".help-section h3").first).to_have_text("Logging in")
        expect(dialog).to_contain_text("F1 buy open")
        page.screenshot(path=str(ARTIFACTS / "help-en.png"))


@pytest.fixture(scope="module")
def tab(desk: Desk) -> Iterator[Any]:
    """A tab that has not logged in, recording CSP violations, console errors and failed requests."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(WAIT_MS)
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()
        page.problems = []
        page.on("console", lambda message: page.problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: page.problems.append(str(error)))
        page.on("requestfailed", lambda request: page.problems.append(f"{request.url}: {request.failure}"))
        page.on("response", lambda response: page.problems.append(f"{response.url}: {response.status}")
                if response.status >= 400 else None)  # fmt: skip
        yield page
        browser.close()


def clean(page: Any) -> None:
    assert page.evaluate("window.cspViolations") == []
    assert page.problems == []


def test_docs_renders_every_route_of_the_openapi_document_under_the_servers_policy(desk: Desk, tab: Any):
    document = requests.get(desk.url("/openapi.json"), timeout=HTTP_TIMEOUT).json()
    response = tab.goto(desk.base + "/docs")
    assert response.status == 200 and "script-src 'self'" in response.headers["content-security-policy"]
    expect(tab.locator(".swagger-ui .info .title")).to_contain_text("ctpdesk")
    operations = tab.locator(".opblock-summary-path")
    expect(operations).to_have_count(sum(len(methods) for methods in document["paths"].values()))
    shown = {path.strip().replace("\u200b", "") for path in operations.all_inner_texts()}
    assert shown == set(document["paths"])
    tab.screenshot(path=str(ARTIFACTS / "docs.png"))
    clean(tab)


def test_docs_lists_every_socket_event_of_the_asyncapi_document(desk: Desk, tab: Any):
    document = requests.get(desk.url("/asyncapi.json"), timeout=HTTP_TIMEOUT).json()
    names = {message["name"] for message in document["channels"]["desk"]["messages"].values()
             if not message["name"].endswith("(ack)")}  # fmt: skip
    tab.goto(desk.base + "/docs")
    events = tab.locator("#events .event[data-event]")
    expect(events).to_have_count(len(names))
    assert set(events.evaluate_all("nodes => nodes.map((node) => node.dataset.event)")) == names
    expect(tab.locator("#schema-Tick")).to_contain_text("last_price")
    tab.evaluate("document.getElementById('socketio').scrollIntoView()")
    tab.screenshot(path=str(ARTIFACTS / "docs-socketio.png"))
    clean(tab)


def test_the_help_tells_how_to_log_in_before_logging_in(desk: Desk, tab: Any):
    tab.goto(desk.base + "/")
    tab.get_by_test_id("help-open-login").click()
    dialog = tab.get_by_test_id("help-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text("ctpdesk 使用帮助")
    expect(dialog.locator('[data-help="login"]')).to_contain_text("访问码")
    tab.get_by_test_id("help-close").click()
    expect(dialog).to_be_hidden()
    clean(tab)


def test_a_call_tried_from_the_reference_reaches_this_server_with_the_token(desk: Desk, tab: Any):
    tab.goto(desk.base + "/docs")
    try_status(desk, tab, desk.base)
    tab.screenshot(path=str(ARTIFACTS / "docs-try.png"))
    clean(tab)


def test_the_reference_works_behind_a_proxy_under_a_path_prefix(desk: Desk, tab: Any):
    """As nginx with `location /desk/ { proxy_pass http://ctpdesk/; }`: the browser asks for /desk/...,
    the server sees the path without the prefix. The page, its files, both documents and a tried call
    all go through the prefix (a request outside it would fail: nothing answers there for a proxy)."""
    prefix = desk.base + PREFIX
    tab.context.route(f"{prefix}/**", lambda route: route.fulfill(
        response=route.fetch(url=desk.base + route.request.url[len(prefix):])))
    seen: list[str] = []
    tab.on("request", lambda request: seen.append(request.url))
    tab.goto(prefix + "/docs")
    expect(tab.locator(".opblock-summary-path[data-path='/status']")).to_be_visible()
    expect(tab.locator("#events .event[data-event='tick']")).to_be_visible()
    try_status(desk, tab, prefix)
    assert seen and [url for url in seen if not url.startswith(prefix + "/")] == []
    clean(tab)


def try_status(desk: Desk, tab: Any, base: str) -> None:
    """GET /status tried from the page: Authorize with a login's token, Try it out, Execute."""
    tab.locator(".btn.authorize").click()
    tab.locator(".modal-ux input").fill(f"JWT {desk.token}")
    tab.locator(".modal-ux .auth-btn-wrapper button.authorize").click()
    tab.locator(".modal-ux .btn-done").click()
    status = tab.locator('.opblock-get:has(.opblock-summary-path[data-path="/status"])')
    status.locator(".opblock-summary").click()
    status.locator(".try-out__btn").click()
    status.locator(".execute").click()
    expect(status.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
    expect(status.locator(".request-url pre")).to_have_text(base + "/status")
    expect(status.locator(".live-responses-table tbody .response-col_description").first).to_contain_text(
        '"interface": "sim"')
