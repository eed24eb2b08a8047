"""The sim's market-data API under faults, on threads (plain and gevent-patched), at full-market
size, and its determinism (CTP.md §1 reconnect and callbacks, §2 re-subscribe; DESIGN.md concurrency).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.sim import control, mdapi
from lib.native import monotonic
from tests.integration.md_sim import THU, WED, MdSim, SimClock, at, nearest, quiet_for

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_TIMEOUT = 0x2001
UNREACHABLE = 4097


@pytest.fixture
def md_sim(tmp_path: Path) -> Iterator[MdSim]:
    sims = MdSim(tmp_path)
    yield sims
    sims.close()


def index_of(calls: list[Any], call: Any) -> int:
    return next(i for i, each in enumerate(calls) if each is call)


def stamp(client: Any, callback: str) -> list[float]:
    """Arrival times (monotonic) of a callback, taken on the callback thread."""
    times: list[float] = []
    client.spi.hooks[callback] = lambda *args: times.append(monotonic())
    return times


def storm_size(calls: list[Any]) -> int:
    return sum(call.name == "OnFrontDisconnected" for call in calls)


# --- 7. faults --------------------------------------------------------------------------------------
def test_drop_reconnects_and_forgets_subscriptions(md_sim: MdSim) -> None:
    name = md_sim.sim(tick_rate=10, reconnect_delay=0.3)
    client = md_sim.logged_in_md(name)
    symbol = nearest(name, "i").symbol
    assert client.subscribe([symbol]) == 0
    client.wait_tick(symbol)
    connected_at = stamp(client, "OnFrontConnected")
    mark, dropped_at = client.recorder.mark(), monotonic()
    control(name).drop_connections(reason=HEARTBEAT_TIMEOUT)
    dropped = client.recorder.wait_for("OnFrontDisconnected", start=mark)
    assert dropped.args == (HEARTBEAT_TIMEOUT,)
    since = index_of(client.recorder.calls, dropped)
    login = client.login(since=since)
    assert login.error_id == 0 and login.data["TradingDay"] == WED
    assert connected_at and connected_at[0] - dropped_at >= 0.3 - 0.02
    # The real library forgets subscriptions across a reconnect: nothing flows until the client
    # subscribes again (CTP.md §2: a gateway that forgets this silently loses its ticks).
    assert quiet_for(client, symbol, 0.6, since) == []
    mark = client.recorder.mark()
    assert client.subscribe([symbol]) == 0
    client.wait_tick(symbol, since=mark)


def test_unreachable_storm_then_reconnect(md_sim: MdSim) -> None:
    name = md_sim.sim(tick_rate=10, reconnect_delay=0.1, unreachable_rate=800)
    client = md_sim.logged_in_md(name)
    recorder = client.recorder
    mark = recorder.mark()
    control(name).set_unreachable(True)
    # At least half a second of storm in which no OnFrontConnected may come, then more than ten
    # disconnects: waited for, so a stalled machine delivering the storm late still passes.
    threading.Event().wait(0.5)
    recorder.wait_until(lambda calls: storm_size(calls[mark:]) > 10, what="more than 10 disconnects")
    calls = recorder.calls[mark:]
    storm = [c for c in calls if c.name == "OnFrontDisconnected"]
    assert len(storm) > 10 and all(c.args == (UNREACHABLE,) for c in storm)
    assert not [c for c in calls if c.name == "OnFrontConnected"]
    mark = recorder.mark()
    control(name).set_unreachable(False)
    connected = recorder.wait_for("OnFrontConnected", start=mark)
    after = index_of(recorder.calls, connected)
    login = client.login(since=after)
    assert login.error_id == 0
    threading.Event().wait(0.1)
    assert not [c for c in recorder.calls[after:] if c.name == "OnFrontDisconnected"]  # the storm is over


def test_front_that_is_not_sim_storms_with_4097(md_sim: MdSim) -> None:
    client = md_sim.md("", front="tcp://127.0.0.1:1")
    threading.Event().wait(0.5)  # half a second in which no OnFrontConnected may come
    client.recorder.wait_until(lambda calls: storm_size(calls) > 10, what="more than 10 disconnects")
    calls = client.recorder.calls[:]
    storm = [c for c in calls if c.name == "OnFrontDisconnected"]
    assert len(storm) > 10 and all(c.args == (UNREACHABLE,) for c in storm)
    assert not [c for c in calls if c.name == "OnFrontConnected"]
    assert client.subscribe(["i2601"]) == -1
    field = mdapi.CThostFtdcReqUserLoginField()
    assert client.api.ReqUserLogin(field, 1) == -1


def test_response_delay_slows_the_login_answer(md_sim: MdSim) -> None:
    name = md_sim.sim(response_delay=0.3)
    client = md_sim.md(name)
    client.recorder.wait_for("OnFrontConnected")
    answered_at = stamp(client, "OnRspUserLogin")
    asked_at = monotonic()
    field = mdapi.CThostFtdcReqUserLoginField()
    assert client.api.ReqUserLogin(field, 1) == 0
    assert client.recorder.wait_for("OnRspUserLogin").error_id == 0
    assert answered_at[0] - asked_at >= 0.3


def test_day_roll_disconnects_and_the_new_day_starts_afresh(md_sim: MdSim) -> None:
    """At 18:00 the trading day rolls: the front drops, the client re-logs in to the new trading
    day, re-subscribes, and the cumulative counters start again (CTP.md §6)."""
    # The clock stands still until a tick of the old day was seen, then runs into the roll: a
    # stalled machine cannot let the day roll before the client logged in and subscribed.
    clock = SimClock(at(WED, "17:59", 59), running=False)
    name = md_sim.sim(clock=clock, tick_rate=10, reconnect_delay=0.1)
    client = md_sim.logged_in_md(name)
    spec = nearest(name, "cu")
    assert client.subscribe([spec.symbol]) == 0
    client.wait_tick(spec.symbol)
    clock.set(at(WED, "17:59", 59).replace(microsecond=800_000))
    clock.running = True
    dropped = client.recorder.wait_for("OnFrontDisconnected", timeout=5)
    since = index_of(client.recorder.calls, dropped)
    old = client.ticks(spec.symbol)
    assert old and all(tick["TradingDay"] == WED for tick in old)
    login = client.login(since=since)
    assert login.error_id == 0 and login.data["TradingDay"] == THU
    mark = client.recorder.mark()
    assert client.subscribe([spec.symbol]) == 0
    new = client.wait_tick(spec.symbol, since=mark)
    assert (new["TradingDay"], new["ActionDay"]) == (THU, WED)  # SHFE night: ActionDay is the calendar day
    assert new["Volume"] < old[-1]["Volume"]
    assert new["PreClosePrice"] == old[-1]["LastPrice"]
    assert new["LowerLimitPrice"] < new["PreSettlementPrice"] < new["UpperLimitPrice"]


# --- 8. threads -------------------------------------------------------------------------------------
def test_callbacks_arrive_on_one_thread_per_api_not_the_callers(md_sim: MdSim) -> None:
    name = md_sim.sim(tick_rate=10)
    first, second = md_sim.logged_in_md(name), md_sim.logged_in_md(name)
    symbol = nearest(name, "i").symbol
    for client in (first, second):
        assert client.subscribe([symbol]) == 0
        client.recorder.wait_until(lambda calls, c=client: len(c.ticks()) >= 3, what="3 ticks")
    threads = [{call.thread for call in client.recorder.calls} for client in (first, second)]
    assert all(len(each) == 1 for each in threads)
    assert threads[0] != threads[1]
    assert threading.get_ident() not in threads[0] | threads[1]


# Run in a fresh interpreter: the sim under gevent's monkey-patching, as the server runs it.
GEVENT_CLIENT = r"""
from gevent import monkey
monkey.patch_all()

