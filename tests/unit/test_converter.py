"""Close-today / close-yesterday splitting (backend/engine/converter.py, CTP.md §4)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.engine.constants import Direction, Exchange, Offset, OrderType, Status
from backend.engine.converter import (
    ClosePositionError,
    check_close,
    closable,
    close_order_side,
    lots_closed,
    split_close,
)
from backend.engine.objects import OrderData, OrderRequest, PositionData

SYMBOLS = {
    Exchange.SHFE: "rb2601",
    Exchange.INE: "sc2603",
    Exchange.DCE: "m2605",
    Exchange.CZCE: "MA601",
    Exchange.CFFEX: "IF2512",
    Exchange.GFEX: "si2601",
}
CT, CY, CLOSE = Offset.CLOSETODAY, Offset.CLOSEYESTERDAY, Offset.CLOSE
LONG, SHORT = Direction.LONG, Direction.SHORT


def make_position(
    today: int, yesterday: int, exchange: Exchange = Exchange.SHFE, side: Direction = LONG
) -> PositionData:
    return PositionData(SYMBOLS[exchange], exchange, side, today + yesterday, yd_volume=yesterday, td_volume=today)


def make_request(
    volume: int, exchange: Exchange = Exchange.SHFE, side: Direction = SHORT, offset: Offset = CLOSE
) -> OrderRequest:
    return OrderRequest(SYMBOLS[exchange], exchange, side, offset, OrderType.LIMIT, 3500.0, volume, strategy="s1")


def make_order(
    offset: Offset,
    volume: int,
    traded: int = 0,
    status: Status = Status.NOTTRADED,
    exchange: Exchange = Exchange.SHFE,
    side: Direction = SHORT,
    symbol: str | None = None,
) -> OrderData:
    return OrderData(f"1_1_{offset}_{volume}", symbol or SYMBOLS[exchange], exchange, side, offset, OrderType.LIMIT,
                     3500.0, volume, traded, status)  # fmt: skip


def pieces(orders: list[OrderRequest]) -> list[tuple[Offset, int]]:
    return [(order.offset, order.volume) for order in orders]


@pytest.mark.parametrize(("position", "order"), [(LONG, SHORT), (SHORT, LONG)])
def test_a_position_is_closed_by_the_opposite_order_side(position: Direction, order: Direction) -> None:
    assert close_order_side(position) is order


# --- SHFE / INE ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("exchange", [Exchange.SHFE, Exchange.INE])
@pytest.mark.parametrize(
    ("today", "yesterday", "volume", "pattern", "expected"),
    [
        pytest.param(3, 2, 4, "today", [(CT, 3), (CY, 1)], id="today-first"),
        pytest.param(3, 2, 4, "yesterday", [(CY, 2), (CT, 2)], id="yesterday-first"),
        pytest.param(3, 2, 2, "today", [(CT, 2)], id="today-enough"),
        pytest.param(3, 2, 2, "yesterday", [(CY, 2)], id="yesterday-enough"),
        pytest.param(0, 5, 3, "today", [(CY, 3)], id="no-today-lots"),
        pytest.param(5, 0, 3, "yesterday", [(CT, 3)], id="no-yesterday-lots"),
        pytest.param(3, 2, 5, "today", [(CT, 3), (CY, 2)], id="everything-today-first"),
        pytest.param(3, 2, 5, "yesterday", [(CY, 2), (CT, 3)], id="everything-yesterday-first"),
    ],
)
def test_shfe_close_is_split_by_the_pattern(
    exchange: Exchange, today: int, yesterday: int, volume: int, pattern: str, expected: list[tuple[Offset, int]]
) -> None:
    orders = split_close(make_request(volume, exchange), make_position(today, yesterday, exchange), [], pattern)
    assert pieces(orders) == expected
    assert all((o.symbol, o.exchange, o.direction, o.price, o.type, o.strategy) ==
               (SYMBOLS[exchange], exchange, SHORT, 3500.0, OrderType.LIMIT, "s1") for o in orders)  # fmt: skip


@pytest.mark.parametrize(
    ("pending", "volume", "pattern", "expected"),
    [
        pytest.param([make_order(CT, 2)], 3, "today", [(CT, 1), (CY, 2)], id="closetoday-freezes-today"),
        pytest.param([make_order(CLOSE, 1)], 4, "yesterday", [(CY, 1), (CT, 3)], id="close-freezes-yesterday"),
        pytest.param([make_order(CY, 2)], 3, "yesterday", [(CT, 3)], id="closeyesterday-freezes-yesterday"),
        pytest.param(
            [make_order(CT, 3, traded=2, status=Status.PARTTRADED)],
            4,
            "today",
            [(CT, 2), (CY, 2)],
            id="only-the-remaining-volume-is-frozen",
        ),
        pytest.param(
            [
                make_order(CT, 3, status=Status.CANCELLED),
                make_order(CY, 2, traded=2, status=Status.ALLTRADED),
                make_order(CT, 1, status=Status.REJECTED),
                make_order(Offset.OPEN, 4, side=SHORT),
                make_order(CT, 3, side=LONG),
                make_order(CT, 3, symbol="rb2605"),
            ],
            5,
            "today",
            [(CT, 3), (CY, 2)],
            id="finished-opening-other-side-other-symbol-ignored",
        ),
        pytest.param(
            [make_order(CT, 1, status=Status.SUBMITTING)], 4, "today", [(CT, 2), (CY, 2)], id="submitting-order-freezes"
        ),
    ],
)
def test_shfe_working_close_orders_freeze_their_kind_of_lot(
    pending: list[OrderData], volume: int, pattern: str, expected: list[tuple[Offset, int]]
) -> None:
    assert pieces(split_close(make_request(volume), make_position(3, 2), pending, pattern)) == expected


@pytest.mark.parametrize(
    ("offset", "volume", "pending", "expected"),
    [
        pytest.param(CT, 3, [], [(CT, 3)], id="closetoday-kept"),
        pytest.param(CY, 2, [], [(CY, 2)], id="closeyesterday-kept"),
        pytest.param(CT, 2, [make_order(CT, 1)], [(CT, 2)], id="closetoday-within-the-free-today-lots"),
    ],
)
def test_shfe_explicit_offset_takes_only_its_kind(
    offset: Offset, volume: int, pending: list[OrderData], expected: list[tuple[Offset, int]]
) -> None:
    assert (
        pieces(split_close(make_request(volume, offset=offset), make_position(3, 2), pending, "yesterday")) == expected
    )


# --- other exchanges -----------------------------------------------------------------------------------
@pytest.mark.parametrize("exchange", [Exchange.DCE, Exchange.CZCE, Exchange.CFFEX, Exchange.GFEX])
@pytest.mark.parametrize(
    ("offset", "pending", "volume"),
    [
        pytest.param(CLOSE, [], 5, id="all"),
        pytest.param(CT, [], 4, id="closetoday-becomes-close"),
        pytest.param(CLOSE, "pending", 3, id="what-working-orders-leave"),
    ],
)
@pytest.mark.parametrize("pattern", ["today", "yesterday"])
def test_elsewhere_one_close_order_does(
    exchange: Exchange, offset: Offset, pending: str | list[OrderData], volume: int, pattern: str
) -> None:
    orders = [make_order(CLOSE, 2, exchange=exchange)] if pending else []
    result = split_close(make_request(volume, exchange, offset=offset), make_position(2, 3, exchange), orders, pattern)
    assert pieces(result) == [(CLOSE, volume)]


# --- what is closable, and refusals -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("position", "pending", "expected"),
    [
        pytest.param(make_position(3, 2), [], 5, id="shfe-free"),
        pytest.param(make_position(3, 2), [make_order(CT, 2), make_order(CLOSE, 1)], 2, id="shfe-working"),
        pytest.param(make_position(1, 2), [make_order(CT, 3)], 2, id="shfe-over-frozen-today-not-taken-from-yesterday"),
        pytest.param(make_position(2, 3, Exchange.DCE), [make_order(CLOSE, 2, exchange=Exchange.DCE)], 3, id="dce"),
        pytest.param(
            make_position(0, 4, Exchange.CZCE, SHORT),
            [make_order(CLOSE, 5, exchange=Exchange.CZCE, side=LONG)],
            0,
            id="czce-short-never-negative",
        ),
    ],
)
def test_closable_is_what_working_close_orders_leave(
    position: PositionData, pending: list[OrderData], expected: int
) -> None:
    assert closable(position, pending) == expected


@pytest.mark.parametrize(
    ("request_", "position", "pending", "message"),
    [
        pytest.param(make_request(5), make_position(2, 3), [make_order(CLOSE, 2)],
                     "close 5 rb2601.SHFE long: only 3 available (2 frozen by working close orders)", id="shfe-frozen"),
        pytest.param(make_request(3), make_position(1, 1), [],
                     "close 3 rb2601.SHFE long: only 2 available", id="shfe-short-of-lots"),
        pytest.param(make_request(2, offset=CT), make_position(1, 5), [],
                     "close 2 rb2601.SHFE long: only 1 of today's lots available", id="shfe-closetoday"),
        pytest.param(make_request(3, offset=CY), make_position(5, 3), [make_order(CY, 1)],
                     "close 3 rb2601.SHFE long: only 2 of yesterday's lots available"
                     " (1 frozen by working close orders)",
                     id="shfe-closeyesterday"),
        pytest.param(make_request(4, Exchange.DCE, LONG), make_position(1, 3, Exchange.DCE, SHORT),
                     [make_order(CLOSE, 2, traded=1, status=Status.PARTTRADED, exchange=Exchange.DCE, side=LONG)],
                     "close 4 m2605.DCE short: only 3 available (1 frozen by working close orders)", id="dce-short"),
        pytest.param(make_request(0), make_position(1, 1), [],
                     "close 0 rb2601.SHFE: the volume must be positive", id="zero-volume"),
    ],
)  # fmt: skip
def test_a_close_beyond_what_is_free_is_refused_with_the_numbers(
    request_: OrderRequest, position: PositionData, pending: list[OrderData], message: str
) -> None:
    with pytest.raises(ClosePositionError) as raised:
        split_close(request_, position, pending, "today")
    assert str(raised.value) == message
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("request_", "pattern", "match"),
    [
        pytest.param(make_request(1), "oldest", "close pattern must be one of today, yesterday", id="bad-pattern"),
        pytest.param(make_request(1, offset=Offset.OPEN), "today", "needs a close request", id="open"),
        pytest.param(make_request(1, side=LONG), "today", "does not close the long position", id="same-side"),
        pytest.param(make_request(1, Exchange.DCE), "today", "does not close", id="other-instrument"),
    ],
)
def test_caller_mistakes_are_plain_value_errors(request_: OrderRequest, pattern: str, match: str) -> None:
    with pytest.raises(ValueError, match=match) as raised:
        split_close(request_, make_position(3, 2), [], pattern)
    assert not isinstance(raised.value, ClosePositionError)


# --- property ----------------------------------------------------------------------------------------------
@given(
    today=st.integers(0, 20),
    yesterday=st.integers(0, 20),
    frozen_today=st.integers(0, 25),
    frozen_yesterday=st.integers(0, 25),
    volume=st.integers(1, 45),
    pattern=st.sampled_from(["today", "yesterday"]),
)
def test_property_shfe_pieces_add_up_and_fit_each_kind(
    today: int, yesterday: int, frozen_today: int, frozen_yesterday: int, volume: int, pattern: str
) -> None:
    position = make_position(today, yesterday)
    pending = [make_order(CT, frozen_today), make_order(CY, frozen_yesterday)]
    free = {CT: max(0, today - frozen_today), CY: max(0, yesterday - frozen_yesterday)}
    assert closable(position, pending) == free[CT] + free[CY]
    if volume > free[CT] + free[CY]:
        with pytest.raises(ClosePositionError):
            split_close(make_request(volume), position, pending, pattern)
        return
    result = pieces(split_close(make_request(volume), position, pending, pattern))
    assert sum(lots for _, lots in result) == volume
    assert all(0 < lots <= free[offset] for offset, lots in result)
    assert len({offset for offset, _ in result}) == len(result)
    first = CT if pattern == "today" else CY
    assert result[0][0] is first or free[first] == 0


# --- check_close: the engine's check of every close order (MainEngine._check) -----------------------------
SHFE_HINT = "; SHFE closes today's lots only with close_today (or POST /close_position)"


@pytest.mark.parametrize(
    ("offset", "volume", "message"),
    [
        pytest.param(CT, 2, "close 2 rb2601.SHFE long: only 1 of today's lots available", id="closetoday-2-refused"),
        pytest.param(CT, 1, None, id="closetoday-1-passes"),
        pytest.param(CLOSE, 3, "close 3 rb2601.SHFE long: only 2 of yesterday's lots available" + SHFE_HINT,
                     id="close-3-refused-with-the-hint"),
        pytest.param(CLOSE, 2, None, id="close-2-passes"),
        pytest.param(CY, 2, None, id="closeyesterday-2-passes"),
        pytest.param(CY, 3, "close 3 rb2601.SHFE long: only 2 of yesterday's lots available",
                     id="closeyesterday-3-refused-without-the-hint"),
    ],
)  # fmt: skip
def test_check_close_shfe_two_yesterdays_lots_and_one_of_today(
    offset: Offset, volume: int, message: str | None
) -> None:
    """The issue's finding: one order takes one kind of lot on SHFE, whatever the position's total."""
    request, position = make_request(volume, offset=offset), make_position(1, 2)
    if message is None:
        assert check_close(request, position, []) is None
        return
    with pytest.raises(ClosePositionError) as raised:
        check_close(request, position, [])
    assert str(raised.value) == message


def test_check_close_names_the_exchange_in_the_hint() -> None:
    with pytest.raises(ClosePositionError, match="; INE closes today's lots only with close_today"):
        check_close(make_request(1, Exchange.INE), make_position(1, 0, Exchange.INE), [])


@pytest.mark.parametrize(
    ("pending", "offset", "volume", "message"),
    [
        pytest.param([make_order(CT, 1)], CT, 1,
                     "close 1 rb2601.SHFE long: only 0 of today's lots available (1 frozen by working close orders)",
                     id="closetoday-frozen-by-closetoday"),
        pytest.param([make_order(CT, 1)], CY, 2, None, id="closetoday-leaves-yesterday"),
        pytest.param([make_order(CLOSE, 1)], CLOSE, 2,
                     "close 2 rb2601.SHFE long: only 1 of yesterday's lots available"
                     " (1 frozen by working close orders)" + SHFE_HINT,
                     id="close-frozen-by-close"),
        pytest.param([make_order(CLOSE, 1)], CT, 1, None, id="close-leaves-today"),
        pytest.param([make_order(CY, 2, traded=1, status=Status.PARTTRADED)], CY, 2,
                     "close 2 rb2601.SHFE long: only 1 of yesterday's lots available"
                     " (1 frozen by working close orders)",
                     id="closeyesterday-frozen-by-its-remainder"),
        pytest.param([make_order(CY, 2, traded=1, status=Status.PARTTRADED)], CLOSE, 1, None,
                     id="closeyesterday-remainder-leaves-one"),
        pytest.param([make_order(CT, 1, status=Status.CANCELLED), make_order(CLOSE, 2, traded=2,
                                                                             status=Status.ALLTRADED)],
                     CT, 1, None, id="finished-orders-hold-nothing"),
        pytest.param([make_order(CT, 1, side=LONG), make_order(CT, 1, symbol="rb2605")], CT, 1, None,
                     id="other-side-and-other-instrument-hold-nothing"),
    ],
)  # fmt: skip
def test_check_close_shfe_takes_away_lots_frozen_by_working_close_orders_of_each_kind(
    pending: list[OrderData], offset: Offset, volume: int, message: str | None
) -> None:
    request, position = make_request(volume, offset=offset), make_position(1, 2)
    if message is None:
        assert check_close(request, position, pending) is None
        return
    with pytest.raises(ClosePositionError) as raised:
        check_close(request, position, pending)
    assert str(raised.value) == message


@pytest.mark.parametrize("exchange", [Exchange.DCE, Exchange.CZCE, Exchange.CFFEX, Exchange.GFEX])
@pytest.mark.parametrize(("today", "yesterday"), [(3, 0), (0, 3), (1, 2)])
@pytest.mark.parametrize("offset", [CLOSE, CT, CY])
def test_check_close_elsewhere_any_close_takes_any_lot(
    exchange: Exchange, today: int, yesterday: int, offset: Offset
) -> None:
    position = make_position(today, yesterday, exchange)
    assert check_close(make_request(3, exchange, offset=offset), position, []) is None
    with pytest.raises(ClosePositionError, match=r"^close 4 \S+ long: only 3 available$"):
        check_close(make_request(4, exchange, offset=offset), position, [])
    working = [make_order(CT, 1, exchange=exchange)]  # freezes a lot, whatever its kind
    with pytest.raises(ClosePositionError, match=r"only 2 available \(1 frozen by working close orders\)$"):
        check_close(make_request(3, exchange, offset=offset), position, working)


# --- lots_closed: which lots a closing fill consumed (Oms._apply_fill) -------------------------------------
@pytest.mark.parametrize(
    ("exchange", "offset", "volume", "yd_volume", "expected"),
    [
        *(pytest.param(exchange, offset, 3, 2, expected, id=f"{exchange}-{offset}")
          for exchange in (Exchange.SHFE, Exchange.INE)
          for offset, expected in ((CT, (3, 0)), (CY, (0, 3)), (CLOSE, (0, 3)))),
        *(pytest.param(exchange, offset, 3, 2, (1, 2), id=f"{exchange}-{offset}")  # any close: yesterday's first
          for exchange in (Exchange.DCE, Exchange.CZCE, Exchange.CFFEX, Exchange.GFEX)
          for offset in (CLOSE, CT, CY)),
        pytest.param(Exchange.DCE, CLOSE, 2, 5, (0, 2), id="DCE-close-within-yesterday"),
        pytest.param(Exchange.DCE, CLOSE, 2, 0, (2, 0), id="DCE-close-no-yesterday"),
    ],
)  # fmt: skip
def test_lots_closed_by_exchange_and_offset(
    exchange: Exchange, offset: Offset, volume: int, yd_volume: int, expected: tuple[int, int]
) -> None:
    assert lots_closed(offset, exchange, volume, yd_volume) == expected


# --- property: what close_position sends passes the engine's check, piece by piece ---------------------------
def as_working(piece: OrderRequest, number: int) -> OrderData:
    """A piece just sent, as the OMS knows it while it works."""
    return OrderData(f"piece{number}", piece.symbol, piece.exchange, piece.direction, piece.offset, piece.type,
                     piece.price, piece.volume, 0, Status.NOTTRADED)  # fmt: skip


@given(
    exchange=st.sampled_from([Exchange.SHFE, Exchange.INE, Exchange.DCE, Exchange.CZCE]),
    today=st.integers(0, 8),
    yesterday=st.integers(0, 8),
    working=st.lists(st.tuples(st.sampled_from([CLOSE, CT, CY]), st.integers(1, 4)), max_size=3),
    offset=st.sampled_from([CLOSE, CT, CY]),
    volume=st.integers(1, 16),
    pattern=st.sampled_from(["today", "yesterday"]),
)
def test_property_split_close_pieces_pass_check_close_one_after_another(
    exchange: Exchange,
    today: int,
    yesterday: int,
    working: list[tuple[Offset, int]],
    offset: Offset,
    volume: int,
    pattern: str,
) -> None:
    position = make_position(today, yesterday, exchange)
    pending = [replace(make_order(kind, lots, exchange=exchange), order_id=f"w{number}")
               for number, (kind, lots) in enumerate(working)]  # fmt: skip
    request = make_request(volume, exchange, offset=offset)
    free = closable(position, pending)
    try:
        result = split_close(request, position, pending, pattern)
    except ClosePositionError:
        if offset is CLOSE or exchange not in (Exchange.SHFE, Exchange.INE):
            assert volume > free  # a plain close is refused only for want of lots
        return
    assert sum(piece.volume for piece in result) == volume
    sent = list(pending)
    for number, piece in enumerate(result):
        assert check_close(piece, position, sent) is None
        sent.append(as_working(piece, number))
    assert closable(position, sent) == free - volume
