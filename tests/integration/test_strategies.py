"""Strategies in real worker processes, through the API, on the sim: lifecycle and failure modes."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest

from backend import sim
from backend.app import create_app, shutdown
from backend.strategy_runtime.manager import WorkerLimits
from lib.config import Settings, load_settings
from lib.price_grid import to_tick

ACCESS = "strategy-tests-code"
_names = itertools.count()

HEADER = "from backend.strategy import Strategy\n"


class Desk:
    def __init__(self, app: Any, token: str, sim_name: str) -> None:
        self.app = app
        self.client = app.test_client()
        self.headers = {"Authorization": f"JWT {token}"}
        self.sim_name = sim_name

    def call(self, method: str, path: str, **json: Any) -> Any:
        response = getattr(self.client, method)(path, json=json or None, headers=self.headers)
        return response

    def state(self, name: str) -> dict[str, Any]:
        listing = self.call("get", "/strategy").json["data"]
        return next(item for item in listing if item["name"] == name)

    def wait(self, condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
        """Let the gevent loop run (sockets, bridge, worker pipes) until `condition` holds."""
        with gevent.Timeout(timeout, AssertionError(f"{what} not met within {timeout}s")):
            while True:
                result = condition()
                if result:
                    return result
                gevent.idle()
                gevent.wait(timeout=0.05)

    def contract(self, prefix: str, exchange: str) -> str:
        contracts = self.call("get", f"/contract?exchange={exchange}").json["data"]
        return next(c["local_symbol"] for c in contracts if c["local_symbol"].startswith(prefix))


# A worker stuck in a callback is declared dead after 8 s (a server's default: 20 s); one that floods but
# returns is not. Not less: a worker's start (an interpreter, its imports) on a loaded machine counts.
LIMITS = WorkerLimits(memory_mb=512, ping_every=0.5, ping_timeout=8.0)


def make_desk(data_dir: Path, limits: WorkerLimits = LIMITS) -> Iterator[Desk]:
    """A logged-in app over its own sim (10 ticks a second) keeping its data in `data_dir`, torn down after."""
    name = f"strategies{next(_names)}"
    settings = load_settings(None, environ={}, DATA_DIR=str(data_dir), ACCESS_CODE=ACCESS, SIM_NAME=name,
                             SIM_QUERY_RATE=0, SIM_TICK_RATE=10)  # fmt: skip
    app = create_app(settings)
    app.extensions["ctpdesk"].strategies.limits = limits
    login = app.test_client().post("/login", json={"authorization": ACCESS, "userid": "demo", "password": "demo"})
    assert login.status_code == 200, login.json
    yield Desk(app, login.json["data"], name)
    shutdown(app)
    sim.shutdown(name)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    yield from make_desk(tmp_path)


def code(name: str, instrument: str, body: str, cls: str = "S") -> str:
    return (
        HEADER
        + f"class {cls}(Strategy):\n    instruments = [{instrument!r}]\n"
        + body
        + f"\next = {cls}({name!r})\n"
    )


# Buys one lot once. Not "while it has no order and no position": the counter may report an order filled
# before its trade, and a tick in between would find neither (the sim fills a marketable order at once).
BUYER = """
    bought = False

    def on_tick(self, tick):
        if not self.bought and not self.active_orders and not self.positions:
            self.bought = True
            self.buy(tick.limit_up, 1, tick)
        self.info("tick seen")
