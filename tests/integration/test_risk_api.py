"""Risk limits and the kill switch through the REST API, in process over the sim (Flask's test client).

Each rule: accepted just below its line, refused at it with a 400 whose message names the rule and the
figure, nothing sent (the order list unchanged), a `risk` event on the engine's bus and a log line. The
limits are set through PUT /risk, the counters read through GET /risk. The kill switch: strategies
stopped, working orders cancelled, positions closed (SHFE's today and yesterday lots apart), orders
refused until DELETE /kill, also while the counter answers slowly. Nothing sleeps: every wait is on the
engine's events (Web.wait), bounded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backend import sim
from backend.engine import events
from tests.integration.test_strategies import code
from tests.integration.test_web_api import (
    Web,
    _buy,
    _position,
    first_contract,
    make_web,
    order_ids,
    subscribed_tick,
)


class RiskDesk:
    """A logged-in app over its own sim, and the `risk` events its engine published."""

    def __init__(self, web: Web) -> None:
        self.web = web
        self.events: list[dict[str, Any]] = []
        web.engine.bus.subscribe(events.RISK, lambda _topic, payload: self.events.append(payload))

    def put_risk(self, **changes: Any) -> dict[str, Any]:
        return self.web.ok("PUT", "/risk", json=changes)

    def order(self, name: str, price: float, volume: int = 1, direction: str = "long",
              offset: str = "open") -> tuple[int, dict[str, Any]]:  # fmt: skip
        return self.web.call("POST", "/order_solve", json={"local_symbol": name, "direction": direction,
                                                           "offset": offset, "type": "limit", "price": price,
                                                           "volume": volume})  # fmt: skip

    def accepted(self, name: str, price: float, volume: int = 1, direction: str = "long") -> dict[str, Any]:
        status, body = self.order(name, price, volume, direction)
        assert status == 200, body
        return body["data"]

    def refused(self, name: str, price: float, message: str, volume: int = 1, direction: str = "long",
                strategy: str = "") -> None:  # fmt: skip
        """400 with `message` (after the field, "risk"), nothing sent, a risk event and a log line."""
        before = order_ids(self.web)
        status, body = self.order(name, price, volume, direction)
        assert (status, body["msg"]) == (400, f"risk: {message}"), body
        assert order_ids(self.web) == before
        self.assert_told(message, name, strategy)

    def assert_told(self, message: str, name: str, strategy: str = "") -> None:
        assert {"kind": "refused", "rule": message.split(":", 1)[0], "message": message, "local_symbol": name,
                "strategy": strategy} in self.events  # fmt: skip
        assert any(record.message == f"risk: {message}" and record.owner == (strategy or "risk")
                   and record.levelname == "WARNING" for record in self.web.engine.logs)  # fmt: skip

    def working(self) -> list[dict[str, Any]]:
        return self.web.ok("GET", "/order_solve")["active_order_list"]

    def counter(self, what: str) -> dict[str, Any]:
        return next(line for line in self.web.ok("GET", "/risk")["counters"] if line["what"] == what)


@pytest.fixture
def desks(tmp_path: Path) -> Iterator[Callable[..., RiskDesk]]:
    made: list[Web] = []

    def make(data_dir: Path | None = None, sim_name: str | None = None, restart: bool = False,
             **settings: Any) -> RiskDesk:  # fmt: skip
        web = make_web(data_dir or tmp_path / f"app{len(made)}", sim_name, **settings)
        made.append(web)
        if restart:  # the server logs back in by itself
            web.token = web.mint()
            web.wait("logged back in", lambda: web.engine.connected)
        else:
            web.log_in()
        return RiskDesk(web)

    yield make
    for web in reversed(made):
        web.close()


@pytest.fixture
def desk(desks: Callable[..., RiskDesk]) -> RiskDesk:
    return desks()


def dce(desk: RiskDesk, index: int = 0) -> tuple[str, dict[str, Any]]:
    """A DCE soybean meal contract (1000 lots at most in one order) and its tick."""
    listed = desk.web.ok("GET", "/contract", query_string={"product": "m", "exchange": "DCE"})
    name = sorted(item["local_symbol"] for item in listed if item["is_trading"])[index]
    return name, subscribed_tick(desk.web, name)


# --- one order -----------------------------------------------------------------------------------------------
def test_volume_per_order(desk: RiskDesk):
    name, tick = dce(desk)
    desk.put_risk(max_order_volume=3)
    desk.accepted(name, tick["limit_down"], 3)
    desk.refused(name, tick["limit_down"], f"order volume: 4 lots, at most 3 in one order of {name}", 4)


def test_working_orders_at_once(desk: RiskDesk):
    name, tick = dce(desk)
    desk.put_risk(max_working_orders=2)
    desk.accepted(name, tick["limit_down"])
    desk.accepted(name, tick["limit_down"])
    desk.refused(name, tick["limit_down"], "working orders: 2 working, the limit is 2")
    # one finished frees its place
    desk.web.ok("DELETE", "/order_solve", json={"order_id": desk.working()[0]["order_id"]})
    desk.accepted(name, tick["limit_down"])


def test_position_per_contract_counts_held_and_working_lots(desk: RiskDesk):
    name, tick = dce(desk)
    desk.put_risk(max_position_per_contract=4)
    _buy(desk.web, name, tick["limit_up"], 2)  # held
    desk.accepted(name, tick["limit_down"], 1)  # working
    desk.refused(name, tick["limit_down"], f"position per contract: 3 long lots of {name} held or working, 2 more "
                                           f"would pass the limit of 4", 2)  # fmt: skip
    desk.accepted(name, tick["limit_down"], 1)
    desk.accepted(name, tick["limit_up"], 4, direction="short")  # the other side has its own count


def test_position_per_product_adds_the_products_contracts(desk: RiskDesk):
    first, tick = dce(desk, 0)
    second, second_tick = dce(desk, 1)
    desk.put_risk(max_position_per_product=5, max_position_per_contract=0)
    desk.accepted(first, tick["limit_down"], 3)
    desk.accepted(second, second_tick["limit_down"], 2)
    desk.refused(second, second_tick["limit_down"], "position per product: 6 long lots of DCE.m with this order, "
                                                    "the limit is 5")  # fmt: skip
    assert desk.web.ok("GET", "/risk")["limits"]["max_position_per_product"] == 5


# --- order flow ------------------------------------------------------------------------------------------------
def test_the_order_rate_per_second(desk: RiskDesk):
    name, tick = dce(desk)
    desk.put_risk(orders_per_second=3)
    accepted = 0
    for _ in range(20):  # the line is 3 a second: three are accepted at once, then the next is refused
        status, body = desk.order(name, tick["limit_down"])
        if status != 200:
            break
        accepted += 1
    assert (status, body["msg"]) == (400, "risk: order rate: 3 orders and cancels in the last second, the limit is 3")
    assert accepted >= 3
    desk.assert_told("order rate: 3 orders and cancels in the last second, the limit is 3", name)
    assert desk.counter("orders and cancels in the last second")["line"] == 3


def test_cancels_per_contract_are_refused_just_below_the_exchanges_line(desk: RiskDesk):
    name = first_contract(desk.web, "rb", "SHFE")
    tick = subscribed_tick(desk.web, name)
    desk.put_risk(cancel_margin=495, orders_per_second=0)  # SHFE's line is 500: refused from the 5th
    orders = [desk.accepted(name, tick["limit_down"]) for _ in range(6)]
    for order in orders[:5]:
        assert desk.web.ok("DELETE", "/order_solve", json={"order_id": order["order_id"]})["status"] == "cancelled"
    message = f"cancels per contract: 5 cancels of {name} today; the exchange's line is 500, refused from 5"
    status, body = desk.web.call("DELETE", "/order_solve", json={"order_id": orders[5]["order_id"]})
    assert (status, body["msg"]) == (400, f"risk: {message}")
    assert [order["order_id"] for order in desk.working()] == [orders[5]["order_id"]]  # still working
    desk.assert_told(message, name)
    # GET /risk: the count, the exchange's line and how close it is
    assert desk.counter(f"{name} cancels") == {"what": f"{name} cancels", "count": 5, "line": 500, "share": 0.01}
    assert desk.counter("orders and cancels today")["count"] == 11  # 6 orders, 5 cancels: the refused one is not


def test_counters_survive_a_restart_of_the_server(desks: Callable[..., RiskDesk], tmp_path: Path):
    first = desks(tmp_path / "kept", "risksurvives")
    name, tick = dce(first)
    order = first.accepted(name, tick["limit_down"])
    first.web.ok("DELETE", "/order_solve", json={"order_id": order["order_id"]})
    first.put_risk(max_order_volume=9)
    first.web.ok("POST", "/kill", json={"reason": "before the restart"})
    first.web.close()
    second = desks(tmp_path / "kept", "risksurvives", restart=True)
    risk = second.web.ok("GET", "/risk")
    assert risk["killed"] == "before the restart" and risk["limits"]["max_order_volume"] == 9
    assert second.counter(f"{name} cancels")["count"] == 1
    assert second.counter("orders and cancels today")["count"] == 2


# --- self-trades -------------------------------------------------------------------------------------------------
def test_self_trades_are_refused_by_default(desk: RiskDesk):
    name, tick = dce(desk)
    pricetick = desk.web.ok("GET", "/contract", query_string={"local_symbol": name})["pricetick"]
    bid = desk.accepted(name, tick["limit_down"] + 5 * pricetick)
    desk.refused(name, tick["limit_down"] + 5 * pricetick, f"self-trade: it would trade with the account's own "
                 f"working order {bid['order_id']} on the other side (the exchange counts self-trades)",
                 direction="short")  # fmt: skip
    desk.accepted(name, tick["limit_up"], direction="short")  # above our own bid: no self-trade


def test_self_trade_prevention_can_cancel_the_resting_order_first(desk: RiskDesk):
    name, tick = dce(desk)
    desk.put_risk(self_trade="cancel_resting")
    bid = desk.accepted(name, tick["limit_down"])
    sell = desk.accepted(name, tick["limit_down"], direction="short")  # it would have traded with the bid
    orders = {order["order_id"]: order for order in desk.web.ok("GET", "/order_solve")["order_list"]}
    assert orders[bid["order_id"]]["status"] == "cancelled"
    assert sell["order_id"] in orders and not desk.events  # nothing refused
    assert desk.counter(f"{name} cancels")["count"] == 1  # the exchange counts that cancel too


# --- the daily loss ----------------------------------------------------------------------------------------------
def test_the_daily_loss_limit_stops_opening_orders_and_can_trip_the_kill_switch(desks: Callable[..., RiskDesk]):
    desk = desks(SIM_TICK_RATE=0, REFRESH_INTERVAL=1)  # a market that moves only when told: the loss stays put
    name = first_contract(desk.web, "rb", "SHFE")
    control = sim.control(desk.web.sim_name)
    control.set_price(name.split(".")[0], 3200.0)
    tick = subscribed_tick(desk.web, name)
    _buy(desk.web, name, tick["limit_up"], 2)
    control.set_price(name.split(".")[0], 3100.0)  # 2 lots of 10 tons, 100 lower: about 2,000 lost
    account = desk.web.engine.oms

    def loss() -> float:
        return account.account.pre_balance - account.account.balance if account.account else 0.0

    desk.web.wait("the loss in the account", lambda: loss() > 1900)
    lost = loss()
    desk.put_risk(daily_loss_limit=math.nextafter(lost, math.inf))
    desk.accepted(name, tick["limit_down"])
    desk.put_risk(daily_loss_limit=lost)
    desk.refused(name, tick["limit_down"], f"daily loss: {lost:,.2f} lost today, the limit is {lost:,.2f}; "
                                           f"only closing orders are accepted")  # fmt: skip
    closing = desk.web.ok("POST", "/close_position", json={"local_symbol": name, "direction": "long", "volume": 1,
                                                            "price": tick["limit_up"]})  # fmt: skip
    assert [order["offset"] for order in closing] == ["closetoday"]
    assert desk.web.ok("GET", "/risk")["killed"] == ""
    # with kill_on_loss the next account figures trip the kill switch
    desk.put_risk(kill_on_loss=True)
    killed = desk.web.wait("the kill switch", lambda: desk.web.ok("GET", "/risk")["killed"])
    assert killed == f"the daily loss limit of {lost:,.2f} was reached"
    desk.web.wait("the working orders cancelled", lambda: desk.working() == [])
    desk.refused(name, tick["limit_down"], f"kill switch: on ({killed}); no new orders until it is re-armed "
                                           f"(DELETE /kill)")  # fmt: skip


# --- PUT /risk ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("changes, message", [
    ({"bogus": 1}, "bogus"),
    ({"max_order_volume": True}, "max_order_volume: expected a number"),
    ({"max_order_volume": -1}, "max_order_volume must be 0 or more"),
    ({"warn_share": -0.5}, "warn_share must be 0 or more"),
    ({"max_order_volume": 1.5}, "max_order_volume"),
    ({"self_trade": "maybe"}, "self_trade must be one of refuse, cancel_resting, off"),
    ({"max_order_volume": 5, "orders_per_day": -3}, "orders_per_day must be 0 or more"),
    ({"strategies": {"s1": {"orders_per_day": 5}}}, "orders_per_day: not a per-strategy limit"),
    ({"strategies": {"s1": {"max_order_volume": -5}}}, "max_order_volume must be 0 or more"),
    ({"strategies": {"s1": {"max_order_volume": True}}}, "max_order_volume"),
])  # fmt: skip
def test_put_risk_refuses_bad_values_and_changes_nothing(desk: RiskDesk, changes: dict[str, Any], message: str):
    before = desk.web.ok("GET", "/risk")
    status, body = desk.web.call("PUT", "/risk", json=changes)
    assert status == 400 and message in body["msg"], body
    after = desk.web.ok("GET", "/risk")
    assert (after["limits"], after["strategies"]) == (before["limits"], before["strategies"])


def test_put_risk_takes_numbers_from_a_form_and_per_strategy_limits(desk: RiskDesk):
    data = desk.web.ok("PUT", "/risk", data={"max_order_volume": "7", "enforce_reporting_line": "true"})
    assert data["limits"]["max_order_volume"] == 7 and data["limits"]["enforce_reporting_line"] is True
    data = desk.put_risk(strategies={"s1": {"max_order_volume": 2}})
    assert data["strategies"] == {"s1": {"max_order_volume": 2}} and data["limits"]["max_order_volume"] == 7


# --- through a strategy -----------------------------------------------------------------------------------------------
TRIES = """
    def on_init(self):
        self.tried = False

    def on_tick(self, tick):
        if self.tried:
            return
        self.tried = True
        for volume in (2, 3):
            reply = self.buy(tick.limit_down, volume, tick)
            self.info(f"{volume} lots: " + ("accepted" if reply.get("ok") else "refused: " + reply.get("error", "")))
