"""The risk engine's counting, over a real SQLite store and a clock the test moves.

What it counts must be what the exchanges and the programmatic-trading rules count: orders and cancels
per second (a sliding window) and per day, busy seconds once per second, cancels only of orders the
account asked to cancel (never FAK/FOK), large cancels by each exchange's definition, self-trades. The
counters are kept in the store: a new RiskEngine on the same store (a restart) carries on where the old
one stopped, and the trading-day roll starts them again. The OMS is the engine's own (backend/engine/oms.py).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.engine.constants import Direction, Exchange, Offset, OrderType, Product, Status
from backend.engine.exchange_lines import lines_of
from backend.engine.objects import AccountData, ContractData, OrderData, OrderRequest, TradeData
from backend.engine.oms import Oms
from backend.engine.risk_engine import COUNTERS_KEY, KILL_KEY, LIMITS_KEY, RiskEngine, RiskRefused
from backend.engine.risk_rules import RiskLimits
from model.sqlite_store import SqliteStore

LONG, SHORT = Direction.LONG, Direction.SHORT
RB = ContractData("rb2601", Exchange.SHFE, "rb2601", Product.FUTURES, 10, 1.0, max_volume=500, product_id="rb")
RB_LATER = ContractData("rb2605", Exchange.SHFE, "rb2605", Product.FUTURES, 10, 1.0, max_volume=500, product_id="rb")
M = ContractData("m2605", Exchange.DCE, "m2605", Product.FUTURES, 10, 1.0, max_volume=1000, product_id="m")
CONTRACTS = (RB, RB_LATER, M)
DAY = "20250105"
_ids = itertools.count(1)


class Clock:
    """The risk engine's clock (monotonic seconds), moved by the test."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Desk:
    """A RiskEngine with what the MainEngine gives it: the store, an OMS, a clock, a notify callback."""

    store: SqliteStore
    limits: RiskLimits = field(default_factory=RiskLimits)
    clock: Clock = field(default_factory=Clock)
    oms: Oms = field(default_factory=Oms)
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.oms.load_contracts(CONTRACTS)
        self.risk = self._new_engine()
        self.risk.start_day(DAY)

    def _new_engine(self) -> RiskEngine:
        return RiskEngine(self.limits, self.store, self.events.append, self.clock)

    def restart(self) -> None:
        """What a stop and a start do: the engine saves its counters (engine.close), a new one loads them."""
        self.store.set_value(COUNTERS_KEY, self.risk.saved_state())
        self.risk = self._new_engine()

    # --- orders -----------------------------------------------------------------------------------
    def send(self, contract: ContractData = RB, direction: Direction = LONG, volume: int = 1, price: float = 3000.0,
             offset: Offset = Offset.OPEN, kind: OrderType = OrderType.LIMIT,
             strategy: str | None = None) -> OrderData:  # fmt: skip
        """Checked, sent and accepted by the counter (working), as MainEngine._send does it."""
        request = OrderRequest(contract.symbol, contract.exchange, direction, offset, kind, price, volume, strategy)
        self.risk.check_order(request, contract, self.oms)
        self.risk.sent(strategy)
        order = OrderData(f"1_1_{next(_ids)}", contract.symbol, contract.exchange, direction, offset, kind, price,
                          volume, status=Status.NOTTRADED, strategy=strategy)  # fmt: skip
        return self.update(order)

    def ask_cancel(self, order: OrderData) -> None:
        self.risk.check_cancel(order, self.oms.contracts.get(order.local_symbol), order.strategy)
        self.risk.cancelling(order)

    def cancelled(self, order: OrderData) -> OrderData:
        """The counter's answer: the order is cancelled (asked for or not)."""
        return self.update(replace(self.oms.order(order.order_id), status=Status.CANCELLED))

    def fill(self, order: OrderData, lots: int, trade_id: str = "") -> TradeData:
        current = self.oms.order(order.order_id)
        traded = current.traded + lots
        status = Status.ALLTRADED if traded == current.volume else Status.PARTTRADED
        trade = TradeData(trade_id or f"T{next(_ids)}", order.order_id, order.symbol, order.exchange, order.direction,
                          order.offset, order.price, lots, strategy=order.strategy)  # fmt: skip
        self.update(replace(current, traded=traded, status=status))
        self.trade(trade)
        return trade

    def trade(self, trade: TradeData) -> None:
        applied = self.oms.on_trade(trade)
        if applied is not None:
            self.risk.on_trade(applied)

    def update(self, order: OrderData) -> OrderData:
        applied = self.oms.on_order(order)
        assert applied is not None
        self.risk.on_order(applied, self.oms.contracts.get(applied.local_symbol))
        return applied

    def counts(self, contract: ContractData = RB) -> tuple[int, int, int]:
        counts = self.risk.counters.of(contract.local_symbol)
        return counts.cancels, counts.large_cancels, counts.self_trades

    def refusal(self, **order: Any) -> str:
        with pytest.raises(RiskRefused) as refused:
            self.send(**order)
        return str(refused.value)

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["kind"] == kind]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "store.sqlite3")
    yield store
    store.close()


