"""kill -9 of a real server while a strategy floods its log and trades, then the night, then kill -9 again.

Seen before: after a kill -9 during a print flood the strategy's fills came back with no strategy
attached (its orders were still queued behind log rows, not in the journal), so a strategy meant to
hold 2 lots bought again and again (the counter held 8); after the settlement and a restart it
opened its lots again. The sim lives in the server's process, so kill -9 takes the counter down too;
its journal brings it back, as a real counter's own state would be there.
"""

from __future__ import annotations

import random
import time
from typing import Any

from tests.e2e.conftest import Desk, ServerFactory, SocketFactory, pause
from tests.e2e.test_web_flow import data_of, first_contract, is_tick_of
from tests.integration.test_strategies import code
from tests.integration.test_strategy_night import HOLDER

# The holder of test_strategy_night, printing 2,000 debug lines on every tick and trading only from its
# 8th tick on (about 2 s at the server's 4 ticks a second), when the flood has had time to pile up.
FLOODING_HOLDER = HOLDER.replace(
    "    def on_tick(self, tick):\n",
    "    def on_tick(self, tick):\n"
    "        for number in range(2000):\n"
    "            print('debug', number, tick.last_price)\n"
    "        self.seen = getattr(self, 'seen', 0) + 1\n"
    "        if self.seen < 8:\n"
    "            return\n",
)
WAIT = 40.0  # seconds for a restarted server to log back in, resume the strategy and settle down


def until(what: str, condition: Any, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} not within {timeout:g}s"
        pause(0.1)


def held(desk: Desk, name: str) -> tuple[int, int]:
    """(volume, yesterday's volume) of the long position at the counter."""
    for position in data_of(desk.api.get("/order_solve"))["position_list"]:
        if position["local_symbol"] == name and position["direction"] == "long":
            return position["volume"], position["yd_volume"]
    return 0, 0


def book(desk: Desk) -> list[tuple[str, str, int]]:
    listing = next(s for s in data_of(desk.api.get("/strategy")) if s["name"] == "holder")
    assert listing["status"] == "running", listing
    return [(p["local_symbol"], p["direction"], p["volume"]) for p in listing["positions"] if p["volume"]]


def quiet_ticks(desk: Desk, sockets: SocketFactory, name: str, count: int = 12) -> None:
    """Let the resumed strategy see `count` ticks of its instrument: time to send what it would send."""
    socket = sockets(desk, desk.token)
    data_of(desk.api.post("/market", json={"symbol": name}))
    for _ in range(count):
        since = socket.events.mark()
        socket.events.wait_for("tick", is_tick_of(name), since=since, timeout=15)


def test_kill_9_during_a_flood_and_after_the_settlement_buys_nothing_twice(
    server_factory: ServerFactory, sockets: SocketFactory, tmp_path_factory: Any
):
    seed = random.randrange(1_000_000)
    moments = random.Random(seed)
    data_dir = tmp_path_factory.mktemp("crash-data")
    settings = {"DATA_DIR": str(data_dir), "SIM_NAME": f"crash{data_dir.name}"}
    first = Desk(server_factory(data_dir=data_dir, **settings))
    name = first_contract(first, "rb", "SHFE")
    data_of(first.api.post("/code", json={"text": code("holder", name, FLOODING_HOLDER)}))
    data_of(first.api.put("/strategy", json={"name": "holder", "operation": "start"}))
    pause(moments.uniform(2.0, 4.0))  # somewhere in its first orders and fills, the flood going on
    first.server.process.kill()
    first.server.process.wait(timeout=10)

    second = Desk(server_factory(data_dir=data_dir, **settings))
    until("two lots held, and its book saying so", lambda: held(second, name)[0] == 2 and book(second) == [
        (name, "long", 2)])  # fmt: skip
    quiet_ticks(second, sockets, name)
    assert held(second, name)[0] == 2, f"seed {seed}"
    overview = data_of(second.api.get("/order_solve"))
    assert overview["trade_list"] and all(t["strategy"] == "holder" for t in overview["trade_list"]), overview
    assert sum(t["volume"] for t in overview["trade_list"]) == 2, f"seed {seed}: {overview['trade_list']}"

    day = data_of(second.api.get("/status"))["trading_day"]
    settled = data_of(second.api.post("/sim/settle"))["trading_day"]
    assert settled > day
    pause(moments.uniform(0.0, 1.0))  # the reconnect after the settlement, the books' roll, the flood
    second.server.process.kill()
    second.server.process.wait(timeout=10)

    third = Desk(server_factory(data_dir=data_dir, **settings))
    until("the new trading day", lambda: (s := data_of(third.api.get("/status")))["td"]["state"] == "ready"
          and s["trading_day"] == settled)  # fmt: skip
    until("the strategy resumed with its book", lambda: book(third) == [(name, "long", 2)])
    quiet_ticks(third, sockets, name)
    assert held(third, name) == (2, 2), f"seed {seed}"  # yesterday's two lots, nothing bought today
    assert not [o for o in data_of(third.api.get("/order_solve"))["order_list"] if o["strategy"] == "holder"]
    assert book(third) == [(name, "long", 2)]