import json, os, tempfile
import gevent, gevent.event, greenlet

from backend.sim import configure, control, mdapi, shutdown

native_id = monkey.get_original("_thread", "get_native_id")
native_lock = monkey.get_original("_thread", "allocate_lock")
main_native = native_id()
main_greenlet = greenlet.getcurrent()

woken = gevent.event.Event()
watcher = gevent.get_hub().loop.async_()  # the one gevent object a native thread may signal
watcher.start(woken.set)
seen = {"natives": set(), "greenlet_is_main": set(), "ticks": 0, "connected": False, "logged_in": False,
        "block_from": None}


def note():
    seen["natives"].add(native_id())
    seen["greenlet_is_main"].add(greenlet.getcurrent() is main_greenlet)


class Spi(mdapi.CThostFtdcMdSpi):
    def OnFrontConnected(self):
        note(); seen["connected"] = True; watcher.send()

    def OnRspUserLogin(self, login, info, request_id, last):
        note(); seen["logged_in"] = info is None or info.ErrorID == 0; watcher.send()

    def OnRtnDepthMarketData(self, tick):
        note(); seen["ticks"] += 1; watcher.send()
        if seen["block_from"] is not None and seen["ticks"] - seen["block_from"] >= 3:
            seen["block_from"] = None
            blocker.release()


