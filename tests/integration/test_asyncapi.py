"""/asyncapi.json: the Socket.IO events, checked against the code that sends and receives them.

* The document is public JSON with AsyncAPI 3.0's required parts, every reference in it resolves, and
  /openapi.json links to it.
* Drift: every event name the server code emits (found by reading the code: each `emit(...)` call in
  the server's packages, and the engine topics views/push.py forwards under their own name) is in the
  document, and the document describes no event the code never sends; the same for the client events
  views/sockets.py handles.
* Payloads: each engine event is published on the bus of a real app as the engine publishes it; what
  Flask-SocketIO's test clients (one socket of single messages, one of batches) receive is validated
  against the document's schema of that event, with no property missing or undeclared.
"""

from __future__ import annotations

import ast
import copy
import itertools
import os
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import gevent
import jsonschema_rs
import pytest
from flask import Flask
from flask_socketio import SocketIOTestClient

from backend import sim
from backend.app import create_app, shutdown
from backend.engine import events
from backend.engine.constants import Direction, Exchange, Interval, Offset, OrderType, Status
from backend.engine.objects import (
    SHANGHAI,
    AccountData,
    BarData,
    LogData,
    OrderData,
    PositionData,
    SharedData,
    TickData,
    TradeData,
)
from backend.lab.runs import RunEvent
from lib.config import load_settings
from tests.integration.test_push import connect
from views import push

ROOT = Path(__file__).resolve().parents[2]
SERVER_PACKAGES = ("backend", "views", "auth", "lib", "model")
CONNECTION_EVENTS = {"connect", "disconnect"}  # Socket.IO's own, not the API's
WAIT = 5.0
_names = itertools.count()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    name = f"asyncapi{os.getpid()}_{next(_names)}"
    made = create_app(load_settings(None, environ={}, DATA_DIR=str(tmp_path_factory.mktemp("asyncapi")),
                                    ACCESS_CODE="asyncapi-code-1", SIM_NAME=name, SIM_QUERY_RATE=0))  # fmt: skip
    yield made
    shutdown(made)
    sim.shutdown(name)


@pytest.fixture(scope="module")
def document(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/asyncapi.json")  # no token: public like /openapi.json
    assert response.status_code == 200 and response.content_type.startswith("application/json")
    return response.get_json()


def messages(document: dict[str, Any], action: str) -> dict[str, dict[str, Any]]:
    """The messages of the operations with this action ("send": server -> client), by event name."""
    found = {}
    for operation in document["operations"].values():
        if operation["action"] == action:
            message = resolve(document, operation["messages"][0])
            found[message["name"]] = message
    return found


def resolve(document: dict[str, Any], reference: dict[str, Any]) -> Any:
    assert set(reference) == {"$ref"} and reference["$ref"].startswith("#/"), reference
    node: Any = document
    for key in reference["$ref"][2:].split("/"):
        assert key in node, reference
        node = node[key]
    return node


# --- the document ---------------------------------------------------------------------------------
def test_the_document_is_asyncapi_3_with_its_required_parts(document: dict[str, Any]):
    assert document["asyncapi"].startswith("3.")
    assert document["info"]["title"] and document["info"]["version"]
    server = document["servers"]["desk"]
    assert server["protocol"] == "ws" and server["pathname"] == "/socket.io/" and server["host"] == "localhost"
    channel = document["channels"]["desk"]
    assert channel["address"] == "/"
    for name, operation in document["operations"].items():
        assert operation["action"] in ("send", "receive"), name
        assert resolve(document, operation["channel"]) is channel
        for reference in operation["messages"] + operation.get("reply", {}).get("messages", []):
            assert "payload" in resolve(document, reference), name
    for reference in server["security"]:
        assert resolve(document, reference)["type"] == "httpApiKey"
    refs = _refs(document)
    assert refs and all(resolve(document, {"$ref": ref}) is not None for ref in refs)


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def test_the_openapi_document_links_it_and_lists_its_events(app: Flask, document: dict[str, Any]):
    openapi = app.test_client().get("/openapi.json").get_json()
    assert openapi["x-asyncapi"] == openapi["externalDocs"]["url"] == "http://localhost/asyncapi.json"
    assert document["info"]["externalDocs"]["url"] == "http://localhost/openapi.json"
    assert "security" not in openapi["paths"]["/asyncapi.json"]["get"]
    for name in (*messages(document, "send"), *messages(document, "receive")):
        assert f"- `{name}`:" in openapi["info"]["description"], name


# --- drift: the code's event names ------------------------------------------------------------------
def emitted_names() -> set[str]:
    """Every event name the server's code passes to an `emit`: literal names, and the engine topics
    that views/push.py forwards under the topic's own name (its _SIMPLE table)."""
    names: set[str] = set()
    computed: list[str] = []
    for package in SERVER_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(call, ast.Call) and call.args and _called(call) == "emit"):
                    continue
                first = call.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(first.value)
                else:
                    computed.append(f"{path.relative_to(ROOT)}:{call.lineno} {ast.unparse(first)}")
    # views/push.py's one computed name: `emit(topic, handler(payload))` for the topics of _SIMPLE
    assert computed == [f"views/push.py:{_simple_emit_line()} topic"], (
        f"emits with a computed event name: {computed}; list their names in this test")
    return names | set(push._SIMPLE)


