"""Strategies that print too much cannot starve the server, its memory or its journal.

Real worker processes on the sim, through the API, as in test_strategies.py. Memory is this
process's resident set (the server runs in it); the figures in the issue were 87 MB -> 2.8 GB in 20 s
for a print loop and 5-8 MB/s for a progress line without a newline.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest

from backend.strategy_runtime.manager import STDERR_TAIL
from backend.strategy_runtime.throttle import SERVER_LOG_RATE
from tests.integration.test_strategies import LIMITS, Desk, code, make_desk

MB = 1024 * 1024
GROWTH_LIMIT = 150 * MB  # what the server may grow by while a strategy floods it for a few seconds


def rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * 4096


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    yield from make_desk(tmp_path)


def strategy_lines(desk: Desk, name: str) -> list[str]:
    engine = desk.app.extensions["ctpdesk"].engine
    return [record.message for record in engine.logs if record.owner == name]


def stored_log_count(desk: Desk, name: str) -> int:
    store = desk.app.extensions["ctpdesk"].store
    return sum(1 for row in store.recent_logs(100_000) if row.get("owner") == name)


FLOOD = """
    def on_tick(self, tick):
        for number in range(5000):
            print("debug", number, tick.last_price)
"""


def test_a_print_flood_is_throttled_said_and_kept_out_of_the_journals_way(desk: Desk):
    instrument = desk.contract("m", "DCE")
    desk.call("post", "/code", text=code("chatty", instrument, FLOOD))
    before = rss()
    desk.call("put", "/strategy", name="chatty", operation="start")
    engine = desk.app.extensions["ctpdesk"].engine
    desk.wait(lambda: any("log lines dropped" in line for line in strategy_lines(desk, "chatty")), 15,
              "the dropped lines said")  # fmt: skip
    started = gevent.get_hub().loop.now()
    # An order placed while the flood goes on is in the store at once (it is journaled before it is sent).
    tick = desk.wait(lambda: engine.oms.ticks.get(instrument), what="a tick")
    order = desk.call("post", "/order_solve", local_symbol=instrument, direction="long", offset="open",
                      type="limit", price=tick.limit_down, volume=1).json["data"]  # fmt: skip
    store = desk.app.extensions["ctpdesk"].store
    desk.wait(lambda: any(row["order_id"] == order["order_id"] for row in store.load_orders(engine.trading_day)),
              3.0, "the order in the store within three seconds")  # fmt: skip (at once; a loaded machine may stall)
    # flooding for longer than a worker may go without answering a ping: it answers them all along
    desk.wait(lambda: gevent.get_hub().loop.now() - started > LIMITS.ping_timeout + 1, LIMITS.ping_timeout + 10,
              "a ping timeout's worth of flood")  # fmt: skip
    assert desk.state("chatty")["status"] == "running"  # it returns from its callbacks: throttled, not stopped
    seconds = gevent.get_hub().loop.now() - started + 15
    # At 10 ticks a second it prints 50,000 lines a second; the server took a few dozen a second.
    assert len(strategy_lines(desk, "chatty")) <= 200  # the engine's recent history is bounded anyway
    engine_logged = stored_log_count(desk, "chatty")
    assert 0 < engine_logged <= SERVER_LOG_RATE * seconds, engine_logged
    assert rss() - before < GROWTH_LIMIT


ENDLESS = """
    def on_tick(self, tick):
        number = 0
        while True:
            number += 1
            print("still here", number)
"""


def test_an_endless_print_loop_is_stopped_with_the_reason(desk: Desk):
    instrument = desk.contract("m", "DCE")
    desk.call("post", "/code", text=code("looper", instrument, ENDLESS))
    before = rss()
    desk.call("put", "/strategy", name="looper", operation="start")
    # Its log lines are no sign of life: only the heartbeat between callbacks is.
    state = desk.wait(lambda: (s := desk.state("looper"))["status"] == "error" and s, 20, "the loop stopped")
    assert "not responding" in state["error"], state
    assert rss() - before < GROWTH_LIMIT


PROGRESS = """
    def on_tick(self, tick):
        import os, sys
        for step in range(100):
            sys.stderr.write(f"\\rprogress {step}% " + "#" * 2000)  # what tqdm prints: never a newline
            os.write(2, b"\\r" + b"=" * 60000)  # and straight into the pipe, as native code would
"""


def test_a_progress_line_without_a_newline_cannot_grow_the_servers_memory(desk: Desk):
    instrument = desk.contract("m", "DCE")
    desk.call("post", "/code", text=code("progress", instrument, PROGRESS))
    manager = desk.app.extensions["ctpdesk"].strategies
    before = rss()
    desk.call("put", "/strategy", name="progress", operation="start")
    worker = desk.wait(lambda: manager.workers.get("progress"), what="the worker")
    desk.wait(lambda: len(worker.stderr_tail) == STDERR_TAIL, what="its stderr read")
    started = gevent.get_hub().loop.now()
    desk.wait(lambda: gevent.get_hub().loop.now() - started > 5, 10, "five seconds of progress lines")
    assert len(worker.stderr_tail) == STDERR_TAIL
    assert rss() - before < GROWTH_LIMIT
    assert desk.state("progress")["status"] == "running"  # noisy, not dead
    assert any(line.startswith("progress ") for line in strategy_lines(desk, "progress"))  # the lines became logs


OVERSIZED = """
    def on_tick(self, tick):
        if not getattr(self, "tried", False):
            self.tried = True
            reply = self.buy(tick.limit_up, 100000, tick)
            self.info(f"reply ok={reply['ok']}")

    def on_order(self, order):
        self.info(f"on_order {order.status}: {order.status_msg}")
"""


def test_an_order_refused_before_the_counter_reaches_the_strategys_on_order(desk: Desk):
    instrument = desk.contract("m", "DCE")
    desk.call("post", "/code", text=code("oversized", instrument, OVERSIZED))
    desk.call("put", "/strategy", name="oversized", operation="start")
    line = desk.wait(lambda: next((m for m in strategy_lines(desk, "oversized") if m.startswith("on_order")), None),
                     what="on_order of the refused order")  # fmt: skip
    assert line.startswith("on_order rejected: ") and "volume must be between" in line, line
    assert "reply ok=False" in strategy_lines(desk, "oversized")
    engine = desk.app.extensions["ctpdesk"].engine
    assert not [o for o in engine.oms.orders.values() if o.strategy == "oversized"]  # nothing was sent