def wait_until(condition, timeout):
    deadline = gevent.get_hub().loop.now() + timeout
    while not condition():
        left = deadline - gevent.get_hub().loop.now()
        if left <= 0:
            return False
        woken.clear()
        if not condition():
            woken.wait(min(left, 0.2))
    return True


configure("gevent", tick_rate=20)
symbol = min((s for s in control("gevent").specs.values() if s.product == "i"), key=lambda s: s.expire_date).symbol
api = mdapi.CThostFtdcMdApi.CreateFtdcMdApi(os.path.join(tempfile.mkdtemp(), "md_"))
spi = Spi()
api.RegisterSpi(spi)
api.RegisterFront("sim://gevent")
api.Init()
assert wait_until(lambda: seen["connected"], 5), "no OnFrontConnected"
api.ReqUserLogin(mdapi.CThostFtdcReqUserLoginField(), 1)
assert wait_until(lambda: seen["logged_in"], 5), "no login"
api.SubscribeMarketData([symbol.encode()], 1)
# 1. The main greenlet waits on a gevent Event; ticks come in (the hub runs, the native thread delivers).
assert wait_until(lambda: seen["ticks"] >= 5, 5), "no ticks while waiting in gevent"
# 2. The whole main OS thread blocks without yielding to the hub: ticks must still arrive. The
# callback thread itself ends the block after 3 ticks; delivered through the hub, none could come
# and the block would last its whole 5 s.
blocker = native_lock()
blocker.acquire()
seen["block_from"] = before = seen["ticks"]
blocker.acquire(True, 5.0)
during = seen["ticks"] - before
api.Release()
shutdown("gevent")
print(json.dumps({"main_native": main_native, "natives": sorted(seen["natives"]),
                  "greenlet_is_main": sorted(seen["greenlet_is_main"]), "during_block": during,
                  "patched": monkey.is_module_patched("threading")}))