def desk_with(store: SqliteStore, **limits: Any) -> Desk:
    return Desk(store, RiskLimits(**limits))


# --- the per-second windows ----------------------------------------------------------------------------------
def test_the_per_second_window_slides(store: SqliteStore):
    desk = desk_with(store, orders_per_second=3)
    for _ in range(3):
        desk.send()
        desk.clock.advance(0.25)
    # at +0.75s the three are all in the last second: a 4th is refused, nothing is counted for it
    assert desk.refusal() == "order rate: 3 orders and cancels in the last second, the limit is 3"
    assert desk.risk.counters.actions == 3
    desk.clock.advance(0.25)  # +1.0s: the first has left the window
    desk.send()
    assert desk.risk.status()["counters"][0] == {"what": "orders and cancels in the last second", "count": 3,
                                                 "line": 3, "share": 1.0}  # fmt: skip
    # cancels count in the same window
    assert desk.refusal().startswith("order rate: 3 ")
    desk.clock.advance(1.0)
    desk.ask_cancel(desk.oms.active_orders()[0])
    desk.send()
    desk.send()
    assert desk.refusal().startswith("order rate: 3 ")


def test_each_strategy_has_its_own_window(store: SqliteStore):
    desk = desk_with(store, strategy_orders_per_second=2)
    desk.send(strategy="s1")
    desk.send(strategy="s1")
    assert desk.refusal(strategy="s1") == (
        "strategy order rate: 2 orders and cancels in the last second, the limit is 2 a strategy")  # fmt: skip
    desk.send(strategy="s2")
    desk.send()  # the desk's own orders are no strategy's
    desk.clock.advance(1.0)
    desk.send(strategy="s1")
    # the refusal was told, with the strategy's name, for its log
    [refused] = desk.kinds("refused")
    assert (refused["rule"], refused["strategy"]) == ("strategy order rate", "s1")
    assert refused["local_symbol"] == "rb2601.SHFE"
    assert refused["message"].startswith("strategy order rate: 2 orders")


def test_per_strategy_overrides_apply_to_that_strategy_only(store: SqliteStore):
    desk = desk_with(store)
    desk.risk.set_limits({}, {"s1": {"max_order_volume": 2}})
    desk.send(volume=2, strategy="s1")
    assert desk.refusal(volume=3, strategy="s1") == "order volume: 3 lots, at most 2 in one order of rb2601.SHFE"
    desk.send(volume=3, strategy="s2")
    desk.send(volume=3)
    with pytest.raises(ValueError, match="orders_per_day: not a per-strategy limit"):
        desk.risk.set_limits({}, {"s1": {"orders_per_day": 5}})
    with pytest.raises(ValueError, match="max_order_volume must be 0 or more"):
        desk.risk.set_limits({"max_working_orders": 1}, {"s1": {"max_order_volume": -2}})
    assert desk.risk.limits.max_working_orders == 50 and desk.risk.strategy_limits == {"s1": {"max_order_volume": 2}}


