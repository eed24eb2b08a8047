"""Issue 17 item 7 (and item 1 from the ticket's side) in the browser: the fast ticket.

Price filled on pick; 对手价/排队价/最新价/指定价 ± N ticks to the tick; click-to-trade on the ladder with
working orders shown and cancelled there; hotkeys (and none while typing); 市价 on SHFE sent as a
marketable limit; open 3 rb short then 买 平 3 from the ticket, flat.

Debian's Chromium under Playwright against a real server on the sim, as in test_browser_desk.py
(whose browser settings it shares). Screenshots go to test-artifacts/browser/ticket-*.png.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Desk, ServerFactory, pause, wait_until
from tests.e2e.test_browser_desk import ARTIFACTS, expect, logged_in_tab
from tests.e2e.test_browser_desk import pytestmark as browser_marks

pytestmark = browser_marks

# The ladder and the ticket read in one go (one JS task), so both come from the same drawn tick.
READ = """() => {
    const cell = (row) => (row ? Number(row.querySelector("td.price").dataset.price) : null);
    const asks = document.querySelectorAll("#depth tr.ask");
    const form = document.getElementById("ticket-form");
    if (!document.querySelector("#depth tr.last")) return null;  // no tick drawn yet
    const limits = document.querySelector("#depth tr.last td:last-child").textContent
        .split("–").map((x) => Number(x.trim()));
    return {ask: cell(asks[asks.length - 1]), bid: cell(document.querySelector("#depth tr.bid")),
            last: Number(document.querySelector("#depth tr.last td.price").textContent),
            price: form.elements.price.value, down: limits[0], up: limits[1]};
}"""


@pytest.fixture(scope="module")
def server_desk(server_factory: ServerFactory) -> Desk:
    return Desk(server_factory(SIM_TICK_RATE=4, TICK_PUSH_INTERVAL=0.1))


@pytest.fixture(scope="module")
def page(server_desk: Desk) -> Iterator[Any]:
    """A logged-in desk on its trade page; errors in the page fail the test."""
    with logged_in_tab(server_desk) as tab:
        expect(tab.locator('#status [data-api="md"]')).to_have_attribute("data-state", "ready")
        tab.wait_for_function("async () => (await import('/ui/state.js')).state.contracts.size > 0")
        yield tab


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"ticket-{name}.png"))


def subscribe(page: Any, text: str) -> str:
    page.get_by_test_id("search").fill(text)
    first = page.locator("#suggestions li").first
    expect(first).to_be_visible()
    symbol = str(first.get_attribute("data-symbol"))
    page.keyboard.press("Enter")
    expect(page.locator(f'#watch tbody tr[data-symbol="{symbol}"]')).to_be_visible()
    expect(page.get_by_test_id("ticket-symbol")).to_have_value(symbol)
    ladder_of(page, symbol)
    return symbol


def ladder_of(page: Any, symbol: str) -> None:
    """Wait for the ladder to show the instrument (its data-symbol; a ladder without one: any drawn book)."""
    page.wait_for_function("""symbol => {
        const depth = document.getElementById("depth");
        const drawn = Boolean(depth.querySelector("tr.last"));
        return drawn && (!("symbol" in depth.dataset) || depth.dataset.symbol === symbol);
    }""", arg=symbol)


def rest(server_desk: Desk, path: str) -> Any:
    body = server_desk.api.get(path).json()
    assert body["success"], body
    return body["data"]


def held(server_desk: Desk, symbol: str) -> dict[str, int]:
    rows = rest(server_desk, "/order_solve")["position_list"]
    return {p["direction"]: p["volume"] for p in rows if p["local_symbol"] == symbol and p["volume"]}


def working(server_desk: Desk, symbol: str) -> list[dict[str, Any]]:
    return [o for o in rest(server_desk, "/order_solve")["active_order_list"] if o["local_symbol"] == symbol]


def pricetick(server_desk: Desk, symbol: str) -> float:
    return float(next(c["pricetick"] for c in rest(server_desk, "/contract") if c["local_symbol"] == symbol))


def set_ticket(page: Any, *, side: str | None = None, mode: str | None = None, ticks: int | None = None,
               offset: str | None = None, kind: str | None = None, volume: int | None = None) -> None:
    if side:
        page.locator(f'#ticket-direction input[value="{side}"]').check()
    if offset:
        page.get_by_test_id("ticket-offset").select_option(offset)
    if kind:
        page.get_by_test_id("ticket-type").select_option(kind)
    if mode:
        page.get_by_test_id("ticket-mode").select_option(mode)
    if ticks is not None:
        page.get_by_test_id("ticket-ticks").fill(str(ticks))
    if volume is not None:
        page.get_by_test_id("ticket-volume").fill(str(volume))
    page.evaluate("() => document.activeElement && document.activeElement.blur()")  # not typing: hotkeys act


def expected(mode: str, side: str, seen: dict[str, Any], ticks: int, tick: float) -> float:
    buy = side == "long"
    base = {"opposite": seen["ask"] if buy else seen["bid"], "queue": seen["bid"] if buy else seen["ask"],
            "last": seen["last"]}[mode]  # fmt: skip
    value = base + (1 if buy else -1) * ticks * tick
    return min(max(value, seen["down"]), seen["up"])


def check_price(page: Any, mode: str, side: str, ticks: int, tick: float) -> None:
    """The ticket's price is the mode's price on the ladder's tick ± N ticks, written to the tick's decimals."""
    decimals = len(str(tick).split(".")[1]) if tick < 1 else 0
    deadline = time.monotonic() + 10.0  # the ticket follows the next drawn tick: a few frames, more on a busy machine
    while time.monotonic() < deadline:
        seen = page.evaluate(READ)
        want = expected(mode, side, seen, ticks, tick) if seen else 0.0
        if seen and seen["price"] == f"{want:.{decimals}f}":
            return
        pause(0.05)
    shown = seen["price"] if seen else None
    raise AssertionError(f"{mode} {side} {ticks:+d}: ticket {shown!r}, expected {want:.{decimals}f} from {seen}")


def test_picking_an_instrument_fills_the_price(page: Any, server_desk: Desk) -> None:
    symbol = subscribe(page, "rb")
    assert symbol.endswith(".SHFE")
    price = page.get_by_test_id("ticket-price")
    expect(price).not_to_have_value("")  # filled at once, no click needed
    expect(page.get_by_test_id("ticket-mode")).to_have_value("opposite")  # 对手价 unless the trader chose
    check_price(page, "opposite", "long", 0, pricetick(server_desk, symbol))
    expect(page.get_by_test_id("ticket-keys")).to_have_text("F1 买开 · F2 卖开 · F3 平仓 · Esc 撤本合约")
    shot(page, "pick")


def test_each_price_mode_and_plus_minus_ticks_give_the_price_to_the_tick(page: Any, server_desk: Desk) -> None:
    symbol = page.get_by_test_id("ticket-symbol").input_value()
    tick = pricetick(server_desk, symbol)
    for mode in ("opposite", "queue", "last"):
        for side in ("long", "short"):
            for ticks in (0, 3, -2):
                set_ticket(page, side=side, mode=mode, ticks=ticks)
                check_price(page, mode, side, ticks, tick)
    # a half-yuan tick (iron ore): +3 ticks is 1.5 yuan, written as the tick is
    iron = next(c["local_symbol"] for c in rest(server_desk, "/contract")
                if re.fullmatch(r"i\d{4}\.DCE", c["local_symbol"]))  # fmt: skip
    other = subscribe(page, iron)
    assert other == iron
    half = pricetick(server_desk, other)
    assert half == 0.5, half
    set_ticket(page, side="long", mode="opposite", ticks=3)
    check_price(page, "opposite", "long", 3, half)
    set_ticket(page, side="short", mode="queue", ticks=-1)
    check_price(page, "queue", "short", -1, half)
    shot(page, "modes")
    page.locator(f'#watch tbody tr[data-symbol="{symbol}"]').click()  # back to rb for the rest
    expect(page.get_by_test_id("ticket-symbol")).to_have_value(symbol)
    ladder_of(page, symbol)
    set_ticket(page, side="long", mode="opposite", ticks=0)


def test_a_click_on_a_ladder_level_fills_the_price_and_keeps_it(page: Any) -> None:
    level = page.locator("#depth tr.bid td.price").nth(2)  # bid 3
    expect(level).not_to_have_text("")
    # the price under the mouse at the moment of the click (the ladder redraws a few times a second)
    page.evaluate("""() => document.addEventListener("mousedown", (event) => {
        window.clickedPrice = event.target.closest("td") && event.target.closest("td").dataset.price;
    }, { capture: true, once: true })""")
    level.click()
    clicked = float(page.evaluate("() => window.clickedPrice"))
    expect(page.get_by_test_id("ticket-mode")).to_have_value("fixed")  # 指定价: the ticket stops following
    expect(page.get_by_test_id("ticket-price")).to_have_value(f"{clicked:.0f}")  # rb: a 1-yuan tick
    filled = float(page.get_by_test_id("ticket-price").input_value())
    ticks_before = page.evaluate("() => window.ctpdesk.stats.ticks")
    page.wait_for_function(f"() => window.ctpdesk.stats.ticks >= {ticks_before + 4}")
    assert float(page.get_by_test_id("ticket-price").input_value()) == filled  # kept while the market moves
    assert not page.get_by_test_id("ticket-message").inner_text()  # a plain click sends nothing
    # a click on a ladder still showing another instrument (until the next frame) changes nothing
    page.evaluate("async () => (await import('/ui/ticket.js')).ladderClick(12345, null, 'other.SHFE')")
    assert float(page.get_by_test_id("ticket-price").input_value()) == filled


def test_a_working_order_shows_on_the_ladder_and_is_cancelled_there(page: Any, server_desk: Desk) -> None:
    symbol = page.get_by_test_id("ticket-symbol").input_value()
    set_ticket(page, side="long", mode="queue", ticks=-8, offset="open", kind="limit", volume=1)  # rests below the book
    page.get_by_test_id("ticket-send").click()
    expect(page.get_by_test_id("ticket-message")).to_contain_text("未成交")
    wait_until("the order working", lambda: len(working(server_desk, symbol)) == 1)
    at = float(working(server_desk, symbol)[0]["price"])
    page.get_by_test_id("ticket-price").fill(f"{at:.0f}")  # 指定价: 2 more at the same price
    expect(page.get_by_test_id("ticket-mode")).to_have_value("fixed")
    set_ticket(page, volume=2)
    page.get_by_test_id("ticket-send").click()
    expect(page.get_by_test_id("ticket-message")).to_have_text(f"买 开 2 {symbol}：未成交")
    row = page.locator(f'#depth tr.has-working[data-working-price="{at:g}"]')
    expect(row.get_by_test_id("depth-working")).to_contain_text("买挂 3")
    shot(page, "ladder-working")
    row.get_by_test_id("depth-cancel").click()  # the ×: both orders at the price
    expect(page.locator("#depth tr.has-working")).to_have_count(0)
    wait_until("no working orders", lambda: not working(server_desk, symbol))
    # a right click on the row cancels too
    page.get_by_test_id("ticket-send").click()
    expect(page.get_by_test_id("ticket-message")).to_contain_text("未成交")
    expect(row).to_have_count(1)
    row.locator("td").first.click(button="right")
    expect(page.locator("#depth tr.has-working")).to_have_count(0)
    wait_until("no working orders", lambda: not working(server_desk, symbol))
    set_ticket(page, volume=1)


def test_ctrl_click_on_a_ladder_level_sends_at_once(page: Any, server_desk: Desk) -> None:
    symbol = page.get_by_test_id("ticket-symbol").input_value()
    set_ticket(page, side="long", offset="open", kind="limit")
    page.locator("#depth tr.bid td.price").nth(4).click(modifiers=["Control"])  # bid 5: a buy there rests
    expect(page.get_by_test_id("ticket-message")).to_contain_text(f"买 开 1 {symbol}")
    wait_until("the order working", lambda: len(working(server_desk, symbol)) == 1)
    expect(page.locator("#depth tr.has-working")).to_have_count(1)
    page.keyboard.press("Escape")  # the default hotkey: cancel the instrument's orders
    wait_until("no working orders", lambda: not working(server_desk, symbol))
    expect(page.get_by_test_id("ticket-message")).to_have_text(f"已撤 {symbol} 1 笔挂单")


def test_the_answer_line_follows_the_order_it_sent_to_its_end(page: Any, server_desk: Desk) -> None:
    """The line under the ticket is the sent order's status, kept up to date: a fill or a cancel pushed after
    the answer shows there (it said 未成交 for good when a fill came a moment after the counter's answer)."""
    symbol = page.get_by_test_id("ticket-symbol").input_value()
    set_ticket(page, side="long", mode="queue", ticks=-30, offset="open", kind="limit", volume=1)  # rests: far below
    page.get_by_test_id("ticket-send").click()
    expect(page.get_by_test_id("ticket-message")).to_have_text(f"买 开 1 {symbol}：未成交")
    wait_until("the order working", lambda: len(working(server_desk, symbol)) == 1)
    order_id = working(server_desk, symbol)[0]["order_id"]
    answer = server_desk.api.delete("/order_solve", json={"order_id": order_id}).json()  # elsewhere: not the desk
    assert answer["success"] and answer["data"]["status"] == "cancelled", answer
    expect(page.get_by_test_id("ticket-message")).to_have_text(f"买 开 1 {symbol}：已撤销")
    expect(page.get_by_test_id("ticket-message")).to_have_class("message ok")


def test_hotkeys_send_and_never_while_typing(page: Any, server_desk: Desk) -> None:
    symbol = page.get_by_test_id("ticket-symbol").input_value()
    set_ticket(page, mode="opposite", ticks=5, kind="limit", volume=1)  # 5 ticks through the book: fills
    assert not held(server_desk, symbol)
    page.locator('#ticket-direction input[value="short"]').click()  # a radio in focus is not typing
    page.keyboard.press("F1")
    expect(page.get_by_test_id("ticket-message")).to_have_text(f"买 开 1 {symbol}：全部成交")
    wait_until("1 lot long", lambda: held(server_desk, symbol) == {"long": 1})
    orders = len(rest(server_desk, "/order_solve")["order_list"])
    page.get_by_test_id("ticket-volume").click()  # typing in a field: F2 is not a hotkey there
    page.keyboard.press("F2")
    page.get_by_test_id("ticket-symbol").click()
    page.keyboard.press("F1")
    pause(1.0)
    assert len(rest(server_desk, "/order_solve")["order_list"]) == orders
    assert held(server_desk, symbol) == {"long": 1}
    set_ticket(page)  # out of the field
    page.keyboard.press("F3")  # 平仓: the one side held, sold
    expect(page.get_by_test_id("ticket-message")).to_have_text(f"卖 平今 1 {symbol}：全部成交")
    wait_until("flat", lambda: not held(server_desk, symbol))
    # the trader's own keys (localStorage ctpdesk.hotkeys): F1 no longer sends, "b" buys
    page.evaluate("keys => localStorage.setItem('ctpdesk.hotkeys', keys)", json.dumps({"b": "buy_open"}))
    page.keyboard.press("F1")
    pause(0.5)
    assert len(rest(server_desk, "/order_solve")["order_list"]) == orders + 1
    page.keyboard.press("b")
    expect(page.get_by_test_id("ticket-message")).to_have_text(f"买 开 1 {symbol}：全部成交")
    wait_until("1 lot long", lambda: held(server_desk, symbol) == {"long": 1})
    page.evaluate("() => localStorage.removeItem('ctpdesk.hotkeys')")
    page.keyboard.press("F3")
    wait_until("flat", lambda: not held(server_desk, symbol))
    shot(page, "hotkeys")


def test_market_on_shfe_is_sent_as_a_marketable_limit_and_fills(page: Any, server_desk: Desk) -> None:
    symbol = page.get_by_test_id("ticket-symbol").input_value()
    set_ticket(page, side="long", offset="open", kind="market", volume=1)
    market = page.get_by_test_id("ticket-type").locator('option[value="market"]')
    expect(market).to_have_text("市价(以涨停价限价)")
    up = page.evaluate(READ)["up"]
    expect(page.get_by_test_id("ticket-price")).to_have_value(f"{up:.0f}")  # the limit it goes at, shown
    expect(page.get_by_test_id("ticket-price")).to_be_disabled()
    note = f"市价(以涨停价限价)：SHFE 不接受市价单，以 {up:.0f} 限价发送"
    expect(page.get_by_test_id("ticket-market-note")).to_have_text(note)
    shot(page, "market-as-limit")
    page.get_by_test_id("ticket-send").click()
    expect(page.get_by_test_id("ticket-message")).to_have_text(f"买 开 1 {symbol}：全部成交")  # not refused
    wait_until("1 lot long", lambda: held(server_desk, symbol) == {"long": 1})
    order = rest(server_desk, "/order_solve")["order_list"][-1]
    assert order["type"] == "limit" and order["price"] == up, order
    set_ticket(page, side="short", offset="close")
    expect(market).to_have_text("市价(以跌停价限价)")
    down = page.evaluate(READ)["down"]
    expect(page.get_by_test_id("ticket-market-note")).to_contain_text(f"以 {down:.0f} 限价发送")
    page.get_by_test_id("ticket-send").click()
    expect(page.get_by_test_id("ticket-message")).to_have_text(f"卖 平今 1 {symbol}：全部成交")
    wait_until("flat", lambda: not held(server_desk, symbol))


def test_open_3_short_then_buy_close_3_from_the_ticket_is_filled_and_flat(page: Any, server_desk: Desk) -> None:
    """Issue 17 item 1 from the ticket: 平 of today's SHFE lots is sent as 平今 by the engine and fills."""
    symbol = page.get_by_test_id("ticket-symbol").input_value()
    set_ticket(page, side="short", offset="open", kind="market", volume=3)
    page.get_by_test_id("ticket-send").click()
    expect(page.get_by_test_id("ticket-message")).to_have_text(f"卖 开 3 {symbol}：全部成交")
    wait_until("3 lots short", lambda: held(server_desk, symbol) == {"short": 3})
    set_ticket(page, side="long", offset="close", kind="limit", mode="opposite", ticks=5, volume=3)
    hint = page.get_by_test_id("ticket-hint")
    expect(hint).to_contain_text("空 3（今 3）")  # what 平 would close, today's lots apart
    expect(hint).to_contain_text("平：今仓、昨仓自动分为平今、平昨")
    page.get_by_test_id("ticket-send").click()
    expect(page.get_by_test_id("ticket-message")).to_have_text(f"买 平今 3 {symbol}：全部成交")
    expect(page.get_by_test_id("ticket-message")).to_have_class("message ok")
    wait_until("flat", lambda: not held(server_desk, symbol))
    expect(page.locator(f'#positions tbody tr[data-symbol="{symbol}"]')).to_have_count(0)
    expect(hint).to_contain_text("空 0（今 0）")
    shot(page, "close-today")
    set_ticket(page, offset="open", volume=1)


def test_screenshots_were_saved() -> None:
    saved = {path.stem for path in Path(ARTIFACTS).glob("ticket-*.png")}
    assert {"ticket-pick", "ticket-modes", "ticket-ladder-working", "ticket-hotkeys", "ticket-market-as-limit",
            "ticket-close-today"} <= saved  # fmt: skip
