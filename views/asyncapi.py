"""GET /asyncapi.json: the Socket.IO side of the API as an AsyncAPI 3.0 document.

/openapi.json describes the routes; what the desk pushes (views/push.py) and what a client may send
(views/sockets.py) is here, with the payload of every event (views/socket_schemas.py). OpenAPI has no
words for events a server sends on its own, so the REST document links here (`x-asyncapi`,
`externalDocs`) and lists the events in its description (`event_summary`).

Public like /openapi.json: the published contract, no account data. tests/integration/test_asyncapi.py
checks that every event name the server code emits is described here, and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from views.socket_schemas import COMPONENTS, STRING, Schema, listed, record, ref, typed

blueprint = Blueprint("asyncapi", __name__)
CHANNEL = "desk"


@dataclass(frozen=True)
class Event:
    """One Socket.IO event: its name on the wire, which way it goes, its payload and when it comes."""

    name: str
    summary: str
    payload: Schema
    sent: bool = True  # server -> client; False: client -> server
    reply: Schema | None = None  # the acknowledgement the server answers a client event with


def _answer(data: Schema | None = None) -> Schema:
    properties: dict[str, Schema] = {"success": {"type": "boolean"}, "msg": STRING}
    if data is not None:
        properties["data"] = data
    return record(properties, "The acknowledgement (Socket.IO callback), in the API's envelope.",
                  optional=("data",))  # fmt: skip


SERVER_EVENTS = (
    Event("tick", "Market data of a watched instrument: at once when the socket has nothing pending, else "
          "the latest per instrument (at most ten a second each).", typed("tick", ref("Tick"), "One tick.")),
    Event("ticks", "Sockets that watch with batch: true: the latest tick of every changed instrument, one "
          "message per flush.", typed("ticks", listed("Tick"), "Ticks of many instruments.")),
    Event("bar", "Each finished bar (sockets not in batch mode).", ref("Bar")),
    Event("bars", "Batch sockets: the bars finished since the last flush, one message (never skipped).",
          typed("bars", listed("Bar"), "Finished bars.")),
    Event("order", "Each change of an order.", typed("order", ref("Order"), "One order.")),
    Event("active_order", "Each change of the set of working orders; also right after connecting.",
          typed("active_order", listed("Order"), "Every working order.")),
    Event("trade", "Each fill.", typed("trade", ref("Trade"), "One fill.")),
    Event("position", "On change and each REFRESH_INTERVAL (P&L); also right after connecting.",
          typed("position", listed("Position"), "Every position.")),
    Event("account", "On change; also right after connecting (once the counter reported it).",
          typed("account", ref("Account"), "The account.")),
    Event("log", "Each log line of the engine or a strategy.", ref("Log")),
    Event("contract", "After PUT /market re-read the instrument list: the sorted local_symbols.",
          {"type": "array", "items": STRING}),
    Event("status", "Each counter connection or login change; also right after connecting.", ref("Status")),
    Event("strategy", "Each change of a strategy's state.", ref("Strategy")),
    Event("backtest", "Each change of a lab run (backtest or optimise) and its progress.", ref("Backtest")),
    Event("risk", "Each warning near a line, each refusal by a rule, the kill switch and its re-arming.",
          typed("risk", ref("Risk"), "A risk event.")),
    Event("shared", "Each minute's end when SHARED_FUNC is on: one point per instrument (sockets not in "
          "batch mode).", typed("shared", ref("Shared"), "One intraday point.")),
    Event("shared_batch", "Batch sockets: the intraday points since the last flush, one message.",
          typed("shared_batch", listed("Shared"), "Intraday points.")),
)
CLIENT_EVENTS = (
    Event("identify", "For older clients: authenticate after connecting, within 10 s (a bad token: the "
          "answer, then the socket is disconnected).",
          {"anyOf": [record({"token": STRING}), STRING]}, sent=False, reply=_answer()),
    Event("watch", "Narrow the ticks this socket receives (symbols; absent or null: every subscribed "
          "instrument) and choose batches (batch: true: `ticks`, `bars`, `shared_batch` instead of one "
          "message each). Subscribing is POST /market's business; watch only filters.",
          record({"symbols": {"anyOf": [{"type": "array", "items": STRING}, {"type": "null"}]},
                  "batch": {"type": "boolean", "default": False}}, "What to watch.", optional=("symbols", "batch")),
          sent=False, reply=_answer({"anyOf": [{"type": "array", "items": STRING}, {"const": "all"}]})),
)
EVENTS = SERVER_EVENTS + CLIENT_EVENTS

DESCRIPTION = """\
The desk's Socket.IO side (default namespace `/`, Engine.IO path `socket.io/` beside the REST routes).
Every event carries one JSON argument: its payload below.

