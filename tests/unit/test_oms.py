"""The OMS as the engine drives it (backend/engine/oms.py): orders, fills, positions, contracts, ticks.

Pure objects in, state out: every test feeds the Oms the events the gateway would and reads back
what the engine would ask of it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.engine.constants import Direction, Exchange, Offset, OrderType, Product, Status
from backend.engine.objects import (
    SHANGHAI,
    AccountData,
    ContractData,
    OrderData,
    PositionData,
    TickData,
    TradeData,
)
from backend.engine.oms import Oms, UnknownInstrument, UnknownOrder

LONG, SHORT = Direction.LONG, Direction.SHORT
OPEN, CLOSE, CT, CY = Offset.OPEN, Offset.CLOSE, Offset.CLOSETODAY, Offset.CLOSEYESTERDAY
SYMBOLS = {Exchange.SHFE: "rb2601", Exchange.INE: "sc2603", Exchange.DCE: "m2605", Exchange.CZCE: "MA601"}
SIZES = {Exchange.SHFE: 10, Exchange.INE: 1000, Exchange.DCE: 10, Exchange.CZCE: 10}
RB = "rb2601.SHFE"
T0 = datetime(2025, 11, 3, 9, 1, tzinfo=SHANGHAI)


def contract(symbol: str, exchange: Exchange, size: int) -> ContractData:
    return ContractData(symbol, exchange, symbol, Product.FUTURES, size, 1.0)


CONTRACTS = (
    *(contract(symbol, exchange, SIZES[exchange]) for exchange, symbol in SYMBOLS.items()),
    # One bare name on two exchanges: only the local_symbol says which.
    contract("ag2606", Exchange.SHFE, 15),
    contract("ag2606", Exchange.OTHER, 1),
)


def new_oms() -> Oms:
    oms = Oms()
    oms.load_contracts(CONTRACTS)
    return oms


def order(
    status: Status = Status.NOTTRADED,
    traded: int = 0,
    *,
    order_id: str = "1_1_1",
    direction: Direction = SHORT,
    offset: Offset = CLOSE,
    volume: int = 3,
    exchange: Exchange = Exchange.SHFE,
    strategy: str | None = None,
    time: datetime | None = None,
    sys_id: str = "",
) -> OrderData:
    return OrderData(order_id, SYMBOLS[exchange], exchange, direction, offset, OrderType.LIMIT, 3500.0, volume,
                     traded, status, time=time, strategy=strategy, sys_id=sys_id)  # fmt: skip


def fill(
    trade_id: str,
    direction: Direction,
    offset: Offset,
    volume: int,
    price: float = 3500.0,
    *,
    order_id: str = "1_1_1",
    exchange: Exchange = Exchange.SHFE,
    strategy: str | None = None,
) -> TradeData:
    return TradeData(trade_id, order_id, SYMBOLS[exchange], exchange, direction, offset, price, volume, T0,
                     strategy)  # fmt: skip


def held(
    today: int, yesterday: int, side: Direction = LONG, exchange: Exchange = Exchange.SHFE, price: float = 3400.0
) -> PositionData:
    """A counter snapshot row."""
    return PositionData(SYMBOLS[exchange], exchange, side, today + yesterday, yesterday, today, price=price)


def tick(last: float, exchange: Exchange = Exchange.SHFE) -> TickData:
    return TickData(SYMBOLS[exchange], exchange, T0, date(2025, 11, 3), last_price=last)


def lots(position: PositionData) -> tuple[int, int, int]:
    return position.volume, position.td_volume, position.yd_volume


# --- orders -----------------------------------------------------------------------------------------------
def test_forward_updates_are_applied_in_turn() -> None:
    oms = new_oms()
    steps = [order(Status.SUBMITTING), order(Status.NOTTRADED), order(Status.PARTTRADED, 1),
             order(Status.PARTTRADED, 2), order(Status.ALLTRADED, 3)]  # fmt: skip
    for step in steps:
        assert oms.on_order(step) == step
        assert oms.order("1_1_1") == step
    assert oms.active_orders() == []


@pytest.mark.parametrize(
    ("current", "stale"),
    [
        pytest.param(order(Status.NOTTRADED), order(Status.SUBMITTING), id="status-back-to-submitting"),
        pytest.param(order(Status.PARTTRADED, 1), order(Status.NOTTRADED), id="status-back-to-nottraded"),
        pytest.param(order(Status.PARTTRADED, 2), order(Status.PARTTRADED, 1), id="traded-back"),
        pytest.param(order(Status.ALLTRADED, 3), order(Status.PARTTRADED, 2), id="finished-back-to-working"),
    ],
)
def test_an_order_update_never_moves_it_backwards(current: OrderData, stale: OrderData) -> None:
    oms = new_oms()
    oms.on_order(current)
    assert oms.on_order(stale) is None
    assert oms.order("1_1_1") == current


@pytest.mark.parametrize("first", [Status.ALLTRADED, Status.CANCELLED, Status.REJECTED])
@pytest.mark.parametrize("later", [Status.ALLTRADED, Status.CANCELLED, Status.REJECTED, Status.NOTTRADED])
def test_a_finished_order_is_final(first: Status, later: Status) -> None:
    """A late OnRtnOrder (or the RESTART replay) of a finished order changes nothing and is not republished."""
    oms = new_oms()
    finished = order(first, 1)
    oms.on_order(finished)
    assert oms.on_order(order(later, 1)) is None
    assert oms.order("1_1_1") == finished


def test_a_later_update_keeps_the_strategy_time_and_sys_id() -> None:
    """The counter's answers carry neither our strategy nor, always, the time or the exchange's id."""
    oms = new_oms()
    oms.on_order(order(Status.SUBMITTING, strategy="s1", time=T0))
    oms.on_order(order(Status.NOTTRADED, sys_id="  7001"))
    applied = oms.on_order(order(Status.PARTTRADED, 1))
    assert applied is not None
    assert (applied.strategy, applied.time, applied.sys_id, applied.traded) == ("s1", T0, "  7001", 1)
    assert oms.order("1_1_1") == applied


def test_active_orders_are_the_working_ones_and_an_unknown_order_is_a_key_error() -> None:
    oms = new_oms()
    working = [order(Status.SUBMITTING, order_id="a"), order(Status.PARTTRADED, 1, order_id="b")]
    for each in [*working, order(Status.CANCELLED, order_id="c"), order(Status.REJECTED, order_id="d")]:
        oms.on_order(each)
    assert oms.active_orders() == working
    with pytest.raises(UnknownOrder):
        oms.order("nope")
    assert issubclass(UnknownOrder, KeyError)


# --- fills --------------------------------------------------------------------------------------------------
def test_a_replayed_fill_is_applied_once() -> None:
    oms = new_oms()
    first = fill("t1", LONG, OPEN, 2)
    assert oms.on_trade(first) == first
    assert oms.on_trade(first) is None
    assert oms.on_trade(replace(first, strategy="s1")) is None  # the journal's copy of the same fill
    assert list(oms.trades.values()) == [first]
    assert lots(oms.position(RB, LONG)) == (2, 2, 0)


def test_the_same_trade_id_on_the_other_side_is_another_fill() -> None:
    """A self-trade: both sides of one match carry the exchange's TradeID."""
    oms = new_oms()
    oms.on_trade(fill("t1", LONG, OPEN, 1))
    assert oms.on_trade(fill("t1", SHORT, OPEN, 1)) is not None
    assert (oms.position(RB, LONG).volume, oms.position(RB, SHORT).volume) == (1, 1)


