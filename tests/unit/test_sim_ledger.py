"""Table-driven tests of the simulated counter's account ledger (backend/sim/ledger.py)."""

from __future__ import annotations

import json

import pytest

from backend.sim.instruments import FeeRates, InstrumentSpec
from backend.sim.ledger import (
    BUY,
    CLOSE,
    CLOSE_TODAY,
    CLOSE_YESTERDAY,
    LONG,
    OPEN,
    SELL,
    SHORT,
    Ledger,
)

DAY1, DAY2, DAY3 = "20250102", "20250103", "20250106"


def make_spec(
    symbol: str,
    exchange: str,
    *,
    size: int = 10,
    long_ratio: float = 0.1,
    short_ratio: float = 0.12,
    fees: FeeRates | None = None,
    base_price: float = 3500.0,
) -> InstrumentSpec:
    return InstrumentSpec(
        symbol=symbol,
        exchange=exchange,
        product=symbol.rstrip("0123456789"),
        name=symbol,
        size=size,
        price_tick=1.0,
        long_margin_ratio=long_ratio,
        short_margin_ratio=short_ratio,
        fees=fees or FeeRates(),
        sessions=(("09:00", "15:00"),),
        band=0.07,
        base_price=base_price,
        delivery_year=2026,
        delivery_month=1,
        create_date="20241201",
        open_date="20241202",
        expire_date="20260115",
        start_deliv_date="20260116",
        end_deliv_date="20260120",
    )


SHFE_FEES = FeeRates(1e-4, 0.0, 1e-4, 0.0, 3e-4, 0.0)  # by money, close today dearer
DCE_FEES = FeeRates(0.0, 1.5, 0.0, 1.5, 0.0, 0.75)  # by volume, close today cheaper
CZCE_FEES = FeeRates(0.0, 2.0, 0.0, 2.0, 0.0, 6.0)
RB = make_spec("rb2601", "SHFE", fees=SHFE_FEES)
M = make_spec("m2605", "DCE", fees=DCE_FEES, base_price=3000.0)
MA = make_spec("MA601", "CZCE", fees=CZCE_FEES, base_price=2500.0)
SPECS = {s.symbol: s for s in (RB, M, MA)}

_keys = iter(range(1_000_000))


def trade(ledger: Ledger, spec: InstrumentSpec, direction: str, offset: str, price: float, volume: int, day=DAY1):
    """Check, freeze and fill an order in full, as the counter would."""
    assert ledger.check_order(spec, direction, offset, price, volume) == 0
    key = f"o{next(_keys)}"
    ledger.freeze(key, spec, direction, offset, price, volume)
    result = ledger.fill(key, spec, direction, offset, price, volume, day)
    assert ledger.frozen_volume(key) == 0
    return result


def with_long(spec: InstrumentSpec, yesterday: int, today: int, price: float = 3500.0) -> Ledger:
    """A ledger holding `yesterday` long lots (settled at `price`) and `today` long lots opened at `price`."""
    ledger = Ledger("acc", 1_000_000.0, DAY1)
    if yesterday:
        trade(ledger, spec, BUY, OPEN, price, yesterday, DAY1)
    ledger.settle({spec.symbol: price}, DAY2)
    if today:
        trade(ledger, spec, BUY, OPEN, price, today, DAY2)
    return ledger