**Authentication.** Connect with `auth: {token: "<JWT from POST /login>"}` (or the query `?token=`, or
the `Authorization: JWT <token>` header). A socket with a bad token is refused; one without a token
must send `identify {token}` within 10 seconds. Sockets are disconnected when their token expires or
is revoked (logout, access-code change).

**Right after authentication** the server sends `account` (once the counter reported one),
`position`, `active_order` and `status`, so a page never waits for the next change.

**Ticks** go to every authenticated socket for every subscribed instrument until it sends `watch`.
"""


def _message(event: Event) -> dict[str, Any]:
    return {"name": event.name, "title": event.name, "summary": event.summary, "contentType": "application/json",
            "payload": event.payload}  # fmt: skip


def _operation(event: Event) -> dict[str, Any]:
    channel = {"$ref": f"#/channels/{CHANNEL}"}
    operation: dict[str, Any] = {
        "action": "send" if event.sent else "receive",
        "channel": channel,
        "summary": event.summary,
        "messages": [{"$ref": f"#/channels/{CHANNEL}/messages/{event.name}"}],
    }
    if event.reply is not None:
        reply = {"$ref": f"#/channels/{CHANNEL}/messages/{event.name}_reply"}
        operation["reply"] = {"channel": channel, "messages": [reply]}
    return operation


def build_document(host: str, secure: bool, root: str) -> dict[str, Any]:
    """The document as seen from this request: its host, scheme and (behind a proxy) path prefix."""
    base = f"{'https' if secure else 'http'}://{host}{root}/"  # AsyncAPI wants absolute URLs
    messages = {event.name: _message(event) for event in EVENTS}
    messages |= {f"{event.name}_reply": {"name": f"{event.name} (ack)", "summary": f"The answer to {event.name}.",
                                         "payload": event.reply} for event in CLIENT_EVENTS if event.reply}  # fmt: skip
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "ctpdesk Socket.IO", "version": current_app.config["CTPDESK_VERSION"],
                 "description": DESCRIPTION,
                 "externalDocs": {"description": "The REST API (OpenAPI)", "url": f"{base}openapi.json"}},
        "defaultContentType": "application/json",
        "servers": {"desk": {
            "host": host, "protocol": "wss" if secure else "ws", "pathname": f"{root}/socket.io/",
            "description": "Socket.IO 5 (Engine.IO 4) over websocket or long-polling",
            "security": [{"$ref": "#/components/securitySchemes/token"},
                         {"$ref": "#/components/securitySchemes/header"}]}},
        "channels": {CHANNEL: {"address": "/", "title": "The default namespace", "messages": messages,
                               "servers": [{"$ref": "#/servers/desk"}]}},
        "operations": {f"{'send' if event.sent else 'receive'}_{event.name}": _operation(event) for event in EVENTS},
        "components": {"schemas": COMPONENTS, "securitySchemes": {
            "token": {"type": "httpApiKey", "in": "query", "name": "token",
                      "description": "The JWT of POST /login; the Socket.IO `auth: {token}` object works the same"},
            "header": {"type": "httpApiKey", "in": "header", "name": "Authorization",
                       "description": "`JWT <token>` or `Bearer <token>`"}}},
    }  # fmt: skip


def event_summary() -> str:
    """The events as a Markdown list, for the OpenAPI document's description (what /docs shows)."""
    lines = ["## Socket.IO", "", "Pushed by the server (AsyncAPI 3.0: [asyncapi.json](asyncapi.json)):", ""]
    lines += [f"- `{event.name}`: {event.summary}" for event in SERVER_EVENTS]
    lines += ["", "Sent by a client (answered with an acknowledgement):", ""]
    lines += [f"- `{event.name}`: {event.summary}" for event in CLIENT_EVENTS]
    return "\n".join(lines)


@blueprint.get("/asyncapi.json")
def document():
    return jsonify(build_document(request.host, request.scheme == "https", request.script_root))
