"""Issue 17 item 4 in the browser: the chart a trader reads. History on a fresh desk filling the width,
an O H L C V legend, MA5/MA20, volume in a pane of its own, working orders as price lines and fills as
markers, and no chart-library error across 50 switches of instrument and interval, the forming
candle there after each one.

Debian's Chromium under Playwright against a real server on the sim, as in test_browser_desk.py
(whose browser settings it shares). What the chart holds is read from the library itself through
`window.ctpdesk.chart()` (ui/src/chart.js). Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.conftest import Desk, ServerFactory
from tests.e2e.test_browser_desk import (
    ARTIFACTS,
    BROWSER_ZONE,
    WEEKDAYS,
    expect,
    limits_of,
    logged_in_tab,
    playwright_api,
    rest_order,
    subscribe_by_search,
    watch_row,
)
from tests.e2e.test_browser_desk import pytestmark as browser_marks

pytestmark = browser_marks
SWITCHES = 50
INTERVALS = ("1m", "5m", "15m", "30m", "1h", "1d")

# The bar the latest tick belongs to, worked out here (not by the desk's code): its start in the chart's
# time (exchange time drawn as UTC seconds); a daily bar starts at its trading day's midnight.
FORMING = """([symbol, interval]) => {
  const chart = window.ctpdesk && window.ctpdesk.chart && window.ctpdesk.chart();
  if (!chart || !chart.ready || chart.symbol !== symbol || chart.interval !== interval) return false;
  const tick = chart.lastTick;
  if (!chart.last || !tick || chart.candles < 2) return false;
  const offset = 8 * 3600;
  const spans = {"1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600};
  const start = interval === "1d"
    ? Date.parse(`${tick.trading_day}T00:00:00+08:00`) / 1000 + offset
    : Math.floor((Date.parse(tick.datetime) / 1000 + offset) / spans[interval]) * spans[interval];
  const last = chart.last;
  return last.time === start && last.low <= tick.last_price && tick.last_price <= last.high;
}"""


@pytest.fixture(scope="module")
def server_desk(server_factory: ServerFactory) -> Desk:
    return Desk(server_factory(SIM_TICK_RATE=4, TICK_PUSH_INTERVAL=0.1))


@pytest.fixture(scope="module")
def page(server_desk: Desk) -> Iterator[Any]:
    """A logged-in desk; every console error and page error of the module is collected and fails it."""
    with logged_in_tab(server_desk, console_errors=True, timezone_id=BROWSER_ZONE) as tab:
        yield tab


def chart_now(page: Any) -> dict[str, Any]:
    return dict(page.evaluate("window.ctpdesk.chart()"))


def shot(page: Any, name: str) -> None:
    page.locator(".chart-card").screenshot(path=str(ARTIFACTS / f"chart-{name}.png"))


def wait_forming(page: Any, symbol: str, interval: str) -> None:
    try:
        page.wait_for_function(FORMING, arg=[symbol, interval])
    except playwright_api.Error as error:
        raise AssertionError(f"no forming {symbol} {interval} candle: {chart_now(page)}") from error


def test_a_fresh_desk_opens_on_history_filling_the_width(page: Any) -> None:
    symbol = subscribe_by_search(page, "rb")
    wait_forming(page, symbol, "1m")
    chart = chart_now(page)
    assert chart["candles"] >= 1000  # the sim's past, right after login: not a handful of live candles
    assert 120 <= chart["visible"] <= 160, chart["visible"]  # the view opens on the last ~150 bars
    assert chart["volumes"] == chart["candles"] and chart["volumePane"] == 1  # volume below, on its own scale
    assert [average["length"] for average in chart["averages"]] == [5, 20]
    assert [average["points"] for average in chart["averages"]] == [chart["candles"] - 4, chart["candles"] - 19]
    shot(page, "history")


def test_the_legend_shows_the_last_bar_and_the_bar_under_the_cursor(page: Any) -> None:
    legend = page.get_by_test_id("chart-legend")
    for word in ("开", "高", "低", "收", "量", "MA5", "MA20"):
        expect(legend).to_contain_text(word)
    last = chart_now(page)["last"]
    expect(legend).to_have_attribute("data-time", str((last["time"] - 8 * 3600) * 1000))
    box = page.get_by_test_id("chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.4)
    expect(legend).not_to_have_attribute("data-time", str((last["time"] - 8 * 3600) * 1000))
    hovered = int(legend.get_attribute("data-time"))
    assert hovered < (last["time"] - 8 * 3600) * 1000  # an earlier bar, the one under the cursor
    shot(page, "legend")
    page.mouse.move(box["x"] + box["width"] + 40, box["y"] - 40)  # off the chart: back to the last bar
    page.wait_for_function("() => document.querySelector('[data-testid=chart-legend]').dataset.time !== ''")


def test_a_working_order_is_a_price_line_and_a_fill_a_marker(page: Any, server_desk: Desk) -> None:
    symbol = page.get_by_test_id("chart").get_attribute("data-symbol")
    _, high = limits_of(server_desk, symbol)
    tick = next(row["tick"] for row in server_desk.api.get("/market").json()["data"] if row["local_symbol"] == symbol)
    low = tick["bid_price_1"] - 6  # rb's tick is 1: six ticks under the bid, in view and (for a test's second) working
    resting = rest_order(server_desk, symbol, low)
    assert resting["success"], resting
    line = "price => window.ctpdesk.chart().orderLines.some(line => line.price === price && line.title === '买开 1')"
    page.wait_for_function(line, arg=low)
    filled = rest_order(server_desk, symbol, high)  # at the upper limit: it fills at once
    assert filled["success"], filled
    page.wait_for_function("() => window.ctpdesk.chart().fills.some(fill => fill.text === '买1')")
    chart = chart_now(page)
    assert chart["fills"][-1]["time"] == chart["last"]["time"]  # on the bar being formed
    assert chart["fills"][-1]["position"] == "belowBar"  # a buy: an arrow up under the bar
    shot(page, "orders")
    assert server_desk.api.delete("/order_solve", json={"order_id": resting["data"]["order_id"]}).json()["success"]
    page.wait_for_function("price => !window.ctpdesk.chart().orderLines.some(line => line.price === price)", arg=low)


def test_a_daily_bar_is_dated_by_its_trading_day_and_says_so(page: Any) -> None:
    """One convention: exchange time, and a daily bar by its trading day, named as such (a Friday night's
    trades are on Monday's bar); today's fill sits on the trading day's bar."""
    symbol = page.get_by_test_id("chart").get_attribute("data-symbol")
    page.locator('#intervals button[data-interval="1d"]').click()
    wait_forming(page, symbol, "1d")
    day = datetime.strptime(chart_now(page)["lastTick"]["trading_day"], "%Y-%m-%d")
    expect(page.get_by_test_id("chart-legend")).to_contain_text(f"交易日 {day:%m-%d} {WEEKDAYS[day.weekday()]}")
    page.wait_for_function("() => window.ctpdesk.chart().fills.length > 0")
    chart = chart_now(page)
    assert chart["fills"][-1]["time"] == chart["last"]["time"]  # the fill of this session: today's trading day
    shot(page, "daily")
    page.locator('#intervals button[data-interval="1m"]').click()


def test_fifty_switches_of_instrument_and_interval_without_an_error(page: Any) -> None:
    first = page.get_by_test_id("chart").get_attribute("data-symbol")
    second = subscribe_by_search(page, "ag")
    seen = len(page.errors)  # (any before fail the module at its end)
    symbol, interval = second, page.get_by_test_id("chart").get_attribute("data-interval")  # subscribing selected it
    began, intervals = time.monotonic(), 0
    for number in range(SWITCHES):
        kind = number % 3  # now the interval, now the instrument, now both at once
        if kind:
            symbol = first if symbol == second else second
            watch_row(page, symbol).click()
        if kind != 1:
            intervals += 1
            interval = INTERVALS[intervals % len(INTERVALS)]
            page.locator(f'#intervals button[data-interval="{interval}"]').click()
        wait_forming(page, symbol, interval)
    assert page.errors[seen:] == []
    assert time.monotonic() - began < 45
    shot(page, "switched")


def test_quick_switches_drop_the_stale_answers(page: Any, server_desk: Desk) -> None:
    """Clicks faster than /bar answers: the chart ends on the last one asked for, every earlier answer dropped."""
    seen = len(page.errors)
    for interval in ("5m", "1h", "1d", "15m", "1m", "30m"):
        page.locator(f'#intervals button[data-interval="{interval}"]').click()
    symbol = page.get_by_test_id("chart").get_attribute("data-symbol")
    wait_forming(page, symbol, "30m")
    chart = chart_now(page)
    query = {"local_symbol": symbol, "interval": "30m", "limit": 1000}
    rows = server_desk.api.get("/bar", params=query).json()["data"]
    assert chart["candles"] - len(rows) in (0, 1, 2)  # the history, and the window forming (and one begun since)
    first = rows[0][0] // 1000 + 8 * 3600
    assert page.evaluate("() => window.ctpdesk.chart().first") == first  # the 30m history, not an earlier answer
    assert page.errors[seen:] == []
