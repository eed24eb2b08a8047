"""Each pre-trade risk rule on its own: accepted just below its line, refused at it with a message that
names the rule and the figures, and off when its limit is 0 or its flag is off.

The rules are pure functions of a snapshot (OrderCheck / CancelCheck) and the limits, so every line is
checked here exactly, without a server; tests/integration/test_risk_api.py checks them through REST.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from backend.engine import risk_rules as rules
from backend.engine.constants import Direction, Exchange, Offset, OrderType
from backend.engine.exchange_lines import HFT_PER_DAY, HFT_PER_SECOND, lines_of
from backend.engine.risk_rules import CancelCheck, OrderCheck, RiskLimits, first_refusal

LONG, SHORT = Direction.LONG, Direction.SHORT


def order(**changes: Any) -> OrderCheck:
    """An opening buy of 1 lot of rb2601.SHFE with every counter at 0: what each test changes is all it checks."""
    base = OrderCheck(local_symbol="rb2601.SHFE", product="SHFE.rb", direction=LONG, offset=Offset.OPEN,
                      type=OrderType.LIMIT, price=3200.0, volume=1, strategy=None, contract_max_volume=500,
                      actions_this_second=0, strategy_actions_this_second=0, actions_today=0, busy_seconds_today=0,
                      working_orders=0, held={LONG: 0, SHORT: 0}, product_held={LONG: 0, SHORT: 0})  # fmt: skip
    return replace(base, **changes)


def cancel(exchange: Exchange = Exchange.SHFE, **changes: Any) -> CancelCheck:
    symbol = {Exchange.SHFE: "rb2601.SHFE", Exchange.DCE: "m2605.DCE"}[exchange]
    base = CancelCheck(local_symbol=symbol, lots=1, order_type=OrderType.LIMIT,
                       contract_max_volume=500 if exchange is Exchange.SHFE else 1000, actions_this_second=0,
                       strategy_actions_this_second=0, actions_today=0, busy_seconds_today=0, cancels_today=0,
                       large_cancels_today=0, lines=lines_of(exchange))  # fmt: skip
    return replace(base, **changes)


LIMITS = RiskLimits()


# --- the kill switch -------------------------------------------------------------------------------------
def test_the_kill_switch_refuses_every_order_while_on_and_names_why():
    assert rules.kill_switch(order(), LIMITS) is None
    refusal = rules.kill_switch(order(killed="the daily loss limit"), LIMITS)
    assert refusal == ("kill switch: on (the daily loss limit); no new orders until it is re-armed (DELETE /kill)")
    # a closing order too: only the kill switch's own closes pass (they skip the rules altogether)
    assert rules.kill_switch(order(killed="by hand", offset=Offset.CLOSE), LIMITS) is not None


# --- order flow -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [order, cancel], ids=["order", "cancel"])
def test_the_account_order_rate(make):
    limits = replace(LIMITS, orders_per_second=20)
    assert rules.order_rate(make(actions_this_second=19), limits) is None
    assert rules.order_rate(make(actions_this_second=20), limits) == (
        "order rate: 20 orders and cancels in the last second, the limit is 20")  # fmt: skip
    assert rules.order_rate(make(actions_this_second=10_000), replace(limits, orders_per_second=0)) is None


@pytest.mark.parametrize("make", [order, cancel], ids=["order", "cancel"])
def test_a_strategys_order_rate(make):
    limits = replace(LIMITS, strategy_orders_per_second=10)
    assert rules.strategy_order_rate(make(strategy_actions_this_second=9), limits) is None
    assert rules.strategy_order_rate(make(strategy_actions_this_second=10), limits) == (
        "strategy order rate: 10 orders and cancels in the last second, the limit is 10 a strategy")  # fmt: skip
    assert rules.strategy_order_rate(make(strategy_actions_this_second=99),
                                     replace(limits, strategy_orders_per_second=0)) is None  # fmt: skip


@pytest.mark.parametrize("make", [order, cancel], ids=["order", "cancel"])
def test_orders_per_day(make):
    limits = replace(LIMITS, orders_per_day=10_000)
    assert rules.orders_per_day(make(actions_today=9_999), limits) is None
    assert rules.orders_per_day(make(actions_today=10_000), limits) == (
        "orders per day: 10000 orders and cancels today, the limit is 10000")  # fmt: skip
    assert rules.orders_per_day(make(actions_today=50_000), replace(limits, orders_per_day=0)) is None


@pytest.mark.parametrize("make", [order, cancel], ids=["order", "cancel"])
def test_the_high_frequency_lines_a_second_and_a_day(make):
    # "300 in one second" and "20,000 in one day" make high-frequency trading: the action that would be
    # the 300th (the 20,000th) is refused.
    assert rules.high_frequency_line(make(actions_this_second=HFT_PER_SECOND - 2), LIMITS) is None
    refusal = rules.high_frequency_line(make(actions_this_second=HFT_PER_SECOND - 1), LIMITS)
    assert refusal == "high-frequency line: 300 orders and cancels in one second make high-frequency trading"
    assert rules.high_frequency_line(make(actions_today=HFT_PER_DAY - 2), LIMITS) is None
    refusal = rules.high_frequency_line(make(actions_today=HFT_PER_DAY - 1), LIMITS)
    assert refusal == "high-frequency line: 20,000 orders and cancels in one day make high-frequency trading"
    off = replace(LIMITS, enforce_hft_line=False)
    assert rules.high_frequency_line(make(actions_this_second=HFT_PER_SECOND, actions_today=HFT_PER_DAY), off) is None


@pytest.mark.parametrize("make", [order, cancel], ids=["order", "cancel"])
def test_the_reporting_line_refuses_what_would_make_the_tenth_busy_second(make):
    on = replace(LIMITS, enforce_reporting_line=True)
    # the 10th action of a second with 8 busy seconds behind: the 9th busy second, accepted
    assert rules.reporting_line(make(actions_this_second=9, busy_seconds_today=8), on) is None
    assert rules.reporting_line(make(actions_this_second=9, busy_seconds_today=9), on) == (
        "reporting line: this would make the day's 10th second with 10 or more orders and cancels")  # fmt: skip
    # a second already busy is not made busy again; a quiet one is not made busy
    assert rules.reporting_line(make(actions_this_second=10, busy_seconds_today=9), on) is None
    assert rules.reporting_line(make(actions_this_second=3, busy_seconds_today=50), on) is None
    # off by default: counted and shown only
    assert rules.reporting_line(make(actions_this_second=9, busy_seconds_today=9), LIMITS) is None


# --- one order ---------------------------------------------------------------------------------------------
def test_volume_per_order():
    limits = replace(LIMITS, max_order_volume=100)
    assert rules.order_volume(order(volume=100), limits) is None
    assert rules.order_volume(order(volume=101), limits) == (
        "order volume: 101 lots, at most 100 in one order of rb2601.SHFE")  # fmt: skip
    # never above the contract's own maximum, and with the limit off that maximum is the line
    assert rules.order_volume(order(volume=21, contract_max_volume=20), limits) == (
        "order volume: 21 lots, at most 20 in one order of rb2601.SHFE")  # fmt: skip
    off = replace(limits, max_order_volume=0)
    assert rules.order_volume(order(volume=500), off) is None
    assert rules.order_volume(order(volume=501), off) is not None


def test_working_orders_at_once():
    limits = replace(LIMITS, max_working_orders=50)
    assert rules.working_orders(order(working_orders=49), limits) is None
    assert rules.working_orders(order(working_orders=50), limits) == "working orders: 50 working, the limit is 50"
    assert rules.working_orders(order(working_orders=500), replace(limits, max_working_orders=0)) is None


def test_position_per_contract_counts_the_side_held_and_working():
    limits = replace(LIMITS, max_position_per_contract=100)
    assert rules.position_per_contract(order(held={LONG: 98, SHORT: 0}, volume=2), limits) is None
    assert rules.position_per_contract(order(held={LONG: 98, SHORT: 0}, volume=3), limits) == (
        "position per contract: 98 long lots of rb2601.SHFE held or working, 3 more would pass the limit of 100"
    )
    # the other side does not count, closing orders are never refused, 0 is off
    assert rules.position_per_contract(order(held={LONG: 0, SHORT: 100}, volume=100), limits) is None
    assert rules.position_per_contract(order(held={LONG: 100, SHORT: 0}, offset=Offset.CLOSE), limits) is None
    assert rules.position_per_contract(order(held={LONG: 999}), replace(limits, max_position_per_contract=0)) is None


def test_position_per_product_per_side():
    limits = replace(LIMITS, max_position_per_product=200)
    assert rules.position_per_product(order(product_held={LONG: 190, SHORT: 0}, volume=10), limits) is None
    assert rules.position_per_product(order(product_held={LONG: 190, SHORT: 0}, volume=11), limits) == (
        "position per product: 201 long lots of SHFE.rb with this order, the limit is 200")  # fmt: skip
    short = order(direction=SHORT, product_held={LONG: 0, SHORT: 200}, volume=1)
    assert rules.position_per_product(short, limits) == (
        "position per product: 201 short lots of SHFE.rb with this order, the limit is 200")  # fmt: skip
    assert rules.position_per_product(order(product_held={LONG: 190}, volume=11, offset=Offset.CLOSETODAY),
                                      limits) is None  # fmt: skip
    off = replace(limits, max_position_per_product=0)
    assert rules.position_per_product(order(product_held={LONG: 999}), off) is None


def test_the_net_position_per_product_never_refuses_an_order_that_brings_the_net_back():
    # The limit was lowered under a short of 250: a long opening order narrows the net (-250 -> -240) and
    # keeps the long side inside the line. Refusing it would keep the account further from flat.
    limits = replace(LIMITS, max_position_per_product=200)
    assert rules.position_per_product(order(product_held={LONG: 0, SHORT: 250}, volume=10), limits) is None
    # more of the side already past the line is refused by the per-side count
    refusal = rules.position_per_product(order(direction=SHORT, product_held={LONG: 0, SHORT: 250}, volume=1), limits)
    assert refusal is not None and refusal.startswith("position per product: 251 short lots")


def test_self_trade_prevention_refuses_by_default_and_names_the_resting_order():
    crossing = order(crossing_own=("1_2_3", "1_2_4"))
    assert rules.self_trade(order(), LIMITS) is None
    assert rules.self_trade(crossing, LIMITS) == (
        "self-trade: it would trade with the account's own working order 1_2_3, 1_2_4 on the other side "
        "(the exchange counts self-trades)")  # fmt: skip
    # cancel_resting lets the order through (the engine cancels the resting orders first); off ignores it
    assert rules.self_trade(crossing, replace(LIMITS, self_trade="cancel_resting")) is None
    assert rules.self_trade(crossing, replace(LIMITS, self_trade="off")) is None


def test_the_daily_loss_limit_stops_opening_orders_only():
    limits = replace(LIMITS, daily_loss_limit=1000.0)
    assert rules.daily_loss(order(day_loss=999.99), limits) is None
    assert rules.daily_loss(order(day_loss=1000.0), limits) == (
        "daily loss: 1,000.00 lost today, the limit is 1,000.00; only closing orders are accepted")  # fmt: skip
    for offset in (Offset.CLOSE, Offset.CLOSETODAY, Offset.CLOSEYESTERDAY):
        assert rules.daily_loss(order(day_loss=5000.0, offset=offset), limits) is None
    assert rules.daily_loss(order(day_loss=-500.0), limits) is None  # a gain
    assert rules.daily_loss(order(day_loss=1e9), replace(limits, daily_loss_limit=0.0)) is None


# --- cancels ------------------------------------------------------------------------------------------------
def test_cancels_per_contract_are_refused_the_margin_below_the_exchanges_line():
    limits = replace(LIMITS, cancel_margin=10)  # SHFE's line is 500: refused from 490
    assert rules.cancels_per_contract(cancel(cancels_today=489), limits) is None
    assert rules.cancels_per_contract(cancel(cancels_today=490), limits) == (
        "cancels per contract: 490 cancels of rb2601.SHFE today; the exchange's line is 500, refused from 490"
    )
    # CFFEX draws it at 400
    cffex = cancel(lines=lines_of(Exchange.CFFEX), local_symbol="IF2601.CFFEX", cancels_today=390)
    assert rules.cancels_per_contract(cffex, limits) == (
        "cancels per contract: 390 cancels of IF2601.CFFEX today; the exchange's line is 400, refused from 390"
    )
    # FAK and FOK orders are cancelled by the exchange, not by the account: they never count
    for kind in (OrderType.FAK, OrderType.FOK):
        assert rules.cancels_per_contract(cancel(cancels_today=499, order_type=kind), limits) is None
    # a margin of 0 refuses at the line itself
    assert rules.cancels_per_contract(cancel(cancels_today=499), replace(limits, cancel_margin=0)) is None
    assert rules.cancels_per_contract(cancel(cancels_today=500), replace(limits, cancel_margin=0)) is not None


def test_large_cancels_by_each_exchanges_definition():
    limits = replace(LIMITS, cancel_margin=10)  # large cancels: a tenth of the margin below the line of 50
    # SHFE: 300 lots or more is large
    assert rules.large_cancels_per_contract(cancel(lots=299, large_cancels_today=500), limits) is None
    assert rules.large_cancels_per_contract(cancel(lots=300, large_cancels_today=48), limits) is None
    assert rules.large_cancels_per_contract(cancel(lots=300, large_cancels_today=49), limits) == (
        "large cancels per contract: 49 large cancels of rb2601.SHFE today; the exchange's line is 50, "
        "refused from 49")  # fmt: skip
    # DCE: 80% of the contract's maximum order volume (1000 here: 800 lots)
    assert rules.large_cancels_per_contract(cancel(Exchange.DCE, lots=799, large_cancels_today=49), limits) is None
    refusal = rules.large_cancels_per_contract(cancel(Exchange.DCE, lots=800, large_cancels_today=49), limits)
    assert refusal is not None and refusal.startswith("large cancels per contract: 49 large cancels of m2605.DCE")
    assert rules.large_cancels_per_contract(cancel(lots=300, large_cancels_today=49, order_type=OrderType.FAK),
                                            limits) is None  # fmt: skip
    # a wider margin: 30 below the line of 500, 3 below the line of 50
    assert rules.large_cancels_per_contract(cancel(lots=300, large_cancels_today=46),
                                            replace(limits, cancel_margin=30)) is None  # fmt: skip
    assert rules.large_cancels_per_contract(cancel(lots=300, large_cancels_today=47),
                                            replace(limits, cancel_margin=30)) is not None  # fmt: skip


def test_the_exchange_lines_define_large_in_lots_or_as_a_share():
    assert lines_of(Exchange.SHFE).is_large(300, 500) and not lines_of(Exchange.SHFE).is_large(299, 500)
    assert lines_of(Exchange.INE).is_large(300, 500)
    assert lines_of(Exchange.CZCE).is_large(800, 1000) and not lines_of(Exchange.CZCE).is_large(799, 1000)
    assert lines_of(Exchange.DCE).is_large(800, 1000) and not lines_of(Exchange.DCE).is_large(799, 1000)
    assert lines_of(Exchange.GFEX).is_large(400, 500) and not lines_of(Exchange.GFEX).is_large(399, 500)
    assert lines_of(Exchange.CFFEX).is_large(16, 20) and not lines_of(Exchange.CFFEX).is_large(15, 20)
    assert lines_of(Exchange.OTHER).is_large(8, 10)


# --- all of them ----------------------------------------------------------------------------------------------
def test_first_refusal_answers_the_first_rule_in_order():
    check = order(volume=101, working_orders=50, killed="by hand")
    assert first_refusal(rules.ORDER_RULES, check, LIMITS).startswith("kill switch:")
    assert first_refusal(rules.ORDER_RULES, replace(check, killed=""), LIMITS).startswith("order volume:")
    assert first_refusal(rules.ORDER_RULES, order(), LIMITS) is None
    assert first_refusal(rules.CANCEL_RULES, cancel(), LIMITS) is None
    assert first_refusal(rules.CANCEL_RULES, cancel(cancels_today=495), LIMITS).startswith("cancels per contract:")


def test_with_the_limits_off_only_the_kill_switch_still_refuses():
    off = replace(LIMITS, enabled=False)
    everything = order(volume=10_000, working_orders=10_000, held={LONG: 10_000}, product_held={LONG: 10_000},
                       crossing_own=("1_1_1",), day_loss=1e9, actions_this_second=10_000, actions_today=10**6,
                       strategy_actions_this_second=10_000, busy_seconds_today=1000)  # fmt: skip
    assert first_refusal(rules.ORDER_RULES, everything, off) is None
    assert first_refusal(rules.ORDER_RULES, replace(everything, killed="by hand"), off).startswith("kill switch:")
    cancels = cancel(cancels_today=10_000, lots=300, large_cancels_today=999)
    assert first_refusal(rules.CANCEL_RULES, cancels, off) is None


# --- the limits themselves ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, value", [("orders_per_second", -1), ("max_order_volume", -5), ("warn_share", -0.1),
                                         ("daily_loss_limit", -1.0), ("cancel_margin", -1)])  # fmt: skip
def test_a_negative_limit_is_refused_with_its_name(name: str, value: float):
    with pytest.raises(ValueError, match=f"^{name} must be 0 or more, not {value!r}$"):
        RiskLimits(**{name: value})
    with pytest.raises(ValueError, match=f"^{name} must be 0 or more"):
        LIMITS.updated({name: value})


def test_an_unknown_self_trade_mode_is_refused():
    with pytest.raises(ValueError, match="^self_trade must be one of refuse, cancel_resting, off, not 'maybe'$"):
        LIMITS.updated({"self_trade": "maybe"})
    assert LIMITS.updated({"self_trade": "off"}).self_trade == "off"


def test_updated_refuses_an_unknown_key_and_changes_nothing():
    with pytest.raises(ValueError, match="^bogus: unknown risk limit$"):
        LIMITS.updated({"bogus": 1, "max_order_volume": 5})
    assert LIMITS == RiskLimits()
    changed = LIMITS.updated({"max_order_volume": 5})
    assert changed.max_order_volume == 5 and LIMITS.max_order_volume == 100
    assert RiskLimits(**changed.to_dict()) == changed
