"""Issue 18's Lab tab in the browser: a backtest and a sweep of the shipped double_ma on the sim's history.

From the tab as a trader uses it: the strategy, the rb main contract, the range, the params form; the
progress bar follows the `backtest` events to 100 %; the report's figures are GET /backtest's own; the
trades are marked on the candles; a 4-point sweep of fast x slow gives a heat map, and 应用这些参数 keeps
a point's params as the live strategy's. Debian's Chromium under Playwright, as test_browser_desk.py;
screenshots in test-artifacts/browser/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, Desk, ServerFactory
from tests.e2e.test_browser_desk import ARTIFACTS, expect, logged_in_tab
from tests.e2e.test_browser_desk import pytestmark as browser_marks

pytestmark = browser_marks

DOUBLE_MA = (ROOT / "strategies" / "double_ma.py").read_text(encoding="utf-8")
DEFAULTS = {"product": "rb", "exchange": "SHFE", "fast": 5, "slow": 20, "volume": 1}
LAB_WAIT_MS = 60_000  # a run on a shared 2-core machine
SLOW = '''from backend.strategy import Strategy


class Slow(Strategy):
    """Busy on every bar: a backtest of it runs long enough to be cancelled."""

    params = {"spin": 200000}

    def on_bar(self, bar):
        for _ in range(self.params["spin"]):
            pass


ext = Slow("slow_lab")
'''


@pytest.fixture(scope="module")
def server_desk(server_factory: ServerFactory) -> Desk:
    desk = Desk(server_factory(SIM_TICK_RATE=4))
    for code in (DOUBLE_MA, SLOW):
        assert desk.api.post("/code", json={"text": code}).status_code == 200
    return desk


@pytest.fixture(scope="module")
def symbol(server_desk: Desk) -> str:
    found = server_desk.api.get("/contract", params={"main": 1, "product": "rb"}).json()["data"]
    return str(found[0]["local_symbol"])


@pytest.fixture(scope="module")
def page(server_desk: Desk) -> Iterator[Any]:
    with logged_in_tab(server_desk) as tab:
        tab.on("console", lambda message: tab.errors.append(message.text) if console_error(message) else None)
        tab.get_by_test_id("nav-lab").click()
        expect(tab.locator("#page-lab")).to_be_visible()
        yield tab


def console_error(message: Any) -> bool:
    """An error the page logged; not the browser's own line for an answer of 4xx (a refusal the test asks for)."""
    return message.type == "error" and not message.text.startswith("Failed to load resource")


def choose(page: Any, symbol: str, kind: str) -> None:
    page.get_by_test_id(f"lab-kind-{kind}").check()
    page.get_by_test_id("lab-strategy").select_option("double_ma")
    page.get_by_test_id("lab-symbol").fill(symbol)
    page.get_by_test_id("lab-interval").select_option("1m")


def param(page: Any, name: str) -> Any:
    return page.get_by_test_id("lab-params").locator(f'[data-param="{name}"]')


def finished_run(page: Any, kind: str) -> str:
    """Wait for the progress bar to say 100 % and the report of that run; answers its id."""
    expect(page.get_by_test_id("lab-progress-text")).to_have_attribute("data-percent", "100", timeout=LAB_WAIT_MS)
    expect(page.get_by_test_id("lab-progress")).to_have_attribute("data-status", "finished")
    report = page.get_by_test_id("lab-report")
    expect(report).to_have_attribute("data-status", "finished", timeout=LAB_WAIT_MS)
    expect(report).to_have_attribute("data-kind", kind)
    return str(report.get_attribute("data-id"))


def test_the_tab_refuses_what_cannot_run_before_sending_it(page: Any) -> None:
    expect(page.get_by_test_id("nav-lab")).to_have_text("实验室")
    page.get_by_test_id("lab-kind-optimise").check()
    page.get_by_test_id("lab-strategy").select_option("double_ma")
    expect(param(page, "fast")).to_have_value("5")  # the Strategies tab's params form
    param(page, "slow").fill("2.5")
    page.get_by_test_id("lab-grid").locator('[data-grid="fast"]').fill("3:1:1")
    page.get_by_test_id("lab-run").click()
    expect(page.get_by_test_id("lab-message")).to_contain_text("请先改正标红的参数")
    expect(page.get_by_test_id("lab-message")).to_contain_text("扫描范围 fast 有误")
    expect(page.get_by_test_id("lab-params").locator('[data-error="slow"]')).to_have_text("须为整数")
    expect(page.locator('[data-grid-error="fast"]')).to_have_text("起:止:步长，步长大于 0，止不小于起")
    expect(page.locator("#lab-runs tbody tr.empty")).to_have_count(1)  # nothing was sent
    page.get_by_test_id("lab-params-reset").click()
    expect(param(page, "slow")).to_have_value("20")