def _called(call: ast.Call) -> str:
    function = call.func
    return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")


def _simple_emit_line() -> int:
    source = (ROOT / "views" / "push.py").read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(source, start=1) if "emit(topic, handler(payload)" in line)


def handled_names() -> set[str]:
    """The client events views/sockets.py handles (`@socketio.on("name")`)."""
    tree = ast.parse((ROOT / "views" / "sockets.py").read_text(encoding="utf-8"))
    return {decorator.args[0].value for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
            for decorator in node.decorator_list
            if isinstance(decorator, ast.Call) and _called(decorator) == "on"} - CONNECTION_EVENTS  # fmt: skip


def test_every_event_the_server_emits_is_described_and_nothing_more(document: dict[str, Any]):
    emitted = emitted_names()
    assert {"tick", "ticks", "bars", "shared_batch", "order", "status"} <= emitted  # the scan finds them
    described = set(messages(document, "send"))
    assert emitted - described == set(), "emitted but not in /asyncapi.json"
    assert described - emitted == set(), "in /asyncapi.json but never emitted"


def test_every_event_the_server_handles_is_described_and_nothing_more(document: dict[str, Any]):
    handled = handled_names()
    assert {"watch", "identify"} <= handled
    assert set(messages(document, "receive")) == handled


# --- payloads: what a socket really receives ------------------------------------------------------
def strict(schema: Any) -> Any:
    """The schema with every object closed (additionalProperties false): an undeclared field fails."""
    if isinstance(schema, dict):
        closed = {key: strict(value) for key, value in schema.items()}
        if "properties" in schema:
            closed.setdefault("additionalProperties", False)
        return closed
    if isinstance(schema, list):
        return [strict(value) for value in schema]
    return schema


def validator(document: dict[str, Any], message: dict[str, Any]) -> Callable[[Any], list[str]]:
    # the payload with the document's components beside it, so its #/components/... references resolve
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **strict(copy.deepcopy(message["payload"])),
              "components": strict(document["components"])}  # fmt: skip
    compiled = jsonschema_rs.validator_for(schema)
    return lambda instance: [error.message for error in compiled.iter_errors(instance)]


def now() -> datetime:
    return datetime.now(SHANGHAI)


