"""The desk end to end: a real server process, REST over `requests`, Socket.IO with python-socketio.

The server runs the embedded sim counter (the only stand-in, and one we ship). Every wait is on an
event the client received or a bounded retry, with a timeout.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
import websocket

from backend.engine.constants import Exchange, Interval
from backend.engine.objects import SHANGHAI, BarData
from model import SQLITE_FILE
from model.sqlite_store import SqliteStore
from tests.e2e.conftest import ACCESS_CODE, Desk, ServerFactory, SocketFactory, pause

pytestmark = pytest.mark.slow

ENVELOPE_KEYS = {"success", "msg", "data"}
TICK_FIELDS = {
    "local_symbol", "symbol", "exchange", "name", "datetime", "last_price", "volume", "turnover", "open_interest",
    "open_price", "high_price", "low_price", "pre_close", "pre_settlement_price", "limit_up", "limit_down",
    "average_price", "trading_day",
    *(f"{side}_{kind}_{level}" for side in ("bid", "ask") for kind in ("price", "volume") for level in range(1, 6)),
}  # fmt: skip
ORDER_FIELDS = {"order_id", "local_order_id", "symbol", "exchange", "local_symbol", "direction", "offset", "type",
                "price", "volume", "traded", "status", "status_msg", "time", "strategy"}  # fmt: skip
TRADE_FIELDS = {"trade_id", "order_id", "symbol", "exchange", "local_symbol", "direction", "offset", "price",
                "volume", "time"}  # fmt: skip
POSITION_FIELDS = {"local_symbol", "symbol", "exchange", "direction", "volume", "yd_volume", "td_volume", "frozen",
                   "available", "price", "position_profit", "margin"}  # fmt: skip
SHARED_FIELDS = {"local_symbol", "datetime", "last_price", "average_price", "volume", "open_interest"}
ACCOUNT_FIELDS = {"accountid", "balance", "available", "margin", "frozen", "commission", "position_profit",
                  "close_profit", "pre_balance"}  # fmt: skip
INTERVALS = ("1m", "5m", "15m", "30m", "1h", "1d")
SEEDED = "seed2601.DCE"  # bars stored before the server starts (live bars need minutes of ticks)
SEED_START_MS = 1_767_542_400_000  # 2026-01-05 00:00 Asia/Shanghai
SEED_STEP_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000, "1d": 86_400_000}
SEED_BARS = 12


def seed_bars(data_dir: Path) -> None:
    """Store bars of every interval, out of order and one of them twice, as the engine's writer would."""
    store = SqliteStore(data_dir / SQLITE_FILE)
    try:
        for interval in INTERVALS:
            step = SEED_STEP_MS[interval]
            bars = [BarData("seed2601", Exchange.DCE, Interval(interval),
                            datetime.fromtimestamp((SEED_START_MS + i * step) / 1000, SHANGHAI),
                            100.0 + i, 102.0 + i, 96.0 + i, 101.0 + i, 10 + i) for i in range(SEED_BARS)]  # fmt: skip
            store.save_bars(reversed(bars))
            store.save_bars([replace(bars[3], close_price=104.0, volume=13)])
    finally:
        store.close()


@pytest.fixture(scope="module")
def desk(server_factory: ServerFactory, tmp_path_factory: pytest.TempPathFactory) -> Desk:
    """This module's server: its data directory starts with SEEDED's bars."""
    data_dir = tmp_path_factory.mktemp("desk-data")
    seed_bars(data_dir)
    return Desk(server_factory(data_dir=data_dir))


def body_of(response: requests.Response, status: int) -> dict[str, Any]:
    """The envelope of a response, after checking its status and that it is JSON, not HTML."""
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.text[:300]
    body = response.json()
    assert set(body) == ENVELOPE_KEYS, body
    assert response.status_code == status, body
    assert body["success"] is (200 <= status < 300), body
    return body


def data_of(response: requests.Response) -> Any:
    return body_of(response, 200)["data"]


def first_contract(desk: Desk, product: str, exchange: str) -> str:
    found = data_of(desk.api.get("/contract", params={"product": product, "exchange": exchange}))
    names = [item["local_symbol"] for item in found if item["is_trading"]]
    assert names, f"no {product} contract on {exchange}"
    return sorted(names)[0]