def test_busy_seconds_are_counted_once_per_second_reaching_ten(store: SqliteStore):
    desk = desk_with(store, orders_per_second=0, strategy_orders_per_second=0)
    start = desk.clock.now
    # a steady 10 a second for 3 seconds: 3 busy seconds (not one per action once the window holds 10)
    for number in range(30):
        desk.clock.now = start + number / 10
        desk.risk.sent(None)
    assert desk.risk.counters.busy_seconds == 3
    # 9 a second is never busy (9 within the first half of each second, times exact in binary)
    for second in range(5):
        for number in range(9):
            desk.clock.now = start + 10 + second + number / 16
            desk.risk.sent(None)
    assert desk.risk.counters.busy_seconds == 3
    # a burst of 25 within a third of a second is one busy second, and so are 10 more in the same second
    for number in range(35):
        desk.clock.now = start + 20 + number / 100
        desk.risk.sent(None)
    assert desk.risk.counters.busy_seconds == 4
    assert desk.risk.counters.peak_second == 35
    # 10 right after that second: the next one
    for number in range(10):
        desk.clock.now = start + 21 + number / 100
        desk.risk.sent(None)
    assert desk.risk.counters.busy_seconds == 5
    assert desk.risk.counters.actions == 30 + 45 + 35 + 10


def test_the_reporting_line_refuses_what_would_make_the_tenth_busy_second(store: SqliteStore):
    desk = desk_with(store, enforce_reporting_line=True, orders_per_second=0, strategy_orders_per_second=0,
                     max_working_orders=0)  # fmt: skip
    for second in range(9):
        for number in range(10):
            desk.clock.now = 2000 + second * 2 + number / 100
            desk.send()
    assert desk.risk.counters.busy_seconds == 9
    desk.clock.now = 2100
    for number in range(9):
        desk.clock.now = 2100 + number / 100
        desk.send()
    assert desk.refusal() == "reporting line: this would make the day's 10th second with 10 or more orders and cancels"
    assert desk.risk.counters.busy_seconds == 9


# --- cancels ----------------------------------------------------------------------------------------------
def test_only_cancels_the_account_asked_for_count(store: SqliteStore):
    desk = desk_with(store)
    asked = desk.send()
    desk.ask_cancel(asked)
    desk.cancelled(asked)
    assert desk.counts() == (1, 0, 0)
    unasked = desk.send()
    desk.cancelled(unasked)  # the counter cancelled it (the day's end, a market closing): not the account's cancel
    fak = desk.send(kind=OrderType.FAK)
    desk.cancelled(fak)  # a FAK's remainder, cancelled by the exchange
    fok = desk.send(kind=OrderType.FOK)
    desk.ask_cancel(fok)
    desk.cancelled(fok)  # even asked for, a FAK/FOK cancel does not count
    filled = desk.send(volume=2)
    desk.ask_cancel(filled)
    desk.fill(filled, 2)  # filled before the cancel arrived
    assert desk.counts() == (1, 0, 0)
    assert desk.risk.counters.cancelling == {}  # nothing left waiting
    assert desk.risk.counters.actions == 8  # 5 orders and 3 cancels sent, whatever came of them


def test_large_cancels_by_each_exchanges_definition(store: SqliteStore):
    desk = desk_with(store, max_order_volume=0, max_position_per_contract=0, max_position_per_product=0)
    # SHFE: 300 lots or more; DCE: 80% of the contract's maximum order volume (1000 here)
    for contract, lots in [(RB, 300), (RB, 299), (M, 800), (M, 799)]:
        order = desk.send(contract, volume=lots)
        desk.ask_cancel(order)
        desk.cancelled(order)
    assert desk.counts(RB)[:2] == (2, 1) and desk.counts(M)[:2] == (2, 1)
    # what the cancel takes off the book is what counts: 310 lots with 20 filled leave 290, not large
    order = desk.send(RB, volume=310)
    desk.fill(order, 20)
    desk.ask_cancel(order)
    desk.cancelled(order)
    assert desk.counts(RB)[:2] == (3, 1)