def test_a_fill_takes_the_strategy_of_its_order() -> None:
    oms = new_oms()
    oms.on_order(order(Status.NOTTRADED, order_id="mine", direction=LONG, offset=OPEN, strategy="s1"))
    oms.on_order(order(Status.NOTTRADED, order_id="manual", direction=LONG, offset=OPEN))
    ours = oms.on_trade(fill("t1", LONG, OPEN, 1, order_id="mine"))
    manual = oms.on_trade(fill("t2", LONG, OPEN, 1, order_id="manual"))
    stranger = oms.on_trade(fill("t3", LONG, OPEN, 1, order_id="unknown"))
    kept = oms.on_trade(fill("t4", LONG, OPEN, 1, order_id="mine", strategy="journal"))
    assert ours is not None and manual is not None and stranger is not None and kept is not None
    assert (ours.strategy, manual.strategy, stranger.strategy, kept.strategy) == ("s1", None, None, "journal")
    assert oms.trades[("SHFE", "t1", "long")].strategy == "s1"


def test_opening_fills_add_todays_lots_at_the_average_price() -> None:
    oms = new_oms()
    oms.on_positions((held(0, 2, price=3400.0),))
    oms.on_trade(fill("t1", LONG, OPEN, 1, 3500.0))
    oms.on_trade(fill("t2", LONG, OPEN, 1, 3600.0))
    position = oms.position(RB, LONG)
    assert lots(position) == (4, 2, 2)
    assert position.price == pytest.approx(3475.0)
    oms.on_trade(fill("t3", SHORT, OPEN, 3, 3550.0))
    short = oms.position(RB, SHORT)
    assert (lots(short), short.price) == ((3, 3, 0), 3550.0)


