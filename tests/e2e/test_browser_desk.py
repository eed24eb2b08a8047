"""The browser desk, driven the way a trader uses it: Debian's Chromium under Playwright, against a
real server on the sim. Screenshots of the main views go to test-artifacts/browser/.

The desk speaks Chinese first (the words a futures trader reads), so these tests read it in Chinese;
one test switches it to English and back. The browser runs in New York time, so a time shown in the
browser's own zone instead of the exchange's (Asia/Shanghai) shows up.

Playwright drives the system browser (/usr/bin/chromium, installed by tools/ensure_test_tools.sh):
no browser is ever downloaded. Waits are Playwright's own (`expect`, `wait_for_*`), never sleeps.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import ACCESS_CODE, ROOT, Desk, ServerFactory, wait_until
from views import ui

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements-dev.txt")
expect = playwright_api.expect

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
# As root Chromium needs --no-sandbox; the rest keeps it off the (closed) network and quiet.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
    "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage",
]  # fmt: skip
WAIT_MS = 20_000
SHANGHAI = ZoneInfo("Asia/Shanghai")
BROWSER_ZONE = "America/New_York"  # not the exchange's: times must still show in exchange time
WEEKDAYS = "周一 周二 周三 周四 周五 周六 周日".split()
expect.set_options(timeout=WAIT_MS)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                       reason=f"{CHROMIUM} missing: `make test` installs Debian's chromium when run as root"),
    pytest.mark.skipif(not all((ui.MODULES / path).is_file() for path in ui.VENDOR.values()),
                       reason="ui/node_modules missing: `make test` runs tools/ensure_ui.sh (npm ci)"),
]  # fmt: skip

STRATEGY_WITH_AN_ERROR = '''from backend.strategy import Strategy


class Broken(Strategy):
    def on_tick(self, tick):
        self.info(str(tick.last_price))
        undefined_helper(tick)


ext = Broken("broken")
'''
ERROR_LINE = 7

STRATEGY = '''from backend.strategy import Strategy


class Watcher(Strategy):
    """Logs the nearest rebar contract's price now and then; never trades."""

    seen = 0

    def on_init(self):
        self.subscribe(self.nearest("rb", "SHFE"))

    def on_tick(self, tick):
        self.seen += 1
        if self.seen % 10 == 1:
            self.info(f"{tick.local_symbol} {tick.last_price}")