"""


def test_upload_start_trade_stop_update_delete(desk: Desk):
    instrument = desk.contract("m", "DCE")
    uploaded = desk.call("post", "/code", text=code("buyer", instrument, BUYER))
    assert uploaded.status_code == 200 and uploaded.json["data"]["status"] == "stopped"
    assert desk.call("get", "/code?name=buyer").json["data"]["text"].startswith(HEADER)
    assert desk.call("put", "/strategy", name="buyer", operation="start").json["data"]["status"] == "running"
    engine = desk.app.extensions["ctpdesk"].engine
    trade = desk.wait(lambda: [t for t in engine.oms.trades.values() if t.strategy == "buyer"], what="a fill")
    assert trade[0].local_symbol == instrument
    order = engine.oms.orders[trade[0].order_id]
    assert order.strategy == "buyer"  # every order is tagged with its strategy
    own = desk.state("buyer")["positions"]  # its positions and P&L, from its own fills only
    assert [(p["local_symbol"], p["direction"], p["volume"]) for p in own] == [(instrument, "long", 1)]
    assert own[0]["price"] == trade[0].price and isinstance(own[0]["position_profit"], float)
    desk.wait(lambda: any(r.owner == "buyer" for r in engine.logs), what="the strategy's log")
    # New code for a running strategy restarts it on that code.
    worker = desk.app.extensions["ctpdesk"].strategies.workers["buyer"]
    desk.call("post", "/code", text=code("buyer", instrument, BUYER.replace("tick seen", "new code")))
    assert desk.app.extensions["ctpdesk"].strategies.workers["buyer"] is not worker
    desk.wait(lambda: any(r.message == "new code" for r in engine.logs), what="the new code running")
    assert desk.call("put", "/strategy", name="buyer", operation="关闭").json["data"]["status"] == "stopped"
    assert worker.process.poll() is not None
    assert desk.call("delete", "/strategy", name="buyer").status_code == 200
    assert desk.call("get", "/code?name=buyer").status_code == 404


FAILURES = {
    "raises": ("    def on_tick(self, tick):\n        raise RuntimeError('boom in on_tick')\n", "boom in on_tick"),
    "endless_loop": ("    def on_tick(self, tick):\n        while True:\n            pass\n", "not responding"),
    "memory_hog": ("    def on_tick(self, tick):\n        self.hog = bytearray(4 * 1024 ** 3)\n", "MemoryError"),
    "forks": ("    def on_tick(self, tick):\n        import os\n        os.fork()\n", "not allowed"),
    "subprocess": ("    def on_tick(self, tick):\n        import subprocess\n        subprocess.run(['ls'])\n",
                   "not allowed"),
    "exits": ("    def on_tick(self, tick):\n        import os\n        os._exit(3)\n", "exited with code 3"),
    "no_ext": (None, "ext"),
}  # fmt: skip


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_failing_strategy_is_marked_error_and_nothing_else_stops(desk: Desk, failure: str):
    body, reason = FAILURES[failure]
    instrument = desk.contract("m", "DCE")
    desk.call("post", "/code", text=code("healthy", instrument, BUYER, cls="Healthy"))
    bad_code = code("bad", instrument, body) if body else HEADER + "x = 1\n"
    assert desk.call("post", "/code", text=bad_code, name="bad").status_code == 200
    desk.call("put", "/strategy", name="healthy", operation="start")
    desk.call("put", "/strategy", name="bad", operation="start")
    state = desk.wait(lambda: (s := desk.state("bad"))["status"] == "error" and s, what=f"{failure} marked error")
    assert reason in state["error"], state
    # The engine keeps trading and the other strategy keeps running.
    assert desk.state("healthy")["status"] == "running"
    engine = desk.app.extensions["ctpdesk"].engine
    assert engine.connected
    ticks_before = len(engine.oms.ticks)
    desk.wait(lambda: engine.oms.ticks and len(engine.oms.ticks) >= ticks_before, what="ticks still flowing")
    desk.wait(lambda: [t for t in engine.oms.trades.values() if t.strategy == "Healthy" or t.strategy == "healthy"],
              what="the healthy strategy trading")  # fmt: skip


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "x.py", "1abc", "", "a" * 65, "名字"])
def test_path_like_and_invalid_names_are_refused(desk: Desk, name: str):
    response = desk.call("post", "/code", text=HEADER + "x = 1\n", name=name)
    assert response.status_code == 400, response.json
    assert desk.call("get", "/strategy").json["data"] == []


def test_syntax_errors_are_refused_with_the_line(desk: Desk):
    response = desk.call("post", "/code", text="def broken(:\n    pass\n", name="broken")
    assert response.status_code == 400 and "line 1" in response.json["msg"]


def crashed_with_a_strategy(tmp_path: Path, strategy: str, source: str, **start: Any) -> Settings:
    """A server whose strategy `strategy` (`source` on a DCE contract) was started with `start`, then died without
    stopping it (its watchers die with it, then its workers); answers its settings, for the next server."""
    settings = load_settings(None, environ={}, DATA_DIR=str(tmp_path), ACCESS_CODE=ACCESS,
                             SIM_NAME=f"strategies{next(_names)}", SIM_QUERY_RATE=0, SIM_TICK_RATE=10)  # fmt: skip
    first = create_app(settings)
    try:
        client = first.test_client()
        token = client.post("/login", json={"authorization": ACCESS, "userid": "demo", "password": "demo"}).json["data"]
        headers = {"Authorization": f"JWT {token}"}
        instrument = next(c["local_symbol"] for c in client.get("/contract?exchange=DCE", headers=headers).json["data"])
        client.post("/code", json={"text": code(strategy, instrument, source)}, headers=headers)
        started = client.put("/strategy", json={"name": strategy, "operation": "start", **start}, headers=headers)
        assert started.status_code == 200, started.json
    finally:
        manager = first.extensions["ctpdesk"].strategies
        for worker in list(manager.workers.values()):
            manager._finish(worker)
            worker.process.kill()
        first.extensions["ctpdesk"].engine.close()
    return settings


def test_running_strategies_resume_after_a_server_restart(tmp_path: Path):
    settings = crashed_with_a_strategy(tmp_path, "survivor", BUYER)
    name = settings.SIM_NAME
    second = create_app(settings)  # nobody logs in: the server logs back in and resumes by itself
    try:
        manager = second.extensions["ctpdesk"].strategies
        with gevent.Timeout(30, AssertionError("the restarted server did not resume the strategy")):
            while "survivor" not in manager.workers:
                gevent.wait(timeout=0.05)
        assert second.extensions["ctpdesk"].engine.connected
        client = second.test_client()  # and a person logging in gets a token for the same account
        token = client.post("/login", json={"authorization": ACCESS, "userid": "demo", "password": "demo"}).json["data"]
        listing = client.get("/strategy", headers={"Authorization": f"JWT {token}"}).json["data"]
        assert [(s["name"], s["status"]) for s in listing] == [("survivor", "running")]
    finally:
        second.extensions["ctpdesk"].strategies.stop_all()
        second.extensions["ctpdesk"].engine.close()
        sim.shutdown(name)


def test_after_logout_a_restart_does_not_log_back_in(tmp_path: Path):
    name = f"strategies{next(_names)}"
    settings = load_settings(None, environ={}, DATA_DIR=str(tmp_path), ACCESS_CODE=ACCESS, SIM_NAME=name,
                             SIM_QUERY_RATE=0)  # fmt: skip
    first = create_app(settings)
    try:
        client = first.test_client()
        token = client.post("/login", json={"authorization": ACCESS, "userid": "demo", "password": "demo"}).json["data"]
        assert client.post("/logout", json={"authorization": ACCESS},
                           headers={"Authorization": f"JWT {token}"}).status_code == 200  # fmt: skip
    finally:
        first.extensions["ctpdesk"].engine.close()
    second = create_app(settings)
    try:
        assert second.extensions["ctpdesk"].session.auto_login is None  # nothing saved: nothing to resume
        assert second.extensions["ctpdesk"].engine.gateway is None
    finally:
        second.extensions["ctpdesk"].engine.close()
        sim.shutdown(name)


@pytest.mark.parametrize("example", ["tick_momentum", "double_ma"])
def test_the_shipped_examples_run_unmodified_on_the_sim(desk: Desk, example: str):
    text = (Path(__file__).resolve().parents[2] / "strategies" / f"{example}.py").read_text(encoding="utf-8")
    assert desk.call("post", "/code", text=text).json["data"]["name"] == example
    assert desk.call("put", "/strategy", name=example, operation="start").status_code == 200
    engine = desk.app.extensions["ctpdesk"].engine
    desk.wait(lambda: any(r.owner == example for r in engine.logs) or desk.state(example)["status"] == "error",
              what=f"{example} starting")  # fmt: skip
    assert desk.state(example)["status"] == "running", desk.state(example)
    if example == "tick_momentum":  # a few rising ticks on the sim's random walk are enough for it to trade
        desk.wait(lambda: [t for t in engine.oms.trades.values() if t.strategy == example], 60, "a trade")


RESTER = """
    def on_tick(self, tick):
        if not self.active_orders:
            self.buy(tick.limit_down, 1, tick)  # rests: far below the market
