"""Issue 17 items 5, 6 and 3 (the desk side) in the browser: the market watch's default list of main contracts,
several added at once, the trader's order kept, columns that fit a 1366 px screen; stale prices and Send
disabled while the server is down; a strategy's drift shown and adopted.

Debian's Chromium under Playwright against real servers on the sim, as in test_browser_desk.py (whose
browser settings it shares). Screenshots go to test-artifacts/browser-watch/.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.conftest import ACCESS_CODE, ROOT, Desk, Server, ServerFactory, wait_until
from tests.e2e.test_browser_desk import BROWSER_ZONE, CHROMIUM, CHROMIUM_ARGS, WAIT_MS, expect, log_in, playwright_api
from tests.e2e.test_browser_desk import pytestmark as browser_marks

pytestmark = browser_marks
ARTIFACTS = ROOT / "test-artifacts" / "browser-watch"
DEFAULT_WATCH = 12  # market.js: the default list's length

DRIFTER = '''from backend.strategy import Strategy


class Drifter(Strategy):
    """Buys one lot of the main rebar contract once, then does nothing."""

    bought = False

    def on_init(self):
        self.subscribe(self.main_contract("rb"))

    def on_tick(self, tick):
        if not self.bought:
            self.bought = True
            self.buy(tick.limit_up, 1, tick)


ext = Drifter("drifter")
'''


@pytest.fixture(scope="module")
def server_desk(server_factory: ServerFactory) -> Desk:
    return Desk(server_factory(SIM_TICK_RATE=4))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


def open_desk(browser: Any, base: str, width: int = 1600, height: int = 900, *,
              prepare: Callable[[Any], Any] | None = None, loaded: bool = True) -> Any:  # fmt: skip
    """A new tab (its own localStorage: a browser that never had a list) logged in on the desk; `prepare` sees
    the tab before it loads the desk; `loaded`: wait for the desk's first loads too, not its view only."""
    context = browser.new_context(viewport={"width": width, "height": height}, timezone_id=BROWSER_ZONE)
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    tab.mains = []  # the answers to GET /contract?main=1 the page had (the default list comes from them)
    tab.on("response", lambda response: "main=1" in response.url and tab.mains.append(response))
    if prepare is not None:
        prepare(tab)
    tab.goto(base + "/")
    log_in(tab)
    if loaded:
        expect(tab.locator("#desk-view")).to_have_attribute("data-loaded", "true")  # visible, its first loads done
    else:
        expect(tab.locator("#desk-view")).to_be_visible()
    return tab


class HeldDefaultList:
    """The desk's question for its default list (GET /contract?main=1), held unanswered until `release`, so a
    test can act while a first login is still loading; `prepare` is open_desk's hook."""

    def __init__(self) -> None:
        self.held: list[Any] = []
        self.released = False

    def prepare(self, tab: Any) -> None:
        tab.route(lambda url: "main=1" in url, self._arrived)

    def _arrived(self, route: Any) -> None:
        if self.released:
            route.continue_()
        else:
            self.held.append(route)

    def wait(self, tab: Any, count: int = 1) -> None:
        """Until `count` questions are held. Playwright's sync API runs a route's handler only while a call of
        it waits, so the page is waited on in short steps until the handler has run, up to WAIT_MS."""
        deadline = time.monotonic() + WAIT_MS / 1000
        while len(self.held) < count and time.monotonic() < deadline:
            tab.wait_for_timeout(50)
        assert len(self.held) >= count, f"the desk asked for its default list {len(self.held)} time(s), not {count}"

    def release(self) -> None:
        self.released = True
        for route in self.held:
            route.continue_()


def close(tab: Any) -> None:
    errors = list(tab.errors)
    tab.context.close()
    assert not errors, f"errors in the page: {errors}"


@pytest.fixture(scope="module")
def page(browser: Any, server_desk: Desk) -> Iterator[Any]:
    tab = open_desk(browser, server_desk.base)
    yield tab
    close(tab)


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def shown_order(page: Any) -> list[str]:
    return page.locator("#watch tbody tr[data-symbol]").evaluate_all("rows => rows.map(row => row.dataset.symbol)")


def row(page: Any, symbol: str) -> Any:
    return page.locator(f'#watch tbody tr[data-symbol="{symbol}"]')


def strategy(api: Any, name: str) -> dict[str, Any]:
    return next(entry for entry in api.get("/strategy").json()["data"] if entry["name"] == name)