# ----------------------------------------------------------------------------------------- fees
@pytest.mark.parametrize(
    ("symbol", "yesterday", "today", "direction", "offset", "price", "volume", "expected_fee"),
    [
        # opening: by money (SHFE), by volume (DCE, CZCE)
        ("rb2601", 0, 0, BUY, OPEN, 3500.0, 2, 3500 * 2 * 10 * 1e-4),
        ("m2605", 0, 0, SELL, OPEN, 3000.0, 3, 3 * 1.5),
        ("MA601", 0, 0, BUY, OPEN, 2500.0, 4, 4 * 2.0),
        # SHFE: '3' closes today's lots at the close-today rate, '1'/'4' yesterday's at the close rate
        ("rb2601", 2, 2, SELL, CLOSE_TODAY, 3600.0, 2, 3600 * 2 * 10 * 3e-4),
        ("rb2601", 2, 2, SELL, CLOSE_YESTERDAY, 3600.0, 2, 3600 * 2 * 10 * 1e-4),
        ("rb2601", 2, 2, SELL, CLOSE, 3600.0, 1, 3600 * 1 * 10 * 1e-4),
        # elsewhere: yesterday's lots first (close rate), then today's (close-today rate), any offset
        ("m2605", 0, 2, SELL, CLOSE, 3000.0, 2, 2 * 0.75),
        ("m2605", 1, 2, SELL, CLOSE, 3000.0, 3, 1 * 1.5 + 2 * 0.75),
        ("MA601", 2, 1, SELL, CLOSE_TODAY, 2500.0, 2, 2 * 2.0),
        ("MA601", 2, 1, SELL, CLOSE_YESTERDAY, 2500.0, 3, 2 * 2.0 + 1 * 6.0),
    ],
)
def test_fees(symbol, yesterday, today, direction, offset, price, volume, expected_fee):
    spec = SPECS[symbol]
    ledger = with_long(spec, yesterday, today, spec.base_price)
    before = ledger.account().commission
    result = trade(ledger, spec, direction, offset, price, volume, DAY2)
    assert result.commission == pytest.approx(expected_fee)
    assert ledger.account().commission - before == pytest.approx(expected_fee)


# -------------------------------------------------------------------------------------- margins
@pytest.mark.parametrize(
    ("direction", "open_price", "settle", "expected"),
    [
        (BUY, 3500.0, None, 3500 * 2 * 10 * 0.1),  # today's lot: open price × long ratio
        (SELL, 3500.0, None, 3500 * 2 * 10 * 0.12),  # short ratio
        (BUY, 3500.0, 3400.0, 3400 * 2 * 10 * 0.1),  # yesterday's lot: previous settlement
        (SELL, 3500.0, 3600.0, 3600 * 2 * 10 * 0.12),
    ],
)
def test_margin(direction, open_price, settle, expected):
    ledger = Ledger("acc", 1_000_000.0)
    trade(ledger, RB, direction, OPEN, open_price, 2)
    if settle is not None:
        ledger.settle({RB.symbol: settle}, DAY2)
    assert ledger.account().margin == pytest.approx(expected)
    (detail,) = ledger.details()
    assert detail.margin == pytest.approx(expected)
    assert sum(row.use_margin for row in ledger.positions(DAY2)) == pytest.approx(expected)


# ------------------------------------------------------------------------------- close checks
@pytest.mark.parametrize(
    ("offset", "volume", "expected"),
    [
        (CLOSE_TODAY, 1, 0),
        (CLOSE_TODAY, 2, 50),  # one lot today
        (CLOSE_YESTERDAY, 2, 0),
        (CLOSE_YESTERDAY, 3, 51),  # two lots yesterday
        (CLOSE, 2, 0),
        (CLOSE, 3, 30),  # '1' closes yesterday's lots only on SHFE
    ],
)
def test_shfe_close_checks(offset, volume, expected):
    ledger = with_long(RB, yesterday=2, today=1)
    assert ledger.check_order(RB, SELL, offset, 3500.0, volume) == expected
    # buying to close finds no short position
    assert ledger.check_order(RB, BUY, offset, 3500.0, 1) in (30, 50, 51)