@pytest.mark.parametrize("exchange", [Exchange.SHFE, Exchange.INE])
@pytest.mark.parametrize(
    ("offset", "volume", "expected"),
    [
        pytest.param(CT, 1, (2, 0, 2), id="closetoday-takes-today"),
        pytest.param(CY, 2, (1, 1, 0), id="closeyesterday-takes-yesterday"),
        pytest.param(CLOSE, 1, (2, 1, 1), id="plain-close-takes-yesterday"),
    ],
)
@pytest.mark.parametrize("side", [LONG, SHORT])
def test_shfe_a_closing_fill_takes_the_kind_its_offset_names(
    exchange: Exchange, offset: Offset, volume: int, expected: tuple[int, int, int], side: Direction
) -> None:
    oms = new_oms()
    oms.on_positions((held(1, 2, side, exchange),))
    closer = SHORT if side is LONG else LONG
    oms.on_trade(fill("t1", closer, offset, volume, exchange=exchange))
    position = oms.position(f"{SYMBOLS[exchange]}.{exchange}", side)
    assert lots(position) == expected
    assert position.price == 3400.0  # a close does not move the holding price


@pytest.mark.parametrize(
    ("volume", "expected"),
    [
        pytest.param(1, (3, 2, 1), id="within-yesterday"),
        pytest.param(3, (1, 1, 0), id="yesterday-then-today"),
        pytest.param(4, (0, 0, 0), id="everything"),
    ],
)
def test_dce_a_closing_fill_takes_yesterdays_lots_first(volume: int, expected: tuple[int, int, int]) -> None:
    oms = new_oms()
    oms.on_positions((held(2, 2, exchange=Exchange.DCE),))
    oms.on_trade(fill("t1", SHORT, CLOSE, volume, exchange=Exchange.DCE))
    assert lots(oms.positions[("m2605.DCE", LONG)]) == expected


def test_dce_a_closetoday_fill_takes_yesterdays_lots_like_any_close() -> None:
    # Off SHFE/INE the counter takes yesterday's lots first whatever the close offset; reading a DCE
    # CloseToday as today's lots left volume 0 with yd_volume 3 until the next snapshot.
    oms = new_oms()
    oms.on_positions((held(0, 3, exchange=Exchange.DCE),))
    oms.on_trade(fill("t1", SHORT, CT, 3, exchange=Exchange.DCE))
    assert lots(oms.positions[("m2605.DCE", LONG)]) == (0, 0, 0)


# --- snapshots and the position list -----------------------------------------------------------------------
def test_a_snapshot_replaces_the_positions_and_what_it_omits_is_flat() -> None:
    oms = new_oms()
    oms.on_trade(fill("t1", LONG, OPEN, 2))
    oms.on_trade(fill("t2", SHORT, OPEN, 1, exchange=Exchange.DCE))
    oms.on_positions((held(1, 4, SHORT),))
    assert [(p.local_symbol, p.direction, lots(p)) for p in oms.position_list()] == [(RB, SHORT, (5, 1, 4))]
    assert lots(oms.position(RB, LONG)) == (0, 0, 0)
    assert lots(oms.position("m2605.DCE", SHORT)) == (0, 0, 0)
    assert oms.on_tick(tick(3500.0, Exchange.DCE)) == []  # no longer held: nothing to mark


def test_a_snapshot_is_marked_with_the_last_known_tick() -> None:
    oms = new_oms()
    oms.on_tick(tick(3410.0))
    oms.on_positions((held(0, 2, price=3400.0),))
    assert oms.position(RB, LONG).position_profit == pytest.approx(200.0)  # 10 a point × 2 lots × size 10


