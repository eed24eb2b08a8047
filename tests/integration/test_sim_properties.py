"""Random order flows through the sim's real counter API keep money, positions and statuses consistent.

Each example starts a fresh sim, logs one client in and plays a random sequence of price moves,
limit / FAK / market orders (open and every close offset) on a SHFE and a DCE contract, cancels
and the occasional settlement (then logs in again). The checks use only what a CTP client sees:
callbacks and query answers, tallied independently of the sim's ledger.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ctpclient import TraderClient
from tests.integration.trader_sim import (
    TERMINAL,
    TraderSim,
    account,
    assert_statuses_monotonic,
    barrier,
    commission_rates,
    fee,
    new_sim,
    positions,
    relogin,
)

PRODUCTS = ("cu", "jm")  # SHFE with a close-today rate of its own; DCE with one too
START_PRICE = {"cu": 78000.0, "jm": 1200.0}
START_BALANCE = 1_000_000.0
ORDER_KINDS = {"limit": ("2", "3"), "fak": ("2", "1"), "market": ("1", "1")}  # (OrderPriceType, TimeCondition)

ACTIONS = {
    "price": st.tuples(st.just("price"), st.sampled_from(PRODUCTS), st.integers(-8, 8)),
    "order": st.tuples(
        st.just("order"),
        st.sampled_from(PRODUCTS),
        st.sampled_from(sorted(ORDER_KINDS)),
        st.sampled_from("01"),  # Direction
        st.sampled_from("0000134"),  # CombOffsetFlag: opens more often than closes
        st.integers(-5, 5),  # ticks from the last price
        st.integers(1, 4),
    ),
    "cancel": st.tuples(st.just("cancel"), st.integers(0, 30)),
    "settle": st.tuples(st.just("settle")),
}
# Weighted by repetition: mostly orders and price moves, an occasional settlement.
MIX = ["order"] * 10 + ["price"] * 5 + ["cancel"] * 2 + ["settle"]
actions = st.lists(st.sampled_from(MIX).flatmap(ACTIONS.__getitem__), min_size=8, max_size=30)


@pytest.fixture(scope="module")
def flow_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


@dataclass
class Run:
    """One example: the sim, the client, and what the test sent in the current session."""

    sim: TraderSim
    client: TraderClient
    symbols: dict[str, tuple[str, str]]
    session_start: int = 0
    refs: list[str] = field(default_factory=list)
    days: list[dict[str, Any]] = field(default_factory=list)  # the account row at each day's end
    marks: dict[str, float] = field(default_factory=dict)  # last price printed per symbol

    def set_price(self, symbol: str, price: float) -> None:
        control = self.sim.control
        control.set_price(symbol, price)
        self.marks[symbol] = control.market.quotes[symbol].last_price  # clamped to the band, on the tick

    def symbol(self, product: str) -> tuple[str, str]:
        return self.symbols[product]

    def answered(self) -> None:
        """Wait until every order sent this session has its first answer, then for all queued callbacks."""
        wanted = set(self.refs)
        session = self.client.session["SessionID"]

        def done(calls: list) -> bool:
            seen = {c.data["OrderRef"].strip() for c in calls[self.session_start:] if c.data and (
                c.name == "OnRspOrderInsert" or (c.name == "OnRtnOrder" and c.data["SessionID"] == session))}
            return wanted <= seen  # fmt: skip

        self.client.recorder.wait_until(done, what="an answer to every order")
        barrier(self.client)  # and every later update of those orders

    def end_of_day(self) -> dict[str, Any]:
        self.answered()
        row = account(self.client)
        self.days.append(row)
        return row


def _play(run: Run, action: tuple[Any, ...]) -> None:
    control, client = run.sim.control, run.client
    kind = action[0]
    if kind == "price":
        symbol, _ = run.symbol(action[1])
        quote = control.market.quotes[symbol]
        run.set_price(symbol, quote.reference_price() + action[2] * quote.spec.price_tick)
    elif kind == "order":
        _, product, order_kind, direction, offset, ticks, volume = action
        symbol, exchange = run.symbol(product)
        quote = control.market.quotes[symbol]
        price_type, time_condition = ORDER_KINDS[order_kind]
        price = 0.0 if order_kind == "market" else quote.reference_price() + ticks * quote.spec.price_tick
        run.refs.append(client.order(symbol, exchange, direction, offset, price, volume, price_type=price_type,
                                     time_condition=time_condition))  # fmt: skip
    elif kind == "cancel" and run.refs:
        ref = run.refs[action[1] % len(run.refs)]
        client.cancel(ref=ref, exchange="", symbol="")
    elif kind == "settle":
        run.end_of_day()
        mark = client.recorder.mark()
        control.settle()
        relogin(client, mark)
        run.session_start, run.refs = client.recorder.mark(), []
        for symbol, _ in run.symbols.values():  # the new day opens where the old one settled
            run.set_price(symbol, run.marks[symbol])


def _cancel_working(run: Run) -> None:
    run.answered()
    session = run.client.session["SessionID"]
    last: dict[str, str] = {}
    for call in run.client.recorder.calls[run.session_start:]:
        if call.name == "OnRtnOrder" and call.data["SessionID"] == session:
            last[call.data["OrderRef"].strip()] = call.data["OrderStatus"]
    for ref, status in last.items():
        if status not in TERMINAL:
            run.client.cancel(ref=ref)
            run.client.wait_order(ref, lambda d: d["OrderStatus"] == "5")


@dataclass
class Tally:
    """Positions and money from the OnRtnTrade stream alone."""

    sizes: dict[str, int]
    rates: dict[str, dict[str, Any]]
    exchanges: dict[str, str]
    held: Counter[tuple[str, str]] = field(default_factory=Counter)  # (symbol, PosiDirection) -> lots
    today: Counter[tuple[str, str]] = field(default_factory=Counter)
    cash: float = 0.0
    commission: float = 0.0

    def apply(self, trade: dict[str, Any]) -> None:
        symbol, volume, price = trade["InstrumentID"], trade["Volume"], trade["Price"]
        size, rates = self.sizes[symbol], self.rates[symbol]
        buying = trade["Direction"] == "0"
        self.cash += (-1 if buying else 1) * price * volume * size
        if trade["OffsetFlag"] == "0":
            key = (symbol, "2" if buying else "3")
            self.held[key] += volume
            self.today[key] += volume
            self.commission += fee(rates, "Open", price, volume, size)
            return
        key = (symbol, "3" if buying else "2")
        if self.exchanges[symbol] == "SHFE":  # the offset picks the lots
            from_today = volume if trade["OffsetFlag"] == "3" else 0
        else:  # one position: yesterday's lots first
            from_today = max(0, volume - (self.held[key] - self.today[key]))
        assert self.held[key] >= volume and self.today[key] >= from_today, f"close beyond the position: {trade}"
        self.held[key] -= volume
        self.today[key] -= from_today
        self.commission += fee(rates, "CloseToday", price, from_today, size)
        self.commission += fee(rates, "Close", price, volume - from_today, size)

    def new_day(self) -> None:
        self.today.clear()

    def value(self, marks: dict[str, float]) -> float:
        return sum((1 if side == "2" else -1) * lots * marks[symbol] * self.sizes[symbol]
                   for (symbol, side), lots in self.held.items())  # fmt: skip


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


@pytest.fixture
def run_factory(flow_root: Path) -> Iterator[Any]:
    made: list[TraderSim] = []

    def make() -> Run:
        sim = new_sim(flow_root)
        made.append(sim)
        client = sim.ready_client()
        symbols = {product: sim.contract(product) for product in PRODUCTS}
        run = Run(sim, client, symbols, session_start=client.recorder.mark())
        for product, (symbol, _) in symbols.items():
            run.set_price(symbol, START_PRICE[product])
        return run

    yield make
    for sim in made:
        sim.stop()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])  # fmt: skip
@given(steps=actions)
def test_random_order_flow_keeps_the_books(run_factory: Any, steps: list[tuple[Any, ...]]) -> None:
    run = run_factory()
    try:
        _check(run, steps)
    finally:
        run.sim.stop()


def _check(run: Run, steps: list[tuple[Any, ...]]) -> None:
    client, control = run.client, run.sim.control
    for step in steps:
        _play(run, step)
    _cancel_working(run)
    final = run.end_of_day()

    symbols = [symbol for symbol, _ in run.symbols.values()]
    specs = {symbol: control.specs[symbol] for symbol in symbols}
    tally = Tally({s: spec.size for s, spec in specs.items()}, {s: commission_rates(client, s) for s in symbols},
                  {s: spec.exchange for s, spec in specs.items()})  # fmt: skip
    trading_day = None
    seen: set[tuple[str, str, str]] = set()
    for call in client.recorder.named("OnRtnTrade"):
        trade = call.data
        key = (trade["ExchangeID"], trade["TradeID"], trade["Direction"])
        assert key not in seen, f"duplicate trade {key}"
        seen.add(key)
        if trading_day is not None and trade["TradingDay"] != trading_day:
            tally.new_day()
        trading_day = trade["TradingDay"]
        tally.apply(trade)

    # (a) money is conserved: day by day (PreBalance carries the last Balance) and against the trades alone.
    assert _close(run.days[0]["PreBalance"], START_BALANCE)
    for before, after in zip(run.days, run.days[1:], strict=False):
        assert after["TradingDay"] > before["TradingDay"]
        assert _close(after["PreBalance"], before["Balance"])
    earned = sum(row["CloseProfit"] + row["PositionProfit"] - row["Commission"] for row in run.days)
    assert _close(final["Balance"], START_BALANCE + earned)
    assert _close(tally.commission, sum(row["Commission"] for row in run.days))
    assert _close(final["Balance"], START_BALANCE + tally.cash + tally.value(run.marks) - tally.commission)
    # (b) available money.
    for row in run.days:
        frozen = row["FrozenMargin"] + row["FrozenCommission"] + row["FrozenCash"]
        assert _close(row["Available"], row["Balance"] - row["CurrMargin"] - frozen)
    # (c) positions equal the fills.
    reported: Counter[tuple[str, str]] = Counter()
    for row in positions(client):
        reported[(row["InstrumentID"], row["PosiDirection"])] += row["Position"]
    assert +reported == +tally.held
    # (d) statuses never move backwards.
    assert_statuses_monotonic(client.recorder.calls)
    # (e) nothing working: nothing frozen.
    assert (final["FrozenMargin"], final["FrozenCommission"], final["FrozenCash"]) == (0.0, 0.0, 0.0)