def test_cancels_asked_and_not_yet_answered_count_towards_the_line(store: SqliteStore):
    # SHFE's line is 500; a margin of 497 refuses from the 3rd. A burst of cancels must stop there even
    # before the counter has confirmed any of them.
    desk = desk_with(store, cancel_margin=497)
    orders = [desk.send() for _ in range(5)]
    for order in orders[:3]:
        desk.ask_cancel(order)
    with pytest.raises(RiskRefused, match="^cancels per contract: 3 cancels of rb2601.SHFE today; the exchange's "
                                          "line is 500, refused from 3$"):  # fmt: skip
        desk.ask_cancel(orders[3])
    # another contract has its own count
    other = desk.send(RB_LATER)
    desk.ask_cancel(other)
    # one of the three was filled before the cancel arrived: it does not count, a cancel is free again
    desk.fill(orders[0], 1)
    desk.cancelled(orders[1])
    desk.cancelled(orders[2])
    assert desk.counts() == (2, 0, 0)
    desk.ask_cancel(orders[3])
    with pytest.raises(RiskRefused, match="^cancels per contract: 3 cancels"):
        desk.ask_cancel(orders[4])


def test_large_cancels_asked_count_towards_their_line(store: SqliteStore):
    # large cancels: 50 on SHFE; a margin of 480 takes 48 off it: refused from the 3rd
    desk = desk_with(store, cancel_margin=480, max_order_volume=0, max_position_per_contract=0,
                     max_position_per_product=0)  # fmt: skip
    large = [desk.send(volume=300) for _ in range(3)]
    small = desk.send(volume=1)
    desk.ask_cancel(large[0])
    desk.cancelled(large[0])
    desk.ask_cancel(large[1])
    with pytest.raises(RiskRefused, match="^large cancels per contract: 2 large cancels of rb2601.SHFE today; the "
                                          "exchange's line is 50, refused from 2$"):  # fmt: skip
        desk.ask_cancel(large[2])
    desk.ask_cancel(small)  # a small one still passes


def test_self_trades_are_both_sides_of_one_trade(store: SqliteStore):
    desk = desk_with(store, self_trade="off")
    buy, sell = desk.send(price=3000.0), desk.send(direction=SHORT, price=3000.0)
    desk.fill(buy, 1, trade_id="  77")
    assert desk.counts() == (0, 0, 0)
    desk.fill(sell, 1, trade_id="  77")
    assert desk.counts() == (0, 0, 1)
    # a trade id of another exchange, or another id, is another trade
    other = desk.send(M, direction=SHORT)
    desk.fill(other, 1, trade_id="  77")
    buy2, sell2 = desk.send(volume=2), desk.send(direction=SHORT, volume=2)
    desk.fill(buy2, 2, trade_id="  78")
    desk.fill(sell2, 2, trade_id="  79")
    assert desk.counts() == (0, 0, 1) and desk.counts(M) == (0, 0, 0)


# --- self-trade prevention, positions, loss ----------------------------------------------------------------------
def test_self_trade_prevention_refuses_or_names_the_resting_orders_to_cancel(store: SqliteStore):
    desk = desk_with(store)
    resting = desk.send(price=3000.0)
    desk.send(direction=SHORT, price=3001.0)  # above our bid: no trade with it
    assert desk.refusal(direction=SHORT, price=3000.0) == (
        f"self-trade: it would trade with the account's own working order {resting.order_id} on the other side "
        "(the exchange counts self-trades)")  # fmt: skip
    assert desk.refusal(direction=SHORT, price=1.0, kind=OrderType.FAK).startswith("self-trade:")
    desk.send(M, direction=SHORT, price=3000.0)  # another contract
    desk.risk.set_limits({"self_trade": "cancel_resting"})
    request = OrderRequest(RB.symbol, RB.exchange, SHORT, Offset.OPEN, OrderType.LIMIT, 2999.0, 1)
    assert desk.risk.check_order(request, RB, desk.oms) == [resting.order_id]
    desk.risk.set_limits({"self_trade": "off"})
    assert desk.risk.check_order(request, RB, desk.oms) == []