ext = Watcher("browser_watcher")
'''


def log_in(tab: Any) -> None:
    """The login form filled with the desk's access code and the sim's demo account, and sent."""
    tab.get_by_test_id("login-access").fill(ACCESS_CODE)
    tab.get_by_test_id("login-password").fill("demo")
    tab.get_by_test_id("login-submit").click()


@contextmanager
def logged_in_tab(desk: Desk, *, console_errors: bool = False, **context_options: Any) -> Iterator[Any]:
    """A Chromium tab logged in on `desk` (1600x900 unless `viewport` is given), for a module's tests. Errors in
    the page (and, with `console_errors`, console errors) are kept in `tab.errors` and fail the module at the end."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(**{"viewport": {"width": 1600, "height": 900}, **context_options})
        context.set_default_timeout(WAIT_MS)
        tab = context.new_page()
        errors: list[str] = []
        if console_errors:
            tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.errors = errors
        tab.goto(desk.base + "/")
        log_in(tab)
        expect(tab.locator("#desk-view")).to_have_attribute("data-loaded", "true")  # visible, its first loads done
        yield tab
        browser.close()
        assert not errors, f"errors in the page: {errors}"


@pytest.fixture(scope="module")
def server_desk(server_factory: ServerFactory) -> Desk:
    return Desk(server_factory(SIM_TICK_RATE=4, TICK_PUSH_INTERVAL=0.1))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page(browser: Any, server_desk: Desk) -> Iterator[Any]:
    """One tab for the module, as one trader keeps one desk open. Errors in the page fail the test."""
    context = browser.new_context(viewport={"width": 1600, "height": 900}, bypass_csp=True, timezone_id=BROWSER_ZONE)
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(server_desk.base + "/")
    tab.errors = errors
    yield tab
    context.close()
    assert not errors, f"errors in the page: {errors}"


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def watch_row(page: Any, symbol: str) -> Any:
    return page.locator(f'#watch tbody tr[data-symbol="{symbol}"]')


def subscribe_by_search(page: Any, text: str) -> str:
    page.get_by_test_id("search").fill(text)
    first = page.locator("#suggestions li").first
    expect(first).to_be_visible()
    symbol = first.get_attribute("data-symbol")
    page.keyboard.press("Enter")
    expect(watch_row(page, symbol)).to_be_visible()
    return symbol


def shanghai(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, SHANGHAI)


def test_the_login_page_explains_itself_and_refuses_a_wrong_access_code(page: Any) -> None:
    expect(page.locator("#login-view")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")  # Chinese unless the trader switched
    expect(page.get_by_test_id("login-submit")).to_have_text("登录")
    expect(page.get_by_test_id("login-preset")).to_contain_text("模拟柜台")
    expect(page.locator("#preset-hint")).to_contain_text("demo")  # a new user learns the demo account here
    expect(page.get_by_test_id("login-userid")).to_have_value("demo")
    shot(page, "login")
    page.get_by_test_id("login-access").fill("not-the-code")
    page.get_by_test_id("login-password").fill("demo")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("access code")  # the server's words, as it sends them
    expect(page.locator("#desk-view")).to_be_hidden()


def test_log_in_on_the_sim(page: Any) -> None:
    log_in(page)
    expect(page.locator("#desk-view")).to_have_attribute("data-loaded", "true")  # visible, its first loads done
    expect(page.locator('#status [data-api="td"]')).to_have_attribute("data-state", "ready")
    expect(page.locator('#status [data-api="md"]')).to_have_attribute("data-state", "ready")
    expect(page.locator('#status [data-api="td"]')).to_have_text("交易 就绪")
    expect(page.locator('#status [data-api="md"]')).to_have_text("行情 就绪")
    balance = page.locator('#account [data-field="balance"]')
    expect(balance).to_contain_text("1,000,000.00")
    expect(balance.locator("small")).to_have_text("权益")
    for field, name in (("available", "可用"), ("margin", "保证金"), ("position_profit", "浮动盈亏"),
                        ("close_profit", "平仓盈亏"), ("commission", "手续费")):  # fmt: skip
        expect(page.locator(f'#account [data-field="{field}"] small')).to_have_text(name)
    expect(page.locator("#pages button")).to_have_text(["交易", "策略", "实验室", "设置", "风控"])


def test_the_trading_day_shows_beside_exchange_time(page: Any, server_desk: Desk) -> None:
    """One date convention: exchange time; the trading day in the top bar, marked where it is not today."""
    day = server_desk.api.get("/status").json()["data"]["trading_day"]
    moment = datetime.strptime(day, "%Y%m%d")
    shown = page.get_by_test_id("trading-day")
    expect(shown).to_have_text(f"交易日 {moment:%m-%d} {WEEKDAYS[moment.weekday()]}")
    today = datetime.now(SHANGHAI).strftime("%Y%m%d")
    expect(shown).to_have_attribute("data-differs", "true" if day != today else "false")


def test_subscribe_by_search_and_see_prices_move(page: Any) -> None:
    symbol = subscribe_by_search(page, "rb")
    assert symbol.endswith(".SHFE") and symbol.startswith("rb")
    columns = ["合约", "最新", "涨跌%", "买价", "卖价", "成交量", "持仓量", ""]
    expect(page.locator("#watch thead th")).to_have_text(columns)
    # the last price takes several values: ticks arrive over the socket and are drawn
    page.wait_for_function("""symbol => {
        const cell = document.querySelector(`#watch tr[data-symbol="${symbol}"] td.price`);
        window.seenPrices = window.seenPrices || new Set();
        if (cell && cell.textContent) window.seenPrices.add(cell.textContent);
        return window.seenPrices.size >= 3;
    }""", arg=symbol)
    expect(page.get_by_test_id("chart-title")).to_contain_text(symbol)
    shot(page, "market")


def test_see_candles_in_each_interval(page: Any) -> None:
    chart = page.get_by_test_id("chart")
    expect(chart.locator("canvas").first).to_be_visible()
    # a fresh desk on the sim opens on its history (20 trading days of 1m bars and the intervals made from them),
    # not on a handful of candles; the chart asks /bar for the latest 1,000
    for interval, least in (("5m", 100), ("1h", 60), ("1d", 20), ("1m", 1000)):
        page.locator(f'#intervals button[data-interval="{interval}"]').click()
        expect(chart).to_have_attribute("data-interval", interval)
        page.wait_for_function(f"() => Number(document.querySelector('#chart').dataset.bars) >= {least}")
    shot(page, "chart")


def test_a_marketable_order_shows_in_orders_trades_and_positions(page: Any, server_desk: Desk) -> None:
    symbol = page.get_by_test_id("ticket-symbol").input_value()
    ask = page.locator("#depth tr.ask td.clickable").first  # ask 5: marketable even if the price ticks up
    expect(ask).not_to_have_text("")
    expect(page.get_by_test_id("ticket-price")).not_to_have_value("")  # filled on pick (对手价)
    ask.click()  # click a price to fill the ticket
    expect(page.get_by_test_id("ticket-mode")).to_have_value("fixed")
    page.get_by_test_id("ticket-send").click()
    expect(page.get_by_test_id("ticket-message")).to_have_text(f"买 开 1 {symbol}：全部成交")
    position = page.locator(f'#positions tbody tr[data-symbol="{symbol}"][data-direction="long"]')
    expect(position).to_be_visible()
    expect(position.locator("td").nth(1)).to_have_text("多")
    expect(position.locator('td[data-field="td"]')).to_have_text("1")  # today's lots, apart from yesterday's
    expect(position.locator('td[data-field="yd"]')).to_have_text("0")
    expect(position.get_by_test_id("close-position")).to_have_text("平仓")
    # rb's tick is 1 yuan: its average price shows as the tick does, "3169", not "3169.0"
    expect(position.locator('td[data-field="price"]')).to_have_text(re.compile(r"^\d+$"))
    page.get_by_test_id("tab-trades").click()
    trade = page.locator("#trades tbody tr[data-trade-id]")
    expect(trade).to_have_count(1)
    expect(trade.locator("td").nth(2)).to_have_text("买")
    expect(trade.locator("td").nth(3)).to_have_text("开")
    # its order as a trader knows it (when it was sent, at what price), not the internal front_session_ref
    order = server_desk.api.get("/order_solve").json()["data"]["order_list"][-1]
    sent = datetime.fromisoformat(order["time"]).astimezone(SHANGHAI)
    order_cell = trade.locator('td[data-field="order"]')
    expect(order_cell).to_have_text(re.compile(rf"^(\d\d-\d\d )?{sent:%H:%M:%S} 委托 @ {int(order['price'])}$"))
    assert order["order_id"] not in order_cell.inner_text()
    page.get_by_test_id("tab-history").click()
    done = page.locator('#history tbody tr[data-status="alltraded"]')
    expect(done).to_have_count(1)
    expect(done.locator("td").nth(4)).to_have_text("限价")
    expect(done.locator("td").nth(8)).to_have_text("全部成交")
    page.get_by_test_id("tab-positions").click()
    shot(page, "trade")


def test_numbers_show_on_the_instruments_tick_and_never_as_minus_zero(page: Any) -> None:
    """The desk's formatting (format.js), read in the page itself: one table of cases."""
    shown = page.evaluate("""async () => {
        const f = await import("/ui/format.js");
        return [f.price(767.5, f.decimalsOf(0.5)), f.price(767, f.decimalsOf(0.5)), f.price(3169, f.decimalsOf(1)),
                f.averagePrice(3169, f.decimalsOf(1)), f.averagePrice(767, f.decimalsOf(0.5)),
                f.averagePrice(3169 + 1 / 3, f.decimalsOf(1)), f.averagePrice(767.25, f.decimalsOf(0.5)),
                f.percent(-0.001), f.percent(0.004), f.percent(1.234), f.percent(-1.2), f.money(-0.001),
                f.price(-0.0001, 2)];
    }""")
    assert shown == ["767.5", "767.0", "3169", "3169", "767.0", "3169.33", "767.25",
                     "0.00%", "0.00%", "+1.23%", "-1.20%", "0.00", "0.00"]  # fmt: skip
    changes = page.locator("#watch tbody td:nth-child(3)").all_inner_texts()
    assert changes and not any(text.startswith("-0.00") for text in changes), changes


def test_the_desk_switches_to_english_and_back(page: Any) -> None:
    symbol = page.get_by_test_id("ticket-symbol").input_value()
    position = page.locator(f'#positions tbody tr[data-symbol="{symbol}"][data-direction="long"]')
    page.get_by_test_id("lang-switch").click()  # the page loads again in English, still logged in
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.evaluate("() => localStorage.getItem('ctpdesk.lang')") == "en"
    expect(page.get_by_test_id("nav-trade")).to_have_text("Trade")
    expect(page.get_by_test_id("tab-positions")).to_have_text("Positions")
    expect(page.get_by_test_id("ticket-send")).to_have_text("Send order")
    expect(page.locator('#account [data-field="balance"] small')).to_have_text("Balance")
    expect(page.locator('#status [data-api="td"]')).to_have_text("TD ready")
    expect(position.locator("td").nth(1)).to_have_text("Long")
    expect(page.get_by_test_id("ticket-offset").locator("option").first).to_have_text("Open")
    expect(page.get_by_test_id("lang-switch")).to_have_text("中")
    shot(page, "english")
    page.get_by_test_id("lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_test_id("nav-trade")).to_have_text("交易")
    expect(position.locator("td").nth(1)).to_have_text("多")
    expect(page.get_by_test_id("ticket-send")).to_have_text("下单")


def test_a_refused_order_shows_the_reason(page: Any) -> None:
    page.get_by_test_id("ticket-price").fill("1")
    page.get_by_test_id("ticket-send").click()
    expect(page.get_by_test_id("ticket-message")).to_contain_text("拒单：")
    expect(page.get_by_test_id("ticket-message")).to_contain_text("lower limit")  # the server's words
    expect(page.get_by_test_id("ticket-message")).to_have_class("message error")


def test_cancel_a_resting_order(page: Any) -> None:
    limit_down = page.locator("#depth tr.last td").last.inner_text().split("–")[0].strip()
    page.get_by_test_id("ticket-price").fill(limit_down)  # a buy at the lower limit rests
    page.get_by_test_id("ticket-send").click()
    expect(page.get_by_test_id("ticket-message")).to_contain_text("未成交")
    page.get_by_test_id("tab-orders").click()
    working = page.locator("#orders tbody tr[data-order-id]")
    expect(working).to_have_count(1)
    expect(page.get_by_test_id("tab-orders")).to_have_text("挂单（1）")
    expect(working.locator("td").nth(7)).to_have_text("未成交")
    expect(working.get_by_test_id("cancel-order")).to_have_text("撤单")
    shot(page, "working-order")
    working.get_by_test_id("cancel-order").click()
    expect(working).to_have_count(0)
    page.get_by_test_id("tab-history").click()
    expect(page.locator('#history tbody tr[data-status="cancelled"]')).to_have_count(1)


def test_cancel_all(page: Any) -> None:
    limit_down = page.locator("#depth tr.last td").last.inner_text().split("–")[0].strip()
    page.get_by_test_id("ticket-price").fill(limit_down)
    for _ in range(2):
        page.get_by_test_id("ticket-send").click()
        expect(page.get_by_test_id("ticket-message")).to_contain_text("未成交")
    page.get_by_test_id("tab-orders").click()
    working = page.locator("#orders tbody tr[data-order-id]")
    expect(working).to_have_count(2)
    expect(page.get_by_test_id("cancel-all")).to_have_text("全撤")
    page.get_by_test_id("cancel-all").click()
    expect(working).to_have_count(0)


def test_close_the_position(page: Any) -> None:
    page.get_by_test_id("tab-positions").click()
    position = page.locator("#positions tbody tr[data-symbol]")
    expect(position).to_have_count(1)
    position.get_by_test_id("close-position").click()
    expect(page.locator("#toast")).to_contain_text("平仓 ")
    expect(page.locator("#toast")).to_contain_text("平今 1")  # SHFE: today's lot closes with CloseToday
    expect(position).to_have_count(0)


def test_hundreds_of_ticking_instruments_are_drawn_a_few_times_a_second(page: Any, server_desk: Desk) -> None:
    contracts = server_desk.api.get("/contract").json()["data"]
    names = [c["local_symbol"] for c in contracts if c["is_trading"]][:200]
    assert len(names) >= 150
    assert server_desk.api.post("/market", json={"symbols": names}).json()["success"]
    subscribed = {row["local_symbol"] for row in server_desk.api.get("/market").json()["data"]}
    assert set(names) <= subscribed
    page.reload()  # the page learns subscriptions when it loads
    expect(page.locator("#watch tbody tr")).to_have_count(len(subscribed))
    before = page.evaluate("() => ({...window.ctpdesk.stats, at: performance.now()})")
    page.wait_for_function("start => window.ctpdesk.stats.ticks - start >= 1500", arg=before["ticks"])
    after = page.evaluate("() => ({...window.ctpdesk.stats, at: performance.now()})")
    seconds = (after["at"] - before["at"]) / 1000
    ticks, drawn = after["ticks"] - before["ticks"], after["drawn"] - before["drawn"]
    assert drawn <= 5 * seconds + 2, f"{drawn} draws in {seconds:.1f}s: the desk must draw at most a few times a second"
    assert ticks >= 10 * drawn, f"{ticks} ticks but {drawn} draws: ticks must be batched into frames"
    shot(page, "market-watch-200")
    assert server_desk.api.delete("/market", json={"symbols": names[1:]}).json()["success"]


def test_upload_a_strategy_see_its_lint_error_at_its_line_start_and_stop_it(page: Any, server_desk: Desk) -> None:
    page.get_by_test_id("nav-strategies").click()
    set_editor(page, STRATEGY_WITH_AN_ERROR)
    page.get_by_test_id("code-check").click()
    finding = page.locator('#lint-results li[data-code="E0602"]')
    expect(finding).to_contain_text(f"第 {ERROR_LINE} 行")
    expect(finding).to_contain_text("undefined_helper")
    # the marker sits in the gutter of that very line
    line = page.locator(".CodeMirror-code > div").nth(ERROR_LINE - 1)
    expect(line.locator(".CodeMirror-linenumber")).to_have_text(str(ERROR_LINE))
    expect(line.locator(".CodeMirror-lint-marker-error")).to_have_count(1)
    shot(page, "strategy-lint")

    set_editor(page, STRATEGY)
    expect(page.locator("#lint-results li")).to_have_count(0)  # findings of the old text go with it
    expect(page.locator(".CodeMirror-lint-marker-error")).to_have_count(0)
    page.get_by_test_id("code-run").click()
    expect(page.get_by_test_id("run-output")).to_contain_text("退出码 0")
    page.get_by_test_id("code-save").click()
    expect(page.get_by_test_id("code-message")).to_contain_text("已保存 browser_watcher")
    row = page.locator('#strategy-table tbody tr[data-name="browser_watcher"]')
    expect(row).to_have_attribute("data-status", "stopped")
    expect(row.locator("td").nth(1)).to_have_text("已停止")
    row.get_by_test_id("strategy-start").click()
    expect(row).to_have_attribute("data-status", "running")
    expect(row.locator("td").nth(1)).to_have_text("运行中")
    expect(row.get_by_test_id("strategy-stop")).to_have_text("停止")
    # "Updated" in exchange time like everything else, not in the browser's zone (New York here)
    strategies = server_desk.api.get("/strategy").json()["data"]
    updated = shanghai(next(entry for entry in strategies if entry["name"] == "browser_watcher")["updated_at"])
    expected = f"{updated:%H:%M:%S}" if updated.date() == datetime.now(SHANGHAI).date() else f"{updated:%m-%d %H:%M:%S}"
    expect(row.locator('td[data-field="updated"]')).to_have_text(expected)
    shot(page, "strategies")
    row.get_by_test_id("strategy-stop").click()
    expect(row).to_have_attribute("data-status", "stopped")


def set_editor(page: Any, text: str) -> None:
    page.evaluate("text => document.querySelector('.CodeMirror').CodeMirror.setValue(text)", text)


def test_change_the_configuration(page: Any, server_desk: Desk) -> None:
    page.get_by_test_id("nav-config").click()
    field = page.locator('#config-form input[name="REFRESH_INTERVAL"]')
    expect(field).to_be_visible()
    field.fill("7")
    page.get_by_test_id("config-save").click()
    expect(page.get_by_test_id("config-message")).to_contain_text("已保存：REFRESH_INTERVAL")
    assert server_desk.api.get("/config").json()["data"]["REFRESH_INTERVAL"] == 7
    field.fill("99")  # out of range: the browser holds the form back, nothing changes
    page.get_by_test_id("config-save").click()
    assert field.evaluate("input => input.validity.rangeOverflow") is True
    assert server_desk.api.get("/config").json()["data"]["REFRESH_INTERVAL"] == 7
    shot(page, "config")


def test_configs_subscribed_count_is_the_servers_now(page: Any, server_desk: Desk) -> None:
    def subscribed() -> int:
        return int(server_desk.api.get("/status").json()["data"]["subscribed"])

    page.get_by_test_id("nav-config").click()
    count = page.locator('#server-info dd[data-field="subscribed"]')
    expect(count).to_have_text(str(subscribed()))
    expect(page.locator("#server-info")).to_contain_text("已订阅")
    watched = {row["local_symbol"] for row in server_desk.api.get("/market").json()["data"]}
    extra = next(c["local_symbol"] for c in server_desk.api.get("/contract").json()["data"]
                 if c["is_trading"] and c["local_symbol"] not in watched)  # fmt: skip
    assert server_desk.api.post("/market", json={"symbol": extra}).json()["success"]  # by a script, not the desk
    try:
        page.get_by_test_id("nav-trade").click()
        page.get_by_test_id("nav-config").click()
        expect(count).to_have_text(str(subscribed()))
        assert subscribed() == len(watched) + 1
    finally:
        assert server_desk.api.delete("/market", json={"symbol": extra}).json()["success"]


# --- 风控: the risk panel and the kill switch -----------------------------------------------------------
# These tests also run alone (-k risk or -k kill): `at_the_desk` logs in and picks an instrument if needed.
def at_the_desk(page: Any) -> str:
    """The desk is showing with an instrument in the ticket; answers that instrument."""
    page.wait_for_selector("#login-view:not([hidden]), #desk-view:not([hidden])")
    if page.locator("#login-view").is_visible():
        test_log_in_on_the_sim(page)
    page.locator('#pages button[data-page="trade"]').click()
    if not page.get_by_test_id("ticket-symbol").input_value():
        subscribe_by_search(page, "rb")
        expect(page.get_by_test_id("ticket-symbol")).not_to_have_value("")
    return str(page.get_by_test_id("ticket-symbol").input_value())


def risk_now(server_desk: Desk) -> dict[str, Any]:
    body = server_desk.api.get("/risk").json()
    assert body["success"], body
    return dict(body["data"])


def set_limits(server_desk: Desk, **changes: Any) -> None:
    body = server_desk.api.put("/risk", json=changes).json()
    assert body["success"], body


def counter(risk: dict[str, Any], what: str) -> dict[str, Any]:
    return next(line for line in risk["counters"] if line["what"] == what)


def limits_of(server_desk: Desk, symbol: str) -> tuple[float, float]:
    """The instrument's lower and upper price limits, from its latest tick."""
    rows = server_desk.api.get("/market").json()["data"]
    tick = next(row["tick"] for row in rows if row["local_symbol"] == symbol)
    return tick["limit_down"], tick["limit_up"]


def rest_order(server_desk: Desk, symbol: str, price: float, **fields: Any) -> dict[str, Any]:
    order = {"local_symbol": symbol, "direction": "long", "offset": "open", "type": "limit", "price": price,
             "volume": 1, **fields}  # fmt: skip
    return dict(server_desk.api.post("/order_solve", json=order).json())


def risk_row(page: Any, what: str) -> Any:
    return page.locator(f'#risk-counters tbody tr[data-what="{what}"]')


def test_risk_panel_shows_each_counter_its_line_and_how_close_after_an_order(page: Any, server_desk: Desk) -> None:
    symbol = at_the_desk(page)
    page.get_by_test_id("nav-risk").click()
    today = risk_row(page, "orders and cancels today")
    expect(today.locator("td").first).to_have_text("今日报撤单笔数")  # the desk's label; the server's in the title
    expect(today.locator('td[data-field="line"]')).to_have_text(f"{risk_now(server_desk)['limits']['orders_per_day']:,}")
    before = counter(risk_now(server_desk), "orders and cancels today")["count"]
    # an order and its cancel, through the API: the open panel picks them up by itself (it refreshes periodically)
    resting = rest_order(server_desk, symbol, limits_of(server_desk, symbol)[0])
    assert resting["success"], resting
    assert server_desk.api.delete("/order_solve", json={"order_id": resting["data"]["order_id"]}).json()["success"]
    expect(today.locator('td[data-field="count"]')).to_have_text(str(before + 2))
    cancels = risk_row(page, f"{symbol} cancels")
    expect(cancels.locator("td").first).to_have_text(f"{symbol} 撤单次数")
    expect(cancels.locator('td[data-field="count"]')).to_have_text(
        str(counter(risk_now(server_desk), f"{symbol} cancels")["count"]))
    expect(page.locator("#risk-counters tbody tr")).to_have_count(len(risk_now(server_desk)["counters"]))
    expect(page.get_by_test_id("risk-warnings")).to_contain_text("无预警")
    expect(page.get_by_test_id("risk-day")).to_contain_text("交易日")


def test_risk_limits_changed_in_the_panel_are_saved_and_a_warning_shows(page: Any, server_desk: Desk) -> None:
    symbol = at_the_desk(page)
    page.get_by_test_id("nav-risk").click()
    saved = risk_now(server_desk)["limits"]
    try:
        # the server's refusal is shown as it says it (the browser's own check taken off to get it there)
        working = page.get_by_test_id("limit-max_working_orders")
        working.evaluate("input => input.removeAttribute('min')")
        working.fill("-1")
        save_risk(page)
        expect(page.get_by_test_id("risk-message")).to_contain_text("保存失败")
        expect(page.get_by_test_id("risk-message")).to_contain_text("max_working_orders must be 0 or more")
        assert risk_now(server_desk)["limits"]["max_working_orders"] == saved["max_working_orders"]
        working.fill(str(saved["max_working_orders"]))

        # a day's line just above today's count, warnings from half of it: the next order is past the warning
        count = counter(risk_now(server_desk), "orders and cancels today")["count"]
        line = count + 2
        page.get_by_test_id("limit-orders_per_day").fill(str(line))
        page.get_by_test_id("limit-warn_share").fill("0.5")
        save_risk(page)
        expect(page.get_by_test_id("risk-message")).to_contain_text("已保存：orders_per_day、warn_share")
        limits = risk_now(server_desk)["limits"]
        assert (limits["orders_per_day"], limits["warn_share"]) == (line, 0.5)

        down = limits_of(server_desk, symbol)[0]
        assert rest_order(server_desk, symbol, down, type="fak")["success"]  # not marketable: gone at once, no cancel
        toast = page.locator("#toast")
        expect(toast).to_contain_text("风控预警：orders per day")
        expect(toast).to_have_class("toast warn")
        today = risk_row(page, "orders and cancels today")
        expect(today).to_have_attribute("data-level", "warn")
        expect(page.get_by_test_id("risk-warnings")).to_contain_text(f"今日报撤单笔数：{count + 1} / {line}")
        expect(page.locator('#risk-events tbody tr[data-kind="warning"]').first).to_contain_text("预警")
        shot(page, "risk")
    finally:
        set_limits(server_desk, orders_per_day=saved["orders_per_day"], warn_share=saved["warn_share"],
                   max_working_orders=saved["max_working_orders"])  # fmt: skip
    # the panel takes the restored limits on its next refresh, the form with them
    expect(page.get_by_test_id("limit-orders_per_day")).to_have_value(str(saved["orders_per_day"]))


def test_risk_refusal_of_an_order_shows_in_the_ticket_a_notice_and_the_panel(page: Any, server_desk: Desk) -> None:
    symbol = at_the_desk(page)
    page.get_by_test_id("nav-risk").click()
    saved = risk_now(server_desk)["limits"]["max_order_volume"]
    try:
        page.get_by_test_id("limit-max_order_volume").fill("2")
        save_risk(page)
        expect(page.get_by_test_id("risk-message")).to_contain_text("已保存：max_order_volume")
        assert risk_now(server_desk)["limits"]["max_order_volume"] == 2
        page.locator('#pages button[data-page="trade"]').click()
        page.locator('#ticket-direction input[value="long"]').check()
        page.get_by_test_id("ticket-offset").select_option("open")
        page.get_by_test_id("ticket-type").select_option("limit")
        page.get_by_test_id("ticket-price").fill(str(limits_of(server_desk, symbol)[0]))
        page.get_by_test_id("ticket-volume").fill("3")
        page.get_by_test_id("ticket-send").click()
        expect(page.get_by_test_id("ticket-message")).to_contain_text("order volume: 3 lots, at most 2")
        expect(page.get_by_test_id("ticket-message")).to_have_class("message error")
        notice = f"风控拒单：order volume: 3 lots, at most 2 in one order of {symbol}"  # the server's words as they are
        expect(page.locator("#toast")).to_contain_text(notice)
        page.get_by_test_id("ticket-volume").fill("1")
        page.get_by_test_id("nav-risk").click()
        refused = page.locator('#risk-events tbody tr[data-kind="refused"]').first
        expect(refused).to_contain_text("拒单")
        expect(refused).to_contain_text("order volume: 3 lots")
        expect(refused).to_contain_text(symbol)
    finally:
        set_limits(server_desk, max_order_volume=saved)


def save_risk(page: Any) -> None:
    """Click 保存 on the risk page with its message emptied, so a wait for "已保存" waits for this save's answer."""
    page.get_by_test_id("risk-message").evaluate("(node) => { node.textContent = ''; }")
    page.get_by_test_id("risk-save").click()


def test_risk_limits_of_one_strategy_are_saved_from_the_panel(page: Any, server_desk: Desk) -> None:
    at_the_desk(page)
    saved = server_desk.api.post("/code", json={"text": STRATEGY}).json()
    assert saved["success"], saved
    page.get_by_test_id("nav-strategies").click()  # the desk learns the strategy list here
    expect(page.locator('#strategy-table tbody tr[data-name="browser_watcher"]')).to_be_visible()
    page.get_by_test_id("nav-risk").click()
    try:
        page.get_by_test_id("override-name").select_option("browser_watcher")
        page.get_by_test_id("override-add").click()
        row = page.locator('#risk-overrides tbody tr[data-strategy="browser_watcher"]')
        row.get_by_test_id("override-max_order_volume").fill("3")
        save_risk(page)
        expect(page.get_by_test_id("risk-message")).to_contain_text("已保存：strategies")
        assert risk_now(server_desk)["strategies"] == {"browser_watcher": {"max_order_volume": 3}}
        expect(row.get_by_test_id("override-max_order_volume")).to_have_value("3")  # drawn again from the answer
        row.get_by_test_id("override-remove").click()
        save_risk(page)  # the first save's message is cleared first: the wait below is for this one's answer
        expect(page.get_by_test_id("risk-message")).to_contain_text("已保存：strategies")
        assert risk_now(server_desk)["strategies"] == {}
        expect(page.locator("#risk-overrides tbody")).to_contain_text("没有策略单独限额")
    finally:
        set_limits(server_desk, strategies={})


def test_kill_switch_from_the_top_bar_stops_trading_and_re_arming_restores_it(page: Any, server_desk: Desk) -> None:
    symbol = at_the_desk(page)
    down, up = limits_of(server_desk, symbol)
    assert rest_order(server_desk, symbol, up)["success"]  # marketable: a long lot to close
    resting = rest_order(server_desk, symbol, down)  # and a working order to cancel
    assert resting["success"], resting
    page.get_by_test_id("tab-positions").click()
    position = page.locator(f'#positions tbody tr[data-symbol="{symbol}"][data-direction="long"]')
    expect(position).to_be_visible()

    page.get_by_test_id("kill-switch").click()
    dialog = page.get_by_test_id("kill-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("平掉所有持仓")
    page.get_by_test_id("kill-cancel").click()  # changing one's mind changes nothing
    expect(dialog).to_be_hidden()
    assert risk_now(server_desk)["killed"] == ""
    page.get_by_test_id("kill-switch").click()
    page.get_by_test_id("kill-close-positions").check()
    page.get_by_test_id("kill-reason-input").fill("收盘前检查")
    shot(page, "kill-confirm")
    page.get_by_test_id("kill-confirm").click()

    state = page.get_by_test_id("kill-state")
    expect(state).to_be_visible()
    expect(state).to_contain_text("已停止交易")
    expect(page.get_by_test_id("kill-reason")).to_have_text("收盘前检查")
    expect(page.locator(".topbar")).to_have_class("topbar killed")
    expect(page.get_by_test_id("ticket-send")).to_be_disabled()
    expect(page.get_by_test_id("ticket-send")).to_have_text("已停止交易，不能下单")
    expect(page.get_by_test_id("ticket-message")).to_have_text("已停止交易（收盘前检查）：恢复后才能下单")
    expect(page.locator("#toast")).to_contain_text("已停止交易：撤单 1 笔")
    assert risk_now(server_desk)["killed"] == "收盘前检查"
    expect(position).to_have_count(0)  # closed by the kill switch, as asked
    shot(page, "killed")
    refused = rest_order(server_desk, symbol, down)
    assert refused["success"] is False and "kill switch" in refused["msg"], refused
    expect(page.locator("#toast")).to_contain_text("风控拒单：kill switch: on (收盘前检查)")
    page.get_by_test_id("tab-orders").click()
    expect(page.locator("#orders tbody tr[data-order-id]")).to_have_count(0)
    page.get_by_test_id("tab-positions").click()

    page.get_by_test_id("rearm").click()
    expect(state).to_be_hidden()
    expect(page.locator(".topbar")).to_have_class("topbar")
    expect(page.get_by_test_id("ticket-send")).to_be_enabled()
    expect(page.get_by_test_id("ticket-send")).to_have_text("下单")
    expect(page.get_by_test_id("ticket-message")).to_have_text("")
    assert risk_now(server_desk)["killed"] == ""
    again = rest_order(server_desk, symbol, down)
    assert again["success"], again
    assert server_desk.api.delete("/order_solve", json={"order_id": again["data"]["order_id"]}).json()["success"]


def test_a_ticket_close_of_todays_and_yesterdays_lots_shows_both_orders(page: Any, server_desk: Desk) -> None:
    """SHFE keeps today's and yesterday's lots apart: the ticket's 平 of both becomes 平今 + 平昨, both shown."""
    at_the_desk(page)
    symbol = next(row["local_symbol"] for row in server_desk.api.get("/market").json()["data"]
                  if row["local_symbol"].startswith("rb") and row["local_symbol"].endswith(".SHFE"))  # fmt: skip
    watch_row(page, symbol).click()
    expect(page.get_by_test_id("ticket-symbol")).to_have_value(symbol)

    def held(lots: int, yesterday: int) -> Callable[[], bool]:
        def check() -> bool:
            rows = server_desk.api.get("/order_solve").json()["data"]["position_list"]
            mine = [p for p in rows if p["local_symbol"] == symbol and p["direction"] == "long"]
            return bool(mine) and mine[0]["volume"] == lots and mine[0]["yd_volume"] == yesterday

        return check

    assert rest_order(server_desk, symbol, limits_of(server_desk, symbol)[1], volume=2)["success"]
    wait_until("2 lots long", held(2, 0))
    day = server_desk.api.get("/status").json()["data"]["trading_day"]
    settled = server_desk.api.post("/sim/settle").json()
    assert settled["success"], settled

    def next_day() -> bool:
        status = server_desk.api.get("/status").json()["data"]
        ticks = {row["local_symbol"]: row["tick"] for row in server_desk.api.get("/market").json()["data"]}
        tick = ticks.get(symbol) or {}
        return status["td"]["state"] == "ready" and status["trading_day"] != day and tick.get("trading_day") != day

    wait_until("the next trading day's ticks", next_day)
    wait_until("yesterday's 2 lots", held(2, 2))
    assert rest_order(server_desk, symbol, limits_of(server_desk, symbol)[1])["success"]
    wait_until("3 lots long, 1 of today", held(3, 2))
    expect(page.locator('#status [data-api="td"]')).to_have_attribute("data-state", "ready")

    page.locator('#ticket-direction input[value="short"]').check()
    page.get_by_test_id("ticket-offset").select_option("close")
    page.get_by_test_id("ticket-type").select_option("limit")
    page.get_by_test_id("ticket-price").fill(str(limits_of(server_desk, symbol)[0]))  # marketable
    page.get_by_test_id("ticket-volume").fill("3")
    page.get_by_test_id("ticket-send").click()
    expect(page.get_by_test_id("ticket-message")).to_have_text(f"卖 平今 1 + 平昨 2 {symbol}：全部成交")
    expect(page.get_by_test_id("ticket-message")).to_have_class("message ok")
    expect(page.locator(f'#positions tbody tr[data-symbol="{symbol}"]')).to_have_count(0)
    shot(page, "split-close")
    page.get_by_test_id("ticket-volume").fill("1")
    page.get_by_test_id("ticket-offset").select_option("open")
    page.locator('#ticket-direction input[value="long"]').check()


def test_log_out_of_the_counter_returns_to_the_login_page(page: Any) -> None:
    page.get_by_test_id("nav-config").click()
    page.get_by_test_id("logout-access").fill(ACCESS_CODE)
    page.get_by_test_id("logout").click()
    expect(page.locator("#login-view")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('ctpdesk.token')") is None


def test_screenshots_were_saved() -> None:
    saved = {path.stem for path in Path(ARTIFACTS).glob("*.png")}
    assert {"login", "market", "chart", "trade", "english", "strategies", "config", "risk", "killed",
            "split-close"} <= saved  # fmt: skip