@pytest.mark.parametrize(
    ("pending_offset", "pending", "offset", "volume", "expected"),
    [
        (CLOSE_TODAY, 1, CLOSE_TODAY, 1, 50),  # today's lot already promised
        (CLOSE_TODAY, 1, CLOSE_YESTERDAY, 2, 0),  # ...which leaves yesterday's alone
        (CLOSE_YESTERDAY, 1, CLOSE, 2, 30),
        (CLOSE, 2, CLOSE_YESTERDAY, 1, 51),
    ],
)
def test_shfe_pending_closes_reduce_closable(pending_offset, pending, offset, volume, expected):
    ledger = with_long(RB, yesterday=2, today=1)
    ledger.freeze("p", RB, SELL, pending_offset, 3500.0, pending)
    assert ledger.check_order(RB, SELL, offset, 3500.0, volume) == expected
    ledger.release("p")
    assert ledger.check_order(RB, SELL, offset, 3500.0, volume) == 0


@pytest.mark.parametrize("offset", [CLOSE, CLOSE_TODAY, CLOSE_YESTERDAY])
@pytest.mark.parametrize(
    ("volume", "expected", "closed_yesterday", "closed_today"),
    [(1, 0, 1, 0), (2, 0, 2, 0), (3, 0, 2, 1), (4, 30, 0, 0)],
)
def test_non_shfe_closes(offset, volume, expected, closed_yesterday, closed_today):
    ledger = with_long(M, yesterday=2, today=1, price=3000.0)
    assert ledger.check_order(M, SELL, offset, 3000.0, volume) == expected
    if expected == 0:
        result = trade(ledger, M, SELL, offset, 3000.0, volume, DAY2)
        assert (result.closed_yesterday, result.closed_today) == (closed_yesterday, closed_today)


def test_non_shfe_pending_close_reduces_closable():
    ledger = with_long(M, yesterday=2, today=1, price=3000.0)
    ledger.freeze("p", M, SELL, CLOSE, 3000.0, 2)
    assert ledger.check_order(M, SELL, CLOSE_TODAY, 3000.0, 2) == 30
    assert ledger.check_order(M, SELL, CLOSE_TODAY, 3000.0, 1) == 0
    (row,) = ledger.positions(DAY2)
    assert (row.short_frozen, row.long_frozen) == (2, 0)


@pytest.mark.parametrize(
    ("spec", "direction", "basis", "price", "volume", "expected_profit"),
    [
        (RB, BUY, 3500.0, 3550.0, 2, 50 * 2 * 10),
        (RB, SELL, 3500.0, 3550.0, 2, -50 * 2 * 10),
        (M, SELL, 3000.0, 2990.0, 1, 10 * 1 * 10),
    ],
)
def test_close_profit(spec, direction, basis, price, volume, expected_profit):
    ledger = Ledger("acc", 1_000_000.0)
    trade(ledger, spec, direction, OPEN, basis, volume)
    closing = SELL if direction == BUY else BUY
    offset = CLOSE_TODAY if spec.splits_today else CLOSE
    result = trade(ledger, spec, closing, offset, price, volume)
    assert result.close_profit == pytest.approx(expected_profit)
    assert ledger.account().close_profit == pytest.approx(expected_profit)
    assert ledger.account().margin == 0.0


# -------------------------------------------------------------------------------------- funds
@pytest.mark.parametrize(
    ("balance", "volume", "expected"),
    [
        (10_000.0, 2, 0),  # 7,000 margin + 7 fee
        (10_000.0, 3, 31),  # 10,500 margin
        (7_007.0, 2, 0),  # exactly enough
        (7_006.99, 2, 31),
    ],
)
def test_insufficient_funds(balance, volume, expected):
    ledger = Ledger("acc", balance)
    assert ledger.check_order(RB, BUY, OPEN, 3500.0, volume) == expected


def test_frozen_orders_count_against_funds():
    ledger = Ledger("acc", 10_000.0)
    ledger.freeze("a", RB, BUY, OPEN, 3500.0, 2)
    assert ledger.check_order(RB, BUY, OPEN, 3500.0, 1) == 31
    ledger.release("a", 1)
    assert ledger.check_order(RB, BUY, OPEN, 3500.0, 1) == 0