"""


def test_callbacks_come_from_a_native_thread_under_gevent() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", GEVENT_CLIENT], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["patched"] is True
    assert len(report["natives"]) == 1, report  # one callback thread per API object
    assert report["main_native"] not in report["natives"], report
    assert report["greenlet_is_main"] == [False], report
    assert report["during_block"] >= 3, report  # delivered while the main thread could not run the hub


# --- 9. full market ---------------------------------------------------------------------------------
class CountingSpi(mdapi.CThostFtdcMdSpi):
    """A lean Spi for thousands of instruments: counts instead of copying every struct."""

    def __init__(self) -> None:
        self.connected = threading.Event()
        self.logged_in = threading.Event()
        self.answered = threading.Event()
        self.answers = 0
        self.ticked: dict[str, int] = {}

    def OnFrontConnected(self) -> None:  # noqa: N802 - CTP's name
        self.connected.set()

    def OnRspUserLogin(self, *args: Any) -> None:  # noqa: N802
        self.logged_in.set()

    def OnRspSubMarketData(self, instrument: Any, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
        self.answers += 1
        if last:
            self.answered.set()

    def OnRtnDepthMarketData(self, tick: Any) -> None:  # noqa: N802
        self.ticked[tick.InstrumentID] = self.ticked.get(tick.InstrumentID, 0) + 1


def clock_ticked(ticked: dict[str, int]) -> int:
    return sum(count >= 3 for count in list(ticked.values()))


def test_full_market_instruments_and_ticks(md_sim: MdSim, tmp_path: Path) -> None:
    name = md_sim.sim(market="full", tick_rate=2, query_rate=0)
    trader = md_sim.trader(name)
    answers = trader.query("ReqQryInstrument", "CThostFtdcQryInstrumentField", "OnRspQryInstrument")
    symbols = [call.data["InstrumentID"] for call in answers if call.data]
    assert len(symbols) >= 5000 and len(set(symbols)) == len(symbols)
    wanted = symbols[:5000]

    api = mdapi.CThostFtdcMdApi.CreateFtdcMdApi(str(tmp_path / "md_full_"))
    spi = CountingSpi()
    api.RegisterSpi(spi)
    api.RegisterFront(f"sim://{name}")
    api.Init()
    try:
        assert spi.connected.wait(5)
        assert api.ReqUserLogin(mdapi.CThostFtdcReqUserLoginField(), 1) == 0
        assert spi.logged_in.wait(5)
        deadline = monotonic() + 6.0
        for at_ in range(0, len(wanted), 500):  # moderate batches (CTP.md §2)
            batch = [symbol.encode() for symbol in wanted[at_ : at_ + 500]]
            assert api.SubscribeMarketData(batch, len(batch)) == 0
        # Two ticks come without the clock stepping anything: the snapshot pushed on subscribing and
        # the catch-up when the clock takes the instrument up. Only a third shows the clock keeping up
        # with the full market. Polled until every answer is in and the ticks hold, so a stalled
        # machine only waits longer.
        pause = threading.Event()
        while spi.answers < len(wanted) or clock_ticked(spi.ticked) < 0.8 * len(wanted):
            if monotonic() >= deadline:
                break
            pause.wait(0.05)
        ticked = dict(spi.ticked)
        assert spi.answers == len(wanted)
        assert set(ticked) <= set(wanted)
        count = clock_ticked(ticked)
        assert count >= 0.8 * len(wanted), f"{count} of {len(wanted)} instruments ticked 3 times in 6 s"
    finally:
        api.Release()


# --- 10. determinism --------------------------------------------------------------------------------
def _walk(name: str, symbols: list[str], steps: int) -> list[tuple[Any, ...]]:
    exchange = control(name)
    moment = at(WED, "10:00")
    path = []
    with exchange.lock:
        for _ in range(steps):
            for symbol in symbols:
                quote = exchange.market.step(symbol, moment)
                path.append((symbol, quote.last_price, quote.volume, quote.turnover, quote.open_interest,
                             tuple(quote.bid_prices), tuple(quote.ask_prices), tuple(quote.bid_volumes)))  # fmt: skip
    return path


def test_same_seed_same_prices(md_sim: MdSim) -> None:
    frozen = SimClock(at(WED, "10:00"), running=False)
    first, second = md_sim.sim(clock=frozen, seed=7, tick_rate=0), md_sim.sim(clock=frozen, seed=7, tick_rate=0)
    other = md_sim.sim(clock=frozen, seed=8, tick_rate=0)
    symbols = sorted(control(first).specs)[:25]
    assert sorted(control(second).specs)[:25] == symbols
    start = [(q.pre_settlement, q.pre_open_interest, q.upper_limit, q.lower_limit)
             for q in (control(first).market.quotes[s] for s in symbols)]  # fmt: skip
    assert start == [(q.pre_settlement, q.pre_open_interest, q.upper_limit, q.lower_limit)
                     for q in (control(second).market.quotes[s] for s in symbols)]  # fmt: skip
    path = _walk(first, symbols, 40)
    assert path == _walk(second, symbols, 40)
    assert path != _walk(other, symbols, 40)  # the seed matters


def test_same_seed_same_ticks_end_to_end(md_sim: MdSim) -> None:
    """Two sims, one subscriber each to one symbol: the delivered price paths are identical."""
    paths = []
    for _ in range(2):
        name = md_sim.sim(seed=11, tick_rate=20)
        client = md_sim.logged_in_md(name)
        symbol = nearest(name, "i").symbol
        assert client.subscribe([symbol]) == 0
        client.recorder.wait_until(lambda calls, c=client: len(c.ticks()) >= 15, what="15 ticks")
        paths.append([(t["LastPrice"], t["Volume"], t["BidPrice1"], t["AskVolume1"]) for t in client.ticks()[:15]])
    assert paths[0] == paths[1]
