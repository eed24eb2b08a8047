"""The night: a strategy holding lots goes through the settlement and a server restart, and holds.

Seen before: after the settlement and a restart the strategy resumed with an empty book (books were
rebuilt from the current trading day's fills only) and opened its two lots again, every time; during
the reconnect after the settlement the trading day went back to the previous day for a moment.
In process, with a clean restart; tests/e2e/test_strategy_crash.py does the same with kill -9.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import pytest
from flask import Flask

from backend import sim
from backend.app import create_app, shutdown
from backend.engine import events
from backend.strategy_runtime.manager import WorkerLimits
from lib.config import load_settings
from tests.integration.test_strategies import ACCESS, code

_names = itertools.count()

# Holds two lots long: buys one at a time until its book says two. It trusts only its own book
# (positions) and the orders it has in flight, as a strategy left running overnight would.
HOLDER = """
    def on_init(self):
        self.pending = 0

    def held(self):
        position = self.positions.get(f"{self.instruments[0]}.long")
        return position.volume if position else 0

    def on_tick(self, tick):
        if self.held() + self.pending < 2:
            self.pending += 1
            reply = self.buy(tick.limit_up, 1, tick)
            if not reply or not reply.get("ok"):
                self.pending -= 1

    def on_trade(self, trade):
        self.pending -= trade.volume