"""


def test_a_strategy_gets_the_refusal_text(desk: RiskDesk):
    name, tick = dce(desk)
    # the account takes 100 lots an order; this strategy 2
    desk.put_risk(strategies={"tryer": {"max_order_volume": 2}})
    desk.web.ok("POST", "/code", json={"text": code("tryer", name, TRIES)})
    desk.web.ok("PUT", "/strategy", json={"name": "tryer", "operation": "start"})
    engine = desk.web.engine

    def replies() -> list[str] | None:
        found = [record.message for record in engine.logs if record.owner == "tryer" and " lots: " in record.message]
        return found if len(found) >= 2 else None

    message = f"order volume: 3 lots, at most 2 in one order of {name}"
    assert desk.web.wait("the strategy's two replies", replies, timeout=30) == [
        "2 lots: accepted", f"3 lots: refused: {message}"]  # fmt: skip
    desk.assert_told(message, name, strategy="tryer")  # in the strategy's log too, with the rule's own text
    strategy_orders = [order for order in desk.working() if order["strategy"] == "tryer"]
    assert [order["volume"] for order in strategy_orders] == [2]
    desk.accepted(name, tick["limit_down"], 3)  # the account's own limit is 100
    desk.web.ok("PUT", "/strategy", json={"name": "tryer", "operation": "stop"})


# --- the kill switch -----------------------------------------------------------------------------------------------
RESTER = """
    def on_tick(self, tick):
        if not self.active_orders and not getattr(self, "placed", False):
            self.placed = True
            self.buy(tick.limit_down, 1, tick)
