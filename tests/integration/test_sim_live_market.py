"""Issue 15: every instrument has a live market, watched or not, and it continues across restarts.

The clock steps only instruments with a subscriber or a resting order; every other one walks lazily
to "now" when it is queried, subscribed or traded. These tests use unwatched instruments and a raw
CTP trader client; every wait is on a recorded callback with a timeout.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.sim import control as sim_control
from backend.sim.market import DBL_MAX
from tests.ctpclient import TraderClient
from tests.integration.crash_child import killed_after_report
from tests.integration.md_sim import FRI, SAT, THU, WED, MdSim, SimClock, at, nearest
from tests.integration.trader_sim import TraderSim, account, positions

ROOT = Path(__file__).resolve().parents[2]
DEPTH = ("ReqQryDepthMarketData", "CThostFtdcQryDepthMarketDataField", "OnRspQryDepthMarketData")
FIGURES = ("last_price", "open_price", "high_price", "low_price", "volume", "turnover", "open_interest")
SLOW = 0.01  # one snapshot a 100 s: the first look gives an instrument its market, then it stays put


def depth(client: TraderClient, symbol: str) -> dict[str, Any]:
    (call,) = client.query(*DEPTH, InstrumentID=symbol)
    assert call.data is not None
    return call.data


def figures(sim: Any, symbol: str) -> dict[str, float]:
    quote = sim.market.quotes[symbol]
    return {name: getattr(quote, name) for name in FIGURES}


def test_depth_of_an_unsubscribed_instrument_is_live(trader_sim_factory: Callable[..., TraderSim]) -> None:
    sim = trader_sim_factory(tick_rate=2.0)
    client = sim.ready_client()
    rb, _ = sim.contract("rb")
    row = depth(client, rb)
    assert row["LowerLimitPrice"] <= row["BidPrice1"] < row["AskPrice1"] <= row["UpperLimitPrice"]
    assert row["AskPrice1"] != DBL_MAX and row["AskVolume1"] > 0
    assert row["LowerLimitPrice"] <= row["LastPrice"] <= row["UpperLimitPrice"] and row["Volume"] > 0


def test_buy_at_the_upper_limit_on_an_unwatched_instrument_fills_at_the_ask(
    trader_sim_factory: Callable[..., TraderSim],
) -> None:
    sim = trader_sim_factory(tick_rate=SLOW)
    client = sim.ready_client()
    rb, exchange = sim.contract("rb")
    row = depth(client, rb)
    ref = client.order(rb, exchange, "0", "0", row["UpperLimitPrice"], 1)
    trade = client.recorder.wait_for("OnRtnTrade", lambda c: c.data["OrderRef"].strip() == ref).data
    assert trade["Price"] == row["AskPrice1"] < row["UpperLimitPrice"]  # price improvement: the book's ask


def test_sell_at_the_lower_limit_on_an_instrument_never_looked_at_fills_at_the_bid(
    trader_sim_factory: Callable[..., TraderSim],
) -> None:
    sim = trader_sim_factory(tick_rate=SLOW)
    client = sim.ready_client()
    m, exchange = sim.contract("m")
    quote = sim.control.market.quotes[m]
    assert quote.volume == 0  # nobody looked yet: the order itself brings it to now
    ref = client.order(m, exchange, "1", "0", quote.lower_limit, 1)
    trade = client.recorder.wait_for("OnRtnTrade", lambda c: c.data["OrderRef"].strip() == ref).data
    assert quote.lower_limit < trade["Price"] == quote.bid_prices[0]


def test_resting_order_on_an_unwatched_instrument_fills_when_the_market_crosses_it(
    trader_sim_factory: Callable[..., TraderSim],
) -> None:
    sim = trader_sim_factory(tick_rate=20.0)
    client = sim.ready_client()
    rb, exchange = sim.contract("rb")
    row = depth(client, rb)
    tick = sim.control.specs[rb].price_tick
    limit = row["BidPrice1"] - tick  # below the book: rests
    ref = client.order(rb, exchange, "0", "0", limit, 1)
    client.wait_order(ref, lambda d: d["OrderStatus"] == "3")
    trade = client.recorder.wait_for("OnRtnTrade", lambda c: c.data["OrderRef"].strip() == ref, timeout=60).data
    assert trade["Price"] == limit


def test_lazy_walk_moves_with_time_like_a_stepped_one(trader_sim_factory: Callable[..., TraderSim]) -> None:
    sim = trader_sim_factory(tick_rate=50.0)
    client = sim.ready_client()
    rb, _ = sim.contract("rb")
    first = depth(client, rb)["Volume"]
    # Ask again until the walk has advanced: each query is a look, the volume only grows with time.
    seen = [first]
    while seen[-1] == first and len(seen) < 10_000:
        seen.append(depth(client, rb)["Volume"])
    assert seen[-1] > first and seen == sorted(seen)


def test_figures_continue_after_a_shutdown(trader_sim_factory: Callable[..., TraderSim], tmp_path: Path) -> None:
    name, data_dir = f"live-{os.getpid()}", str(tmp_path / "data")
    sim = trader_sim_factory(name=name, data_dir=data_dir, tick_rate=20.0)
    client = sim.ready_client()
    rb, _ = sim.contract("rb")
    m, m_exchange = sim.contract("m")
    depth(client, rb)
    row = depth(client, m)
    client.wait_order(client.order(m, m_exchange, "0", "0", row["LowerLimitPrice"], 1),
                      lambda d: d["OrderStatus"] == "3")  # fmt: skip
    exchange = sim.control
    sim.stop()
    before = {symbol: figures(exchange, symbol) for symbol in (rb, m)}
    assert before[rb]["volume"] > 0 and before[m]["volume"] > 0
    frozen = trader_sim_factory(name=name, data_dir=data_dir, tick_rate=0.0)
    assert {symbol: figures(frozen.control, symbol) for symbol in (rb, m)} == before


def test_a_shutdown_persists_the_market_as_it_is_left(trader_sim_factory: Callable[..., TraderSim],
                                                     tmp_path: Path) -> None:  # fmt: skip
    """The clock's last pass may run after the shutdown began: a restart restores the quotes as they were left.

    Forces the interleaving CI met once: the clock is past its `while not self._closing` check when
    the shutdown starts, and only then brings the newly resting instrument into the stepped set,
    walking it the snapshots the lazy walk owed it (here a second of them).
    """
    name, data_dir = f"left-{os.getpid()}", str(tmp_path / "data")
    sim = trader_sim_factory(name=name, data_dir=data_dir, tick_rate=20.0)
    client = sim.ready_client()
    m, m_exchange = sim.contract("m")
    row = depth(client, m)
    exchange = sim.control
    passed, go = threading.Event(), threading.Event()
    run_due_tasks, wait_stopped = exchange._run_due_tasks, exchange._stopped.wait

    def held(now: float) -> None:  # the clock has seen _closing False: it waits here
        passed.set()
        go.wait(10.0)
        run_due_tasks(now)

    def stopping(timeout: float | None = None) -> bool:  # the shutdown has set _closing: the clock goes on
        go.set()
        return wait_stopped(timeout)

    exchange._run_due_tasks = held
    assert passed.wait(5.0)
    client.wait_order(client.order(m, m_exchange, "0", "0", row["LowerLimitPrice"], 1),
                      lambda d: d["OrderStatus"] == "3")  # fmt: skip
    with exchange.lock:
        exchange.market.quotes[m].walked_at -= 1.0  # the lazy walk owes m 20 snapshots
    exchange._stopped.wait = stopping
    sim.stop()
    assert go.is_set() and exchange._stopped.is_set()
    before = figures(exchange, m)
    frozen = trader_sim_factory(name=name, data_dir=data_dir, tick_rate=0.0)
    assert figures(frozen.control, m) == before


CRASHING_WALK = """
import json, sys, threading
from pathlib import Path
from tests.integration.trader_sim import new_sim