def test_positions_count_held_lots_and_working_opening_orders(store: SqliteStore):
    desk = desk_with(store, max_position_per_contract=5, max_position_per_product=8)
    desk.fill(desk.send(volume=3), 3)
    desk.send(volume=1)  # working
    desk.send(direction=SHORT, volume=5, price=3100.0)  # the other side
    assert desk.refusal(volume=2) == (
        "position per contract: 4 long lots of rb2601.SHFE held or working, 2 more would pass the limit of 5"
    )
    desk.send(volume=1)
    # the product adds rb2605 to rb2601: 5 + 4 = 9 > 8
    assert desk.refusal(contract=RB_LATER, volume=4) == (
        "position per product: 9 long lots of SHFE.rb with this order, the limit is 8")  # fmt: skip
    desk.send(RB_LATER, volume=3)
    desk.send(M, volume=5)  # another product


def test_the_daily_loss_limit_and_the_kill_it_may_trip(store: SqliteStore):
    desk = desk_with(store, daily_loss_limit=1000.0)
    desk.fill(desk.send(volume=1), 1)
    desk.oms.on_account(AccountData("demo", balance=1_000_000.0 - 999.5, pre_balance=1_000_000.0))
    desk.send()
    assert not desk.risk.loss_tripped(desk.oms)
    desk.oms.on_account(AccountData("demo", balance=1_000_000.0 - 1000.0, pre_balance=1_000_000.0))
    assert desk.refusal() == (
        "daily loss: 1,000.00 lost today, the limit is 1,000.00; only closing orders are accepted")  # fmt: skip
    desk.send(direction=SHORT, offset=Offset.CLOSE, price=3100.0)  # closing is accepted
    assert not desk.risk.loss_tripped(desk.oms)  # kill_on_loss is off
    desk.risk.set_limits({"kill_on_loss": True})
    assert desk.risk.loss_tripped(desk.oms)
    desk.risk.kill("the daily loss limit")
    assert not desk.risk.loss_tripped(desk.oms)  # once


# --- warnings, the kill switch, restarts, the roll --------------------------------------------------------------
def test_a_warning_once_a_count_reaches_warn_share_of_its_line(store: SqliteStore):
    desk = desk_with(store, orders_per_day=10, warn_share=0.8, self_trade="off", orders_per_second=0,
                     strategy_orders_per_second=0)  # fmt: skip
    for number in range(8):
        assert desk.kinds("warning") == [], number
        desk.risk.sent(None)
    assert desk.kinds("warning") == [{"kind": "warning", "rule": "orders per day", "local_symbol": "",
                                      "message": "orders per day: 8 today, the line is 10"}]  # fmt: skip
    desk.risk.sent(None)
    assert len(desk.kinds("warning")) == 1  # once
    assert [line["what"] for line in desk.risk.status()["warnings"]] == ["orders and cancels today"]
    desk.risk.set_limits({"orders_per_day": 0})
    # self-trades: SHFE's line is 5, the warning comes with the 4th
    for number in range(5):
        buy, sell = desk.send(price=3000.0), desk.send(direction=SHORT, price=3000.0)
        desk.fill(buy, 1, trade_id=f"S{number}")
        desk.fill(sell, 1, trade_id=f"S{number}")
        warned = [event for event in desk.kinds("warning") if event["rule"] == "self-trades"]
        assert len(warned) == (1 if number >= 3 else 0), number
    assert warned[0]["message"] == "self-trades of rb2601.SHFE: 4 today, the line is 5"
    assert [line["what"] for line in desk.risk.status()["warnings"]] == ["rb2601.SHFE self-trades"]