"""


class Night:
    """One data directory and one sim, and the apps that come and go over them."""

    def __init__(self, tmp_path: Path) -> None:
        self.sim_name = f"night{next(_names)}"
        self.settings = load_settings(None, environ={}, DATA_DIR=str(tmp_path), ACCESS_CODE=ACCESS,
                                      SIM_NAME=self.sim_name, SIM_QUERY_RATE=0, SIM_TICK_RATE=10)  # fmt: skip
        self.trading_days: list[str] = []  # every trading day any engine announced, in order
        self.app: Flask = self.start()
        self.headers = {"Authorization": f"JWT {self.login()}"}

    def start(self) -> Flask:
        app = create_app(self.settings)
        app.extensions["ctpdesk"].strategies.limits = WorkerLimits(memory_mb=512, ping_every=0.5, ping_timeout=5.0)
        engine = app.extensions["ctpdesk"].engine
        engine.bus.subscribe(events.STATUS, lambda _topic, status: self.trading_days.append(status["trading_day"]))
        return app

    def restart(self) -> None:
        shutdown(self.app)
        self.app = self.start()  # it logs back in and resumes the strategy by itself

    def login(self) -> str:
        answer = self.app.test_client().post("/login", json={"authorization": ACCESS, "userid": "demo",
                                                             "password": "demo"})  # fmt: skip
        assert answer.status_code == 200, answer.json
        return answer.json["data"]

    def call(self, method: str, path: str, **json: Any) -> Any:
        answer = getattr(self.app.test_client(), method)(path, json=json or None, headers=self.headers)
        assert answer.status_code == 200, (path, answer.json)
        return answer.json["data"]

    @property
    def engine(self) -> Any:
        return self.app.extensions["ctpdesk"].engine

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
        with gevent.Timeout(timeout, AssertionError(f"{what} not met within {timeout}s")):
            while True:
                result = condition()
                if result:
                    return result
                gevent.wait(timeout=0.05)

    def ticks(self, instrument: str, count: int) -> None:
        """Let `count` ticks of the instrument reach the engine (and the strategy) from now on."""
        seen = []
        self.engine.bus.subscribe(events.TICK, lambda _t, tick: tick.local_symbol == instrument and seen.append(1))
        self.wait(lambda: len(seen) >= count, f"{count} ticks of {instrument}")

    def held_at_counter(self, instrument: str) -> int:
        positions = self.call("get", "/order_solve")["position_list"]
        return sum(p["volume"] for p in positions if p["local_symbol"] == instrument and p["direction"] == "long")

    def book(self, name: str) -> list[tuple[str, str, int]]:
        listing = next(s for s in self.call("get", "/strategy") if s["name"] == name)
        return [(p["local_symbol"], p["direction"], p["volume"]) for p in listing["positions"] if p["volume"]]

    def strategy_orders(self, name: str) -> list[str]:
        return sorted(o["order_id"] for o in self.call("get", "/order_solve")["order_list"] if o["strategy"] == name)

    def close(self) -> None:
        shutdown(self.app)
        sim.shutdown(self.sim_name)


@pytest.fixture
def night(tmp_path: Path):
    night = Night(tmp_path)
    yield night
    night.close()


def test_a_strategys_lots_survive_the_settlement_and_a_restart(night: Night):
    contracts = night.call("get", "/contract?exchange=SHFE")
    instrument = next(c["local_symbol"] for c in contracts if c["local_symbol"].startswith("rb"))
    night.call("post", "/code", text=code("holder", instrument, HOLDER))
    night.call("put", "/strategy", name="holder", operation="start")
    night.wait(lambda: night.held_at_counter(instrument) == 2 and night.book("holder") == [(instrument, "long", 2)],
               "two lots held")  # fmt: skip
    night.ticks(instrument, 10)
    assert night.held_at_counter(instrument) == 2
    first_day = night.call("get", "/status")["trading_day"]

    settled = night.call("post", "/sim/settle")["trading_day"]
    assert settled > first_day
    night.wait(lambda: (s := night.call("get", "/status"))["td"]["state"] == "ready" and s["trading_day"] == settled,
               "the new trading day")  # fmt: skip
    night.ticks(instrument, 20)
    assert night.held_at_counter(instrument) == 2  # nothing bought again without a restart ...
    assert night.book("holder") == [(instrument, "long", 2)]
    assert night.strategy_orders("holder") == []  # ... and yesterday's orders are yesterday's
    overview = night.call("get", "/order_solve")

    night.restart()
    night.headers = {"Authorization": f"JWT {night.login()}"}
    manager = night.app.extensions["ctpdesk"].strategies
    night.wait(lambda: "holder" in manager.workers and night.engine.connected, "the strategy resumed")
    night.ticks(instrument, 20)
    assert night.book("holder") == [(instrument, "long", 2)]  # its book came back with it ...
    assert night.held_at_counter(instrument) == 2  # ... so it bought nothing again
    assert night.strategy_orders("holder") == []
    again = night.call("get", "/order_solve")
    for listing in ("order_list", "trade_list", "active_order_list"):  # the same day's lists after a restart
        assert again[listing] == overview[listing], listing
    days = [day for day in night.trading_days if day]
    assert days == sorted(days) and days[-1] == settled, days  # never back, not even for a moment


def test_a_book_of_a_day_the_server_missed_is_rolled_forward_at_the_start(night: Night):
    # The server was down at the settlement: the stored book is of the day before; its fills that day
    # count, and it becomes the new day's opening.
    contracts = night.call("get", "/contract?exchange=DCE")
    instrument = next(c["local_symbol"] for c in contracts if c["local_symbol"].startswith("m"))
    night.call("post", "/code", text=code("holder", instrument, HOLDER))
    night.call("put", "/strategy", name="holder", operation="start")
    night.wait(lambda: night.held_at_counter(instrument) == 2, "two lots held")
    first_day = night.call("get", "/status")["trading_day"]
    shutdown(night.app)
    settled = sim.control(night.sim_name).settle()  # while no server is there
    assert settled > first_day
    night.app = night.start()
    night.headers = {"Authorization": f"JWT {night.login()}"}
    manager = night.app.extensions["ctpdesk"].strategies
    night.wait(lambda: "holder" in manager.workers and night.engine.connected, "the strategy resumed")
    night.ticks(instrument, 20)
    assert night.call("get", "/status")["trading_day"] == settled
    assert night.book("holder") == [(instrument, "long", 2)]
    assert night.held_at_counter(instrument) == 2
    assert manager.books["holder"].day == settled
