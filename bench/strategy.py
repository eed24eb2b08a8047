"""Strategy workers: ticks a second a worker takes, and tick -> strategy order -> counter latency.

    .venv/bin/python bench/strategy.py [--ticks 50000] [--orders 300]

Baselines in the same run: the same strategy class driven in this process by the same dispatcher
(no process boundary, no pipes), for both figures. Targets (issue 5): a worker keeps up with 5,000
ticks a second; tick -> order median under 2 ms. The JSON summary is the last line of stdout.

The desk runs with the risk engine on, so its checks are in the latency, and its rate limits lifted
(RISK: orders a second, a strategy's orders a second, orders a day, the high-frequency line): the
strategy sends its orders as fast as they fill, and this measures the order path, not the limits.
The position and working-order limits stay at their defaults (it holds one lot at most).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.setswitchinterval(0.001)  # as run.py sets it for the server
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import gevent  # noqa: E402

from backend import sim  # noqa: E402
from backend.app import create_app  # noqa: E402
from backend.engine import events  # noqa: E402
from backend.strategy_runtime.dispatch import Dispatcher  # noqa: E402
from lib.config import load_settings  # noqa: E402

ACCESS = "bench-strategy-code"
RISK = {"RISK_ENABLED": True, "RISK_ORDERS_PER_SECOND": 0, "RISK_STRATEGY_ORDERS_PER_SECOND": 0,
        "RISK_ORDERS_PER_DAY": 0, "RISK_ENFORCE_HFT_LINE": False}  # fmt: skip
COUNTER = """
from backend.strategy import Strategy

class Counter(Strategy):
    instruments = [{instrument!r}]
    def on_init(self):
        self.count = 0
    def on_tick(self, tick):
        self.count += 1
        if tick.volume < 0:  # the marker tick: report how many came before it
            self.info("count %d" % self.count)
        elif tick.volume == 0 and tick.last_price > 0:  # an order trigger: buy, then sell, and so on
            self.triggers = getattr(self, "triggers", 0) + 1
            if self.triggers % 2:
                self.buy(tick.limit_up, 1, tick)
            else:
                self.sell(tick.limit_down, 1, tick)

ext = Counter("counter")
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def wait_for(condition: Any, timeout: float) -> Any:
    with gevent.Timeout(timeout, TimeoutError("bench condition not met")):
        while not (result := condition()):
            gevent.idle()
            gevent.wait(timeout=0.001)
        return result


def tick_payload(template: dict[str, Any], volume: int) -> dict[str, Any]:
    return dict(template, volume=volume)


def run(ticks: int, orders: int) -> dict[str, Any]:
    name = "bench-strategy"
    with tempfile.TemporaryDirectory() as scratch:
        settings = load_settings(None, environ={}, DATA_DIR=scratch, ACCESS_CODE=ACCESS, SIM_NAME=name,
                                 SIM_QUERY_RATE=0, SIM_TICK_RATE=0.0001, **RISK)  # fmt: skip
        app = create_app(settings)
        desk = app.extensions["ctpdesk"]
        client = app.test_client()
        try:
            token = client.post("/login", json={"authorization": ACCESS, "userid": "demo", "password": "demo"})
            headers = {"Authorization": f"JWT {token.json['data']}"}
            contracts = client.get("/contract?exchange=DCE", headers=headers).json["data"]
            instrument = next(c["local_symbol"] for c in contracts if c["local_symbol"].startswith("m"))
            sim.control(name).set_price(instrument.split(".")[0], 3000)
            source = COUNTER.format(instrument=instrument)
            client.post("/code", json={"text": source}, headers=headers)
            client.put("/strategy", json={"name": "counter", "operation": "start"}, headers=headers)
            manager = desk.strategies
            worker = wait_for(lambda: manager.workers.get("counter") and manager.workers["counter"].instruments
                              and manager.workers["counter"], 30)  # fmt: skip
            template = wait_for(lambda: desk.engine.oms.ticks.get(instrument), 30).to_dict()
            template["volume"] = 1
            return {
                "worker": throughput(desk, worker, template, ticks),
                "baseline": baseline_throughput(source, template, ticks),
                "latency": latency(desk, worker, template, orders),
                "baseline_latency": baseline_latency(source, template, orders),
                "risk": {"enabled": desk.engine.risk.limits.enabled,
                         "orders_counted": desk.engine.risk.counters.actions},  # it checked and counted them all
            }
        finally:
            desk.strategies.stop_all()
            desk.engine.close()
            sim.shutdown(name)


def throughput(desk: Any, worker: Any, template: dict[str, Any], ticks: int) -> dict[str, float]:
    engine = desk.engine
    seen = len(engine.logs)
    started = time.perf_counter()
    for index in range(ticks):
        worker.outbox.put_nowait({"k": "tick", "d": template})
        if index % 1000 == 0:
            gevent.idle()
    worker.outbox.put_nowait({"k": "tick", "d": tick_payload(template, -1)})
    wait_for(lambda: any(r.message.startswith("count") for r in list(engine.logs)[seen - len(engine.logs):]), 120)
    elapsed = time.perf_counter() - started
    return {"ticks": ticks, "ticks_per_s": ticks / elapsed}