name, data_dir, base = sys.argv[1:4]
sim = new_sim(Path(base), name, data_dir=data_dir, tick_rate=20.0)
client = sim.ready_client()
rb, _ = sim.contract("rb")
m, m_exchange = sim.contract("m")
depth = ("ReqQryDepthMarketData", "CThostFtdcQryDepthMarketDataField", "OnRspQryDepthMarketData")
client.query(*depth, InstrumentID=rb)
(row,) = client.query(*depth, InstrumentID=m)
client.wait_order(client.order(m, m_exchange, "0", "0", row.data["LowerLimitPrice"], 1),
                  lambda d: d["OrderStatus"] == "3")
exchange = sim.control
# The clock journals moved quotes every second: wait for an entry written after the order rested.
written = threading.Event()
journal = exchange.journal_quotes
def spy():
    journal()
    written.set()
exchange.journal_quotes = spy
assert written.wait(30)
with exchange.lock:  # nothing steps while the figures are read
    exchange.journal_quotes = journal
    journal()
    fields = ("last_price", "open_price", "high_price", "low_price", "volume", "turnover", "open_interest")
    report = {s: {f: getattr(exchange.market.quotes[s], f) for f in fields} for s in (rb, m)}
print(json.dumps({"rb": rb, "m": m, "figures": report}), flush=True)
threading.Event().wait()  # hold everything open until killed
"""


@pytest.fixture
def crashed_walk(tmp_path: Path) -> dict[str, Any]:
    """A child walks two unwatched instruments on a durable sim, journals them, and is SIGKILLed."""
    name, data_dir = f"walk-crash-{os.getpid()}", str(tmp_path / "data")
    report = killed_after_report(CRASHING_WALK, name, data_dir, str(tmp_path / "child"), what="the child")
    return {**report, "name": name, "data_dir": data_dir}


def test_figures_continue_after_sigkill(trader_sim_factory: Callable[..., TraderSim],
                                       crashed_walk: dict[str, Any]) -> None:  # fmt: skip
    rb, m, before = crashed_walk["rb"], crashed_walk["m"], crashed_walk["figures"]
    assert before[rb]["volume"] > 0 and before[m]["volume"] > 0
    sim = trader_sim_factory(name=crashed_walk["name"], data_dir=crashed_walk["data_dir"], tick_rate=0.0)
    assert figures(sim.control, rb) == before[rb]  # looked at once: exactly what the journal kept
    after_m = figures(sim.control, m)  # stepped all along: at least what was reported (a later entry may follow)
    assert after_m["open_price"] == before[m]["open_price"] and after_m["volume"] >= before[m]["volume"]
    sim.stop()
    # The walk resumes from the journaled figures, not from the reference prices.
    live = trader_sim_factory(name=crashed_walk["name"], data_dir=crashed_walk["data_dir"], tick_rate=20.0)
    row = depth(live.ready_client(), rb)
    assert row["OpenPrice"] == before[rb]["open_price"] and row["Volume"] >= before[rb]["volume"]
    assert row["HighestPrice"] >= before[rb]["high_price"] and row["LowestPrice"] <= before[rb]["low_price"]


@pytest.fixture
def md_sim(tmp_path: Path) -> Iterator[MdSim]:
    sims = MdSim(tmp_path)
    yield sims
    sims.close()


def test_subscribe_pushes_a_current_snapshot_of_an_untouched_instrument(md_sim: MdSim) -> None:
    clock = SimClock(at(WED, "10:00"))
    name = md_sim.sim(clock, tick_rate=50.0)
    client = md_sim.logged_in_md(name)
    symbol = nearest(name, "i").symbol
    threading.Event().wait(1.0)  # the market runs unwatched for a second: at least 50 snapshots, 50 lots
    mark = client.recorder.mark()
    asked = clock.now()
    assert client.subscribe([symbol]) == 0
    first = client.wait_tick(symbol, since=mark)
    answered = clock.now()
    assert first["Volume"] >= 50 and first["AskPrice1"] != DBL_MAX and first["AskVolume1"] > 0
    # Stamped now, between asking and the answer (however long a stalled machine took), not when the
    # market was last looked at a second before.
    assert asked.strftime("%H:%M:%S") <= first["UpdateTime"] <= answered.strftime("%H:%M:%S")


def test_sessions_mode_walks_only_while_the_market_is_open(md_sim: MdSim) -> None:
    clock = SimClock(at(WED, "12:00"), running=False)  # DCE's lunch break
    name = md_sim.sim(clock, tick_rate=50.0, mode="sessions", query_rate=0.0)
    trader = md_sim.trader(name)
    symbol = nearest(name, "i").symbol
    closed = depth(trader, symbol)  # the morning's last session (10:30-11:30), walked through
    assert closed["Volume"] > 0 and "10:30:00" <= closed["UpdateTime"] < "11:30:00"
    threading.Event().wait(1.0)  # a second of break: 50 snapshots if closed time counted
    assert depth(trader, symbol) == closed
    clock.set(at(WED, "13:30"))
    clock.running = False
    opened = depth(trader, symbol)["Volume"]  # just opened: the first snapshot at most (at most 40 lots)
    assert closed["Volume"] <= opened <= closed["Volume"] + 40


def test_sessions_mode_shows_the_last_session_outside_hours(md_sim: MdSim) -> None:
    """A real front answers out of hours with the last session's snapshot: the sim walks it through that session."""
    clock = SimClock(at(WED, "16:00"), running=False)  # DCE's day session is over, the night one not started
    name = md_sim.sim(clock, tick_rate=50.0, mode="sessions", query_rate=0.0)
    trader = md_sim.trader(name)
    spec = nearest(name, "i")
    symbol = spec.symbol
    assert sim_control(name).market.quotes[symbol].volume == 0  # never looked at
    row = depth(trader, symbol)
    assert row["LowerLimitPrice"] <= row["BidPrice1"] < row["AskPrice1"] <= row["UpperLimitPrice"]
    assert row["BidVolume1"] > 0 and row["AskVolume1"] > 0
    assert row["LowestPrice"] <= min(row["LastPrice"], row["OpenPrice"])
    assert max(row["LastPrice"], row["OpenPrice"]) <= row["HighestPrice"] <= row["UpperLimitPrice"]
    assert row["Volume"] >= 50 * 90 * 60 - 1  # the whole 13:30-15:00 session, at least a lot a snapshot
    assert "13:30:00" <= row["UpdateTime"] < "15:00:00" and (row["TradingDay"], row["ActionDay"]) == (WED, WED)
    # Later, still closed: the same snapshot (the market does not move while closed).
    clock.set(at(WED, "17:30"))
    clock.running = False
    assert depth(trader, symbol) == row
    # Subscribing pushes that snapshot too.
    client = md_sim.logged_in_md(name)
    mark = client.recorder.mark()
    assert client.subscribe([symbol]) == 0
    pushed = client.wait_tick(symbol, since=mark)
    shared = [key for key in row if key in pushed and key != "ExchangeID"]  # ticks carry none (tick_exchange_id)
    assert {key: pushed[key] for key in shared} == {key: row[key] for key in shared}
    # An order out of hours is refused by the exchange, as before; the quote stays the close's.
    ref = trader.order(symbol, spec.exchange, "0", "0", row["UpperLimitPrice"], 1)
    refused = trader.wait_order(ref, lambda d: d["OrderStatus"] == "5")
    assert "非交易时间" in refused["StatusMsg"] and trader.recorder.named("OnRtnTrade") == []
    assert depth(trader, symbol) == row


