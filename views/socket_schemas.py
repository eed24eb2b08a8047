"""JSON schemas of what travels on the socket: the engine objects' `to_dict` and the events built of them.

Written out by hand (the objects serialise themselves explicitly, field by field), with the enums read
from backend/engine/constants.py. tests/integration/test_asyncapi.py sends every event through the real
push and validates what a socket receives against these, with no field missing or extra, so a change of
`to_dict` or of views/push.py that is not made here fails there.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from backend.engine.constants import ConnectionState, Direction, Exchange, Interval, Offset, OrderType, Status

Schema = dict[str, Any]
NUMBER: Schema = {"type": "number"}
INTEGER: Schema = {"type": "integer"}
STRING: Schema = {"type": "string"}
TIME: Schema = {"type": "string", "format": "date-time", "description": "ISO 8601, the exchange's time zone"}
DAY: Schema = {"type": "string", "format": "date"}
LOCAL_SYMBOL: Schema = {"type": "string", "description": "symbol.EXCHANGE", "examples": ["rb2601.SHFE"]}


def values(kind: type[Enum]) -> Schema:
    return {"type": "string", "enum": [member.value for member in kind]}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def record(properties: dict[str, Schema], description: str = "", optional: tuple[str, ...] = ()) -> Schema:
    """An object whose properties are all present, except those named optional."""
    schema: Schema = {"type": "object", "properties": properties,
                      "required": [name for name in properties if name not in optional]}  # fmt: skip
    if description:
        schema["description"] = description
    return schema


def typed(kind: str, data: Schema, description: str) -> Schema:
    """The ctpbee shape most events have: {type: the event's name, data}."""
    return record({"type": {"const": kind}, "data": data}, description)


def _depth() -> dict[str, Schema]:
    levels = range(1, 6)
    return ({f"bid_price_{n}": NUMBER for n in levels} | {f"ask_price_{n}": NUMBER for n in levels}
            | {f"bid_volume_{n}": INTEGER for n in levels} | {f"ask_volume_{n}": INTEGER for n in levels})  # fmt: skip


TICK = record({
    "local_symbol": LOCAL_SYMBOL, "symbol": STRING, "exchange": values(Exchange), "name": STRING, "datetime": TIME,
    "trading_day": DAY, "last_price": NUMBER, "volume": INTEGER | {"description": "cumulative for the trading day"},
    "turnover": NUMBER, "open_interest": NUMBER, "open_price": NUMBER, "high_price": NUMBER, "low_price": NUMBER,
    "pre_close": NUMBER, "pre_settlement_price": NUMBER, "limit_up": NUMBER, "limit_down": NUMBER,
    "average_price": NUMBER, **_depth(),
}, "A market-data snapshot of one instrument (ctpbee's field names).")  # fmt: skip

BAR_ROW: Schema = {
    "type": "array", "description": "[ts_ms (the bar's start, epoch ms), open, high, low, close, volume]",
    "prefixItems": [INTEGER, NUMBER, NUMBER, NUMBER, NUMBER, INTEGER], "minItems": 6, "maxItems": 6,
}  # fmt: skip

BAR = record({"local_symbol": LOCAL_SYMBOL, "interval": values(Interval), "data": ref("BarRow")},
             "A finished bar.")  # fmt: skip

ORDER = record({
    "order_id": STRING | {"description": "{front}_{session}_{ref}"}, "local_order_id": STRING, "symbol": STRING,
    "exchange": values(Exchange), "local_symbol": LOCAL_SYMBOL, "direction": values(Direction),
    "offset": values(Offset), "type": values(OrderType), "price": NUMBER, "volume": INTEGER, "traded": INTEGER,
    "status": values(Status), "status_msg": STRING, "time": nullable(TIME),
    "strategy": nullable(STRING) | {"description": "the strategy that sent it, or null"},
}, "An order as the counter last reported it.")  # fmt: skip

TRADE = record({
    "trade_id": STRING, "order_id": STRING, "symbol": STRING, "exchange": values(Exchange),
    "local_symbol": LOCAL_SYMBOL, "direction": values(Direction), "offset": values(Offset), "price": NUMBER,
    "volume": INTEGER, "time": nullable(TIME), "strategy": nullable(STRING),
}, "A fill.")  # fmt: skip

POSITION = record({
    "local_symbol": LOCAL_SYMBOL, "symbol": STRING, "exchange": values(Exchange), "direction": values(Direction),
    "volume": INTEGER, "yd_volume": INTEGER, "td_volume": INTEGER,
    "frozen": INTEGER | {"description": "lots promised to working close orders"},
    "available": INTEGER, "price": NUMBER | {"description": "average holding price"},
    "position_profit": NUMBER, "margin": NUMBER,
}, "One side of one instrument's position.")  # fmt: skip

ACCOUNT = record({name: NUMBER for name in ("balance", "available", "margin", "frozen", "commission",
                                              "position_profit", "close_profit", "pre_balance")}
                 | {"accountid": STRING}, "The account's figures.")  # fmt: skip

LOG = record({"created": TIME, "levelname": STRING,
              "owner": STRING | {"description": "engine, gateway, risk or a strategy's name"},
              "name": STRING, "message": STRING}, "A log line of the engine or a strategy.")  # fmt: skip

_CONNECTION = record({"state": values(ConnectionState), "reason": INTEGER, "error_id": INTEGER, "error_msg": STRING})
STATUS = record({
    "interface": STRING | {"description": "sim, ctp or tts; empty when logged out"}, "userid": STRING,
    "td": _CONNECTION, "md": _CONNECTION, "trading_day": STRING | {"description": "YYYYMMDD"},
    "subscribed": INTEGER,
    "strategies_running": {"type": "array", "items": STRING},
    "version": STRING,
}, "The counter's connection and login state (GET /status's data). strategies_running and version come in "
   "the snapshot after connecting, not in the later changes.", optional=("strategies_running", "version"))  # fmt: skip

STRATEGY = record({"name": STRING, "status": {"type": "string", "enum": ["running", "stopped", "error"]},
                   "error": STRING}, "A strategy's new state.")  # fmt: skip

BACKTEST = record({
    "id": STRING | {"description": "the run's id, as POST /backtest or POST /optimise answered it"},
    "kind": {"type": "string", "enum": ["backtest", "optimise"]},
    "status": {"type": "string", "enum": ["queued", "running", "finished", "error", "cancelled"]},
    "progress": NUMBER | {"minimum": 0, "maximum": 1, "description": "the share done, 1 when finished"},
}, "A lab run's state: each status change at once, progress at most four times a second.")  # fmt: skip

RISK = record({
    "kind": {"type": "string", "enum": ["warning", "refused", "kill", "rearm"]},
    "rule": STRING | {"description": "the rule's name (\"kill switch\" for kill and rearm)"},
    "message": STRING | {"description": "names the rule and the figure"},
    "local_symbol": STRING, "strategy": STRING | {"description": "the strategy refused, or empty"},
}, "A warning near a line, a refusal, the kill switch.", optional=("local_symbol", "strategy"))  # fmt: skip

SHARED = record({"local_symbol": LOCAL_SYMBOL, "datetime": TIME, "last_price": NUMBER, "average_price": NUMBER,
                 "volume": INTEGER, "open_interest": NUMBER},
                "One point of the intraday (分时) series: an instrument's latest tick at a minute's end.")  # fmt: skip

COMPONENTS: dict[str, Schema] = {
    "Tick": TICK, "BarRow": BAR_ROW, "Bar": BAR, "Order": ORDER, "Trade": TRADE, "Position": POSITION,
    "Account": ACCOUNT, "Log": LOG, "Status": STATUS, "Strategy": STRATEGY, "Backtest": BACKTEST, "Risk": RISK,
    "Shared": SHARED,
}


def listed(name: str) -> Schema:
    return {"type": "array", "items": ref(name)}