def test_position_list_freezes_only_the_lots_of_working_close_orders() -> None:
    oms = new_oms()
    oms.on_positions((held(3, 2, LONG), held(0, 4, SHORT)))
    working = [
        order(Status.NOTTRADED, order_id="a", offset=CT, volume=1),
        order(Status.PARTTRADED, 1, order_id="b", offset=CLOSE, volume=3),  # 2 lots still promised
        order(Status.SUBMITTING, order_id="c", direction=LONG, offset=CY, volume=1),  # closes the short
    ]
    ignored = [
        order(Status.CANCELLED, order_id="d", offset=CT, volume=2),
        order(Status.ALLTRADED, 1, order_id="e", offset=CLOSE, volume=1),
        order(Status.REJECTED, order_id="f", offset=CY, volume=1),
        order(Status.NOTTRADED, order_id="g", direction=LONG, offset=OPEN, volume=5),
        order(Status.NOTTRADED, order_id="h", offset=CLOSE, volume=1, exchange=Exchange.DCE),  # no DCE position
    ]
    for each in working + ignored:
        oms.on_order(each)
    listed = {(p.local_symbol, p.direction): (p.frozen, p.available) for p in oms.position_list()}
    assert listed == {(RB, LONG): (3, 2), (RB, SHORT): (1, 3)}
    assert (oms.position(RB, LONG).frozen, oms.position(RB, SHORT).frozen) == (3, 1)


def test_a_cancelled_or_filled_close_order_frees_its_lots_at_once() -> None:
    """No snapshot in between: the counter's stale frozen figure would refuse lots that are free."""
    oms = new_oms()
    oms.on_positions((replace(held(3, 2), frozen=4),))  # the counter's own figure is never used
    oms.on_order(order(Status.NOTTRADED, order_id="a", offset=CT, volume=3))
    oms.on_order(order(Status.NOTTRADED, order_id="b", offset=CLOSE, volume=1))
    assert oms.position(RB, LONG).frozen == 4
    oms.on_order(order(Status.CANCELLED, order_id="a", offset=CT, volume=3))
    assert oms.position(RB, LONG).frozen == 1
    oms.on_order(order(Status.ALLTRADED, 1, order_id="b", offset=CLOSE, volume=1))
    oms.on_trade(fill("t1", SHORT, CLOSE, 1, order_id="b"))
    position = oms.position(RB, LONG)
    assert (position.frozen, position.available, lots(position)) == (0, 4, (4, 3, 1))


def test_position_list_leaves_out_flat_positions_and_is_sorted() -> None:
    oms = new_oms()
    oms.on_positions((held(1, 0, SHORT), held(2, 0, LONG, Exchange.DCE), held(0, 0, LONG)))
    oms.on_trade(fill("t1", LONG, CT, 1))  # closes the short
    assert [(p.local_symbol, p.direction) for p in oms.position_list()] == [("m2605.DCE", LONG)]
    oms.on_trade(fill("t2", SHORT, OPEN, 1))
    oms.on_trade(fill("t3", LONG, OPEN, 1))
    assert [(p.local_symbol, p.direction) for p in oms.position_list()] == [
        ("m2605.DCE", LONG), (RB, LONG), (RB, SHORT)]  # fmt: skip


def test_the_position_of_an_unheld_side_is_flat_and_of_an_unknown_instrument_an_error() -> None:
    oms = new_oms()
    oms.on_positions((held(1, 2, LONG),))
    assert oms.position(RB, SHORT) == PositionData("rb2601", Exchange.SHFE, SHORT)
    assert oms.position("m2605.DCE", LONG) == PositionData("m2605", Exchange.DCE, LONG)
    with pytest.raises(UnknownInstrument):
        oms.position("xx2601.SHFE", LONG)


def test_a_bare_symbol_names_the_same_position() -> None:
    oms = new_oms()
    oms.on_positions((held(1, 2, LONG),))
    assert oms.position("rb2601", LONG) == oms.position(RB, LONG) and oms.position(RB, LONG).volume == 3


