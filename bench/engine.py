"""Ticks a second through the whole path, beside the sim alone, in one run.

    .venv/bin/python bench/engine.py [--seconds 5] [--json out.json]

Baseline: a full-market sim (every instrument subscribed, a tick rate that saturates it) delivering
to a bare counting MD Spi. Whole path: the same sim behind the CTP gateway, the bridge and the
engine (OMS, bus, 1-minute bars and the higher intervals), counting ticks the engine published.
Both run in this one process, as the embedded default does. Target (issue 3): at least 30,000 ticks
a second through the whole path. The JSON summary is the last line of stdout.

The whole path is measured in its steady state: after every instrument has reached the engine once
(an instrument's first tick sets up its bar builders) and with the sim's clock on the wall clock, so
ticks are stamped "now" and bars form and close as in production: every tick goes through its bar
and the timer closes bars once a minute (a clock far from the wall clock would make the timer close
every forming bar at once and the bar builders drop the rest of the minute's ticks).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.setswitchinterval(0.001)  # as run.py sets it for the server
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import gevent  # noqa: E402

from backend.engine import events  # noqa: E402
from backend.engine.engine import EngineConfig, MainEngine  # noqa: E402
from backend.gateway.base import LoginSettings  # noqa: E402
from backend.sim import configure, control, mdapi, shutdown  # noqa: E402
from backend.sim.calendar import SHANGHAI  # noqa: E402
from lib.native import monotonic  # noqa: E402
from model.sqlite_store import SqliteStore  # noqa: E402

TARGET = 30_000.0
TICK_RATE = 50.0  # per instrument: far more than the sim can make, so it runs flat out
WARM_UP_LIMIT = 60.0  # seconds to wait for every instrument's first tick through the whole path


def running_clock() -> Any:
    """The wall clock on the exchanges' time (the sim is configured not to settle mid-run)."""
    start, since = datetime.now(SHANGHAI), monotonic()
    return lambda: start + timedelta(seconds=monotonic() - since)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CountingSpi(mdapi.CThostFtdcMdSpi):
    def __init__(self) -> None:
        super().__init__()
        self.ticks = 0
        self.ready = threading.Event()

    def OnFrontConnected(self) -> None:  # noqa: N802
        self.ready.set()

    def OnRspUserLogin(self, *args: Any) -> None:  # noqa: N802
        self.ready.set()

    def OnRtnDepthMarketData(self, data: Any) -> None:  # noqa: N802
        self.ticks += 1


def sim_alone(seconds: float, flow: Path) -> dict[str, Any]:
    configure("bench-alone", market="full", tick_rate=TICK_RATE, clock=running_clock(), auto_settle=False)
    api = mdapi.CThostFtdcMdApi.CreateFtdcMdApi(str(flow / "alone_"))
    spi = CountingSpi()
    api.RegisterSpi(spi)
    api.RegisterFront("sim://bench-alone")
    api.Init()
    try:
        assert spi.ready.wait(30)
        spi.ready.clear()
        api.ReqUserLogin(mdapi.CThostFtdcReqUserLoginField(), 1)
        assert spi.ready.wait(10)
        symbols = sorted(control("bench-alone").specs)
        for start in range(0, len(symbols), 500):
            batch = [symbol.encode() for symbol in symbols[start : start + 500]]
            api.SubscribeMarketData(batch, len(batch))
        threading.Event().wait(1.0)  # warm up: every instrument ticking
        before, cpu, began = spi.ticks, cpu_seconds(), time.perf_counter()
        threading.Event().wait(seconds)
        elapsed = time.perf_counter() - began
        return {"instruments": len(symbols), "ticks_per_s": (spi.ticks - before) / elapsed,
                "cpu_percent": 100 * (cpu_seconds() - cpu) / elapsed}  # fmt: skip
    finally:
        api.Release()
        shutdown("bench-alone")


def whole_path(seconds: float, data: Path) -> dict[str, Any]:
    configure("bench-path", market="full", tick_rate=TICK_RATE, query_rate=0, clock=running_clock(),
              auto_settle=False)  # fmt: skip
    engine = MainEngine(SqliteStore(data / "store.sqlite3"), EngineConfig(flow_dir=data / "flow", query_interval=0.0))
    counts = {"tick": 0, "bar": 0}

    def count(topic: str, payload: Any) -> None:
        counts[topic] += 1

    engine.bus.subscribe(events.TICK, count)
    engine.bus.subscribe(events.BAR, count)
    try:
        engine.connect(LoginSettings("demo", "demo", "9999", td_address="sim://bench-path",
                                     md_address="sim://bench-path"), timeout=60)  # fmt: skip
        engine.subscribe(sorted(engine.oms.contracts))
        deadline = monotonic() + WARM_UP_LIMIT
        while len(engine.oms.ticks) < len(engine.oms.contracts) and monotonic() < deadline:
            gevent.sleep(0.1)  # warm up: every instrument's first tick (its bar builders are made then)
        warm_up = WARM_UP_LIMIT - (deadline - monotonic())
        gevent.sleep(1.0)
        before, cpu, began = counts["tick"], cpu_seconds(), time.perf_counter()
        gevent.sleep(seconds)
        elapsed = time.perf_counter() - began
        return {"instruments": len(engine.oms.contracts), "ticks_per_s": (counts["tick"] - before) / elapsed,
                "cpu_percent": 100 * (cpu_seconds() - cpu) / elapsed, "bridge_backlog": engine._bridge.backlog,
                "bars_published": counts["bar"], "warm_up_s": warm_up,
                "instruments_ticked": len(engine.oms.ticks)}  # fmt: skip
    finally:
        engine.close()
        shutdown("bench-path")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", help="also write the summary here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        alone = sim_alone(args.seconds, Path(scratch))
        path = whole_path(args.seconds, Path(scratch))
    ratio = path["ticks_per_s"] / alone["ticks_per_s"] if alone["ticks_per_s"] else 0.0
    print(f"{'measure':<44}{'ticks/s':>12}{'CPU %':>8}")
    print(f"{'sim alone (baseline), full market':<44}{alone['ticks_per_s']:>12,.0f}{alone['cpu_percent']:>8.0f}")
    print(f"{'sim -> gateway -> bridge -> engine -> bars':<44}{path['ticks_per_s']:>12,.0f}{path['cpu_percent']:>8.0f}")
    print(f"whole path / sim alone: {ratio:.2f}; bridge backlog at the end: {path['bridge_backlog']}; "
          f"target >= {TARGET:,.0f}: {'met' if path['ticks_per_s'] >= TARGET else 'MISSED'}")
    summary = {"sim_alone": alone, "whole_path": path, "ratio": ratio, "target": TARGET,
               "met": path["ticks_per_s"] >= TARGET}  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