@pytest.mark.parametrize(("volume", "offset"), [(0, OPEN), (-1, CLOSE), (1, "2"), (1, "x")])
def test_field_errors(volume, offset):
    assert Ledger("acc", 1e6).check_order(RB, BUY, offset, 3500.0, volume) == 15


# -------------------------------------------------------------------------- freeze/release/fill
def test_open_freeze_fill_release():
    ledger = Ledger("acc", 1_000_000.0)
    ledger.freeze("o", RB, BUY, OPEN, 3500.0, 3)
    acc = ledger.account()
    assert acc.frozen_margin == pytest.approx(3 * 3500.0)
    assert acc.frozen_commission == pytest.approx(3 * 3.5)
    result = ledger.fill("o", RB, BUY, OPEN, 3490.0, 1, DAY1)
    assert result.commission == pytest.approx(3.49)
    acc = ledger.account()
    assert acc.frozen_margin == pytest.approx(2 * 3500.0)
    assert acc.margin == pytest.approx(3490.0)
    assert ledger.frozen_volume("o") == 2
    assert ledger.release("o", 5) == 2  # the remainder, however much is asked
    acc = ledger.account()
    assert acc.frozen_margin == 0.0 and acc.frozen_commission == 0.0
    assert acc.available == acc.balance - acc.margin
    assert ledger.release("o") == 0  # a second cancel is harmless


def test_close_freeze_fill_release():
    ledger = with_long(RB, yesterday=2, today=2)
    ledger.freeze("c", RB, SELL, CLOSE_TODAY, 3600.0, 2)
    acc = ledger.account()
    assert acc.frozen_margin == 0.0
    assert acc.frozen_commission == pytest.approx(2 * 3600 * 10 * 3e-4)
    today_row = next(r for r in ledger.positions(DAY2) if r.position_date == "1")
    assert (today_row.short_frozen, today_row.long_frozen) == (2, 0)
    result = ledger.fill("c", RB, SELL, CLOSE_TODAY, 3600.0, 1, DAY2)
    assert (result.closed_today, result.closed_yesterday) == (1, 0)
    assert ledger.account().frozen_commission == pytest.approx(3600 * 10 * 3e-4)
    ledger.release("c", 1)
    assert ledger.account().frozen_commission == 0.0
    assert all(r.short_frozen == 0 for r in ledger.positions(DAY2))


def test_short_close_freezes_long_frozen():
    ledger = Ledger("acc", 1_000_000.0)
    trade(ledger, M, SELL, OPEN, 3000.0, 2)
    ledger.freeze("c", M, BUY, CLOSE, 3000.0, 1)
    (row,) = ledger.positions(DAY1)
    assert (row.posi_direction, row.long_frozen, row.short_frozen) == (SHORT, 1, 0)


@pytest.mark.parametrize(
    ("key", "direction", "offset", "volume"),
    [("nope", BUY, OPEN, 1), ("o", BUY, OPEN, 4), ("o", SELL, OPEN, 1), ("o", BUY, CLOSE, 1)],
)
def test_fill_must_match_a_frozen_order(key, direction, offset, volume):
    ledger = Ledger("acc", 1_000_000.0)
    ledger.freeze("o", RB, BUY, OPEN, 3500.0, 3)
    with pytest.raises(ValueError):
        ledger.fill(key, RB, direction, offset, 3500.0, volume, DAY1)


def test_freeze_rejects_duplicates_and_uncovered_closes():
    ledger = Ledger("acc", 1_000_000.0)
    ledger.freeze("o", RB, BUY, OPEN, 3500.0, 1)
    with pytest.raises(ValueError):
        ledger.freeze("o", RB, BUY, OPEN, 3500.0, 1)
    with pytest.raises(ValueError):
        ledger.freeze("c", RB, SELL, CLOSE_TODAY, 3500.0, 1)