def publish_one_of_each(app: Flask) -> None:
    """Each engine topic the push forwards, with the objects the engine publishes."""
    desk = app.extensions["ctpdesk"]
    publish = desk.engine.bus.publish
    order = OrderData("1_2_3", "rb2601", Exchange.SHFE, Direction.LONG, Offset.OPEN, OrderType.LIMIT, 3500.0, 2,
                      traded=1, status=Status.PARTTRADED, time=now(), local_order_id="7")  # fmt: skip
    position = PositionData("rb2601", Exchange.SHFE, Direction.LONG, volume=1, td_volume=1, price=3500.0)
    publish(events.TICK, TickData("rb2601", Exchange.SHFE, now(), date.today(), name="螺纹钢2601", last_price=3500.0))
    publish(events.BAR, BarData("rb2601", Exchange.SHFE, Interval.MINUTE, now(), 3500.0, 3501.0, 3499.0, 3500.0, 7))
    publish(events.SHARED, SharedData("rb2601.SHFE", now(), 3500.0, 3500.5, 7, 100.0))
    publish(events.ORDER, order)
    publish(events.ACTIVE_ORDER, [order])
    publish(events.TRADE, TradeData("9", "1_2_3", "rb2601", Exchange.SHFE, Direction.LONG, Offset.OPEN, 3500.0, 1,
                                    time=now(), strategy="demo"))  # fmt: skip
    publish(events.POSITION, [position])
    publish(events.ACCOUNT, AccountData("demo", balance=1e6, available=9.9e5))
    publish(events.LOG, LogData("hello"))
    publish(events.CONTRACT, ["rb2601.SHFE", "hc2601.SHFE"])
    publish(events.STATUS, desk.engine.status())
    publish(events.STRATEGY, {"name": "demo", "status": "running", "error": ""})
    publish(events.RISK, {"kind": "refused", "rule": "order flow", "message": "order flow: 11 orders+cancels in "
                          "the last second, limit 10", "local_symbol": "rb2601.SHFE", "strategy": ""})  # fmt: skip
    publish(events.RISK, {"kind": "rearm", "rule": "kill switch", "message": "kill switch re-armed: orders accepted"})
    desk.lab.notify(RunEvent("1", "backtest", "running", 0.5).to_dict())  # the lab's runs announce themselves


def received(clients: list[SocketIOTestClient], wanted: set[str]) -> list[dict[str, Any]]:
    """Everything the clients received, once each of the wanted events came (the push's flush runs meanwhile)."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + WAIT
    while True:
        for client in clients:
            got += client.get_received()
        missing = wanted - {message["name"] for message in got}
        if not missing or time.monotonic() > deadline:
            assert not missing, f"never received: {missing}"
            return got
        gevent.sleep(0.005)


def test_every_message_a_socket_receives_matches_its_schema(app: Flask, document: dict[str, Any]):
    described = messages(document, "send")
    single, batch = connect(app, drain=False), connect(app, {"batch": True}, drain=False)
    try:
        publish_one_of_each(app)
        got = received([single, batch], set(described))  # the snapshot after connecting, then one of each
    finally:
        single.disconnect()
        batch.disconnect()
    checks = {name: validator(document, message) for name, message in described.items()}
    for message in got:
        assert message["name"] in checks, f"{message['name']} is not described"
        assert len(message["args"]) == 1, message
        errors = checks[message["name"]](message["args"][0])
        assert errors == [], (message["name"], message["args"][0], errors)


def test_the_acknowledgements_of_client_events_match_their_schemas(app: Flask, document: dict[str, Any]):
    replies = {name: validator(document, resolve(document, operation["reply"]["messages"][0]))
               for operation in document["operations"].values() if operation["action"] == "receive"
               for name in [resolve(document, operation["messages"][0])["name"]]}  # fmt: skip
    requests = {"watch": [{"symbols": ["rb2601.SHFE"]}, {"batch": True}, {"symbols": "rb"}, {}],
                "identify": [{"token": "not a token"}]}
    assert set(requests) == set(replies)
    for name, payloads in requests.items():
        for payload in payloads:
            client = connect(app, drain=False)
            answer = client.emit(name, payload, callback=True)
            assert replies[name](answer) == [], (name, payload, answer)
            if client.is_connected():
                client.disconnect()