def test_counters_limits_and_the_kill_switch_survive_a_restart(store: SqliteStore):
    desk = desk_with(store, self_trade="off")
    desk.risk.set_limits({"max_order_volume": 7})
    orders = [desk.send() for _ in range(4)]
    desk.ask_cancel(orders[0])
    desk.cancelled(orders[0])
    desk.ask_cancel(orders[1])  # asked before the stop, confirmed after it
    desk.fill(orders[2], 1, trade_id="X")
    desk.fill(desk.send(direction=SHORT, price=1.0), 1, trade_id="X")
    desk.risk.kill("by hand")
    before = desk.risk.counters.to_json()
    desk.restart()
    assert desk.risk.counters.to_json() == before
    assert desk.risk.killed == "by hand" and desk.risk.limits.max_order_volume == 7
    desk.cancelled(orders[1])
    assert desk.counts() == (2, 0, 1)
    assert desk.refusal().startswith("kill switch: on (by hand)")
    desk.risk.rearm()
    desk.restart()
    assert desk.risk.killed == "" and store.get_value(KILL_KEY) == ""
    assert desk.refusal(volume=8).startswith("order volume: 8 lots, at most 7")
    assert '"max_order_volume": 7' in store.get_value(LIMITS_KEY)
    status = desk.risk.status()
    assert status["trading_day"] == DAY and status["killed"] == ""
    assert {"what": "rb2601.SHFE cancels", "count": 2, "line": 500, "share": 0.004} in status["counters"]


def test_the_trading_day_roll_starts_the_counters_again(store: SqliteStore):
    desk = desk_with(store, self_trade="off")
    order = desk.send()
    desk.ask_cancel(order)
    desk.cancelled(order)
    waiting = desk.send()
    desk.ask_cancel(waiting)
    desk.risk.kill("by hand")
    desk.risk.start_day(DAY)  # the same day again (a reconnection): nothing changes
    assert desk.risk.counters.actions == 4 and desk.counts() == (1, 0, 0)
    desk.risk.start_day("20250106")
    assert (desk.risk.counters.day, desk.risk.counters.actions, desk.risk.counters.contracts) == ("20250106", 0, {})
    assert desk.risk.counters.cancelling == {}
    desk.cancelled(waiting)  # the last day's cancel, answered after the roll: the last day's
    assert desk.counts() == (0, 0, 0)
    assert desk.risk.killed == "by hand"  # the kill switch stays on until re-armed, across days
    desk.restart()
    assert desk.risk.counters.day == "20250106" and desk.risk.counters.actions == 0


# --- the property: the counters are what the counter saw ---------------------------------------------------------
VOLUMES = (1, 5, 299, 300, 450, 799, 800, 1000)
PAUSES = (0.0, 0.01, 0.05, 0.3, 1.5)
KINDS = ("order",) * 4 + ("ask_cancel",) * 4 + ("cancelled",) * 4 + ("fill",) * 2 + ("self_trade", "burst", "restart",
                                                                                     "roll")  # fmt: skip
# (kind, which working order, contract, lots, a flag, pause): each kind reads what it needs
STEPS = st.tuples(st.sampled_from(KINDS), st.integers(0, 50), st.sampled_from(CONTRACTS), st.sampled_from(VOLUMES),
                  st.booleans(), st.sampled_from(PAUSES))  # fmt: skip


