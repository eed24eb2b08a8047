"""Tick recording and the lab's tick mode: live vs tick-mode fills on a moving market, replay speed, bytes a tick.

    .venv/bin/python bench/tick_mode.py [--rate 10] [--ticks 300] [--replay 50000]

1. Live on the sim's moving market (SIM_TICK_RATE `--rate` ticks a second; orders meet whatever the sim's book
   is when they arrive), a strategy buys at the ask and sells at the bid every few ticks for `--ticks` ticks,
   with recording on; then the same code runs in tick mode on the ticks it saw. Printed: how many of the live
   fills tick mode reproduces (same direction, offset, price, volume, in order), and the stored bytes a tick
   against the ticks' JSON (the baseline).
2. Tick mode's speed on `--replay` ticks of the sim's walk, against the baseline of the same strategy's on_tick
   called directly with the same Records (no matching, no account, no bars).

The JSON summary is the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import gevent  # noqa: E402

from backend import sim  # noqa: E402
from backend.app import create_app, shutdown  # noqa: E402
from backend.engine.constants import Exchange, Product  # noqa: E402
from backend.engine.objects import SHANGHAI, ContractData  # noqa: E402
from backend.gateway.ticks import TickCleaner  # noqa: E402
from backend.lab.engine import run_backtest  # noqa: E402
from backend.lab.spec import BacktestSpec  # noqa: E402
from backend.lab.ticks import Ticks, load_ticks  # noqa: E402
from backend.lab.user_code import load_strategy  # noqa: E402
from backend.sim.instruments import builtin_instruments  # noqa: E402
from backend.sim.market import MarketSim  # noqa: E402
from backend.sim.rows import depth_struct  # noqa: E402
from lib.config import load_settings  # noqa: E402

ACCESS = "bench-tick-mode-code"
STRATEGY = '''
from backend.strategy import Strategy


class Churn(Strategy):
    instruments = [SYMBOL]
    n = 0

    def on_tick(self, tick):
        self.n += 1
        if self.n == 1:
            self.info("first " + tick.datetime)
        if self.n > LAST:
            return
        if self.n % 6 == 1:
            self.buy(tick.ask_price_1, 1, tick)
        elif self.n % 6 == 4:
            self.sell(tick.bid_price_1, 1, tick)
        if self.n == LAST:
            self.info("done " + tick.datetime)


ext = Churn("churn")
'''


def _wait(condition: Any, timeout: float, what: str) -> Any:
    with gevent.Timeout(timeout, RuntimeError(f"{what}: not within {timeout:g} s")):
        while not (result := condition()):
            gevent.sleep(0.05)
        return result


def _fills(trades: list[dict[str, Any]]) -> list[tuple]:
    return [(t["direction"], t["offset"], t["price"], t["volume"]) for t in trades]


def live_against_tick_mode(rate: float, count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        name = f"benchticks{int(time.time())}"
        app = create_app(load_settings(None, environ={}, DATA_DIR=scratch, ACCESS_CODE=ACCESS, SIM_NAME=name,
                                       SIM_QUERY_RATE=0, SIM_TICK_RATE=rate))  # fmt: skip
        try:
            client = app.test_client()
            token = client.post("/login", json={"authorization": ACCESS, "userid": "demo", "password": "demo"})
            headers = {"Authorization": f"JWT {token.json['data']}"}
            contracts = client.get("/contract?product=m&exchange=DCE", headers=headers).json["data"]
            symbol = sorted(c["local_symbol"] for c in contracts if c["is_trading"])[0]
            client.put("/record", json={"local_symbol": symbol, "on": True}, headers=headers)
            code = STRATEGY.replace("SYMBOL", repr(symbol)).replace("LAST", str(count))
            client.post("/code", json={"text": code}, headers=headers)
            client.put("/strategy", json={"name": "churn", "operation": "start"}, headers=headers)
            engine = app.extensions["ctpdesk"].engine
            logs = lambda: [line.message for line in engine.logs if line.owner == "churn"]  # noqa: E731
            _wait(lambda: any(m.startswith("done") for m in logs()), count / rate * 3 + 60, "the live run")
            client.put("/strategy", json={"name": "churn", "operation": "stop"}, headers=headers)
            first = datetime.fromisoformat(next(m for m in logs() if m.startswith("first"))[6:])
            last = datetime.fromisoformat(next(m for m in logs() if m.startswith("done"))[5:])
            orders = [o for o in engine.oms.orders.values() if o.strategy == "churn"]

            def journaled() -> list[dict[str, Any]]:
                trades = [t for t in engine.store.load_trades(engine.trading_day) if t["strategy"] == "churn"]
                return trades if sum(t["volume"] for t in trades) == sum(o.traded for o in orders) else []

            live = _wait(journaled, 30, "the live fills")
            engine.recorder.flush()
            stored = next(row for row in engine.store.tick_summary() if row["local_symbol"] == symbol)
            ticks = load_ticks(engine.store, symbol, int(first.timestamp() * 1000), int(last.timestamp() * 1000) + 1)
            report = run_backtest(BacktestSpec(code=code, local_symbol=symbol, mode="tick"), ticks)
            live_fills, replayed = _fills(live), _fills(report.trades)
            json_bytes = len(json.dumps([ticks.record(i) for i in range(len(ticks))])) / len(ticks)
            return {"rate": rate, "ticks_seen": len(ticks), "live_fills": len(live_fills),
                    "tick_mode_fills": len(replayed),
                    "equal_fills": sum(1 for a, b in zip(live_fills, replayed, strict=False) if a == b),
                    "all_equal": live_fills == replayed, "stored_bytes_per_tick": stored["bytes"] / stored["count"],
                    "json_bytes_per_tick": json_bytes}  # fmt: skip
        finally:
            shutdown(app)
            sim.shutdown(name)


def sim_ticks(count: int) -> Ticks:
    """The sim's walk for one instrument through the gateway's own tick cleaning, 2 ticks a second."""
    day = date(2026, 1, 6)
    spec = next(s for s in builtin_instruments(day) if s.symbol.startswith("m"))
    market = MarketSim([spec], 7)
    contract = ContractData(spec.symbol, Exchange(spec.exchange), spec.name, Product.FUTURES, spec.size,
                            spec.price_tick)  # fmt: skip
    cleaner = TickCleaner(contracts={spec.symbol: contract}, trading_day=day)
    start = datetime(2026, 1, 6, 9, 0, tzinfo=SHANGHAI)
    made = []
    for index in range(count):
        moment = start + timedelta(milliseconds=500 * index)
        made.append(cleaner.clean(depth_struct(market.step(spec.symbol, moment), moment, "20260106", True)))
    return Ticks.from_ticks(made)


def replay_speed(count: int) -> dict[str, Any]:
    ticks = sim_ticks(count)
    code = STRATEGY.replace("SYMBOL", repr(ticks.local_symbol)).replace("LAST", str(count))
    started = time.perf_counter()
    run_backtest(BacktestSpec(code=code, local_symbol=ticks.local_symbol, mode="tick"), ticks)
    tick_mode = time.perf_counter() - started
    strategy = load_strategy(code, {})
    strategy._send = lambda command: {"ok": True, "order": {"order_id": "1"}}  # answered, nothing matched
    records = [ticks.record(i) for i in range(len(ticks))]  # the Records are built outside the baseline's clock
    from backend.strategy import record

    started = time.perf_counter()
    for data in records:
        strategy.on_tick(record(data))
    baseline = time.perf_counter() - started
    return {"ticks": count, "tick_mode_ticks_per_s": count / tick_mode, "on_tick_only_ticks_per_s": count / baseline,
            "ratio": baseline / tick_mode}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=10.0, help="the sim's ticks a second in the live run")
    parser.add_argument("--ticks", type=int, default=300, help="ticks the live strategy trades over")
    parser.add_argument("--replay", type=int, default=50_000, help="ticks tick mode replays for its speed")
    args = parser.parse_args()
    live = live_against_tick_mode(args.rate, args.ticks)
    print(f"live on the sim at {live['rate']:g} ticks/s vs tick mode on the {live['ticks_seen']} ticks it saw: "
          f"{live['equal_fills']} of {live['live_fills']} fills equal ({live['tick_mode_fills']} in tick mode); "
          f"stored {live['stored_bytes_per_tick']:.1f} bytes a tick, JSON {live['json_bytes_per_tick']:.0f}")
    speed = replay_speed(args.replay)
    print(f"tick mode: {speed['tick_mode_ticks_per_s']:,.0f} ticks/s; the strategy's on_tick alone "
          f"{speed['on_tick_only_ticks_per_s']:,.0f} ticks/s (tick mode at {speed['ratio']:.1%} of it)")
    print(json.dumps({"live": live, "replay": speed}))
    return 0 if live["all_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