def is_tick_of(name: str):
    return lambda message: message["type"] == "tick" and message["data"]["local_symbol"] == name


@pytest.fixture(scope="module")
def dce(desk: Desk) -> str:
    """A DCE instrument, subscribed."""
    name = first_contract(desk, "m", "DCE")
    assert data_of(desk.api.post("/market", json={"symbol": name})) == [name]
    return name


@pytest.fixture(scope="module")
def other_dce(desk: Desk) -> str:
    name = first_contract(desk, "c", "DCE")
    data_of(desk.api.post("/market", json={"symbol": name}))
    return name


@pytest.fixture(scope="module")
def dce_tick(desk: Desk, dce: str, sockets: SocketFactory) -> dict[str, Any]:
    """A recent tick of `dce` (carries the day's limit_up and limit_down)."""
    return sockets(desk, desk.token).events.wait_for("tick", is_tick_of(dce))["data"]


# --- connecting -------------------------------------------------------------------------------------
def test_a_socket_gets_the_snapshot_right_after_connecting(desk: Desk, sockets: SocketFactory):
    socket = sockets(desk, desk.token)
    events = socket.events
    account = events.wait_for("account")
    assert account["type"] == "account" and ACCOUNT_FIELDS <= set(account["data"])
    assert account["data"]["balance"] > 0
    position = events.wait_for("position")
    assert position["type"] == "position" and isinstance(position["data"], list)
    active = events.wait_for("active_order")
    assert active["type"] == "active_order" and isinstance(active["data"], list)
    status = events.wait_for("status")
    assert status["td"]["state"] == "ready" and status["md"]["state"] == "ready"
    assert status["interface"] == "sim" and status["userid"] == "demo"
    # nothing else sends active_order or status while nothing changes: these two came from the snapshot
    first_four = [name for name, _ in events.items[:4]]
    assert {"active_order", "status"} <= set(first_four), first_four


def test_the_default_transport_polls_then_upgrades_and_still_gets_everything(
    desk: Desk, sockets: SocketFactory, dce: str
):
    socket = sockets(desk, desk.token, upgrade=True)
    socket.events.wait_for("status")
    socket.events.wait_for("tick", is_tick_of(dce))
    # the upgrade happens after the first exchange on polling; ticks keep coming over websocket
    since = socket.events.mark()
    socket.events.count("tick", is_tick_of(dce), 3, since=since)
    assert socket.client.transport() == "websocket"


def test_a_socket_with_a_bad_token_is_refused(desk: Desk, sockets: SocketFactory):
    valid = desk.token
    header, payload, signature = valid.split(".")
    tampered = f"{header}.{payload}.{signature[:10]}{'A' if signature[10] != 'A' else 'B'}{signature[11:]}"
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    attempts: list[dict[str, Any]] = [
        {"token": bad} for bad in ("garbage", "not.a.token", tampered, f"{header}.{forged_payload}.{signature}")
    ]
    attempts.append({"token": None, "headers": {"Authorization": "JWT garbage"}})

    outcomes = sockets.refused(desk, attempts)
    assert all(isinstance(outcome, socketio.exceptions.ConnectionError) for outcome in outcomes), outcomes


def test_the_server_closes_the_connection_after_the_websocket_closing_handshake(desk: Desk):
    ws = websocket.create_connection(f"ws://127.0.0.1:{desk.server.port}/socket.io/?EIO=4&transport=websocket",
                                     timeout=5)  # fmt: skip
    try:
        assert ws.recv().startswith("0")  # engine.io open
        ws.send("1")  # engine.io close: the server starts the closing handshake
        opcode, _ = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        ws.send_close()  # the answer completes it; now the server should close the TCP connection
        ws.sock.settimeout(10.0)  # at once; one left open never closes
        try:
            rest = ws.sock.recv(64)
        except TimeoutError:
            rest = None
        assert rest == b"", "the server left the TCP connection open after the closing handshake"
    finally:
        ws.shutdown()


def test_the_token_may_also_come_in_the_query_string_or_the_authorization_header(desk: Desk, sockets: SocketFactory):
    sockets(desk, query=f"token={desk.token}").events.wait_for("status")
    sockets(desk, headers={"Authorization": f"Bearer {desk.token}"}).events.wait_for("status")