def test_the_servers_refusal_shows_in_the_tab(page: Any, symbol: str) -> None:
    choose(page, symbol, "backtest")
    page.get_by_test_id("lab-mode").select_option("tick")  # nothing recorded on this server
    expect(page.get_by_test_id("lab-interval")).to_be_disabled()
    page.get_by_test_id("lab-run").click()
    expect(page.get_by_test_id("lab-message")).to_contain_text("服务器拒绝：")
    expect(page.get_by_test_id("lab-message")).to_contain_text("tick")
    expect(page.locator("#lab-runs tbody tr.empty")).to_have_count(1)
    page.get_by_test_id("lab-mode").select_option("bar")


def test_a_backtest_from_the_tab_shows_the_servers_figures_and_marks_the_trades(page: Any, server_desk: Desk,
                                                                               symbol: str) -> None:  # fmt: skip
    choose(page, symbol, "backtest")
    param(page, "fast").fill("3")
    param(page, "slow").fill("8")
    page.locator(".lab-terms summary").click()
    page.get_by_test_id("lab-terms").locator('[data-term="open_per_lot"]').fill("2")
    page.get_by_test_id("lab-run").click()
    run_id = finished_run(page, "backtest")
    served = server_desk.api.get("/backtest", params={"id": run_id}).json()["data"]
    assert served["status"] == "finished" and served["params"] == {"fast": 3, "slow": 8}
    assert served["terms"]["open_per_lot"] == 2  # the terms the run used: the contract's, with the one given
    stats = served["stats"]
    assert stats["trade_count"] > 0, "double_ma 3/8 on a week of 1-minute bars trades"
    table = page.get_by_test_id("lab-stats")
    for name in ("total_return", "sharpe_ratio", "max_drawdown", "trade_count", "commission", "net_pnl"):
        expect(table.locator(f'[data-stat="{name}"]')).to_have_attribute("data-value", js_number(stats[name]))
    expect(table).to_contain_text("总收益率")
    expect(table).to_contain_text("净盈亏")
    expect(table.locator('[data-stat="total_return"]')).to_have_text(f"{stats['total_return'] * 100:.2f}%")
    expect(table.locator('[data-stat="trade_count"]')).to_have_text(f"{stats['trade_count']:,}")
    expect(table.locator('[data-stat="net_pnl"]')).to_have_text(f"{stats['net_pnl']:,.2f}")
    equity = page.get_by_test_id("lab-equity")
    expect(equity).to_have_attribute("data-points", str(len({point[0] for point in served["equity"]})))
    expect(equity).to_have_attribute("data-last", js_number(served["equity"][-1][1]))
    candles = page.get_by_test_id("lab-candles")
    expect(candles).to_have_attribute("data-markers", str(len(served["trades"])), timeout=LAB_WAIT_MS)
    assert int(candles.get_attribute("data-bars") or 0) > 100
    daily = page.get_by_test_id("lab-daily").locator("tbody tr")
    expect(daily).to_have_count(len(served["daily"]))
    last = served["daily"][-1]
    expect(daily.last).to_have_attribute("data-date", last["date"])
    expect(daily.last.locator("td").nth(4)).to_have_text(f"{last['balance']:,.2f}")
    expect(page.locator(f'#lab-runs tbody tr[data-id="{run_id}"]')).to_have_attribute("data-status", "finished")
    page.screenshot(path=str(ARTIFACTS / "lab-backtest.png"))
    page.get_by_test_id("lab-daily").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "lab-backtest-tables.png"))