def baseline_throughput(source: str, template: dict[str, Any], ticks: int) -> dict[str, float]:
    namespace: dict[str, Any] = {"__name__": "strategy"}
    exec(compile(source, "<bench>", "exec"), namespace)  # noqa: S102 - the same code, in this process
    strategy = namespace["ext"]
    strategy._send = lambda command: None
    dispatcher = Dispatcher(strategy, {})
    strategy.on_init()
    started = time.perf_counter()
    for _ in range(ticks):
        dispatcher.dispatch({"k": "tick", "d": template})
    elapsed = time.perf_counter() - started
    return {"ticks": ticks, "ticks_per_s": ticks / elapsed}


def latency(desk: Any, worker: Any, template: dict[str, Any], orders: int) -> dict[str, float]:
    """From handing the worker a trigger tick to the counter's acknowledgement of the resulting order."""
    samples: list[float] = []
    acknowledged: dict[str, float] = {}
    fills: list[str] = []

    def on_order(topic: str, order: Any) -> None:
        if order.strategy == "counter" and order.order_id not in acknowledged and order.status.value != "submitting":
            acknowledged[order.order_id] = time.perf_counter()

    def on_trade(topic: str, trade: Any) -> None:
        if trade.strategy == "counter":
            fills.append(trade.order_id)

    desk.engine.bus.subscribe(events.ORDER, on_order)
    desk.engine.bus.subscribe(events.TRADE, on_trade)
    market = sim.control("bench-strategy")
    symbol = template["symbol"]
    for _ in range(orders):
        market.set_price(symbol, template["last_price"])  # a fresh book: the last fills took its volume
        before = set(acknowledged)
        started = time.perf_counter()
        worker.outbox.put_nowait({"k": "tick", "d": tick_payload(template, 0)})
        new = wait_for(lambda before=before: set(acknowledged) - before, 10)
        samples.append((acknowledged[next(iter(new))] - started) * 1e6)
        # The fill and the strategy's new position reach the worker before the next trigger.
        wait_for(lambda new=new: not desk.engine.oms.active_orders() and set(new) <= set(fills), 10)
    desk.engine.bus.unsubscribe(events.ORDER, on_order)
    desk.engine.bus.unsubscribe(events.TRADE, on_trade)
    return {"orders": orders, "median_us": statistics.median(samples), "p99_us": percentile(samples, 0.99)}


def baseline_latency(source: str, template: dict[str, Any], orders: int) -> dict[str, float]:
    """The same trigger tick through the strategy in this process, up to the order command."""
    namespace: dict[str, Any] = {"__name__": "strategy"}
    exec(compile(source, "<bench>", "exec"), namespace)  # noqa: S102
    strategy = namespace["ext"]
    sent: list[float] = []
    strategy._send = lambda command: sent.append(time.perf_counter())
    dispatcher = Dispatcher(strategy, {})
    strategy.on_init()
    samples = []
    for _ in range(orders):
        started = time.perf_counter()
        dispatcher.dispatch({"k": "tick", "d": tick_payload(template, 0)})
        samples.append((sent[-1] - started) * 1e6)
    return {"orders": orders, "median_us": statistics.median(samples), "p99_us": percentile(samples, 0.99)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ticks", type=int, default=50_000)
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()
    result = run(args.ticks, args.orders)
    worker, base = result["worker"], result["baseline"]
    lat, base_lat = result["latency"], result["baseline_latency"]
    print(f"{'measure':<48}{'worker':>12}{'in-process':>12}{'ratio':>8}")
    print(f"{'ticks a second a strategy takes':<48}{worker['ticks_per_s']:>12,.0f}{base['ticks_per_s']:>12,.0f}"
          f"{base['ticks_per_s'] / worker['ticks_per_s']:>8.1f}")  # fmt: skip
    print(f"{'tick -> order -> counter median (us)':<48}{lat['median_us']:>12,.0f}{base_lat['median_us']:>12,.1f}"
          f"{lat['median_us'] / base_lat['median_us']:>8.0f}")  # fmt: skip
    print(f"{'tick -> order -> counter p99 (us)':<48}{lat['p99_us']:>12,.0f}{base_lat['p99_us']:>12,.1f}")
    print(f"targets: >= 5,000 ticks/s: {'met' if worker['ticks_per_s'] >= 5000 else 'MISSED'}; "
          f"median < 2,000 us: {'met' if lat['median_us'] < 2000 else 'MISSED'}")
    print(f"risk engine {'on' if result['risk']['enabled'] else 'OFF'} with its rate limits lifted: it counted "
          f"{result['risk']['orders_counted']:,} orders")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