"""


def test_stop_can_cancel_the_strategys_working_orders(desk: Desk):
    instrument = desk.contract("m", "DCE")
    desk.call("post", "/code", text=code("rester", instrument, RESTER))
    desk.call("put", "/strategy", name="rester", operation="start")
    engine = desk.app.extensions["ctpdesk"].engine
    desk.wait(lambda: [o for o in engine.oms.active_orders() if o.strategy == "rester"], what="a resting order")
    stopped = desk.call("put", "/strategy", name="rester", operation="stop", cancel_orders=True)
    assert stopped.status_code == 200 and stopped.json["data"]["status"] == "stopped"
    desk.wait(lambda: not [o for o in engine.oms.active_orders() if o.strategy == "rester"], what="cancelled")


SLIPPER = """
    sent = False

    def on_tick(self, tick):
        if self.sent:
            return
        self.sent = True
        self.step, self.limit_up = self.contracts[tick.local_symbol].pricetick, tick.limit_up
        self.buy(tick.limit_up - self.step, 1, tick)  # fills (first: later it would cross its own short)
        self.buy(tick.limit_down + 10 * self.step, 1, tick)  # rests, far below the market
        self.short(tick.limit_up - 10 * self.step, 1, tick)  # rests, far above it

    def on_trade(self, trade):
        if trade.direction == "long" and trade.offset == "open":
            self.sell(self.limit_up - 10 * self.step, 1, trade)  # rests, far above the market