def test_start_day_clears_the_orders_and_trades_but_not_the_positions() -> None:
    oms = new_oms()
    oms.on_order(order(Status.NOTTRADED, direction=LONG, offset=OPEN, strategy="s1"))
    oms.on_trade(fill("t1", LONG, OPEN, 2))
    oms.start_day()
    assert (oms.orders, oms.trades, oms.active_orders()) == ({}, {}, [])
    assert lots(oms.position(RB, LONG)) == (2, 2, 0)
    assert oms.on_tick(tick(3510.0))[0].position_profit == pytest.approx(200.0)  # still held, still marked


# --- contracts and ticks ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("rb2601.SHFE", ("rb2601", Exchange.SHFE), id="local-symbol"),
        pytest.param("rb2601", ("rb2601", Exchange.SHFE), id="unambiguous-bare-symbol"),
        pytest.param("ag2606.OTHER", ("ag2606", Exchange.OTHER), id="local-symbol-of-an-ambiguous-name"),
    ],
)
def test_contract_resolves_a_local_symbol_or_an_unambiguous_bare_symbol(
    name: str, expected: tuple[str, Exchange]
) -> None:
    found = new_oms().contract(name)
    assert (found.symbol, found.exchange) == expected


@pytest.mark.parametrize("name", ["ag2606", "xx2601", "rb2601.DCE", ""])
def test_contract_refuses_an_ambiguous_or_unknown_name(name: str) -> None:
    with pytest.raises(UnknownInstrument) as raised:
        new_oms().contract(name)
    assert raised.value.args == (name,)
    assert isinstance(raised.value, KeyError)


@pytest.mark.parametrize(
    ("exchange", "side", "last", "expected"),
    [
        pytest.param(Exchange.SHFE, LONG, 3410.0, 2 * 10 * 10.0, id="long-gains"),
        pytest.param(Exchange.SHFE, SHORT, 3410.0, -2 * 10 * 10.0, id="short-loses"),
        pytest.param(Exchange.INE, LONG, 3399.5, -2 * 1000 * 0.5, id="size-1000"),
    ],
)
def test_a_tick_marks_the_position_profit_with_the_contract_size(
    exchange: Exchange, side: Direction, last: float, expected: float
) -> None:
    oms = new_oms()
    oms.on_positions((held(2, 0, side, exchange, price=3400.0),))
    changed = oms.on_tick(tick(last, exchange))
    assert [(p.direction, p.position_profit) for p in changed] == [(side, pytest.approx(expected))]
    assert oms.position(f"{SYMBOLS[exchange]}.{exchange}", side).position_profit == pytest.approx(expected)
    assert oms.ticks[f"{SYMBOLS[exchange]}.{exchange}"].last_price == last


def test_a_tick_without_a_price_or_of_an_unheld_instrument_changes_nothing() -> None:
    oms = new_oms()
    oms.on_trade(fill("t1", LONG, OPEN, 1, 3400.0))
    assert oms.on_tick(tick(0.0)) == []
    assert oms.on_tick(tick(3000.0, Exchange.DCE)) == []
    assert oms.position(RB, LONG).position_profit == 0.0
    assert oms.on_tick(tick(3401.0))[0].position_profit == pytest.approx(10.0)  # a fill makes it held


# --- the account marked with the positions (issue 17: live P&L between counter refreshes) -------------------
def counter_account(balance: float, position_profit: float) -> AccountData:
    return AccountData("demo", balance=balance, available=900_000.0, position_profit=position_profit,
                       pre_balance=1_000_000.0)  # fmt: skip


def test_ticks_mark_the_accounts_position_profit_and_balance_between_counter_answers() -> None:
    oms = new_oms()
    oms.on_positions((held(0, 2, price=3400.0), held(1, 0, SHORT, Exchange.DCE, price=3000.0)))
    oms.on_account(counter_account(1_000_000.0, 0.0))
    oms.on_tick(tick(3410.0))  # rb long 2 lots × size 10: +200
    assert oms.account is not None
    assert (oms.account.position_profit, oms.account.balance) == (pytest.approx(200.0), pytest.approx(1_000_200.0))
    oms.on_tick(tick(3010.0, Exchange.DCE))  # m short 1 × 10: -100
    assert (oms.account.position_profit, oms.account.balance) == (pytest.approx(100.0), pytest.approx(1_000_100.0))
    assert oms.account.position_profit == pytest.approx(sum(p.position_profit for p in oms.position_list()))
    assert oms.account.available == 900_000.0  # the counter's money figures stand


