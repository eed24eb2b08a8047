"""The REST API in process: create_app with the sim counter, driven through Flask's test client.

The engine runs on gevent in this (unpatched) process: the views that wait for the counter yield to
the hub themselves, and where a test waits for something to happen it waits on the engine's bus
(a gevent Event, bounded by gevent.Timeout) and re-reads the API after each event. Nothing sleeps.
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import gevent
import pytest
from flask import Flask
from flask_jwt_extended import create_access_token
from gevent.event import Event

from backend import sim
from backend.app import create_app, shutdown
from backend.extensions import socketio
from lib.config import load_settings
from views.push import TextPacket

ACCESS_CODE = "integration-code-1"
PUBLIC_PATHS = {"/login", "/health", "/openapi.json", "/asyncapi.json"}
# The browser desk's pages (/, the API reference /docs) and files (views/ui.py) are not API routes: public,
# HTML/JS/CSS, tested in test_desk_files.py. Every call the pages make goes to the API routes below.
DESK_BLUEPRINT = "ui."
ENVELOPE_KEYS = {"success", "msg", "data"}
_names = itertools.count()


# --- apps -------------------------------------------------------------------------------------------
@dataclass
class Web:
    """One app over its own sim; `call` answers (status, envelope) after checking it is JSON."""

    app: Flask
    sim_name: str
    data_dir: Path
    token: str = ""
    closed: bool = False
    _changed: Event = field(default_factory=Event)

    def __post_init__(self) -> None:
        self.client = self.app.test_client()
        self.engine.bus.subscribe(None, lambda *_: self._changed.set())

    @property
    def desk(self) -> Any:
        return self.app.extensions["ctpdesk"]

    @property
    def engine(self) -> Any:
        return self.desk.engine

    def call(self, method: str, path: str, token: str | None = None, *, headers: dict[str, str] | None = None,
             **kwargs: Any) -> tuple[int, dict[str, Any]]:  # fmt: skip
        headers = dict(headers or {})
        if token is None:
            token = self.token
        if token and "Authorization" not in headers:
            headers["Authorization"] = f"JWT {token}"
        response = self.client.open(path, method=method, headers=headers, **kwargs)
        assert response.content_type.startswith("application/json"), (method, path, response.data[:300])
        body = response.get_json()
        assert isinstance(body, dict) and set(body) == ENVELOPE_KEYS, (method, path, body)
        assert body["success"] is (200 <= response.status_code < 300), (method, path, body)
        assert isinstance(body["msg"], str)
        return response.status_code, body

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        status, body = self.call(method, path, **kwargs)
        assert status == 200, (method, path, body)
        return body["data"]

    def login(self, userid: str = "demo", password: str = "demo", code: str = ACCESS_CODE) -> tuple[int, dict]:
        return self.call("POST", "/login", token="", json={"authorization": code, "userid": userid,
                                                            "password": password})  # fmt: skip

    def log_in(self) -> str:
        status, body = self.login()
        assert status == 200, body
        self.token = body["data"]
        return self.token

    def mint(self, **claims: Any) -> str:
        """A token signed with this app's secret (as /login would issue it, unless told otherwise)."""
        with self.app.app_context():
            expires = claims.pop("expires_delta", None)
            return create_access_token(identity=claims.pop("identity", "demo"), expires_delta=expires,
                                       additional_claims={"issued": time.time(), **claims})  # fmt: skip

    def wait(self, what: str, found: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Re-check `found` after each engine event until it answers something truthy."""
        with gevent.Timeout(timeout, AssertionError(f"{what}: not within {timeout:g}s")):
            while True:
                self._changed.clear()
                result = found()
                if result:
                    return result
                self._changed.wait(0.5)  # an event, or at most half a second to re-check

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        shutdown(self.app)  # logging back in after a restart, strategies, the engine, the store
        sim.shutdown(self.sim_name)


def make_web(data_dir: Path, sim_name: str | None = None, kind: type[Web] = Web, **settings: Any) -> Web:
    """An app of `kind` (Web, or a test module's Web with more calls) over its own sim and data directory."""
    name = sim_name or f"webapi{os.getpid()}_{next(_names)}"
    values = {"DATA_DIR": str(data_dir), "ACCESS_CODE": ACCESS_CODE, "SIM_NAME": name, "SIM_QUERY_RATE": 0,
              "SIM_TICK_RATE": 10, **settings}  # fmt: skip
    return kind(create_app(load_settings(None, environ={}, **values)), name, data_dir)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """One logged-in app for the tests that leave it logged in."""
    web = make_web(tmp_path_factory.mktemp("web"))
    web.log_in()
    yield web
    web.close()


def _route_table() -> list[tuple[str, str]]:
    """(rule, method) of every route of a real app: collected from its url_map, not listed by hand."""
    with tempfile.TemporaryDirectory() as scratch:
        web = make_web(Path(scratch))
        try:
            return sorted((rule.rule, method) for rule in web.app.url_map.iter_rules()
                          if rule.endpoint != "static" and not rule.endpoint.startswith(DESK_BLUEPRINT)
                          for method in (rule.methods or set()) - {"HEAD", "OPTIONS"})  # fmt: skip
        finally:
            web.close()


ROUTES = _route_table()
PROTECTED = [(rule, method) for rule, method in ROUTES if rule not in PUBLIC_PATHS]


def first_contract(web: Web, product: str, exchange: str) -> str:
    found = web.ok("GET", "/contract", query_string={"product": product, "exchange": exchange})
    return sorted(item["local_symbol"] for item in found if item["is_trading"])[0]


def subscribed_tick(web: Web, name: str, trading_day: str = "") -> dict[str, Any]:
    """The latest tick of `name` (of `trading_day` when given), subscribing first."""
    web.ok("POST", "/market", json={"symbol": name})

    def latest() -> dict[str, Any] | None:
        for item in web.ok("GET", "/market"):
            tick = item["tick"]
            if (
                item["local_symbol"] == name
                and tick
                and (not trading_day or tick["trading_day"].replace("-", "") == trading_day)
            ):
                return tick
        return None

    return web.wait(f"a tick of {name}", latest)


# --- tokens on every route ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Web, dict[str, str | None]]]:
    """An app and the Authorization headers each protected route must refuse (plus a valid one)."""
    web = make_web(tmp_path_factory.mktemp("tokens"))
    try:
        revoked = web.log_in()
        web.ok("POST", "/logout", json={"authorization": ACCESS_CODE})
        valid = web.log_in()
        header, payload, signature = valid.split(".")
        middle = len(signature) // 2
        flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
        headers: dict[str, str | None] = {
            "missing": None,
            "bare JWT": "JWT",
            "basic": "Basic x",
            "not a token": "JWT not.a.token",
            "valid token, wrong scheme": f"Basic {valid}",
            "expired": f"JWT {web.mint(expires_delta=timedelta(seconds=-1))}",
            "tampered": f"JWT {header}.{payload}.{flipped}",
            "revoked": f"JWT {revoked}",
            "valid": f"JWT {valid}",
        }
        yield web, headers
    finally:
        web.close()


@pytest.mark.parametrize(("rule", "method"), PROTECTED, ids=[f"{m} {r}" for r, m in PROTECTED])
def test_every_protected_route_refuses_a_bad_token(tokens: tuple[Web, dict[str, str | None]], rule: str, method: str):
    web, headers = tokens
    for kind, value in headers.items():
        if kind == "valid":
            continue
        status, body = web.call(method, rule, token="", headers={"Authorization": value} if value else {})
        assert (status, body["msg"], body["data"]) == (401, "token error", ""), (kind, body)
    # and the valid token gets past the check (no body: a 400 for most, never a 401)
    status, body = web.call(method, rule, token="", headers={"Authorization": str(headers["valid"])})
    assert status != 401, body


def test_the_route_table_is_what_the_api_promises():
    documented = {(rule, method) for rule, method in ROUTES}
    assert ("/login", "POST") in documented and ("/health", "GET") in documented
    assert {("/order_solve", m) for m in ("GET", "POST", "DELETE")} <= documented
    assert {("/market", m) for m in ("GET", "POST", "PUT", "DELETE")} <= documented
    assert {("/auth_code", "PUT"), ("/auth_code", "POST"), ("/bar", "GET"), ("/bar", "POST")} <= documented
    assert len(PROTECTED) == len(ROUTES) - len(PUBLIC_PATHS)


def test_every_route_is_in_the_openapi_document(web: Web):
    response = web.client.get("/openapi.json")
    assert response.status_code == 200 and response.content_type.startswith("application/json")
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    missing = [(rule, method) for rule, method in ROUTES if method.lower() not in paths.get(rule, {})]
    assert missing == []
    for rule, method in PROTECTED:
        assert paths[rule][method.lower()].get("security") == [{"jwt": []}], (rule, method)
    assert "security" not in paths["/login"]["post"]


# --- the envelope ---------------------------------------------------------------------------------------
def test_errors_come_back_in_the_envelope_never_as_html(web: Web):
    assert web.call("GET", "/no/such/path")[0] == 404
    assert web.call("POST", "/no/such/path", token="")[0] == 404
    assert web.call("PATCH", "/order_solve")[0] == 405
    assert web.call("GET", "/login")[0] == 405
    assert web.call("DELETE", "/health")[0] == 405
    for path, token in (("/login", ""), ("/order_solve", None), ("/config", None)):
        method = "PUT" if path == "/config" else "POST"
        status, body = web.call(method, path, token=token, data='{"local_symbol": ', content_type="application/json")
        assert status == 400 and "JSON" in body["msg"], body
        status, body = web.call(method, path, token=token, data="[1, 2]", content_type="application/json")
        assert status == 400, body
    status, body = web.call("POST", "/order_solve", data="local_symbol=rb&direction=long&volume=1&price=abc",
                            content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert status == 400 and body["msg"].startswith("price"), body
    health = web.ok("GET", "/health", token="")
    assert health["status"] == "ok"


def test_options_answers_in_the_envelope_too(web: Web):
    response = web.client.open("/order_solve", method="OPTIONS")
    assert response.content_type.startswith("application/json"), (response.status_code, response.content_type)
    assert set(response.get_json()) == ENVELOPE_KEYS


def test_fields_come_as_a_query_string_a_form_or_json_and_bearer_works_too(web: Web):
    name = first_contract(web, "y", "DCE")
    assert web.ok("POST", "/market", query_string={"symbol": name}) == [name]
    assert web.ok("DELETE", "/market", data={"symbol": name}) == [name]
    assert web.ok("POST", "/market", json={"symbols": [name]}) == [name]
    assert web.ok("DELETE", "/market", query_string={"symbols": name}) == [name]
    assert name not in [item["local_symbol"] for item in web.ok("GET", "/market")]
    status, body = web.call("POST", "/login", token="", data={"authorization": ACCESS_CODE, "userid": "demo",
                                                              "password": "demo"})  # fmt: skip
    assert status == 200
    assert web.ok("GET", "/status", headers={"Authorization": f"Bearer {body['data']}"})["td"]["state"] == "ready"


# --- /login ---------------------------------------------------------------------------------------------
def test_login_rules_on_an_active_account(web: Web):
    status, body = web.login(code="wrong-code")
    assert status == 403 and body["data"] == ""
    status, body = web.login()
    assert status == 200 and body["data"] != web.token
    again = body["data"]
    assert web.call("GET", "/status", token=again)[0] == 200
    assert web.call("GET", "/status")[0] == 200  # the earlier token still works
    status, body = web.login(userid="somebody")
    assert status == 409 and "another account" in body["msg"]
    status, body = web.login(password="not-the-password")
    assert status != 200 and body["data"] == ""
    assert web.ok("GET", "/status")["td"]["state"] == "ready"  # nothing of it touched the session
    for bad in ({"userid": "demo", "password": "demo"}, {"authorization": ACCESS_CODE, "userid": "demo"},
                {"authorization": ACCESS_CODE, "userid": "demo", "password": "demo", "interface": "zmq"},
                {"authorization": ACCESS_CODE, "userid": "x" * 16, "password": "demo"}):  # fmt: skip
        status, body = web.call("POST", "/login", token="", json=bad)
        assert status == 400, (bad, body)


def test_a_wrong_counter_password_answers_its_error_id_and_leaves_nothing_connected(web_factory):
    web = web_factory()
    status, body = web.login(password="wrong")
    assert status == 400, body
    assert body["data"] == {"error_id": 3} and "login failed" in body["msg"]
    status_data = web.ok("GET", "/status", token=web.mint())
    assert status_data["td"]["state"] == "disconnected" and status_data["md"]["state"] == "disconnected"
    assert status_data["userid"] == "" and status_data["interface"] == ""
    assert web.engine.gateway is None
    # the right password then logs in normally
    web.log_in()
    assert web.ok("GET", "/status")["td"]["state"] == "ready"


def test_a_real_counter_without_front_addresses_is_a_400_and_nothing_connects(web_factory):
    web = web_factory()
    status, body = web.call("POST", "/login", token="", json={"authorization": ACCESS_CODE, "userid": "demo",
                                                               "password": "demo", "interface": "ctp"})  # fmt: skip
    assert status == 400 and body["msg"] == "td_address and md_address (tcp://host:port) are required for ctp and tts"
    assert web.engine.gateway is None


def test_a_logout_ends_the_retries_of_logging_back_in_after_a_restart(web_factory, tmp_path: Path):
    data_dir, name = tmp_path / "back", f"back{os.getpid()}_{next(_names)}"
    first = web_factory(data_dir, SIM_NAME=name)
    first.log_in()
    first.close()
    second = web_factory(data_dir, SIM_NAME=name, LOGIN_TIMEOUT=1)
    sim.control(name).set_unreachable(True)  # before the auto-login first runs: it fails, then waits to retry
    session = second.desk.session
    assert session.auto_login is not None
    second.wait("a failed login back in", lambda: any("back in failed" in r.message for r in second.engine.logs))
    assert not session.auto_login.ready()  # waiting to try again
    second.ok("POST", "/logout", token=second.mint(), json={"authorization": ACCESS_CODE})
    assert session.auto_login.ready()  # at once, not after its wait
    assert second.engine.gateway is None and session.saved_login.load() is None


def test_a_restart_with_another_sim_name_logs_back_in_to_that_sim(web_factory, tmp_path: Path):
    """A `sim` login without addresses means the embedded counter: after a restart with another SIM_NAME
    (the server's configuration changed), the desk logs back in to the counter it now embeds, not the old name."""
    data_dir = tmp_path / "renamed"
    old, new = (f"renamed{os.getpid()}_{next(_names)}" for _ in range(2))
    first = web_factory(data_dir, SIM_NAME=old)
    first.log_in()
    first.close()
    second = web_factory(data_dir, SIM_NAME=new)
    second.wait("logged back in", lambda: second.engine.gateway is not None and second.engine.login is not None)
    login = second.engine.login
    assert (login.td_address, login.md_address) == (f"sim://{new}", f"sim://{new}")


def test_more_than_ten_failed_logins_a_minute_lock_the_address_out(web_factory):
    web = web_factory()
    for _ in range(9):
        assert web.login(code="wrong-code")[0] == 403
    for _ in range(3):  # successful logins do not count
        assert web.login()[0] == 200
    assert web.login(code="wrong-code")[0] == 403  # the tenth failure
    status, body = web.login(code="wrong-code")
    assert status == 429 and body["success"] is False
    status, body = web.login()  # the right code too, until the window passes
    assert status == 429, body


# --- /auth_code ------------------------------------------------------------------------------------------
def test_changing_the_access_code(web_factory):
    web = web_factory()
    web.log_in()
    assert web.call("PUT", "/auth_code", json={"password": "wrong", "authorization": "new-code-123"})[0] == 403
    status, body = web.call("PUT", "/auth_code", json={"password": "demo", "authorization": "short"})
    assert status == 400 and "authorization" in body["msg"]
    assert web.login()[0] == 200  # nothing changed yet
    web.ok("PUT", "/auth_code", json={"password": "demo", "authorization": "new-code-123"})
    assert web.login(code="new-code-123")[0] == 200
    assert web.login(code=ACCESS_CODE)[0] == 403
    web.ok("POST", "/auth_code", json={"password": "demo", "authorization": "newer-code-456"})  # POST too
    assert web.login(code="newer-code-456")[0] == 200
    assert web.login(code="new-code-123")[0] == 403


def test_a_generated_access_code_and_its_change_survive_a_restart(web_factory, tmp_path: Path):
    data_dir = tmp_path / "keep"
    first = web_factory(data_dir, ACCESS_CODE="", SIM_NAME=f"keep{os.getpid()}_{next(_names)}")
    generated = first.app.config["CTPDESK_GENERATED_ACCESS_CODE"]
    assert generated and len(generated) >= 8
    status, body = first.login(code=generated)
    assert status == 200
    first.token = body["data"]
    first.ok("PUT", "/auth_code", json={"password": "demo", "authorization": "changed-code-789"})
    first.close()
    second = web_factory(data_dir, ACCESS_CODE="", SIM_NAME=first.sim_name)
    assert second.app.config["CTPDESK_GENERATED_ACCESS_CODE"] is None  # not generated again, not printed
    assert second.login(code=generated)[0] == 403
    assert second.login(code="changed-code-789")[0] == 200


# --- orders -----------------------------------------------------------------------------------------------
def dce_tick(web: Web) -> tuple[str, dict[str, Any]]:
    """A DCE contract (m, which takes market orders) subscribed, and its first tick."""
    name = first_contract(web, "m", "DCE")
    return name, subscribed_tick(web, name)


@pytest.fixture(scope="module")
def dce(web: Web) -> tuple[str, dict[str, Any]]:
    return dce_tick(web)


def order_ids(web: Web) -> list[str]:
    return [order["order_id"] for order in web.ok("GET", "/order_solve")["order_list"]]


def test_each_bad_order_field_is_named_and_nothing_is_sent(web: Web, dce: tuple[str, dict[str, Any]]):
    name, tick = dce
    good = {"local_symbol": name, "direction": "long", "offset": "open", "type": "limit",
            "price": tick["limit_down"], "volume": 1}  # fmt: skip
    before = order_ids(web)
    pricetick = web.ok("GET", "/contract", query_string={"local_symbol": name})["pricetick"]
    cases = {
        "volume": [{"volume": 0}, {"volume": -1}, {"volume": 1.5}, {"volume": "lots"}, {"volume": 100_000},
                   {"offset": "close", "volume": 5}],  # more than the (empty) position
        "direction": [{"direction": "up"}, {"direction": ""}],
        "price": [{"price": -1}, {"price": "NaN"}, {"price": tick["limit_up"] + 10 * pricetick},
                  {"price": tick["limit_down"] + pricetick / 3}],
        "local_symbol": [{"local_symbol": "bad symbol!"}, {"local_symbol": ""}],
        "type": [{"type": "iceberg"}],
        "offset": [{"offset": "sideways"}],
    }  # fmt: skip
    for field_name, changes in cases.items():
        for change in changes:
            status, body = web.call("POST", "/order_solve", json={**good, **change})
            assert status == 400, (change, body)
            assert body["msg"].startswith(field_name), (change, body["msg"])
    for missing in ("local_symbol", "direction", "volume"):
        status, body = web.call("POST", "/order_solve", json={k: v for k, v in good.items() if k != missing})
        assert status == 400 and body["msg"].startswith(missing), body
    assert order_ids(web) == before


def test_an_unknown_instrument_is_a_404(web: Web):
    before = order_ids(web)
    status, body = web.call("POST", "/order_solve", json={"local_symbol": "zz9999.DCE", "direction": "long",
                                                          "price": 1, "volume": 1})  # fmt: skip
    assert status == 404 and "zz9999" in body["msg"]
    assert web.call("GET", "/contract", query_string={"local_symbol": "zz9999.DCE"})[0] == 404
    assert web.call("POST", "/market", json={"symbols": ["zz9999.DCE"]})[0] == 404
    assert order_ids(web) == before


def test_market_orders_where_the_exchange_refuses_them_are_refused_locally(web: Web):
    name = first_contract(web, "rb", "SHFE")
    tick = subscribed_tick(web, name)
    before = order_ids(web)
    status, body = web.call(
        "POST",
        "/order_solve",
        json={"local_symbol": name, "direction": "long", "type": "market", "price": tick["limit_up"], "volume": 1},
    )
    assert status == 400 and body["msg"].startswith("type"), body
    assert order_ids(web) == before


def test_orders_after_logout_are_refused_with_503(web_factory):
    web = web_factory()
    web.log_in()
    name = first_contract(web, "m", "DCE")
    tick = subscribed_tick(web, name)
    web.ok("POST", "/logout", json={"authorization": ACCESS_CODE})
    web.token = web.mint()  # a token issued after the logout: valid, but no counter behind it
    order = {"local_symbol": name, "direction": "long", "price": tick["limit_down"], "volume": 1}
    status, body = web.call("POST", "/order_solve", json=order)
    assert status == 503, body
    assert web.call("POST", "/close_position", json={"local_symbol": name, "direction": "long"})[0] == 503
    assert web.call("DELETE", "/order_solve", json={"order_id": "1_1_1"})[0] in (404, 503)
    assert web.call("GET", "/account")[0] in (200, 503)


def test_orders_before_any_login_are_refused_with_503(web_factory):
    web = web_factory()
    web.token = web.mint()
    status, body = web.call("POST", "/order_solve", json={"local_symbol": "rb2601.SHFE", "direction": "long",
                                                          "price": 3000, "volume": 1})  # fmt: skip
    assert status == 503, body


# --- SHFE today / yesterday -------------------------------------------------------------------------------
def _position(web: Web, name: str, direction: str = "long") -> dict[str, Any] | None:
    for position in web.ok("GET", "/order_solve")["position_list"]:
        if position["local_symbol"] == name and position["direction"] == direction:
            return position
    return None


def _buy(web: Web, name: str, price: float, volume: int) -> dict[str, Any]:
    order = web.ok("POST", "/order_solve", json={"local_symbol": name, "direction": "long", "offset": "open",
                                                  "type": "limit", "price": price, "volume": volume})  # fmt: skip

    def filled() -> bool:
        return any(o["order_id"] == order["order_id"] and o["status"] == "alltraded"
                   for o in web.ok("GET", "/order_solve")["order_list"])  # fmt: skip

    web.wait(f"order {order['order_id']} filled", filled)
    return order


def test_closing_shfe_lots_of_today_and_yesterday_splits_the_order(web_factory):
    web = web_factory()
    web.log_in()
    name = first_contract(web, "rb", "SHFE")
    tick = subscribed_tick(web, name)
    _buy(web, name, tick["limit_up"], 2)
    day = web.ok("GET", "/status")["trading_day"]
    sim.control(web.sim_name).settle()  # the day roll: today's lots become yesterday's, sessions restart

    def rolled() -> dict[str, Any] | None:
        status = web.ok("GET", "/status")
        position = _position(web, name)
        if status["td"]["state"] == "ready" and status["trading_day"] != day and position and position["yd_volume"]:
            return position
        return None

    position = web.wait("the new trading day with yesterday's lots", rolled)
    assert (position["volume"], position["yd_volume"], position["td_volume"]) == (2, 2, 0)
    new_day = web.ok("GET", "/status")["trading_day"]
    tick = subscribed_tick(web, name, new_day)  # the new day's price band
    _buy(web, name, tick["limit_up"], 1)
    position = web.wait("today's lot", lambda: (p := _position(web, name)) and p["td_volume"] == 1 and p)
    assert (position["volume"], position["yd_volume"]) == (3, 2)

    # CLOSE_PATTERN today (the default): today's lot first. A price at limit_up keeps them resting.
    assert web.ok("GET", "/config")["CLOSE_PATTERN"] == "today"
    orders = web.ok("POST", "/close_position", json={"local_symbol": name, "direction": "long", "volume": 3,
                                                      "price": tick["limit_up"]})  # fmt: skip
    assert [(o["offset"], o["volume"], o["direction"]) for o in orders] == [
        ("closetoday", 1, "short"), ("closeyesterday", 2, "short")]  # fmt: skip
    # the pending closes hold every lot: one more is refused, nothing sent
    before = order_ids(web)
    status, body = web.call("POST", "/close_position", json={"local_symbol": name, "direction": "long", "volume": 1})
    assert status == 400 and body["msg"].startswith("volume"), body
    assert order_ids(web) == before
    for order in orders:
        assert web.ok("DELETE", "/order_solve", json={"order_id": order["order_id"]})["status"] == "cancelled"

    web.ok("PUT", "/config", json={"CLOSE_PATTERN": "yesterday"})
    orders = web.ok("POST", "/close_position", json={"local_symbol": name, "direction": "long", "volume": 3,
                                                      "price": tick["limit_up"]})  # fmt: skip
    assert [(o["offset"], o["volume"]) for o in orders] == [("closeyesterday", 2), ("closetoday", 1)]
    for order in orders:
        web.ok("DELETE", "/order_solve", json={"order_id": order["order_id"]})
    # a close at the default price (the best bid) really closes; over the position is a 400
    assert web.call("POST", "/close_position", json={"local_symbol": name, "direction": "long", "volume": 4})[0] == 400
    orders = web.ok("POST", "/close_position", json={"local_symbol": name, "direction": "long"})
    assert sum(o["volume"] for o in orders) == 3
    web.wait("the position closed", lambda: (p := _position(web, name)) is None or p["volume"] == 0)


# --- GET /order_solve ---------------------------------------------------------------------------------------
def test_the_overview_has_its_five_lists_and_at_most_200_log_lines(web: Web):
    data = web.ok("GET", "/order_solve")
    assert set(data) == {"position_list", "active_order_list", "trade_list", "order_list", "log_history"}
    assert all(isinstance(value, list) for value in data.values())
    for number in range(250):
        web.engine.log(f"line {number}")
    logs = web.ok("GET", "/order_solve")["log_history"]
    assert len(logs) == 200
    assert logs[-1]["message"] == "line 249"
    assert set(logs[-1]) == {"created", "levelname", "owner", "name", "message"}


def test_put_config_reaches_the_engine_at_once(web: Web):
    config = web.engine.config
    original = web.ok("GET", "/config")
    try:
        web.ok("PUT", "/config", json={"SHARED_FUNC": True, "SLIPPAGE_BUY": 2, "SLIPPAGE_SHORT": 3})
        assert config.shared_func is True
        assert (config.slippage["buy"], config.slippage["short"]) == (2.0, 3.0)
        web.ok("PUT", "/config", json={"SHARED_FUNC": False})
        assert config.shared_func is False
    finally:
        web.ok("PUT", "/config", json=original)


def test_tick_merging_follows_the_configuration(web_factory: Callable[..., Web]):
    # TICK_MERGE_BACKLOG reaches the engine's bridge; 0 turns merging off (backend/bridge.py).
    assert web_factory(TICK_MERGE_BACKLOG=500).desk.engine._bridge.conflate_at == 500
    assert web_factory(TICK_MERGE_BACKLOG=0).desk.engine._bridge.conflate_at == sys.maxsize


def test_socket_io_packets_are_json_only(web: Web):
    # The push never sends binary, so python-socketio's search of every event for bytes is skipped
    # (views/push.py: it cost as much as the JSON encoding of a full-market batch).
    assert socketio.server.packet_class is TextPacket
    packet = TextPacket(data=["ticks", {"data": [{"last_price": 1.5, "name": "rb"}]}])
    assert packet.encode() == '2["ticks",{"data":[{"last_price":1.5,"name":"rb"}]}]'