"""


def test_the_strategy_helpers_move_their_prices_by_the_sides_slippage(desk: Desk):
    settings = {"SLIPPAGE_BUY": 2, "SLIPPAGE_SHORT": 3, "SLIPPAGE_COVER": 0, "SLIPPAGE_SELL": 1}
    assert desk.call("put", "/config", **settings).status_code == 200
    instrument = desk.contract("m", "DCE")
    desk.call("post", "/code", text=code("slipper", instrument, SLIPPER))
    desk.call("put", "/strategy", name="slipper", operation="start")
    engine = desk.app.extensions["ctpdesk"].engine
    orders = desk.wait(lambda: len(mine := [o for o in engine.oms.orders.values() if o.strategy == "slipper"]) == 4
                       and mine, what="the strategy's four orders")  # fmt: skip
    step, tick = engine.oms.contract(instrument).pricetick, engine.oms.ticks[instrument]
    sent = sorted((o.direction.value, o.offset.value, o.price) for o in orders)
    assert sent == sorted([
        ("long", "open", to_tick(tick.limit_down + 12 * step, step)),  # SLIPPAGE_BUY: 2 ticks up
        ("long", "open", tick.limit_up),  # 2 ticks up would pass the upper limit
        ("short", "open", to_tick(tick.limit_up - 13 * step, step)),  # SLIPPAGE_SHORT: 3 ticks down
        ("short", "close", to_tick(tick.limit_up - 11 * step, step)),  # SLIPPAGE_SELL: 1 tick down
    ])  # fmt: skip