def test_a_counter_answer_is_the_new_basis_and_nothing_is_counted_twice() -> None:
    oms = new_oms()
    oms.on_positions((held(0, 2, price=3400.0),))
    oms.on_account(counter_account(1_000_000.0, 0.0))
    oms.on_tick(tick(3410.0))
    # the counter marked at the same price: its balance already holds the 200
    assert oms.on_account(counter_account(1_000_200.0, 200.0)).balance == pytest.approx(1_000_200.0)
    oms.on_tick(tick(3405.0))
    assert oms.account is not None
    assert (oms.account.position_profit, oms.account.balance) == (pytest.approx(100.0), pytest.approx(1_000_100.0))
    # a snapshot with other lots (or price) is marked at once with the last tick, the account with it
    oms.on_positions((held(0, 4, price=3400.0),))
    assert (oms.account.position_profit, oms.account.balance) == (pytest.approx(200.0), pytest.approx(1_000_200.0))


def test_before_the_first_position_snapshot_the_counters_account_stands() -> None:
    oms = new_oms()
    oms.on_account(counter_account(1_000_150.0, 150.0))
    assert oms.account == counter_account(1_000_150.0, 150.0)


def test_a_fill_is_marked_at_the_last_price_and_a_closed_position_leaves_the_account() -> None:
    oms = new_oms()
    oms.on_positions(())
    oms.on_account(counter_account(1_000_000.0, 0.0))
    oms.on_tick(tick(3410.0))
    oms.on_trade(fill("t1", LONG, OPEN, 1, 3400.0))
    assert oms.position(RB, LONG).position_profit == pytest.approx(100.0)
    assert oms.account is not None and oms.account.position_profit == pytest.approx(100.0)
    oms.on_trade(fill("t2", SHORT, CT, 1, 3410.0))
    assert oms.account.position_profit == 0.0


# --- property ------------------------------------------------------------------------------------------------
STEP = st.tuples(
    st.sampled_from([LONG, SHORT]),  # the position side a fill acts on
    st.sampled_from([OPEN, CLOSE, CT, CY]),
    st.integers(1, 6),
    st.integers(-50, 50),  # price in ticks from 3500
)


@given(
    exchange=st.sampled_from([Exchange.SHFE, Exchange.INE, Exchange.DCE, Exchange.CZCE]),
    start=st.tuples(st.integers(0, 5), st.integers(0, 5)),
    steps=st.lists(STEP, max_size=30),
)
def test_property_fills_keep_volume_the_sum_of_todays_and_yesterdays_lots(
    exchange: Exchange, start: tuple[int, int], steps: list[tuple[Direction, Offset, int, int]]
) -> None:
    """Closes never take more than held of the kind their offset may take (the exchange would refuse).

    Elsewhere than SHFE/INE only a plain Close is sent here: the others are tested above.
    """
    splits = exchange in (Exchange.SHFE, Exchange.INE)
    oms = new_oms()
    oms.on_positions((held(*start, LONG, exchange), held(*start, SHORT, exchange)))
    model = {side: list(start) for side in (LONG, SHORT)}  # [today, yesterday]
    for number, (side, offset, wanted, ticks) in enumerate(steps):
        today, yesterday = model[side]
        key = (f"{SYMBOLS[exchange]}.{exchange}", side)
        before = oms.positions[key]
        if offset is not OPEN and not splits:
            offset = CLOSE
        room = {OPEN: wanted, CT: today, CY: yesterday, CLOSE: yesterday if splits else today + yesterday}
        volume = min(wanted, room[offset])
        if volume == 0:
            continue
        order_side = side if offset is OPEN else (SHORT if side is LONG else LONG)
        price = 3500.0 + ticks
        oms.on_trade(fill(f"t{number}", order_side, offset, volume, price, exchange=exchange))
        if offset is OPEN:
            model[side][0] += volume
        elif offset is CT:
            model[side][0] -= volume
        else:
            from_yesterday = min(volume, yesterday)
            model[side] = [today - (volume - from_yesterday), yesterday - from_yesterday]
        after = oms.positions[key]
        assert after.volume == after.td_volume + after.yd_volume >= 0
        assert [after.td_volume, after.yd_volume] == model[side]
        if offset is OPEN:
            assert math.isclose(after.price * after.volume, before.price * before.volume + price * volume)
        else:
            assert after.price == before.price
