"""The day roll: settlement money, yesterday's positions, and SHFE's close-today / close-yesterday rules."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ctpclient import TraderClient
from tests.integration.trader_sim import (
    TraderSim,
    account,
    commission_rates,
    fee,
    fill_order,
    positions,
    relogin,
)


def _next_day(sim: TraderSim, client: TraderClient) -> str:
    """Settle, see the session dropped, reconnect, log in and confirm again; returns the new TradingDay."""
    mark = client.recorder.mark()
    day = sim.control.settle()
    dropped = client.recorder.wait_for("OnFrontDisconnected", start=mark)
    assert dropped.args == (0x1001,)
    login = relogin(client, mark)
    assert login.data is not None and login.data["TradingDay"] == day
    return day


def _trade_of(client: TraderClient, order: dict[str, Any]) -> dict[str, Any]:
    (trade,) = [c.data for c in client.recorder.named("OnRtnTrade") if c.data["OrderSysID"] == order["OrderSysID"]]
    return trade


def _by_date(rows: list[dict[str, Any]]) -> dict[str, tuple[int, int, int]]:
    """PositionDate -> (Position, YdPosition, TodayPosition) of the long rows."""
    return {r["PositionDate"]: (r["Position"], r["YdPosition"], r["TodayPosition"]) for r in rows
            if r["PosiDirection"] == "2"}  # fmt: skip


@pytest.fixture
def shfe_two_days(trader_sim: TraderSim, trader: TraderClient) -> tuple[TraderClient, str, dict[str, Any]]:
    """Two cu lots bought yesterday and one today; returns the client, the symbol and its fee rates."""
    cu, exchange = trader_sim.contract("cu")
    trader_sim.control.set_price(cu, 78000.0)
    fill_order(trader, cu, exchange, "0", "0", 2)
    _next_day(trader_sim, trader)
    trader_sim.control.set_price(cu, 78100.0)
    fill_order(trader, cu, exchange, "0", "0", 1)
    return trader, cu, commission_rates(trader, cu)


def test_shfe_position_has_today_and_history_rows(shfe_two_days: tuple[TraderClient, str, dict[str, Any]]) -> None:
    client, cu, _ = shfe_two_days
    assert _by_date(positions(client, cu)) == {"1": (1, 0, 1), "2": (2, 2, 0)}


@pytest.mark.parametrize(
    ("offset", "leg", "after"),
    [
        ("3", "CloseToday", {"1": (0, 0, 0), "2": (2, 2, 0)}),
        ("4", "Close", {"1": (1, 0, 1), "2": (1, 2, 0)}),  # YdPosition is a start-of-day snapshot
        ("1", "Close", {"1": (1, 0, 1), "2": (1, 2, 0)}),
    ],
    ids=["close-today", "close-yesterday", "close"],
)
def test_shfe_close_offsets_pick_their_lots_and_fees(trader_sim: TraderSim,
                                                     shfe_two_days: tuple[TraderClient, str, dict[str, Any]],
                                                     offset: str, leg: str, after: dict[str, Any]) -> None:  # fmt: skip
    client, cu, rates = shfe_two_days
    assert rates["CloseTodayRatioByMoney"] != rates["CloseRatioByMoney"]  # cu charges more for today's lots
    before = account(client)["Commission"]
    closed = fill_order(client, cu, "SHFE", "1", offset)
    trade = _trade_of(client, closed)
    size = trader_sim.control.specs[cu].size
    assert account(client)["Commission"] - before == pytest.approx(fee(rates, leg, trade["Price"], 1, size))
    assert _by_date(positions(client, cu)) == after


@pytest.mark.parametrize(("offset", "frozen_row"), [("3", "1"), ("4", "2"), ("1", "2")],
                         ids=["close-today", "close-yesterday", "close"])  # fmt: skip
def test_pending_close_freezes_the_lots_of_its_row(shfe_two_days: tuple[TraderClient, str, dict[str, Any]],
                                                   offset: str, frozen_row: str) -> None:  # fmt: skip
    client, cu, _ = shfe_two_days
    ref = client.order(cu, "SHFE", "1", offset, 80000.0, 1)  # a sell far above the market: it rests
    client.wait_order(ref, lambda d: d["OrderStatus"] == "3")
    frozen = {r["PositionDate"]: (r["ShortFrozen"], r["LongFrozen"]) for r in positions(client, cu)}
    assert frozen == {date: ((1 if date == frozen_row else 0), 0) for date in ("1", "2")}


def test_dce_keeps_one_row_and_close_takes_both_days(trader_sim: TraderSim, trader: TraderClient) -> None:
    jm, exchange = trader_sim.contract("jm")
    size = trader_sim.control.specs[jm].size
    trader_sim.control.set_price(jm, 1200.0)
    fill_order(trader, jm, exchange, "0", "0")
    _next_day(trader_sim, trader)
    trader_sim.control.set_price(jm, 1210.0)
    fill_order(trader, jm, exchange, "0", "0")
    assert _by_date(positions(trader, jm)) == {"1": (2, 1, 1)}
    rates = commission_rates(trader, jm)
    assert rates["CloseTodayRatioByMoney"] > rates["CloseRatioByMoney"]

    # Off SHFE/INE a plain Close consumes yesterday's lot first, then today's (the sim's rule).
    for leg, left in [("Close", (1, 1, 1)), ("CloseToday", (0, 1, 0))]:
        before = account(trader)["Commission"]
        trade = _trade_of(trader, fill_order(trader, jm, exchange, "1", "1"))
        assert account(trader)["Commission"] - before == pytest.approx(fee(rates, leg, trade["Price"], 1, size))
        assert _by_date(positions(trader, jm)) == {"1": left}


def test_settlement_rolls_money_positions_and_orders(trader_sim: TraderSim, trader: TraderClient) -> None:
    rb, exchange = trader_sim.contract("rb")
    m, m_exchange = trader_sim.contract("m")
    trader_sim.control.set_price(rb, 3200.0)
    opened = fill_order(trader, rb, exchange, "0", "0", 2)
    trader_sim.control.set_price(rb, 3250.0)  # the settlement price: the day's last price
    resting = trader.order(m, m_exchange, "0", "0", 2800.0, 1)
    trader.wait_order(resting, lambda d: d["OrderStatus"] == "3")
    day_one = account(trader)
    assert day_one["PositionProfit"] != 0 and day_one["FrozenMargin"] > 0
    max_ref = trader.order_ref

    mark = trader.recorder.mark()
    day = trader_sim.control.settle()
    cancelled = trader.wait_order(resting, lambda d: d["OrderStatus"] == "5")
    assert cancelled["VolumeTraded"] == 0
    trader.recorder.wait_for("OnFrontDisconnected", start=mark)  # the drop follows the cancel: wait for it
    names = [c.name for c in trader.recorder.calls[mark:]]
    assert names.index("OnRtnOrder") < names.index("OnFrontDisconnected")  # cancelled before the drop
    login = relogin(trader, mark)
    assert login.data is not None and login.data["TradingDay"] == day > day_one["TradingDay"]
    assert int(login.data["MaxOrderRef"]) == 0 < max_ref

    day_two = account(trader)
    assert day_two["PreBalance"] == pytest.approx(day_one["Balance"])
    assert day_two["Balance"] == pytest.approx(day_one["Balance"])
    assert (day_two["CloseProfit"], day_two["PositionProfit"], day_two["Commission"]) == (0.0, 0.0, 0.0)
    assert (day_two["FrozenMargin"], day_two["FrozenCommission"]) == (0.0, 0.0)
    spec = trader_sim.control.specs[rb]
    assert day_two["CurrMargin"] == pytest.approx(3250.0 * 2 * spec.size * spec.long_margin_ratio)

    (row,) = positions(trader, rb)
    assert (row["PositionDate"], row["Position"], row["YdPosition"], row["TodayPosition"]) == ("2", 2, 2, 0)
    assert row["PositionCost"] == pytest.approx(3250.0 * 2 * spec.size)  # marked at settlement
    assert row["PreSettlementPrice"] == 3250.0
    assert trader_sim.control.market.quotes[rb].pre_settlement == 3250.0
    detail_query = ("ReqQryInvestorPositionDetail", "CThostFtdcQryInvestorPositionDetailField",
                    "OnRspQryInvestorPositionDetail")  # fmt: skip
    (detail,) = [c.data for c in trader.query(*detail_query, InstrumentID=rb)]
    assert detail is not None and detail["OpenDate"] == opened["TradingDay"] and detail["Volume"] == 2

    for method, struct, callback in [("ReqQryOrder", "CThostFtdcQryOrderField", "OnRspQryOrder"),
                                     ("ReqQryTrade", "CThostFtdcQryTradeField", "OnRspQryTrade")]:  # fmt: skip
        assert [(c.data, c.is_last) for c in trader.query(method, struct, callback)] == [(None, True)]
