"""Benchmark of the simulated CTP counter (backend.sim), each figure beside a baseline of the same run.

    .venv/bin/python bench/sim.py [--seconds 5] [--orders 1000] [--json out.json] [--profile]

(a) Market data: a full-market sim (market="full", ~8,700 instruments) at a tick rate that saturates
    it, one MD API subscribed to every instrument; OnRtnDepthMarketData callbacks counted over a
    window. Baseline: the bare hand-off the sim's delivery rests on, `_queue.SimpleQueue` put/get
    between two native threads, calling a counting callback, as lib.native.CallbackThread does.
(a') Idle: the full market at the default tick rate with nobody subscribed (process CPU), then one
    look at every instrument (the lazy walk of issue 15 brings each to now; timed).
(b) Orders: ReqOrderInsert -> OnRtnTrade for marketable limit orders on a DCE future, one at a time,
    timed from just before ReqOrderInsert to the start of the OnRtnTrade callback (perf_counter_ns).
    Baselines: a one-way hand-off to a native thread (timed the same way: put, the other thread
    stamps the time and wakes the sender) and a two-way ping-pong, both over SimpleQueue.

Targets from the issue: >= 50,000 ticks a second delivered; order round trip median < 200 us.
With --profile (or when a target is missed) the hot spots of the sim side are printed (cProfile).
The JSON summary is the last line of stdout (and written to --json if given).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from backend.sim import SimAccount, configure, control, mdapi, shutdown, tdapi  # noqa: E402
from backend.sim.calendar import SHANGHAI  # noqa: E402
from lib.native import SimpleQueue, monotonic, start_new_thread  # noqa: E402

TICK_TARGET = 50_000.0  # ticks a second
ORDER_TARGET_US = 200.0  # median round trip
START = datetime(2025, 11, 26, 10, 0, tzinfo=SHANGHAI)  # a Wednesday in the day session: no day roll


def running_clock() -> Any:
    since = monotonic()
    return lambda: START + timedelta(seconds=monotonic() - since)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def wait(seconds: float) -> None:
    threading.Event().wait(seconds)


# --- (a) market data ------------------------------------------------------------------------------
class CountingMdSpi(mdapi.CThostFtdcMdSpi):
    def __init__(self) -> None:
        self.connected = threading.Event()
        self.logged_in = threading.Event()
        self.answered = threading.Event()
        self.ticks = 0

    def OnFrontConnected(self) -> None:  # noqa: N802 - CTP's names
        self.connected.set()

    def OnRspUserLogin(self, *args: Any) -> None:  # noqa: N802
        self.logged_in.set()

    def OnRspSubMarketData(self, instrument: Any, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
        if last:
            self.answered.set()

    def OnRtnDepthMarketData(self, tick: Any) -> None:  # noqa: N802
        self.ticks += 1


def bench_ticks(seconds: float, tick_rate: float, flow: Path, profile: bool) -> dict[str, Any]:
    name = "bench-md"
    configure(name, market="full", tick_rate=tick_rate, clock=running_clock())
    api = mdapi.CThostFtdcMdApi.CreateFtdcMdApi(str(flow / "md_"))
    spi = CountingMdSpi()
    api.RegisterSpi(spi)
    api.RegisterFront(f"sim://{name}")
    api.Init()
    try:
        assert spi.connected.wait(30), "no OnFrontConnected"
        api.ReqUserLogin(mdapi.CThostFtdcReqUserLoginField(), 1)
        assert spi.logged_in.wait(10), "no OnRspUserLogin"
        symbols = sorted(control(name).specs)
        for start in range(0, len(symbols), 500):
            batch = [symbol.encode() for symbol in symbols[start : start + 500]]
            assert api.SubscribeMarketData(batch, len(batch)) == 0
        assert spi.answered.wait(30)
        wait(1.0)  # warm up: every instrument active, the clock loop in its steady state
        queue = api._thread._queue  # the API's callback queue: its growth is what was produced but not delivered
        count0, backlog0, t0, cpu0 = spi.ticks, queue.qsize(), monotonic(), time.process_time()
        profilers = (_profile_thread(api._thread.post), _profile_thread(control(name).schedule, 0.0)) if profile else ()
        wait(seconds)
        count1, backlog1, t1, cpu1 = spi.ticks, queue.qsize(), monotonic(), time.process_time()
        elapsed = t1 - t0
        result = {
            "instruments": len(symbols),
            "tick_rate_setting": tick_rate,
            "offered_per_s": len(symbols) * tick_rate,
            "delivered_per_s": (count1 - count0) / elapsed,
            "produced_per_s": (count1 - count0 + backlog1 - backlog0) / elapsed,
            "backlog_end": backlog1,
            "process_cpu_percent": 100 * (cpu1 - cpu0) / elapsed,
        }
        if profilers:
            result["callback_thread_profile"] = profilers[0]()
            result["clock_thread_profile"] = profilers[1]()
    finally:
        api.RegisterSpi(None)  # drop the backlog quickly: callbacks of a released spi are skipped
        api.Release()
        shutdown(name)
    return result


def bench_idle(seconds: float, flow: Path) -> dict[str, Any]:
    """The full market at the default tick rate with nobody subscribed: what it costs while no one looks.

    Then every instrument is looked at once (the lazy walk brings each to now, as a depth query of
    the whole market does) and that look is timed.
    """
    name = "bench-idle"
    configure(name, market="full", tick_rate=2.0, clock=running_clock(), data_dir=str(flow / "idle-data"))
    sim = control(name)
    try:
        wait(0.5)
        t0, cpu0 = monotonic(), time.process_time()
        wait(seconds)
        t1, cpu1 = monotonic(), time.process_time()
        symbols = sorted(sim.specs)
        look0 = time.perf_counter()
        look_at = getattr(sim, "live_quote", sim.market.quotes.get)  # a sim without a lazy walk: a plain read
        with sim.lock:
            for symbol in symbols:
                look_at(symbol)
        look = time.perf_counter() - look0
    finally:
        shutdown(name)
    return {"instruments": len(symbols), "process_cpu_percent": 100 * (cpu1 - cpu0) / (t1 - t0),
            "look_at_all_ms": 1000 * look}  # fmt: skip


def _profile_thread(post: Any, *prefix: Any) -> Any:
    """cProfile on another thread (a profiler only sees the thread it is enabled on): `post` runs a
    call there, e.g. CallbackThread.post (the API's callback thread) or SimExchange.schedule with a
    0 s delay (the sim's clock thread, which produces the ticks). Returns a function that stops it."""
    profiler = cProfile.Profile()
    done = threading.Event()
    post(*prefix, profiler.enable)

    def stop() -> str:
        post(*prefix, lambda: (profiler.disable(), done.set()))
        done.wait(30)
        return _top(profiler, 14)

    return stop


def baseline_handoff_throughput(messages: int) -> dict[str, Any]:
    """Messages a second through SimpleQueue from one native thread to another that calls a callback."""
    queue: Any = SimpleQueue()
    finished = threading.Event()
    counter = [0]
    stop = object()

    def count(_: Any) -> None:
        counter[0] += 1

    def consume() -> None:
        get = queue.get
        while True:
            item = get()
            if item is stop:
                finished.set()
                return
            function, args = item
            function(*args)

    payload = object()
    start_new_thread(consume, ())
    put = queue.put
    t0 = time.perf_counter()
    for _ in range(messages):
        put((count, (payload,)))
    put(stop)
    finished.wait(60)
    elapsed = time.perf_counter() - t0
    return {"messages": counter[0], "delivered_per_s": counter[0] / elapsed}


# --- (b) orders -----------------------------------------------------------------------------------
class OrderSpi(tdapi.CThostFtdcTraderSpi):
    def __init__(self) -> None:
        self.connected = threading.Event()
        self.answered = threading.Event()
        self.error = 0
        self.traded = threading.Event()
        self.finished = threading.Event()
        self.trade_ns = 0
        self.status = ""
        self.message = ""

    def OnFrontConnected(self) -> None:  # noqa: N802
        self.connected.set()

    def OnRspUserLogin(self, login: Any, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
        self.error = info.ErrorID if info else 0
        self.answered.set()

    def OnRspSettlementInfoConfirm(self, confirm: Any, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
        self.error = info.ErrorID if info else 0
        self.answered.set()

    def OnRtnTrade(self, trade: Any) -> None:  # noqa: N802
        self.trade_ns = time.perf_counter_ns()
        self.traded.set()

    def OnRtnOrder(self, order: Any) -> None:  # noqa: N802
        self.status = order.OrderStatus
        if order.OrderStatus in "0245":
            self.message = order.StatusMsg
            self.finished.set()

    def OnRspOrderInsert(self, order: Any, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
        self.message = f"OnRspOrderInsert {info.ErrorID if info else '?'}"
        self.finished.set()
        self.traded.set()


def _order_field(symbol: str, ref: int, direction: str, offset: str, price: float) -> Any:
    field = tdapi.CThostFtdcInputOrderField()
    values = {
        "BrokerID": "9999", "InvestorID": "demo", "UserID": "demo", "InstrumentID": symbol, "ExchangeID": "DCE",
        "OrderRef": str(ref), "Direction": direction, "CombOffsetFlag": offset, "CombHedgeFlag": "1",
        "OrderPriceType": "2", "LimitPrice": float(price), "VolumeTotalOriginal": 1, "TimeCondition": "3",
        "VolumeCondition": "1", "MinVolume": 1, "ContingentCondition": "1", "ForceCloseReason": "0",
        "IsAutoSuspend": 0,
    }  # fmt: skip
    for key, value in values.items():
        setattr(field, key, value)
    return field


def bench_orders(orders: int, flow: Path, data_dir: str | None, profile: bool) -> dict[str, Any]:
    name = "bench-orders" + ("-durable" if data_dir else "")
    configure(name, tick_rate=0, query_rate=0, response_delay=0.0, data_dir=data_dir, clock=running_clock(),
              accounts=(SimAccount("demo", "demo", balance=1e12),))  # fmt: skip
    api = tdapi.CThostFtdcTraderApi.CreateFtdcTraderApi(str(flow / f"{name}_"))
    spi = OrderSpi()
    api.RegisterSpi(spi)
    api.RegisterFront(f"sim://{name}")
    api.SubscribePrivateTopic(tdapi.THOST_TERT_QUICK)
    api.SubscribePublicTopic(tdapi.THOST_TERT_QUICK)
    api.Init()
    sim = control(name)
    try:
        assert spi.connected.wait(10)
        login = tdapi.CThostFtdcReqUserLoginField()
        login.BrokerID, login.UserID, login.Password = "9999", "demo", "demo"
        assert api.ReqUserLogin(login, 1) == 0 and spi.answered.wait(10) and spi.error == 0
        spi.answered.clear()
        confirm = tdapi.CThostFtdcSettlementInfoConfirmField()
        confirm.BrokerID, confirm.InvestorID = "9999", "demo"
        assert api.ReqSettlementInfoConfirm(confirm, 2) == 0 and spi.answered.wait(10) and spi.error == 0
        spec = min((s for s in sim.specs.values() if s.product == "i"), key=lambda s: s.expire_date)
        quote = sim.market.quotes[spec.symbol]
        warmup = 50
        rtt: list[float] = []
        sync: list[float] = []
        profiler = cProfile.Profile() if profile else None
        for index in range(warmup + orders):
            sim.set_price(spec.symbol, spec.base_price)  # a fresh book, outside the timed part
            buy = index % 2 == 0  # buy to open, then sell to close: the position stays flat
            price = quote.ask_prices[0] if buy else quote.bid_prices[0]
            field = _order_field(spec.symbol, index + 1, "0" if buy else "1", "0" if buy else "1", price)
            spi.traded.clear()
            spi.finished.clear()
            if profiler is not None and index >= warmup:
                profiler.enable()
            t0 = time.perf_counter_ns()
            result = api.ReqOrderInsert(field, 100 + index)
            t1 = time.perf_counter_ns()
            if profiler is not None:
                profiler.disable()
            assert result == 0, f"ReqOrderInsert returned {result}"
            assert spi.traded.wait(10) and spi.finished.wait(10), "no fill"
            assert spi.status == "0", f"order {index} ended {spi.status!r}: {spi.message}"
            if index >= warmup:
                rtt.append((spi.trade_ns - t0) / 1000)
                sync.append((t1 - t0) / 1000)
        result_ = {
            "orders": len(rtt), "journal": bool(data_dir),
            "median_us": statistics.median(rtt), "p99_us": percentile(rtt, 0.99),
            "req_call_median_us": statistics.median(sync), "req_call_p99_us": percentile(sync, 0.99),
        }  # fmt: skip
        if profiler is not None:
            result_["req_order_insert_profile"] = _top(profiler, 15)
        return result_
    finally:
        api.Release()
        shutdown(name)


def baseline_one_way(messages: int) -> dict[str, Any]:
    """Put a message for a native thread that stamps perf_counter_ns and wakes the sender (an Event)."""
    queue: Any = SimpleQueue()
    arrived = threading.Event()
    stamp = [0]
    stop = object()

    def consume() -> None:
        get = queue.get
        while True:
            item = get()
            if item is stop:
                return
            function, args = item
            function(*args)

    def on_message(_: Any) -> None:
        stamp[0] = time.perf_counter_ns()
        arrived.set()

    start_new_thread(consume, ())
    latencies = []
    for index in range(50 + messages):
        arrived.clear()
        t0 = time.perf_counter_ns()
        queue.put((on_message, (index,)))
        arrived.wait(10)
        if index >= 50:
            latencies.append((stamp[0] - t0) / 1000)
    queue.put(stop)
    return {"messages": len(latencies), "median_us": statistics.median(latencies),
            "p99_us": percentile(latencies, 0.99)}  # fmt: skip


def baseline_ping_pong(messages: int) -> dict[str, Any]:
    """A round trip between two native threads over two SimpleQueues."""
    there: Any = SimpleQueue()
    back: Any = SimpleQueue()
    stop = object()

    def echo() -> None:
        while True:
            item = there.get()
            back.put(item)
            if item is stop:
                return

    start_new_thread(echo, ())
    latencies = []
    for index in range(50 + messages):
        t0 = time.perf_counter_ns()
        there.put(index)
        back.get()
        if index >= 50:
            latencies.append((time.perf_counter_ns() - t0) / 1000)
    there.put(stop)
    back.get()
    return {"messages": len(latencies), "median_us": statistics.median(latencies),
            "p99_us": percentile(latencies, 0.99)}  # fmt: skip


def _top(profiler: cProfile.Profile, count: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(count)
    return out.getvalue()


# --- report ---------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="market-data measuring window")
    parser.add_argument("--tick-rate", type=float, default=50.0, help="snapshots a second per instrument")
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--json", help="also write the JSON summary to this file")
    parser.add_argument("--profile", action="store_true", help="print cProfile hot spots of the sim side")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-sim-") as scratch:
        flow = Path(scratch)
        ticks = bench_ticks(args.seconds, args.tick_rate, flow, args.profile)
        default_rate = bench_ticks(3.0, 2.0, flow, False)  # the sim's default tick_rate, for scale
        idle = bench_idle(3.0, flow)
        handoff = baseline_handoff_throughput(1_000_000)
        orders = bench_orders(args.orders, flow, None, args.profile)
        durable = bench_orders(args.orders, flow, str(flow / "data"), False)
        one_way = baseline_one_way(args.orders)
        ping_pong = baseline_ping_pong(args.orders)
        missed = ticks["delivered_per_s"] < TICK_TARGET or orders["median_us"] >= ORDER_TARGET_US
        if missed and not args.profile:  # a target missed: measure again with the profiler on
            profiled = bench_ticks(2.0, args.tick_rate, flow, True)
            ticks["clock_thread_profile"] = profiled["clock_thread_profile"]
            ticks["callback_thread_profile"] = profiled["callback_thread_profile"]
            orders["req_order_insert_profile"] = bench_orders(300, flow, None, True)["req_order_insert_profile"]

    rows = [
        ("ticks delivered /s (full market)", ticks["delivered_per_s"], "SimpleQueue hand-off /s",
         handoff["delivered_per_s"], ticks["delivered_per_s"] / handoff["delivered_per_s"],
         f">= {TICK_TARGET:,.0f}", ticks["delivered_per_s"] >= TICK_TARGET),
        ("order -> OnRtnTrade median us", orders["median_us"], "one-way hand-off median us",
         one_way["median_us"], orders["median_us"] / one_way["median_us"], f"< {ORDER_TARGET_US:.0f}",
         orders["median_us"] < ORDER_TARGET_US),
        ("order -> OnRtnTrade p99 us", orders["p99_us"], "one-way hand-off p99 us", one_way["p99_us"],
         orders["p99_us"] / one_way["p99_us"], "", None),
        ("order median us vs ping-pong", orders["median_us"], "ping-pong round trip median us",
         ping_pong["median_us"], orders["median_us"] / ping_pong["median_us"], "", None),
        ("  of which ReqOrderInsert call us", orders["req_call_median_us"], "", None, None, "", None),
        ("order median us, journaled", durable["median_us"], "one-way hand-off median us", one_way["median_us"],
         durable["median_us"] / one_way["median_us"], f"< {ORDER_TARGET_US:.0f}",
         durable["median_us"] < ORDER_TARGET_US),
    ]  # fmt: skip
    print(f"{'measure':36} {'sim':>12}   {'baseline':32} {'value':>12} {'ratio':>9}  target")
    for label, value, base_label, base, ratio, target, met in rows:
        base_text = f"{base:12,.1f}" if base is not None else " " * 12
        ratio_text = f"{ratio:9.3f}" if ratio is not None else " " * 9
        verdict = "" if met is None else (" met" if met else " MISSED")
        print(f"{label:36} {value:12,.1f}   {base_label:32} {base_text} {ratio_text}  {target}{verdict}")
    print(
        f"(tick_rate {args.tick_rate:g}: sim produced {ticks['produced_per_s']:,.0f} ticks/s of "
        f"{ticks['offered_per_s']:,.0f} offered, process CPU {ticks['process_cpu_percent']:.0f}%, callback backlog "
        f"{ticks['backlog_end']:,}; default tick_rate 2: {default_rate['delivered_per_s']:,.0f} of "
        f"{default_rate['offered_per_s']:,.0f} offered, process CPU {default_rate['process_cpu_percent']:.0f}%)"
    )
    print(f"(ping-pong p99 {ping_pong['p99_us']:.1f} us; journaled order p99 {durable['p99_us']:.1f} us)")  # fmt: skip
    print(f"(full market, tick_rate 2, nobody subscribed, journaled: process CPU {idle['process_cpu_percent']:.1f}%; "
          f"then looking at all {idle['instruments']:,} instruments once: {idle['look_at_all_ms']:,.0f} ms)")
    for key, text in (("clock thread, producing ticks", ticks.get("clock_thread_profile")),
                      ("callback thread, delivering ticks", ticks.get("callback_thread_profile")),
                      ("ReqOrderInsert, caller's thread", orders.get("req_order_insert_profile"))):  # fmt: skip
        if text:
            print(f"\n--- cProfile: {key} ---\n{text}")
    summary = {
        "ticks": {k: v for k, v in ticks.items() if not k.endswith("profile")},
        "ticks_default_rate": default_rate,
        "idle_full_market": idle,
        "baseline_handoff": handoff,
        "orders": {k: v for k, v in orders.items() if not k.endswith("profile")},
        "orders_journaled": durable,
        "baseline_one_way": one_way,
        "baseline_ping_pong": ping_pong,
        "ratios": {
            "ticks_vs_handoff": ticks["delivered_per_s"] / handoff["delivered_per_s"],
            "order_median_vs_one_way": orders["median_us"] / one_way["median_us"],
            "order_median_vs_ping_pong": orders["median_us"] / ping_pong["median_us"],
        },
        "targets": {
            "ticks_per_s": TICK_TARGET,
            "order_median_us": ORDER_TARGET_US,
            "ticks_met": ticks["delivered_per_s"] >= TICK_TARGET,
            "orders_met": orders["median_us"] < ORDER_TARGET_US,
        },  # fmt: skip
    }
    line = json.dumps(summary)
    if args.json:
        Path(args.json).write_text(line + "\n", encoding="utf-8")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