# ---------------------------------------------------------------------------------- positions
def test_shfe_reports_today_and_history_rows():
    ledger = with_long(RB, yesterday=3, today=2)
    ledger.mark(RB.symbol, 3510.0)
    rows = {r.position_date: r for r in ledger.positions(DAY2)}
    assert set(rows) == {"1", "2"}
    today, history = rows["1"], rows["2"]
    assert (today.position, today.today_position, today.yd_position) == (2, 2, 0)
    assert (history.position, history.today_position, history.yd_position) == (3, 0, 3)
    assert today.open_volume == 2 and history.open_volume == 0
    assert today.position_profit == pytest.approx(10 * 2 * 10)
    assert history.position_cost == pytest.approx(3500 * 3 * 10)
    assert all(r.posi_direction == LONG and r.trading_day == DAY2 for r in rows.values())


def test_dce_reports_one_row():
    ledger = with_long(M, yesterday=3, today=2, price=3000.0)
    (row,) = ledger.positions(DAY2)
    assert (row.position_date, row.position, row.today_position, row.yd_position) == ("1", 5, 2, 3)
    assert row.open_volume == 2
    assert row.commission == pytest.approx(2 * 1.5)


@pytest.mark.parametrize(("spec", "offset"), [(RB, CLOSE_YESTERDAY), (M, CLOSE), (MA, CLOSE_YESTERDAY)])
def test_yd_position_does_not_decrease(spec, offset):
    ledger = with_long(spec, yesterday=3, today=1, price=spec.base_price)
    trade(ledger, spec, SELL, offset, spec.base_price, 2, DAY2)
    trade(ledger, spec, SELL, offset, spec.base_price, 1, DAY2)
    rows = ledger.positions(DAY2)
    assert max(r.yd_position for r in rows) == 3
    assert sum(r.position for r in rows) == 1
    live_yesterday = sum(r.position - r.today_position for r in rows)
    assert live_yesterday == 0


def test_closed_out_row_is_still_reported_for_the_day():
    ledger = Ledger("acc", 1_000_000.0)
    trade(ledger, RB, BUY, OPEN, 3500.0, 1)
    trade(ledger, RB, SELL, CLOSE_TODAY, 3520.0, 1)
    (row,) = ledger.positions(DAY1)
    assert (row.position, row.open_volume, row.close_volume) == (0, 1, 1)
    assert row.close_profit == pytest.approx(200.0)
    ledger.settle({RB.symbol: 3510.0}, DAY2)
    assert ledger.positions(DAY2) == []


def test_details_mark_to_market():
    ledger = Ledger("acc", 1_000_000.0)
    trade(ledger, RB, SELL, OPEN, 3500.0, 2)
    assert ledger.details()[0].position_profit == 0.0  # no price yet
    ledger.mark(RB.symbol, 3480.0)
    (d,) = ledger.details()
    assert (d.direction, d.open_date, d.volume, d.basis, d.today) == (SELL, DAY1, 2, 3500.0, True)
    assert d.position_profit == pytest.approx(20 * 2 * 10)
    ledger.settle({RB.symbol: 3490.0}, DAY2)
    ledger.mark(RB.symbol, 3480.0)
    (d,) = ledger.details()
    assert (d.open_date, d.basis, d.today) == (DAY1, 3490.0, False)
    assert d.position_profit == pytest.approx(10 * 2 * 10)
    assert d.position_profit_by_trade == pytest.approx(20 * 2 * 10)