def test_sessions_mode_shows_the_previous_close_after_the_day_roll(md_sim: MdSim) -> None:
    """From the 18:00 roll to the next opening a real front answers with the previous trading day's close."""
    clock = SimClock(at(WED, "16:00"), running=False)
    name = md_sim.sim(clock, tick_rate=50.0, mode="sessions", query_rate=0.0)
    control = sim_control(name)
    iron, eggs = nearest(name, "i").symbol, nearest(name, "jd").symbol  # jd trades by day only
    control.live_quote(iron)  # looked at before the roll
    seen = figures(control, iron)
    assert seen["volume"] > 0 and control.market.quotes[eggs].volume == 0  # jd never looked at
    assert control.settle() == THU
    clock.set(at(WED, "18:30"))
    clock.running = False
    trader = md_sim.trader(name)
    row = depth(trader, iron)  # the day's close as it stood at the roll, not a blank new day
    assert (row["LastPrice"], row["Volume"], row["OpenInterest"]) == (
        seen["last_price"], seen["volume"], seen["open_interest"])  # fmt: skip
    assert "13:30:00" <= row["UpdateTime"] < "15:00:00" and row["ActionDay"] == WED
    egg = depth(trader, eggs)  # never walked: walked through Wednesday's last session
    assert egg["Volume"] >= 50 * 90 * 60 - 1
    assert egg["LowerLimitPrice"] <= egg["BidPrice1"] < egg["AskPrice1"] <= egg["UpperLimitPrice"]
    assert "13:30:00" <= egg["UpdateTime"] < "15:00:00" and egg["ActionDay"] == WED
    clock.set(at(WED, "20:30"))
    clock.running = False
    assert depth(trader, eggs) == egg and depth(trader, iron) == row  # it stays put until the next opening
    client = md_sim.logged_in_md(name)  # subscribing pushes it; watched (stepped in its hours), it stays put too
    mark = client.recorder.mark()
    assert client.subscribe([eggs]) == 0
    pushed = client.wait_tick(eggs, since=mark)
    assert (pushed["LastPrice"], pushed["Volume"], pushed["UpdateTime"]) == (
        egg["LastPrice"], egg["Volume"], egg["UpdateTime"])  # fmt: skip
    with control.lock:
        control._refresh_active()  # what the clock does next: eggs is stepped from now on (in its hours)
    assert eggs in control._active_set and depth(trader, eggs) == egg
    # An order meanwhile is still refused by the exchange and moves nothing.
    ref = trader.order(eggs, "DCE", "0", "0", egg["UpperLimitPrice"], 1)
    refused = trader.wait_order(ref, lambda d: d["OrderStatus"] == "5")
    assert "非交易时间" in refused["StatusMsg"] and depth(trader, eggs) == egg
    # The night opens for i: today's market walks again; jd keeps Wednesday's close until its morning.
    clock.set(at(WED, "21:00", 30))
    clock.running = False
    opened = depth(trader, iron)
    assert opened["Volume"] <= 40 and opened["UpdateTime"] >= "21:00:00" and opened["TradingDay"] == THU
    assert depth(trader, eggs) == egg