"""


def _strategy_status(web: Web, name: str) -> str:
    return next(item["status"] for item in web.ok("GET", "/strategy") if item["name"] == name)


def test_the_kill_switch_stops_cancels_closes_and_refuses_until_re_armed(desk: RiskDesk):
    web = desk.web
    rb = first_contract(web, "rb", "SHFE")
    tick = subscribed_tick(web, rb)
    _buy(web, rb, tick["limit_up"], 2)
    day = web.ok("GET", "/status")["trading_day"]
    web.ok("POST", "/sim/settle")  # today's lots become yesterday's

    def rolled() -> bool:
        status, position = web.ok("GET", "/status"), _position(web, rb)
        return (
            status["td"]["state"] == "ready"
            and status["trading_day"] != day
            and bool(position and position["yd_volume"])
        )

    web.wait("the next trading day with yesterday's lots", rolled)
    tick = subscribed_tick(web, rb, web.ok("GET", "/status")["trading_day"])
    _buy(web, rb, tick["limit_up"], 1)
    web.wait("today's lot", lambda: (p := _position(web, rb)) and (p["yd_volume"], p["td_volume"]) == (2, 1))
    m, m_tick = dce(desk)
    web.ok("POST", "/code", json={"text": code("rester", m, RESTER)})
    web.ok("PUT", "/strategy", json={"name": "rester", "operation": "start"})
    mine = desk.accepted(m, m_tick["limit_down"])
    theirs = web.wait("the strategy's working order",
                      lambda: [o for o in desk.working() if o["strategy"] == "rester"], timeout=30)  # fmt: skip

    outcome = web.ok("POST", "/kill", json={"close_positions": True, "reason": "end of the test"})
    assert outcome["killed"] == "end of the test"
    assert sorted(outcome["cancelled"]) == sorted([mine["order_id"], theirs[0]["order_id"]])
    assert outcome["still_working"] == [] and outcome["problems"] == []
    assert [(o["local_symbol"], o["direction"], o["offset"], o["volume"]) for o in outcome["closing_orders"]] == [
        (rb, "short", "closetoday", 1), (rb, "short", "closeyesterday", 2)]  # fmt: skip
    assert {"kind": "kill", "rule": "kill switch", "message": "kill switch on: end of the test"} in desk.events
    web.wait("the strategy stopped", lambda: _strategy_status(web, "rester") == "stopped", timeout=30)
    web.wait("the position closed", lambda: _position(web, rb) is None)
    assert desk.working() == []
    message = "kill switch: on (end of the test); no new orders until it is re-armed (DELETE /kill)"
    desk.refused(m, m_tick["limit_down"], message)
    assert web.ok("GET", "/risk")["killed"] == "end of the test"

    assert web.ok("DELETE", "/kill")["killed"] == ""
    assert desk.events[-1]["kind"] == "rearm"
    desk.accepted(m, m_tick["limit_down"])


def test_the_kill_switch_works_while_the_counter_is_slow(desk: RiskDesk):
    web = desk.web
    m, m_tick = dce(desk)
    _buy(web, m, m_tick["limit_up"], 1)
    resting = [desk.accepted(m, m_tick["limit_down"])["order_id"] for _ in range(2)]
    sim.control(web.sim_name).set_response_delay(1.0)  # every answer a second late
    outcome = web.ok("POST", "/kill", json={"close_positions": True})
    assert outcome["killed"] == "by hand"
    assert sorted(outcome["cancelled"]) == sorted(resting) and outcome["still_working"] == []
    assert [(o["direction"], o["offset"], o["volume"]) for o in outcome["closing_orders"]] == [("short", "close", 1)]
    desk.refused(m, m_tick["limit_down"], "kill switch: on (by hand); no new orders until it is re-armed "
                                          "(DELETE /kill)")  # fmt: skip
    web.wait("the position closed", lambda: _position(web, m) is None)
    web.ok("DELETE", "/kill")
    status, body = desk.order(m, m_tick["limit_down"])
    assert status == 200, body