# --------------------------------------------------------------------------------- settlement
def test_settlement_realises_profit_and_rolls_lots():
    ledger = Ledger("acc", 1_000_000.0)
    trade(ledger, RB, BUY, OPEN, 3500.0, 2)  # fee 7.0
    trade(ledger, RB, SELL, CLOSE_TODAY, 3520.0, 1)  # profit 200, fee 3520*10*3e-4
    ledger.mark(RB.symbol, 3530.0)
    before = ledger.account()
    ledger.settle({RB.symbol: 3540.0}, DAY2)
    after = ledger.account()
    expected = 1_000_000.0 - 7.0 + 200.0 - 3520 * 10 * 3e-4 + 40 * 1 * 10
    assert after.pre_balance == pytest.approx(expected)
    assert after.balance == pytest.approx(expected)
    assert before.balance == pytest.approx(expected - 100.0)  # marked at 3530 before settlement
    assert (after.close_profit, after.commission, after.position_profit) == (0.0, 0.0, 0.0)
    assert after.margin == pytest.approx(3540 * 10 * 0.1)
    (row,) = ledger.positions(DAY2)
    assert (row.position_date, row.yd_position, row.today_position, row.open_volume) == ("2", 1, 0, 0)
    assert row.pre_settlement_price == 3540.0
    # yesterday's lot now closes at the close rate with profit from the settlement price
    result = trade(ledger, RB, SELL, CLOSE, 3550.0, 1, DAY2)
    assert result.close_profit == pytest.approx(100.0)
    assert result.commission == pytest.approx(3550 * 10 * 1e-4)
    assert result.closed_yesterday == 1


def test_settlement_without_a_price_uses_the_mark():
    ledger = Ledger("acc", 1_000_000.0)
    trade(ledger, M, BUY, OPEN, 3000.0, 1)
    ledger.mark(M.symbol, 3010.0)
    ledger.settle({}, DAY2)
    assert ledger.details()[0].basis == 3010.0
    assert ledger.account().balance == pytest.approx(1_000_000.0 - 1.5 + 100.0)


def test_settlement_refuses_pending_orders():
    ledger = Ledger("acc", 1_000_000.0)
    ledger.freeze("o", RB, BUY, OPEN, 3500.0, 1)
    with pytest.raises(RuntimeError):
        ledger.settle({}, DAY2)


def test_deposit_and_withdraw():
    ledger = Ledger("acc", 1_000.0)
    ledger.deposit(500.0)
    assert ledger.withdraw(2_000.0) == 31
    assert ledger.withdraw(300.0) == 0
    acc = ledger.account()
    assert (acc.deposit, acc.withdraw, acc.balance) == (500.0, 300.0, 1_200.0)
    ledger.settle({}, DAY2)
    acc = ledger.account()
    assert (acc.pre_balance, acc.deposit, acc.withdraw) == (1_200.0, 0.0, 0.0)


# -------------------------------------------------------------------------------- persistence
def test_state_round_trip():
    ledger = with_long(RB, yesterday=2, today=1)
    trade(ledger, M, SELL, OPEN, 3000.0, 3, DAY2)
    trade(ledger, MA, BUY, OPEN, 2500.0, 1, DAY2)
    trade(ledger, RB, SELL, CLOSE_YESTERDAY, 3510.0, 1, DAY2)
    ledger.freeze("open", MA, SELL, OPEN, 2501.0, 2)
    ledger.freeze("close", M, BUY, CLOSE, 2999.0, 2)
    ledger.fill("close", M, BUY, CLOSE, 2999.0, 1, DAY2)
    ledger.mark(RB.symbol, 3512.0)
    ledger.deposit(12.5)
    state = ledger.to_state()
    copy = Ledger.from_state(json.loads(json.dumps(state)))
    assert copy.to_state() == state
    assert copy.account() == ledger.account()
    assert copy.positions(DAY2) == ledger.positions(DAY2)
    assert copy.details() == ledger.details()
    # and it keeps working identically
    for book in (ledger, copy):
        book.fill("close", M, BUY, CLOSE, 2998.0, 1, DAY2)
        book.release("open")
        book.settle({RB.symbol: 3505.0, M.symbol: 2990.0, MA.symbol: 2510.0}, DAY3)
    assert copy.to_state() == ledger.to_state()


def test_state_version_is_checked():
    state = Ledger("acc", 1.0).to_state()
    state["version"] = 99
    with pytest.raises(ValueError):
        Ledger.from_state(state)
