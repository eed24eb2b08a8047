"""Issue 17 item 10 in the browser: a strategy starts from a form of its declared params.

The shipped double_ma on the sim: its params as labelled inputs typed by their defaults, prefilled
with the last used values; bad values refused in the form (in Chinese) with nothing started; the
server's own refusal shown in the form; 恢复默认; a start sends the params the server then shows.
Debian's Chromium under Playwright, as test_browser_desk.py; screenshots in test-artifacts/browser/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, Desk, ServerFactory
from tests.e2e.test_browser_desk import ARTIFACTS, expect, logged_in_tab
from tests.e2e.test_browser_desk import pytestmark as browser_marks

pytestmark = browser_marks

DOUBLE_MA = (ROOT / "strategies" / "double_ma.py").read_text(encoding="utf-8")
DEFAULTS = {"product": "rb", "exchange": "SHFE", "fast": 5, "slow": 20, "volume": 1}


@pytest.fixture(scope="module")
def server_desk(server_factory: ServerFactory) -> Desk:
    desk = Desk(server_factory(SIM_TICK_RATE=4))
    assert desk.api.post("/code", json={"text": DOUBLE_MA}).status_code == 200
    return desk


@pytest.fixture(scope="module")
def page(server_desk: Desk) -> Iterator[Any]:
    with logged_in_tab(server_desk) as tab:
        tab.on("console", lambda message: tab.errors.append(message.text) if console_error(message) else None)
        tab.get_by_test_id("nav-strategies").click()
        yield tab


def console_error(message: Any) -> bool:
    """An error the page logged; not the browser's own line for an answer of 4xx (a refusal the test asks for)."""
    return message.type == "error" and not message.text.startswith("Failed to load resource")


def listed(desk: Desk, name: str = "double_ma") -> dict[str, Any]:
    return next(item for item in desk.api.get("/strategy").json()["data"] if item["name"] == name)


def row(page: Any, name: str = "double_ma") -> Any:
    return page.locator(f'#strategy-table tbody tr[data-name="{name}"]')


def field(page: Any, name: str) -> Any:
    return page.get_by_test_id("params-dialog").locator(f'[data-param="{name}"]')


def error_of(page: Any, name: str) -> Any:
    return page.get_by_test_id("params-dialog").locator(f'[data-error="{name}"]')


def open_form(page: Any) -> Any:
    row(page).get_by_test_id("strategy-start").click()
    dialog = page.get_by_test_id("params-dialog")
    expect(dialog).to_be_visible()
    return dialog


def test_the_form_shows_the_declared_params_typed_and_refuses_bad_values(page: Any, server_desk: Desk) -> None:
    dialog = open_form(page)
    expect(page.get_by_test_id("params-title")).to_have_text("启动 double_ma：参数")
    for name, value in DEFAULTS.items():
        expect(field(page, name)).to_have_value(str(value))
    assert field(page, "fast").get_attribute("type") == "number" and field(page, "fast").get_attribute("step") == "1"
    assert field(page, "product").get_attribute("type") == "text"
    expect(dialog).to_contain_text("整数 · 默认 5")
    # Not a whole number, and letters typed into a number field: refused here, nothing sent.
    field(page, "slow").fill("2.5")
    field(page, "fast").fill("")
    field(page, "fast").press_sequentially("1e")  # the browser holds text it cannot read as a number
    page.get_by_test_id("params-start").click()
    expect(error_of(page, "slow")).to_have_text("须为整数")
    expect(error_of(page, "fast")).to_have_text("不是数字")
    expect(page.get_by_test_id("params-message")).to_have_text("请先改正标红的参数")
    expect(dialog).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "params-refused-here.png"))
    item = listed(server_desk)
    assert item["status"] == "stopped" and item["params"] == DEFAULTS
    page.get_by_test_id("params-cancel").click()
    expect(dialog).to_be_hidden()


def test_the_servers_refusal_shows_in_the_form_and_nothing_starts(page: Any, server_desk: Desk) -> None:
    dialog = open_form(page)
    field(page, "fast").fill("8")
    # Meanwhile the code changed: `fast` is no longer a parameter, so the server refuses the start.
    renamed = DOUBLE_MA.replace('"fast": 5', '"quick": 5')
    assert server_desk.api.post("/code", json={"text": renamed}).status_code == 200
    page.get_by_test_id("params-start").click()
    expect(page.get_by_test_id("params-message")).to_contain_text("服务器拒绝：params.fast: not a parameter")
    expect(dialog).to_be_visible()
    assert listed(server_desk)["status"] == "stopped"
    page.get_by_test_id("params-cancel").click()
    assert server_desk.api.post("/code", json={"text": DOUBLE_MA}).status_code == 200


def test_start_with_changed_params_then_reset_to_the_defaults(page: Any, server_desk: Desk) -> None:
    page.get_by_test_id("nav-strategies").click()  # the listing again, with the code as it is now
    open_form(page)
    field(page, "fast").fill("8")
    field(page, "slow").fill("34")
    page.screenshot(path=str(ARTIFACTS / "params-form.png"))
    page.get_by_test_id("params-start").click()
    expect(page.get_by_test_id("params-dialog")).to_be_hidden()
    expect(row(page)).to_have_attribute("data-status", "running")
    assert listed(server_desk)["params"] == {**DEFAULTS, "fast": 8, "slow": 34}
    row(page).get_by_test_id("strategy-stop").click()
    expect(row(page)).to_have_attribute("data-status", "stopped")
    # The next start's form shows the values last used; 恢复默认 and 仅保存 keep the defaults, unstarted.
    open_form(page)
    expect(field(page, "fast")).to_have_value("8")
    expect(field(page, "slow")).to_have_value("34")
    page.get_by_test_id("params-reset").click()
    expect(field(page, "fast")).to_have_value("5")
    expect(field(page, "slow")).to_have_value("20")
    page.get_by_test_id("params-save").click()
    expect(page.get_by_test_id("params-dialog")).to_be_hidden()
    expect(page.locator("#toast")).to_have_text("double_ma：参数已保存")
    item = listed(server_desk)
    assert item["params"] == DEFAULTS and item["status"] == "stopped"