def test_identify_after_connecting_without_a_token_works_for_older_clients(desk: Desk, sockets: SocketFactory):
    socket = sockets(desk)  # no auth: accepted for now, but told nothing
    answer = socket.client.call("watch", {"symbols": []}, timeout=10)
    assert answer == {"success": False, "msg": "token error"}
    assert socket.events.of("account") == [] and socket.events.of("status") == []
    answer = socket.client.call("identify", {"token": desk.token}, timeout=10)
    assert answer["success"] is True
    socket.events.wait_for("account")
    socket.events.wait_for("status")
    # a wrong identify drops the socket (the server disconnects it at once, so no answer comes back)
    late = sockets(desk)
    late.client.emit("identify", {"token": "garbage"})
    assert late.events.disconnected.wait(10), "a socket that failed to identify must be disconnected"
    assert late.events.of("account") == []


# --- market data ------------------------------------------------------------------------------------
def test_subscribing_pushes_ticks_of_that_instrument(desk: Desk, sockets: SocketFactory, dce: str):
    socket = sockets(desk, desk.token)
    message = socket.events.wait_for("tick", is_tick_of(dce))
    tick = message["data"]
    assert TICK_FIELDS <= set(tick), sorted(TICK_FIELDS - set(tick))
    assert tick["exchange"] == "DCE" and tick["local_symbol"] == f"{tick['symbol']}.DCE"
    assert tick["limit_down"] <= tick["last_price"] <= tick["limit_up"]
    assert tick["bid_price_1"] <= tick["ask_price_1"]
    listed = data_of(desk.api.get("/market"))
    assert dce in [item["local_symbol"] for item in listed]
    # an unknown instrument is a 404, nothing subscribed
    body = body_of(desk.api.post("/market", json={"symbol": "zz9999.DCE"}), 404)
    assert "zz9999" in body["msg"]
    assert "zz9999.DCE" not in [item["local_symbol"] for item in data_of(desk.api.get("/market"))]


def test_ticks_of_one_instrument_keep_coming_in_order_and_once_each(desk: Desk, sockets: SocketFactory, dce: str):
    socket = sockets(desk, desk.token)
    since = socket.events.mark()
    socket.events.count("tick", is_tick_of(dce), 6, since=since)
    stamps = [data["data"]["datetime"] for data in socket.events.of("tick", since) if is_tick_of(dce)(data)]
    assert all(a < b for a, b in zip(stamps, stamps[1:], strict=False)), stamps


def test_watch_narrows_the_ticks_of_a_socket(desk: Desk, sockets: SocketFactory, dce: str, other_dce: str):
    watcher, everything = sockets(desk, desk.token), sockets(desk, desk.token)
    watcher.events.wait_for("tick", is_tick_of(other_dce))
    answer = watcher.client.call("watch", {"symbols": [dce]}, timeout=10)
    assert answer["success"] is True and answer["data"] == [dce]
    since_watch, since_all = watcher.events.mark(), everything.events.mark()
    seen = watcher.events.count("tick", is_tick_of(dce), 5, since=since_watch)
    assert {message["data"]["local_symbol"] for message in seen} == {dce}
    everything.events.wait_for("tick", is_tick_of(other_dce), since=since_all)  # it was ticking all along
    # watching nothing in particular again: every subscribed instrument
    assert watcher.client.call("watch", {}, timeout=10)["data"] == "all"
    watcher.events.wait_for("tick", is_tick_of(other_dce), since=watcher.events.mark())
    bad = watcher.client.call("watch", {"symbols": "m"}, timeout=10)
    assert bad["success"] is False


def batch_of(*symbols: str):
    return lambda data: isinstance(data, dict) and data.get("type") == "ticks" and {
        tick["local_symbol"] for tick in data["data"]} >= set(symbols)  # fmt: skip