def mains(desk: Desk, limit: int = DEFAULT_WATCH) -> list[dict[str, Any]]:
    return desk.api.get("/contract", params={"main": 1, "limit": limit}).json()["data"]


# --- 5. the market watch ----------------------------------------------------------------------------------
def test_the_first_login_gets_the_main_contracts_of_the_most_held_products_marked(page: Any, server_desk: Desk):
    rows = page.locator("#watch tbody tr[data-symbol]")
    expect(rows).to_have_count(DEFAULT_WATCH)
    answered = [answer for answer in (response.json()["data"] for response in page.mains) if answer][0]
    expected = [item["local_symbol"] for item in answered]
    assert shown_order(page) == expected  # the server's ranking: the largest open interest first
    assert all(item["is_main"] for item in answered) and len({item["product_id"] for item in answered}) == DEFAULT_WATCH
    # and the server's ranking now (open interest moves with each tick: a neighbour may have swapped places)
    now = {item["local_symbol"] for item in mains(server_desk, DEFAULT_WATCH + 4)}
    assert len(set(expected) & now) >= DEFAULT_WATCH - 2, (expected, now)
    expect(rows.locator('[data-testid="main-badge"]')).to_have_count(DEFAULT_WATCH)
    expect(rows.first.get_by_test_id("main-badge")).to_have_text("主力")
    subscribed = {row["local_symbol"] for row in server_desk.api.get("/market").json()["data"]}
    assert set(expected) <= subscribed  # on the server: ticks come, and the list is the same in another browser
    page.wait_for_function("() => document.querySelectorAll('#watch tbody td.price:not(:empty)').length >= 12")
    shot(page, "watch-default")


def test_an_instrument_picked_while_the_default_list_loads_stays_picked_and_watched(browser: Any,
                                                                                 server_factory: ServerFactory):
    """Seen on CI: a fresh login's default list came after the trader had picked an instrument, replaced the
    watch and selected its own first row; the ticket then traded another exchange's contract."""
    desk = Desk(server_factory(SIM_TICK_RATE=4))
    picked = desk.api.get("/contract", params={"product": "rb"}).json()["data"][-1]["local_symbol"]
    default_list = HeldDefaultList()  # answered only once the trader has picked
    tab = open_desk(browser, desk.base, prepare=default_list.prepare, loaded=False)
    tab.wait_for_function("async () => (await import('/ui/state.js')).state.contracts.size > 0")
    default_list.wait(tab)
    tab.get_by_test_id("search").fill(picked)
    expect(tab.locator("#suggestions li").first).to_have_attribute("data-symbol", picked)
    tab.keyboard.press("Enter")
    expect(tab.get_by_test_id("ticket-symbol")).to_have_value(picked)
    default_list.release()
    expect(tab.locator("#desk-view")).to_have_attribute("data-loaded", "true")
    expect(tab.locator("#watch tbody tr[data-symbol]")).to_have_count(DEFAULT_WATCH + (picked not in
                                                                                       mains(desk)))  # fmt: skip
    expect(row(tab, picked)).to_have_class(re.compile(r"\bselected\b"))
    expect(tab.get_by_test_id("ticket-symbol")).to_have_value(picked)
    tab.wait_for_function("symbol => document.getElementById('depth').dataset.symbol === symbol", arg=picked)
    close(tab)


def test_logging_in_again_while_the_first_login_still_loads_leaves_one_socket(browser: Any,
                                                                             server_factory: ServerFactory):
    """Read from a review: the first login's loading, still waiting for the default list, went on after a
    logout and a second login and opened a second socket beside the new session's (every push twice). Found
    on the way: that wait's answer, a 401 for the revoked token, logged the new session out."""
    desk = Desk(server_factory(SIM_TICK_RATE=4))
    default_list = HeldDefaultList()
    sockets: list[Any] = []

    def prepare(tab: Any) -> None:
        default_list.prepare(tab)
        tab.on("websocket", lambda socket: sockets.append(socket))

    tab = open_desk(browser, desk.base, prepare=prepare, loaded=False)
    default_list.wait(tab)
    tab.get_by_test_id("nav-config").click()
    tab.get_by_test_id("logout-access").fill(ACCESS_CODE)
    tab.get_by_test_id("logout").click()
    expect(tab.locator("#login-view")).to_be_visible()
    log_in(tab)
    expect(tab.locator("#desk-view")).to_be_visible()
    default_list.wait(tab, 2)  # the second login's own question
    default_list.release()
    expect(tab.locator("#desk-view")).to_have_attribute("data-loaded", "true")
    expect(tab.locator('#status [data-api="md"]')).to_have_attribute("data-state", "ready")
    tab.wait_for_timeout(2000)  # a window in which no second socket may open
    live = [socket.url for socket in sockets if not socket.is_closed()]
    assert len(live) == 1, live
    close(tab)


