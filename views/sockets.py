"""Socket.IO handlers: authenticate at connect (or `identify`), `watch` to narrow the ticks."""

from __future__ import annotations

import logging
from typing import Any

from engineio import packet as engineio_packet
from flask import request
from flask_socketio import SocketIO

from auth.tokens import TokenError, token_from_header
from views.desk import desk
from views.envelope import TOKEN_ERROR
from views.json_input import MalformedPacket, SocketJSON
from views.push import Push

log = logging.getLogger(__name__)


def _push() -> Push:
    return desk().push


def _claims(token: str) -> dict[str, Any]:
    return desk().tokens.verify(token)


def refuse_malformed_packets(socketio: SocketIO) -> None:
    """A packet that does not decode (views.push.TextPacket) disconnects its sender, with one line logged.

    python-socketio lets the decoding error escape to Engine.IO, which logs a traceback for each such
    message and keeps the connection: a client could fill the log with them as fast as it can send.
    Engine.IO itself first tries every text message as JSON and keeps it as text when that fails with
    a ValueError; a deeply nested one failed with RecursionError instead, a traceback each (and the
    websocket dropped). Its JSON is made the depth-limited one too (what engineio.Server(json=...)
    does: engineio's packets have one JSON for the process), so such a message stays text and is
    refused here like any other malformed packet.
    """
    engineio_packet.Packet.json = SocketJSON
    eio = socketio.server.eio
    handle = eio.handlers["message"]

    def guarded(eio_sid: str, data: Any) -> Any:
        try:
            return handle(eio_sid, data)
        except MalformedPacket as error:
            log.warning("socket %s sent a malformed packet (%s): disconnected", eio_sid, error)
            eio.disconnect(eio_sid)
            return None

    eio.on("message", guarded)


def register_socket_handlers(socketio: SocketIO) -> None:
    refuse_malformed_packets(socketio)

    @socketio.on("connect")
    def connect(auth: Any = None) -> None:
        token = auth.get("token", "") if isinstance(auth, dict) else ""
        token = token or request.args.get("token", "") or token_from_header(request.headers.get("Authorization"))
        if not token:
            _push().pending(request.sid)  # an older client may still `identify` itself
            return
        try:
            claims = _claims(str(token))
        except TokenError:
            raise ConnectionRefusedError(TOKEN_ERROR) from None
        _push().authenticated(request.sid, claims)

    @socketio.on("identify")
    def identify(data: Any = None) -> dict[str, Any]:
        token = data.get("token", "") if isinstance(data, dict) else (data if isinstance(data, str) else "")
        try:
            claims = _claims(str(token))
        except TokenError:
            sid = request.sid
            socketio.start_background_task(_push().refuse, sid)  # after the answer has gone out
            return {"success": False, "msg": TOKEN_ERROR}
        _push().authenticated(request.sid, claims)
        return {"success": True, "msg": "identified"}

    @socketio.on("watch")
    def watch(data: Any = None) -> dict[str, Any]:
        symbols = data.get("symbols") if isinstance(data, dict) else None
        batch = data.get("batch", False) if isinstance(data, dict) else False
        if symbols is not None and (not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols)):
            return {"success": False, "msg": "symbols: a list of local_symbols"}
        if not isinstance(batch, bool):
            return {"success": False, "msg": "batch: true or false"}
        if not _push().watch(request.sid, symbols, batch):
            return {"success": False, "msg": TOKEN_ERROR}
        return {"success": True, "msg": "watching", "data": symbols or "all"}

    @socketio.on("disconnect")
    def disconnect(*_: Any) -> None:
        _push().forget(request.sid)