def test_sessions_mode_shows_friday_close_over_the_weekend(md_sim: MdSim) -> None:
    clock = SimClock(at(SAT, "10:00"), running=False)  # a fresh sim on Saturday: no roll was seen
    name = md_sim.sim(clock, tick_rate=50.0, mode="sessions", query_rate=0.0)
    trader = md_sim.trader(name)
    symbol = nearest(name, "jd").symbol
    row = depth(trader, symbol)
    assert row["Volume"] >= 50 * 90 * 60 - 1 and row["LastPrice"] > 0
    assert "13:30:00" <= row["UpdateTime"] < "15:00:00" and row["ActionDay"] == FRI
    client = md_sim.logged_in_md(name)
    mark = client.recorder.mark()
    assert client.subscribe([symbol]) == 0
    pushed = client.wait_tick(symbol, since=mark)
    assert (pushed["LastPrice"], pushed["Volume"], pushed["UpdateTime"]) == (
        row["LastPrice"], row["Volume"], row["UpdateTime"])  # fmt: skip
    clock.set(at(SAT, "22:00"))
    clock.running = False
    assert depth(trader, symbol) == row


def test_position_on_an_unwatched_instrument_is_marked_at_the_walk(
    trader_sim_factory: Callable[..., TraderSim],
) -> None:
    sim = trader_sim_factory(tick_rate=50.0)
    client = sim.ready_client()
    rb, exchange = sim.contract("rb")
    row = depth(client, rb)
    ref = client.order(rb, exchange, "0", "0", row["UpperLimitPrice"], 1)
    client.recorder.wait_for("OnRtnTrade", lambda c: c.data["OrderRef"].strip() == ref)
    first = account(client)["PositionProfit"]
    seen = [first]  # each query is a look: the walk moves the mark while nobody watches rb
    while seen[-1] == first and len(seen) < 10_000:
        seen.append(account(client)["PositionProfit"])
    assert seen[-1] != first
    assert positions(client, rb)[0]["Position"] == 1