def test_several_contracts_are_added_at_once_a_product_code_adding_its_main(page: Any, server_desk: Desk):
    more = [item for item in mains(server_desk, 100) if item["local_symbol"] not in shown_order(page)][:2]
    assert len(more) == 2
    rb = [c for c in server_desk.api.get("/contract", params={"product": "rb"}).json()["data"] if not c["is_main"]][0]
    page.get_by_test_id("search").fill(f"{more[0]['product_id']}, {more[1]['product_id']} {rb['symbol']}")
    page.keyboard.press("Enter")
    wanted = [more[0]["local_symbol"], more[1]["local_symbol"], rb["local_symbol"]]
    for symbol in wanted:
        expect(row(page, symbol)).to_be_visible()
    assert shown_order(page)[-3:] == wanted
    expect(row(page, more[0]["local_symbol"]).get_by_test_id("main-badge")).to_be_visible()
    expect(row(page, rb["local_symbol"]).get_by_test_id("main-badge")).to_have_count(0)
    expect(page.locator("#toast")).to_contain_text("已添加 3 个合约")
    subscribed = {row["local_symbol"] for row in server_desk.api.get("/market").json()["data"]}
    assert set(wanted) <= subscribed


def test_the_traders_order_is_kept_after_a_reload(page: Any, server_desk: Desk):
    symbols = [item["local_symbol"] for item in mains(server_desk, 4)]
    assert server_desk.api.post("/market", json={"symbols": symbols}).json()["success"]  # at least these
    page.reload()
    expect(row(page, symbols[-1])).to_be_visible()
    before = shown_order(page)
    last, first = before[-1], before[0]
    row(page, last).drag_to(row(page, first))
    moved = [last, *before[:-1]]
    wait_until("the row moved", lambda: shown_order(page) == moved, 5)
    row(page, moved[2]).click()  # and Alt+↑ moves the selected row up
    page.keyboard.press("Alt+ArrowUp")
    moved[1], moved[2] = moved[2], moved[1]
    wait_until("the selected row up one", lambda: shown_order(page) == moved, 5)
    page.reload()
    expect(page.locator("#watch tbody tr[data-symbol]")).to_have_count(len(moved))
    assert shown_order(page) == moved
    server_order = [row["local_symbol"] for row in server_desk.api.get("/market").json()["data"]]
    assert server_order != moved  # the server's set comes sorted: the order is the page's


@pytest.mark.parametrize("width", [1366, 1600])
def test_every_column_of_the_watch_fits_a_common_screen(browser: Any, server_desk: Desk, width: int):
    symbols = [item["local_symbol"] for item in mains(server_desk)]
    assert server_desk.api.post("/market", json={"symbols": symbols}).json()["success"]  # shown by any desk
    tab = open_desk(browser, server_desk.base, width, 768)
    try:
        expect(tab.locator("#watch tbody tr[data-symbol]").first).to_be_visible()
        tab.wait_for_function("() => document.querySelectorAll('#watch tbody td.price:not(:empty)').length >= 6")
        box = tab.locator(".watch .scroll").bounding_box()
        headers = tab.locator("#watch thead th")
        for name, index in (("成交量", 5), ("持仓量", 6), ("", 7)):
            if name:
                expect(headers.nth(index)).to_have_text(name)
            cell = headers.nth(index).bounding_box()
            inside = cell["x"] >= box["x"] and cell["x"] + cell["width"] <= box["x"] + box["width"] + 0.5
            assert inside, (name, cell, box)
        # no horizontal scrolling: nothing is cut
        overflow = tab.locator(".watch .scroll").evaluate("node => node.scrollWidth - node.clientWidth")
        assert overflow <= 0, f"the watch overflows by {overflow}px at {width}px"
        shot(tab, f"watch-{width}")
    finally:
        close(tab)