def test_a_sweep_shows_a_heat_map_and_applies_a_points_params(page: Any, server_desk: Desk, symbol: str) -> None:
    choose(page, symbol, "optimise")
    page.get_by_test_id("lab-grid").locator('[data-grid="fast"]').fill("3, 5")
    page.get_by_test_id("lab-grid").locator('[data-grid="slow"]').fill("8:13:5")  # 8 and 13
    page.get_by_test_id("lab-target").select_option("net_pnl")
    page.get_by_test_id("lab-run").click()
    run_id = finished_run(page, "optimise")
    served = server_desk.api.get("/optimise", params={"id": run_id}).json()["data"]
    ranked = served["runs"]  # best first
    assert len(ranked) == 4
    heat = page.get_by_test_id("lab-heatmap")
    expect(heat).to_have_attribute("data-x", "fast")
    expect(heat).to_have_attribute("data-y", "slow")
    expect(heat.locator(".cell")).to_have_count(4)
    for point in ranked:
        cell = heat.locator(f'.cell[data-x="{point["params"]["fast"]}"][data-y="{point["params"]["slow"]}"]')
        expect(cell).to_have_attribute("data-value", js_number(point["stats"]["net_pnl"]))
    rows = page.get_by_test_id("lab-ranked").locator("tbody tr")
    expect(rows).to_have_count(4)
    last = ranked[-1]["params"]  # a cell picks its row of the ranking
    heat.locator(f'.cell[data-x="{last["fast"]}"][data-y="{last["slow"]}"]').click()
    expect(rows.nth(3)).to_have_class("selected")
    page.screenshot(path=str(ARTIFACTS / "lab-optimise.png"))
    # The second best, so that the params kept are not the defaults by chance.
    chosen = ranked[1]["params"]
    rows.nth(1).get_by_test_id("lab-apply").click()
    dialog = page.get_by_test_id("params-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator('[data-param="fast"]')).to_have_value(str(chosen["fast"]))
    expect(dialog.locator('[data-param="slow"]')).to_have_value(str(chosen["slow"]))
    page.get_by_test_id("params-save").click()
    expect(dialog).to_be_hidden()
    listed = next(item for item in server_desk.api.get("/strategy").json()["data"] if item["name"] == "double_ma")
    assert listed["status"] == "stopped"
    assert listed["params"] == {**DEFAULTS, **chosen}


def js_number(value: float | int) -> str:
    """A number as JavaScript's String() writes it (what the page puts in data-value)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        return f"{mantissa}e{sign}{int(exponent.lstrip('+-'))}"
    return text


def test_applied_to_a_running_strategy_it_restarts_with_them(page: Any, server_desk: Desk) -> None:
    started = server_desk.api.put("/strategy", json={"name": "double_ma", "operation": "start"}).json()
    assert started["success"], started
    sweep = page.locator("#lab-runs tbody tr[data-kind='optimise'][data-status='finished']").first
    sweep.get_by_test_id("lab-view").click()
    best = page.get_by_test_id("lab-ranked").locator("tbody tr").first
    chosen = json.loads(best.get_attribute("data-params") or "{}")
    best.get_by_test_id("lab-apply").click()
    expect(page.get_by_test_id("params-start")).to_have_text("停止并重启")
    expect(page.get_by_test_id("params-save")).to_be_hidden()  # a running strategy's params change only by a start
    page.get_by_test_id("params-start").click()
    expect(page.get_by_test_id("params-dialog")).to_be_hidden()
    listed = next(item for item in server_desk.api.get("/strategy").json()["data"] if item["name"] == "double_ma")
    assert listed["status"] == "running" and listed["params"] == {**DEFAULTS, **chosen}
    assert server_desk.api.put("/strategy", json={"name": "double_ma", "operation": "stop"}).json()["success"]


def test_a_running_backtest_is_cancelled_from_the_tab(page: Any, server_desk: Desk, symbol: str) -> None:
    page.get_by_test_id("nav-lab").click()  # the strategies again
    page.get_by_test_id("lab-kind-backtest").check()
    page.get_by_test_id("lab-strategy").select_option("slow_lab")
    page.get_by_test_id("lab-symbol").fill(symbol)
    page.get_by_test_id("lab-run").click()
    expect(page.get_by_test_id("lab-progress")).to_have_attribute("data-status", "running", timeout=LAB_WAIT_MS)
    expect(page.get_by_test_id("lab-cancel")).to_be_enabled()
    page.get_by_test_id("lab-cancel").click()
    expect(page.get_by_test_id("lab-progress")).to_have_attribute("data-status", "cancelled", timeout=LAB_WAIT_MS)
    expect(page.get_by_test_id("lab-cancel")).to_be_disabled()
    runs = server_desk.api.get("/backtest").json()["data"]
    assert next(run for run in runs if run["strategy"] == "slow_lab")["status"] == "cancelled"
    expect(page.locator("#lab-runs tbody tr[data-status='cancelled']")).to_have_count(1)


def test_the_tab_in_english(page: Any) -> None:
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("nav-lab")).to_have_text("Lab")
    page.get_by_test_id("nav-lab").click()
    row = page.locator("#lab-runs tbody tr[data-kind='backtest'][data-status='finished']").first
    expect(row).to_contain_text("Backtest")
    row.get_by_test_id("lab-view").click()
    expect(page.get_by_test_id("lab-stats")).to_contain_text("Total return")
    expect(page.get_by_test_id("lab-stats")).to_contain_text("Max drawdown days")
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("nav-lab")).to_have_text("实验室")