def test_a_batch_socket_gets_one_ticks_message_per_flush(desk: Desk, sockets: SocketFactory, dce: str,
                                                         other_dce: str):  # fmt: skip
    socket = sockets(desk, desk.token)
    answer = socket.client.call("watch", {"batch": True}, timeout=10)
    assert answer["success"] is True and answer["data"] == "all"
    since = socket.events.mark()
    socket.events.wait_for("ticks", batch_of(dce), since=since)
    switched = socket.events.mark()  # a batch came: from here on no single `tick` messages
    # Ticks go out at once (issue 17): a batch holds what changed since the last one, at this light
    # load mostly one instrument, so each instrument comes in batches of its own.
    batches = socket.events.count("ticks", batch_of(dce), 3, since=switched)
    socket.events.wait_for("ticks", batch_of(other_dce), since=switched)
    for message in batches:
        names = [tick["local_symbol"] for tick in message["data"]]
        assert len(names) == len(set(names)), "one tick per instrument per flush (the latest)"
        assert all(set(tick) >= {"last_price", "datetime", "bid_price_1"} for tick in message["data"])
    assert socket.events.of("tick", switched) == []
    # a list narrows the batch to those instruments
    assert socket.client.call("watch", {"symbols": [dce], "batch": True}, timeout=10)["data"] == [dce]
    narrowed = socket.events.count("ticks", batch_of(dce), 3, since=socket.events.mark())
    assert all({tick["local_symbol"] for tick in message["data"]} == {dce} for message in narrowed[1:])
    assert socket.client.call("watch", {"batch": "yes"}, timeout=10)["success"] is False
    assert socket.client.call("watch", {}, timeout=10)["data"] == "all"  # back to one `tick` per instrument
    socket.events.wait_for("tick", is_tick_of(other_dce), since=socket.events.mark())


