"""Orders through the sim's counter and exchange: every status path, counter rejects, cancels.

Prices are steered with control().set_price; the book it rebuilds is read from market.quotes.
Status sequences are (OrderStatus, OrderSubmitStatus) pairs of one order's OnRtnOrder callbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.ctpclient import TraderClient
from tests.integration.trader_sim import (
    TraderSim,
    account,
    assert_statuses_monotonic,
    barrier,
    builtin_contract,
    fill_order,
)

ACCEPTED = [("a", "0"), ("3", "3")]


def _statuses(client: TraderClient, ref: str) -> list[tuple[str, str]]:
    return [(d["OrderStatus"], d["OrderSubmitStatus"]) for d in client.order_updates(ref)]


def _trades(client: TraderClient, sys_id: str | None = None) -> list[dict[str, Any]]:
    return [c.data for c in client.recorder.named("OnRtnTrade") if c.data and sys_id in (None, c.data["OrderSysID"])]


def _done(client: TraderClient, ref: str) -> dict[str, Any]:
    return client.wait_order(ref, lambda d: d["OrderStatus"] in "0524")


def _assert_nothing_frozen(client: TraderClient) -> None:
    money = account(client)
    assert (money["FrozenMargin"], money["FrozenCommission"], money["FrozenCash"]) == (0.0, 0.0, 0.0)


# --- status paths -----------------------------------------------------------------------------------
def test_resting_limit_order_fills_when_the_market_comes_to_it(trader_sim: TraderSim, trader: TraderClient) -> None:
    rb, exchange = trader_sim.contract("rb")
    trader_sim.control.set_price(rb, 3200.0)
    ref = trader.order(rb, exchange, "0", "0", 3190.0, 1)
    accepted = trader.wait_order(ref, lambda d: d["OrderStatus"] == "3")
    first = trader.order_updates(ref)[0]
    assert (first["OrderStatus"], first["OrderSubmitStatus"], first["OrderSysID"]) == ("a", "0", "")
    sys_id = accepted["OrderSysID"]
    assert sys_id.startswith(" ") and sys_id.strip().isdigit() and len(sys_id) == 12  # right-aligned
    assert accepted["OrderRef"].strip() == ref

    trader_sim.control.set_price(rb, 3195.0)  # the book stays above the bid: nothing happens
    barrier(trader)
    assert _statuses(trader, ref) == ACCEPTED

    trader_sim.control.set_price(rb, 3187.0)  # asks now at or below 3190: fills at its own price
    filled = _done(trader, ref)
    assert (filled["OrderStatus"], filled["VolumeTraded"], filled["VolumeTotal"]) == ("0", 1, 0)
    (trade,) = _trades(trader)
    assert (trade["OrderSysID"], trade["Price"], trade["Volume"], trade["OffsetFlag"]) == (sys_id, 3190.0, 1, "0")
    assert _statuses(trader, ref) == [*ACCEPTED, ("0", "3")]
    assert_statuses_monotonic(trader.recorder.calls)


@pytest.mark.parametrize(("trade_before_order", "trade_first"), [(1.0, True), (0.0, False)])
def test_marketable_limit_fills_at_once_trade_and_order_in_either_order(
    trader_sim_factory: Callable[..., TraderSim], trade_before_order: float, trade_first: bool
) -> None:
    sim = trader_sim_factory(trade_before_order=trade_before_order)
    client = sim.ready_client()
    rb, exchange = sim.contract("rb")
    sim.control.set_price(rb, 3200.0)
    ask = sim.control.market.quotes[rb].ask_prices[0]
    ref = client.order(rb, exchange, "0", "0", ask, 1)
    done = _done(client, ref)
    trade_call = client.recorder.wait_for("OnRtnTrade")
    assert _statuses(client, ref) == [*ACCEPTED, ("0", "3")]
    trade = trade_call.data
    assert trade is not None and trade["TradeID"].strip().isdigit()
    assert (trade["OrderSysID"], trade["Price"], trade["Volume"]) == (done["OrderSysID"], ask, 1)
    names = [(c.name, c.data and c.data.get("OrderStatus")) for c in client.recorder.calls]
    assert (names.index(("OnRtnTrade", None)) < names.index(("OnRtnOrder", "0"))) is trade_first


def test_partial_fill_against_displayed_volume_then_the_rest(trader_sim: TraderSim, trader: TraderClient) -> None:
    rb, exchange = trader_sim.contract("rb")
    trader_sim.control.set_price(rb, 3200.0)
    quote = trader_sim.control.market.quotes[rb]
    shown, price = quote.ask_volumes[0], quote.ask_prices[0]
    ref = trader.order(rb, exchange, "0", "0", price, shown + 3)
    part = trader.wait_order(ref, lambda d: d["OrderStatus"] == "1")
    assert (part["VolumeTraded"], part["VolumeTotal"]) == (shown, 3)
    assert [t["Volume"] for t in _trades(trader)] == [shown]

    trader_sim.control.set_price(rb, price - 3)
    done = _done(trader, ref)
    assert (done["OrderStatus"], done["VolumeTraded"]) == ("0", shown + 3)
    assert [(t["Volume"], t["Price"]) for t in _trades(trader)] == [(shown, price), (3, price)]
    assert _statuses(trader, ref) == [*ACCEPTED, ("1", "3"), ("0", "3")]
    assert_statuses_monotonic(trader.recorder.calls)


def test_an_order_after_one_that_emptied_the_best_level_walks_on_to_the_next(
    trader_sim: TraderSim, trader: TraderClient
) -> None:
    """Two orders on one snapshot: the first takes all of ask 1, the second is filled from ask 2 at once, as at
    the exchange (the walk used to stop at the emptied level, and the second waited for the next snapshot)."""
    rb, exchange = trader_sim.contract("rb")
    trader_sim.control.set_price(rb, 3200.0)
    quote = trader_sim.control.market.quotes[rb]
    (best, second), (shown, behind) = quote.ask_prices[:2], quote.ask_volumes[:2]
    first = trader.order(rb, exchange, "0", "0", best, shown)
    assert _done(trader, first)["VolumeTraded"] == shown
    lots = min(2, behind)
    ref = trader.order(rb, exchange, "0", "0", second, lots)
    done = _done(trader, ref)
    assert (done["OrderStatus"], done["VolumeTraded"]) == ("0", lots)
    assert [(t["Volume"], t["Price"]) for t in _trades(trader, done["OrderSysID"])] == [(lots, second)]


def test_fak_fills_what_is_shown_and_cancels_the_rest(trader_sim: TraderSim, trader: TraderClient) -> None:
    m, exchange = trader_sim.contract("m")
    trader_sim.control.set_price(m, 2900.0)
    quote = trader_sim.control.market.quotes[m]
    shown = quote.ask_volumes[0]
    ref = trader.order(m, exchange, "0", "0", quote.ask_prices[0], shown + 5, time_condition="1")
    done = _done(trader, ref)
    assert (done["OrderStatus"], done["VolumeTraded"], done["VolumeTotal"]) == ("5", shown, 5)
    assert _statuses(trader, ref) == [*ACCEPTED, ("1", "3"), ("5", "3")]
    assert sum(t["Volume"] for t in _trades(trader)) == shown
    _assert_nothing_frozen(trader)


@pytest.mark.parametrize(("extra", "fills"), [(1, False), (0, True)], ids=["not-fillable", "fillable"])
def test_fok_fills_completely_or_not_at_all(trader_sim: TraderSim, trader: TraderClient, extra: int,
                                            fills: bool) -> None:  # fmt: skip
    m, exchange = trader_sim.contract("m")
    trader_sim.control.set_price(m, 2900.0)
    quote = trader_sim.control.market.quotes[m]
    volume = quote.ask_volumes[0] + extra
    ref = trader.order(m, exchange, "0", "0", quote.ask_prices[0], volume, time_condition="1", volume_condition="3")
    done = _done(trader, ref)
    assert _statuses(trader, ref) == [*ACCEPTED, ("0", "3") if fills else ("5", "3")]
    assert sum(t["Volume"] for t in _trades(trader)) == (volume if fills else 0)
    assert done["VolumeTraded"] == (volume if fills else 0)


def test_market_order_fills_on_dce(trader_sim: TraderSim, trader: TraderClient) -> None:
    m, exchange = trader_sim.contract("m")
    trader_sim.control.set_price(m, 2900.0)
    ask = trader_sim.control.market.quotes[m].ask_prices[0]
    ref = trader.order(m, exchange, "0", "0", 0.0, 1, price_type="1", time_condition="1")
    done = _done(trader, ref)
    assert _statuses(trader, ref) == [*ACCEPTED, ("0", "3")]
    assert [(t["Price"], t["OrderSysID"]) for t in _trades(trader)] == [(ask, done["OrderSysID"])]
    _assert_nothing_frozen(trader)


def test_market_order_sent_as_gfd_is_cancelled_at_once(trader_sim: TraderSim, trader: TraderClient) -> None:
    m, exchange = trader_sim.contract("m")
    trader_sim.control.set_price(m, 2900.0)
    ref = trader.order(m, exchange, "0", "0", 0.0, 1, price_type="1", time_condition="3")
    done = _done(trader, ref)
    assert _statuses(trader, ref) == [*ACCEPTED, ("5", "3")]
    assert done["VolumeTraded"] == 0 and _trades(trader) == []


def _tick(sim: TraderSim, symbol: str) -> float:
    return sim.control.specs[symbol].price_tick


# (product, OrderPriceType, TimeCondition, VolumeCondition, price from (sim, symbol), words in StatusMsg)
EXCHANGE_REJECTS: list[tuple[str, str, str, str, Callable[[TraderSim, str], float], str]] = [
    ("rb", "1", "1", "1", lambda sim, s: 0.0, "市价"),
    ("sc", "1", "1", "1", lambda sim, s: 0.0, "市价"),
    ("IF", "1", "1", "1", lambda sim, s: 0.0, "市价"),
    ("MA", "2", "1", "3", lambda sim, s: sim.control.market.quotes[s].ask_prices[0], "FOK"),
    ("rb", "2", "3", "1", lambda sim, s: 3200.5, "最小变动价位"),
    ("rb", "2", "3", "1", lambda sim, s: sim.control.market.quotes[s].upper_limit + _tick(sim, s), "涨停"),
    ("m", "2", "3", "1", lambda sim, s: sim.control.market.quotes[s].lower_limit - _tick(sim, s), "跌停"),
]


@pytest.mark.parametrize(
    ("product", "price_type", "time_condition", "volume_condition", "price", "words"), EXCHANGE_REJECTS,
    ids=["market-SHFE", "market-INE", "market-CFFEX", "FOK-CZCE", "off-tick", "above-band", "below-band"],
)  # fmt: skip
def test_exchange_rejects(trader_sim: TraderSim, trader: TraderClient, product: str, price_type: str,
                          time_condition: str, volume_condition: str, price: Callable[[TraderSim, str], float],
                          words: str) -> None:  # fmt: skip
    symbol, exchange = trader_sim.contract(product)
    trader_sim.control.set_price(symbol, trader_sim.control.market.quotes[symbol].pre_settlement)
    ref = trader.order(symbol, exchange, "0", "0", price(trader_sim, symbol), 1, price_type=price_type,
                       time_condition=time_condition, volume_condition=volume_condition)  # fmt: skip
    rejected = _done(trader, ref)
    assert _statuses(trader, ref) == [("a", "0"), ("5", "4")]  # '4' InsertRejected, reported with '5'
    assert words in rejected["StatusMsg"]
    assert rejected["OrderSysID"] == "" and rejected["VolumeTraded"] == 0
    assert _trades(trader) == [] and trader.recorder.named("OnRspOrderInsert") == []
    _assert_nothing_frozen(trader)


# --- counter rejects --------------------------------------------------------------------------------
CLOSE_ONLY_SYMBOL, _ = builtin_contract("m")


def _hold_one_m(sim: TraderSim, client: TraderClient) -> None:
    m, exchange = sim.contract("m")
    sim.control.set_price(m, 2900.0)
    fill_order(client, m, exchange, "0", "0")


def _pending_close_holds_the_lot(sim: TraderSim, client: TraderClient) -> dict[str, Any]:
    _hold_one_m(sim, client)
    m, exchange = sim.contract("m")
    client.wait_order(client.order(m, exchange, "1", "1", 2990.0, 1), lambda d: d["OrderStatus"] == "3")
    return {"direction": "1", "offset": "1"}


def _pending_close_today_holds_the_lot(sim: TraderSim, client: TraderClient) -> dict[str, Any]:
    rb, exchange = sim.contract("rb")
    sim.control.set_price(rb, 3200.0)
    fill_order(client, rb, exchange, "0", "0")
    client.wait_order(client.order(rb, exchange, "1", "3", 3290.0, 1), lambda d: d["OrderStatus"] == "3")
    return {"symbol": rb, "exchange": exchange, "direction": "1", "offset": "3", "price": 3280.0}


def _reuse_ref(sim: TraderSim, client: TraderClient) -> dict[str, Any]:
    m, exchange = sim.contract("m")
    client.wait_order(client.order(m, exchange, "0", "0", 2800.0, 1, ref=7), lambda d: d["OrderStatus"] == "3")
    return {"ref": 7}


def _lower_ref(sim: TraderSim, client: TraderClient) -> dict[str, Any]:
    _reuse_ref(sim, client)
    return {"ref": 6}


def _option(sim: TraderSim, client: TraderClient) -> dict[str, Any]:
    spec = next(s for s in sim.control.specs.values() if s.is_option)
    return {"symbol": spec.symbol, "exchange": spec.exchange, "price": 100.0}


# id: (sim settings, confirm settlement?, prepare -> order overrides, ErrorID)
COUNTER_REJECTS: dict[str, tuple[dict[str, Any], bool, Callable[[TraderSim, TraderClient], Any], int]] = {
    "no-settlement-confirm": ({}, False, lambda sim, c: {}, 42),
    "unknown-instrument": ({}, True, lambda sim, c: {"symbol": "zz9999"}, 16),
    "wrong-exchange": ({}, True, lambda sim, c: {"exchange": "SHFE"}, 16),
    "empty-exchange-id": ({}, True, lambda sim, c: {"exchange": ""}, 15),
    "volume-zero": ({}, True, lambda sim, c: {"volume": 0}, 15),
    "limit-price-zero": ({}, True, lambda sim, c: {"price": 0.0}, 15),
    "bad-direction": ({}, True, lambda sim, c: {"direction": "7"}, 15),
    "reused-order-ref": ({}, True, _reuse_ref, 22),
    "lower-order-ref": ({}, True, _lower_ref, 22),
    "close-only": ({"close_only": (CLOSE_ONLY_SYMBOL,)}, True, lambda sim, c: {}, 29),
    "close-without-position-DCE": ({}, True, lambda sim, c: {"direction": "1", "offset": "1"}, 30),
    "close-more-than-held-DCE": ({}, True, lambda sim, c: (_hold_one_m(sim, c), {"direction": "1", "offset": "1",
                                                                                "volume": 2})[1], 30),
    "close-frozen-by-pending-close-DCE": ({}, True, _pending_close_holds_the_lot, 30),
    "close-today-frozen-by-pending-close-SHFE": ({}, True, _pending_close_today_holds_the_lot, 50),
    "open-beyond-funds": ({}, True, lambda sim, c: {"symbol": sim.contract("i")[0], "price": 780.0,
                                                    "volume": 1000}, 31),
    "close-today-short-SHFE": ({}, True, lambda sim, c: {"symbol": sim.contract("rb")[0], "exchange": "SHFE",
                                                         "direction": "1", "offset": "3", "price": 3200.0}, 50),
    "close-yesterday-short-SHFE": ({}, True, lambda sim, c: {"symbol": sim.contract("rb")[0], "exchange": "SHFE",
                                                             "direction": "1", "offset": "4", "price": 3200.0}, 51),
    "option": ({"market": "full", "full_market_size": 300}, True, _option, 9),
}  # fmt: skip


@pytest.mark.parametrize(("settings", "confirm", "prepare", "error_id"), COUNTER_REJECTS.values(),
                         ids=COUNTER_REJECTS.keys())  # fmt: skip
def test_counter_rejects(trader_sim_factory: Callable[..., TraderSim], settings: dict[str, Any], confirm: bool,
                         prepare: Callable[[TraderSim, TraderClient], Any], error_id: int) -> None:  # fmt: skip
    sim = trader_sim_factory(**settings)
    client = sim.client()
    assert client.login().error_id == 0
    if confirm:
        assert client.confirm().error_id == 0
    m, exchange = sim.contract("m")
    order = {"symbol": m, "exchange": exchange, "direction": "0", "offset": "0", "price": 2850.0, "volume": 1,
             **(prepare(sim, client) or {})}  # fmt: skip
    mark = client.recorder.mark()
    ref = client.order(order.pop("symbol"), order.pop("exchange"), order.pop("direction"), order.pop("offset"),
                       order.pop("price"), order.pop("volume"), **order)  # fmt: skip
    rsp = client.recorder.wait_for("OnRspOrderInsert", start=mark)
    err = client.recorder.wait_for("OnErrRtnOrderInsert", start=mark)
    assert (rsp.error_id, err.error_id, rsp.is_last) == (error_id, error_id, True)
    assert rsp.data is not None and rsp.data["OrderRef"] == ref and err.data is not None and err.data["OrderRef"] == ref
    barrier(client)
    assert [c.name for c in client.recorder.calls[mark:] if c.name == "OnRtnOrder"] == []
    assert not [c for c in client.recorder.calls[mark:] if c.name == "OnRtnTrade"]


def test_order_before_login_is_refused_with_6(trader_sim: TraderSim) -> None:
    # Without a login there is no investor and no private flow: only OnRspOrderInsert answers.
    client = trader_sim.client()
    client.recorder.wait_for("OnFrontConnected")
    client.order(*trader_sim.contract("m"), "0", "0", 2850.0, 1)
    rsp = client.recorder.wait_for("OnRspOrderInsert")
    assert rsp.error_id == 6
    assert client.login().error_id == 0
    barrier(client)
    assert client.recorder.named("OnRtnOrder") == []


# --- cancels ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("by", ["order-ref", "order-sys-id"])
def test_cancel_resting_order(trader_sim: TraderSim, trader: TraderClient, by: str) -> None:
    m, exchange = trader_sim.contract("m")
    ref = trader.order(m, exchange, "0", "0", 2800.0, 2)
    accepted = trader.wait_order(ref, lambda d: d["OrderStatus"] == "3")
    if by == "order-ref":
        trader.cancel(ref=ref, exchange=exchange, symbol=m)
    else:
        trader.cancel(sys_id=accepted["OrderSysID"], exchange=exchange, symbol=m)
    cancelled = _done(trader, ref)
    assert (cancelled["OrderStatus"], cancelled["VolumeTraded"]) == ("5", 0)
    assert "撤单" in cancelled["StatusMsg"] and cancelled["CancelTime"]
    assert _statuses(trader, ref) == [*ACCEPTED, ("5", "3")]
    assert trader.recorder.named("OnRspOrderAction") == []
    _assert_nothing_frozen(trader)


def _filled(sim: TraderSim, client: TraderClient) -> dict[str, Any]:
    m, exchange = sim.contract("m")
    sim.control.set_price(m, 2900.0)
    return {"ref": fill_order(client, m, exchange, "0", "0")["OrderRef"].strip()}


def _cancelled(sim: TraderSim, client: TraderClient) -> dict[str, Any]:
    m, exchange = sim.contract("m")
    ref = client.order(m, exchange, "0", "0", 2800.0, 1)
    client.wait_order(ref, lambda d: d["OrderStatus"] == "3")
    client.cancel(ref=ref, exchange=exchange, symbol=m)
    client.wait_order(ref, lambda d: d["OrderStatus"] == "5")
    return {"ref": ref}


CANCEL_REFUSALS: dict[str, tuple[Callable[[TraderSim, TraderClient], dict[str, Any]], int]] = {
    "unknown-order-ref": (lambda sim, c: {"ref": "999"}, 25),
    "unknown-order-sys-id": (lambda sim, c: {"sys_id": "      424242"}, 25),
    "already-filled": (_filled, 26),
    "already-cancelled": (_cancelled, 26),
}


@pytest.mark.parametrize(("prepare", "error_id"), CANCEL_REFUSALS.values(), ids=CANCEL_REFUSALS.keys())
def test_cancel_refused(
    trader_sim: TraderSim,
    trader: TraderClient,
    prepare: Callable[[TraderSim, TraderClient], dict[str, Any]],
    error_id: int,
) -> None:
    m, exchange = trader_sim.contract("m")
    target = prepare(trader_sim, trader)
    mark = trader.recorder.mark()
    trader.cancel(**target, exchange=exchange, symbol=m)
    rsp = trader.recorder.wait_for("OnRspOrderAction", start=mark)
    err = trader.recorder.wait_for("OnErrRtnOrderAction", start=mark)
    assert (rsp.error_id, err.error_id) == (error_id, error_id)
    barrier(trader)
    assert [c for c in trader.recorder.calls[mark:] if c.name == "OnRtnOrder"] == []
    assert_statuses_monotonic(trader.recorder.calls)