class Tally:
    """What the counter saw, counted independently: the exchanges' definitions written out again."""

    def __init__(self) -> None:
        self.day = DAY
        self.start_day(DAY)

    def start_day(self, day: str) -> None:
        self.day = day
        self.actions = 0
        self.times: list[float] = []
        self.contracts: Counter[tuple[str, str]] = Counter()
        self.asked: dict[str, tuple[str, int]] = {}

    def action(self, now: float) -> None:
        self.actions += 1
        self.times.append(now)

    def busy_and_peak(self) -> tuple[int, int]:
        """Seconds with 10 or more actions, a second busy once: the next one starts after it ends."""
        busy, peak, busy_until = 0, 0, float("-inf")
        for index, now in enumerate(self.times):
            in_second = [t for t in self.times[: index + 1] if now - t < 1.0]
            peak = max(peak, len(in_second))
            fresh = [t for t in in_second if t >= busy_until]
            if len(fresh) >= 10:
                busy += 1
                busy_until = fresh[0] + 1.0
        return busy, peak


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEPS, min_size=20, max_size=80))
def test_the_counters_equal_what_the_counter_saw(tmp_path_factory: pytest.TempPathFactory, steps: list[tuple]):
    store = SqliteStore(tmp_path_factory.mktemp("risk") / "store.sqlite3")
    try:
        desk = Desk(store, RiskLimits(enabled=False))  # nothing refused: every step is counted
        tally = Tally()
        day_number = 0
        for step in steps:
            if step[0] in ("restart", "roll"):
                _same(desk, tally)  # what the day counted, before it is stored or started again
            _play(desk, tally, step)
            if step[0] == "roll":
                day_number += 1
                day = f"202502{day_number + 10:02d}"
                desk.risk.start_day(day)
                desk.oms.start_day()
                tally.start_day(day)
        _same(desk, tally)
        counters = desk.risk.counters
        desk.restart()  # and what is stored is what was counted
        assert desk.risk.counters.to_json() == counters.to_json()
    finally:
        store.close()


def _same(desk: Desk, tally: Tally) -> None:
    counters = desk.risk.counters
    assert (counters.day, counters.actions) == (tally.day, tally.actions)
    assert (counters.busy_seconds, counters.peak_second) == tally.busy_and_peak()
    seen = Counter({(name, what): count for name, counts in counters.contracts.items()
                    for what, count in zip(("cancels", "large", "self"),
                                           (counts.cancels, counts.large_cancels, counts.self_trades), strict=True)
                    if count})  # fmt: skip
    assert seen == tally.contracts
    assert {key: tuple(value) for key, value in counters.cancelling.items()} == tally.asked


def _play(desk: Desk, tally: Tally, step: tuple) -> None:
    kind, which, contract, lots, flag, pause = step
    working = desk.oms.active_orders()
    desk.clock.advance(pause)
    if kind == "order":  # flag: a FAK order
        desk.send(contract, volume=min(lots, contract.max_volume), kind=OrderType.FAK if flag else OrderType.LIMIT,
                  direction=SHORT if lots % 2 else LONG)  # fmt: skip
        tally.action(desk.clock.now)
    elif kind == "ask_cancel" and working:
        order = working[which % len(working)]
        desk.ask_cancel(order)
        tally.action(desk.clock.now)
        if order.type is OrderType.LIMIT:
            tally.asked[order.order_id] = (order.local_symbol, order.volume - order.traded)
    elif kind == "cancelled" and working:  # flag: one the account asked to cancel, where there is one
        asked = [order for order in working if order.order_id in tally.asked] if flag else []
        choices = asked or working
        order = desk.cancelled(choices[which % len(choices)])
        if tally.asked.pop(order.order_id, None) is not None:
            tally.contracts[(order.local_symbol, "cancels")] += 1
            max_volume = desk.oms.contract(order.local_symbol).max_volume
            if lines_of(order.exchange).is_large(order.volume - order.traded, max_volume):
                tally.contracts[(order.local_symbol, "large")] += 1
    elif kind == "fill" and working:
        order = working[which % len(working)]
        desk.fill(order, min(lots, order.volume - order.traded))
        if not desk.oms.order(order.order_id).is_active:
            tally.asked.pop(order.order_id, None)
    elif kind == "self_trade":
        buy, sell = desk.send(contract), desk.send(contract, direction=SHORT)
        tally.action(desk.clock.now)
        tally.action(desk.clock.now)
        trade_id = f"ST{next(_ids)}"
        desk.fill(buy, 1, trade_id)
        desk.fill(sell, 1, trade_id)
        tally.contracts[(contract.local_symbol, "self")] += 1
    elif kind == "burst":
        for _ in range(5 + which // 2):
            desk.clock.advance(0.02)
            desk.risk.sent(None)
            tally.action(desk.clock.now)
    elif kind in ("restart", "roll"):
        desk.clock.advance(5.0)  # a restart (or the night) takes more than a second
        if kind == "restart":
            desk.restart()