# --- 3. a strategy's book against the account (the desk side) ---------------------------------------------
def test_a_strategys_drift_is_shown_and_adopting_the_account_resolves_it(page: Any, server_desk: Desk):
    api = server_desk.api
    assert api.post("/code", json={"text": DRIFTER}).json()["success"]
    assert api.put("/strategy", json={"name": "drifter", "operation": "start"}).json()["success"]

    def held() -> Any:
        entry = strategy(api, "drifter")
        return [p for p in entry.get("positions", []) if p["volume"]] and entry

    entry = wait_until("the strategy's lot", held)
    assert api.put("/strategy", json={"name": "drifter", "operation": "stop"}).json()["success"]
    symbol = next(p["local_symbol"] for p in entry["positions"] if p["volume"])
    closed = api.post("/close_position", json={"local_symbol": symbol, "direction": "long"}).json()
    assert closed["success"], closed  # by hand, as from the Positions row: the strategy's book still says long
    wait_until("the drift", lambda: strategy(api, "drifter")["drift"])
    page.get_by_test_id("nav-strategies").click()
    drift = page.locator('#strategy-table tr[data-drift="drifter"]')
    expect(drift).to_be_visible()
    expect(drift).to_contain_text("策略持仓与账户不符")
    expect(drift).to_contain_text(f"{symbol} 多：策略 1 手，账户 0 手")
    expect(drift.get_by_test_id("drift-flatten")).to_have_text("平掉策略持仓")
    shot(page, "strategy-drift")
    page.once("dialog", lambda dialog: dialog.accept())
    drift.get_by_test_id("drift-adopt").click()
    expect(drift).to_have_count(0)
    expect(page.locator("#toast")).to_contain_text("drifter")
    after = strategy(api, "drifter")
    assert after["drift"] == [] and not [p for p in after["positions"] if p["volume"]], after
    page.get_by_test_id("nav-trade").click()


# --- 6. stale prices and Send while the server is down ----------------------------------------------------
def test_prices_go_stale_and_send_is_disabled_while_the_server_is_down_and_come_back(
    browser: Any, server_factory: ServerFactory
):
    server: Server = server_factory(SIM_TICK_RATE=4, SIM_NAME=f"stale{time.monotonic_ns()}")
    desk = Desk(server)
    futures = [c["local_symbol"] for c in desk.api.get("/contract").json()["data"] if c["product"] == "futures"][:3]
    assert desk.api.post("/market", json={"symbols": futures}).json()["success"]
    tab = open_desk(browser, server.base)
    try:
        send = tab.get_by_test_id("ticket-send")
        banner = tab.get_by_test_id("md-state")
        expect(tab.locator('#status [data-api="td"]')).to_have_attribute("data-state", "ready")
        expect(tab.locator("#watch tbody tr[data-symbol]").first).to_be_visible()
        tab.wait_for_function("() => document.querySelectorAll('#watch tbody td.price:not(:empty)').length >= 3")
        expect(send).to_be_enabled()
        expect(banner).to_be_hidden()
        expect(tab.locator("#watch tbody tr.stale")).to_have_count(0)

        server.stop()
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("与服务器的连接已断开")
        expect(tab.locator("#watch tbody tr.stale")).to_have_count(len(futures))
        expect(tab.locator("#depth")).to_have_class("depth stale")
        expect(send).to_be_disabled()
        expect(tab.get_by_test_id("ticket-message")).to_contain_text("与服务器的连接已断开")
        shot(tab, "stale-server-down")

        server.start()  # the same port and data: the desk logs itself back in
        expect(send).to_be_enabled(timeout=30_000)
        expect(banner).to_be_hidden()
        expect(tab.locator("#watch tbody tr.stale")).to_have_count(0)
        expect(tab.locator("#depth")).to_have_class("depth")
        expect(tab.get_by_test_id("ticket-message")).to_have_text("")
        shot(tab, "stale-recovered")
    finally:
        close(tab)


def test_one_instrument_is_stale_when_its_exchange_ticks_on_without_it(page: Any):
    stale = page.evaluate("""async () => {
        const h = await import("/ui/health.js");
        const tick = (at) => ({ datetime: `2026-12-04T10:${at}+08:00` });
        const ticks = new Map([["rb2605.SHFE", tick("00:00")], ["cu2601.SHFE", tick("01:30")],
                               ["m2609.DCE", tick("00:00")], ["i2601.DCE", tick("00:30")]]);
        return Object.fromEntries(h.staleSymbols(ticks, [...ticks.keys()]));
    }""")
    assert stale == {"rb2605.SHFE": 90}  # DCE's 30 s gap is within STALE_SECONDS; SHFE's 90 s is not