def minute_bar_of(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda item: item["local_symbol"] == name and item["interval"] == "1m"


DAY_MS = 86_400_000


def shared_point_of(name: str, since_ms: int) -> Callable[[dict[str, Any]], bool]:
    """An intraday point of `name` from a tick stamped at `since_ms` (epoch ms) or later that day.

    Compared within the day: a bar is stamped by its trading day while a tick keeps the exchange's
    dating, and the 7x24 sim ticks on a weekend evening, where the two name different dates.
    """
    def later(item: dict[str, Any]) -> bool:
        stamp = int(datetime.fromisoformat(item["datetime"]).timestamp() * 1000)
        return (stamp - since_ms) % DAY_MS < DAY_MS // 2

    return lambda item: item["local_symbol"] == name and later(item)


def test_finished_bars_and_shared_points_are_pushed_one_by_one_or_batched_per_flush(
    desk: Desk, sockets: SocketFactory, dce: str
):
    # Waits for the end of the current minute (at most ~62 s): bars finish on the wall clock, and the
    # intraday `shared` series (SHARED_FUNC, on for this test) is published at the same minute's end.
    shared_before = data_of(desk.api.get("/config"))["SHARED_FUNC"]
    data_of(desk.api.put("/config", json={"SHARED_FUNC": True}))
    try:
        single, batched = sockets(desk, desk.token), sockets(desk, desk.token)
        assert batched.client.call("watch", {"batch": True}, timeout=10)["data"] == "all"
        since_single, since_batched = single.events.mark(), batched.events.mark()
        bar = single.events.wait_for("bar", minute_bar_of(dce), since=since_single, timeout=75)
        stamp, open_, high, low, close, volume = bar["data"]
        assert stamp % 60_000 == 0 and low <= min(open_, close) <= max(open_, close) <= high and volume >= 0
        message = batched.events.wait_for("bars", lambda m: any(minute_bar_of(dce)(item) for item in m["data"]),
                                          since=since_batched, timeout=10)  # fmt: skip
        assert message["type"] == "bars"
        assert next(item for item in message["data"] if minute_bar_of(dce)(item))["data"] == bar["data"]
        assert batched.events.of("bar", since_batched) == []  # a batch socket gets no single `bar` messages
        # the bar's minute has a point: dce's latest tick when that minute ended (stamped in it or later)
        # (on a weekend evening the sim's ticks are dated Friday, so bars close at once while the series
        # waits for the wall clock's minute end: up to a minute more)
        point = single.events.wait_for("shared", lambda m: shared_point_of(dce, stamp)(m["data"]), since=since_single,
                                       timeout=75)  # fmt: skip
        assert point["type"] == "shared" and set(point["data"]) == SHARED_FIELDS
        batch = batched.events.wait_for("shared_batch", lambda m: any(map(shared_point_of(dce, stamp), m["data"])),
                                        since=since_batched, timeout=75)  # fmt: skip
        assert batch["type"] == "shared_batch" and all(set(item) == SHARED_FIELDS for item in batch["data"])
        assert batched.events.of("shared", since_batched) == []  # nor single `shared` messages
    finally:
        data_of(desk.api.put("/config", json={"SHARED_FUNC": shared_before}))
    # the same bar over REST, once the store's writer has it
    deadline = time.monotonic() + 10
    while bar["data"] not in data_of(desk.api.post("/bar", json={"local_symbol": dce, "interval": "1m", "limit": 5})):
        assert time.monotonic() < deadline, "the pushed bar never reached GET /bar"
        pause(0.1)


# --- trading --------------------------------------------------------------------------------------
def test_a_risk_refusal_is_pushed_as_a_risk_event(desk: Desk, sockets: SocketFactory, dce: str,
                                                  dce_tick: dict[str, Any]):
    socket = sockets(desk, desk.token)
    original = data_of(desk.api.get("/risk"))["limits"]["max_order_volume"]
    data_of(desk.api.put("/risk", json={"max_order_volume": 1}))
    try:
        since = socket.events.mark()
        refused = body_of(desk.api.post("/order_solve", json={
            "local_symbol": dce, "direction": "long", "offset": "open", "type": "limit",
            "price": dce_tick["limit_down"], "volume": 2}), 400)  # fmt: skip
        assert refused["msg"].startswith("risk: order volume: 2 lots"), refused
        event = socket.events.wait_for("risk", lambda m: m["data"]["kind"] == "refused", since=since)
        assert event["type"] == "risk" and event["data"]["rule"] == "order volume"
        assert event["data"]["local_symbol"] == dce and "2 lots" in event["data"]["message"]
    finally:
        data_of(desk.api.put("/risk", json={"max_order_volume": original}))


def test_a_marketable_order_fills_and_every_change_is_pushed(
    desk: Desk, sockets: SocketFactory, dce: str, dce_tick: dict[str, Any]
):
    socket = sockets(desk, desk.token)
    events = socket.events
    before = events.wait_for("account")["data"]
    since = events.mark()
    order = data_of(desk.api.post("/order_solve", json={
        "local_symbol": dce, "direction": "long", "offset": "open", "type": "limit",
        "price": dce_tick["limit_up"], "volume": 1}))  # fmt: skip
    assert ORDER_FIELDS <= set(order) and order["local_symbol"] == dce and order["direction"] == "long"
    assert order["status"] in {"nottraded", "parttraded", "alltraded"}
    order_id = order["order_id"]
    filled = events.wait_for("order", lambda m: m["data"]["order_id"] == order_id
                             and m["data"]["status"] == "alltraded", since=since)  # fmt: skip
    assert filled["type"] == "order" and filled["data"]["traded"] == 1 and filled["data"]["offset"] == "open"
    trade = events.wait_for("trade", lambda m: m["data"]["order_id"] == order_id, since=since)
    assert trade["type"] == "trade" and TRADE_FIELDS <= set(trade["data"])
    assert trade["data"]["volume"] == 1 and trade["data"]["price"] <= dce_tick["limit_up"]
    active = events.wait_for("active_order", lambda m: all(o["order_id"] != order_id for o in m["data"]), since=since)
    assert active["type"] == "active_order"

    def holds_long(message: dict[str, Any]) -> bool:
        return any(p["local_symbol"] == dce and p["direction"] == "long" and p["volume"] >= 1 for p in message["data"])

    position = events.wait_for("position", holds_long, since=since)
    assert all(POSITION_FIELDS <= set(p) for p in position["data"])
    account = events.wait_for("account", lambda m: m["data"]["margin"] > before["margin"], since=since)
    assert account["type"] == "account" and account["data"]["commission"] > before["commission"]
    # and the overview agrees
    overview = data_of(desk.api.get("/order_solve"))
    assert order_id in [o["order_id"] for o in overview["order_list"]]
    assert order_id in [t["order_id"] for t in overview["trade_list"]]


def test_a_resting_order_is_cancelled_and_cancelling_it_again_is_a_conflict(
    desk: Desk, sockets: SocketFactory, dce: str, dce_tick: dict[str, Any]
):
    socket = sockets(desk, desk.token)
    since = socket.events.mark()
    order = data_of(
        desk.api.post(
            "/order_solve",
            json={
                "local_symbol": dce,
                "direction": "long",
                "type": "limit",
                "price": dce_tick["limit_down"],
                "volume": 1,
            },
        )
    )
    assert order["status"] == "nottraded", order
    socket.events.wait_for("active_order", lambda m: order["order_id"] in [o["order_id"] for o in m["data"]],
                           since=since)  # fmt: skip
    cancelled = data_of(desk.api.delete("/order_solve", json={"order_id": order["order_id"]}))
    assert cancelled["order_id"] == order["order_id"] and cancelled["status"] == "cancelled"
    socket.events.wait_for("order", lambda m: m["data"]["order_id"] == order["order_id"]
                           and m["data"]["status"] == "cancelled", since=since)  # fmt: skip
    socket.events.wait_for("active_order", lambda m: order["order_id"] not in [o["order_id"] for o in m["data"]],
                           since=since)  # fmt: skip
    again = body_of(desk.api.delete("/order_solve", params={"order_id": order["order_id"]}), 409)
    assert order["order_id"] in again["msg"]
    unknown = body_of(desk.api.delete("/order_solve", json={"order_id": "1_1_999999"}), 404)
    assert unknown["success"] is False


# --- bars and configuration -----------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bars_come_in_every_interval_ascending_without_duplicates(desk: Desk, dce: str, method: str):
    def bars(**fields: Any) -> list[list[float]]:
        return data_of(desk.api.request(method, "/bar", **({"params": fields} if method == "GET" else
                                                            {"json": fields})))  # fmt: skip

    for interval in INTERVALS:
        assert isinstance(bars(local_symbol=dce, interval=interval), list), interval  # live, maybe none yet
        rows = bars(local_symbol=SEEDED, interval=interval)
        step = SEED_STEP_MS[interval]
        assert [row[0] for row in rows] == [SEED_START_MS + i * step for i in range(SEED_BARS)], interval
        assert all(len(row) == 6 and all(isinstance(value, int | float) for value in row) for row in rows)
        assert rows[3] == [SEED_START_MS + 3 * step, 103.0, 105.0, 99.0, 104.0, 13], "the later save wins"
        latest = bars(local_symbol=SEEDED, interval=interval, limit=5)
        assert latest == rows[-5:], "limit keeps the latest bars, still ascending"
        window = bars(local_symbol=SEEDED, interval=interval, start=rows[2][0], end=rows[6][0])
        assert window == rows[2:7]
    day = bars(local_symbol=SEEDED, interval="1d", start="2026-01-05T00:00:00+08:00", end="2026-01-07")
    assert [row[0] for row in day] == [SEED_START_MS + i * SEED_STEP_MS["1d"] for i in range(3)]
    assert "interval" in body_of(desk.api.get("/bar", params={"local_symbol": dce, "interval": "2m"}), 400)["msg"]
    assert "limit" in body_of(desk.api.get("/bar", params={"local_symbol": dce, "limit": 20_001}), 400)["msg"]
    assert "end" in body_of(desk.api.get("/bar", params={"local_symbol": dce, "start": 2, "end": 1}), 400)["msg"]
    assert "start" in body_of(desk.api.get("/bar", params={"local_symbol": dce, "start": "yesterday"}), 400)["msg"]


def test_config_is_read_back_and_a_bad_value_changes_nothing(desk: Desk):
    original = data_of(desk.api.get("/config"))
    assert set(original) == {"REFRESH_INTERVAL", "INSTRUMENT_INDEPEND", "SLIPPAGE_BUY", "SLIPPAGE_SHORT",
                             "SLIPPAGE_COVER", "SLIPPAGE_SELL", "CLOSE_PATTERN", "SHARED_FUNC"}  # fmt: skip
    try:
        changes = {"SLIPPAGE_BUY": 2, "CLOSE_PATTERN": "yesterday", "SHARED_FUNC": True}
        saved = data_of(desk.api.put("/config", json=changes))
        assert saved == {**original, **changes}
        assert data_of(desk.api.get("/config")) == saved
        for bad in ({"REFRESH_INTERVAL": 0}, {"REFRESH_INTERVAL": 61}, {"REFRESH_INTERVAL": "often"},
                    {"CLOSE_PATTERN": "sideways"}, {"SLIPPAGE_SELL": -1}, {"NOT_A_SETTING": 1},
                    {"SLIPPAGE_BUY": 3, "CLOSE_PATTERN": "sideways"}):  # fmt: skip
            body = body_of(desk.api.put("/config", json=bad), 400)
            assert any(key in body["msg"] for key in bad), (bad, body["msg"])
            assert data_of(desk.api.get("/config")) == saved, bad
    finally:
        data_of(desk.api.put("/config", json=original))
    assert data_of(desk.api.get("/config")) == original


# --- logging out, restarting ------------------------------------------------------------------------
def test_logout_drops_sockets_and_refuses_the_token(server_factory: ServerFactory, sockets: SocketFactory):
    desk = Desk(server_factory())
    token = desk.token
    socket = sockets(desk, token)
    socket.events.wait_for("status")
    # the wrong access code changes nothing
    body_of(desk.api.post("/logout", json={"authorization": "wrong-code"}), 403)
    assert data_of(desk.api.get("/status"))["td"]["state"] == "ready"
    assert socket.client.connected
    since = socket.events.mark()
    body_of(desk.api.post("/logout", json={"authorization": ACCESS_CODE}), 200)
    assert socket.events.disconnected.wait(10), "the socket must be dropped at logout"
    assert not socket.client.connected
    for path in ("/status", "/order_solve", "/config"):
        refused = body_of(desk.api.get(path), 401)
        assert refused["msg"] == "token error"
    with pytest.raises(socketio.exceptions.ConnectionError):
        sockets(desk, token)
    assert all(m["td"]["state"] != "ready" for m in socket.events.of("status", since))
    # a new login works and its socket is accepted
    fresh = desk.session()
    status = data_of(fresh.get("/status"))
    assert status["td"]["state"] == "ready"
    sockets(desk, str(fresh.headers["Authorization"]).split(" ", 1)[1]).events.wait_for("status")


def test_a_restart_logs_back_in_and_keeps_subscriptions_configuration_positions_and_tokens(
    server_factory: ServerFactory, sockets: SocketFactory, tmp_path_factory: pytest.TempPathFactory
):
    data_dir = tmp_path_factory.mktemp("restart-data")
    sim_name = f"restart{data_dir.name}"  # the sim keeps its book under DATA_DIR/sim-<SIM_NAME>
    first = Desk(server_factory(data_dir=data_dir, SIM_NAME=sim_name))
    name = first_contract(first, "p", "DCE")
    data_of(first.api.post("/market", json={"symbol": name}))
    socket = sockets(first, first.token)
    tick = socket.events.wait_for("tick", is_tick_of(name))["data"]
    order = data_of(first.api.post("/order_solve", json={"local_symbol": name, "direction": "short",
                                                         "price": tick["limit_down"], "volume": 2}))  # fmt: skip
    socket.events.wait_for("order", lambda m: m["data"]["order_id"] == order["order_id"]
                           and m["data"]["status"] == "alltraded")  # fmt: skip
    data_of(first.api.put("/config", json={"REFRESH_INTERVAL": 3, "CLOSE_PATTERN": "yesterday"}))
    token = first.token
    first.server.stop()  # SIGTERM, as a supervisor stops it; the socket is dropped with it
    assert not first.server.killed, "the server ignored SIGTERM"
    assert first.server.process is not None and first.server.process.returncode == 0, first.server.log_tail()
    assert socket.events.disconnected.wait(10)

    second = Desk(server_factory(data_dir=data_dir, SIM_NAME=sim_name))
    api = second.session(token)  # the signing secret lives in the data directory: the token still works
    config = data_of(api.get("/config"))
    assert config["REFRESH_INTERVAL"] == 3 and config["CLOSE_PATTERN"] == "yesterday"
    assert name in [item["local_symbol"] for item in data_of(api.get("/market"))]
    # nobody logs in: the desk logs itself back in with the saved login, subscribes again, and the
    # sim kept its book
    socket = sockets(second, token)
    socket.events.wait_for("status", lambda m: m["td"]["state"] == "ready", timeout=20)
    socket.events.wait_for("tick", is_tick_of(name))

    def short_two(message: dict[str, Any]) -> bool:
        return any(p["local_symbol"] == name and p["direction"] == "short" and p["volume"] == 2
                   for p in message["data"])  # fmt: skip

    socket.events.wait_for("position", short_two)
    assert second.login() != token  # the same account by hand: a new token
