"""Engine events -> Socket.IO events (shared/API.md).

Orders, trades, positions, account, logs and state go out as they happen: never dropped. Ticks are
display data: per instrument only the latest is kept, and at most one per TICK_PUSH_INTERVAL goes
out, to a room per instrument (sockets that `watch`) and to the room of sockets that see all. A slow
browser therefore never slows the engine, and costs at most one message per instrument per interval.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from flask_socketio import SocketIO

from auth.tokens import TokenError
from backend.engine import events

DESK_ROOM = "desk"  # every authenticated socket
ALL_TICKS = "ticks:all"
IDENTIFY_WITHIN = 10.0  # seconds an unauthenticated socket may wait before `identify`
TOKEN_CHECK_EVERY = 5.0
FLUSH_YIELD_EVERY = 200
MAX_QUEUED = 512  # messages a socket may still have queued and get the next flush's ticks


def tick_room(local_symbol: str) -> str:
    return f"tick:{local_symbol}"


@dataclass
class Socket:
    claims: dict[str, Any] | None = None
    since: float = field(default_factory=time.monotonic)
    watching: list[str] | None = None  # None: every subscribed instrument


class Push:
    def __init__(self, socketio: SocketIO, desk: Any) -> None:
        self.socketio = socketio
        self.desk = desk
        self.sockets: dict[str, Socket] = {}
        self._ticks: dict[str, dict[str, Any]] = {}  # latest display tick per instrument, not yet sent
        desk.engine.bus.subscribe(None, self._on_event)
        self._tasks = [socketio.start_background_task(self._tick_loop), socketio.start_background_task(self._guard)]

    # --- sockets ------------------------------------------------------------------------------
    def pending(self, sid: str) -> None:
        self.sockets[sid] = Socket()

    def authenticated(self, sid: str, claims: dict[str, Any]) -> None:
        socket = self.sockets.setdefault(sid, Socket())
        socket.claims = claims
        self.socketio.server.enter_room(sid, DESK_ROOM)
        self.socketio.server.enter_room(sid, ALL_TICKS)
        self._snapshot(sid)

    def refuse(self, sid: str) -> None:
        self.forget(sid)
        self.socketio.server.disconnect(sid)

    def watch(self, sid: str, symbols: list[str] | None) -> bool:
        socket = self.sockets.get(sid)
        if socket is None or socket.claims is None:
            return False
        server = self.socketio.server
        for name in socket.watching or []:
            server.leave_room(sid, tick_room(name))
        if symbols is None:
            server.enter_room(sid, ALL_TICKS)
        else:
            server.leave_room(sid, ALL_TICKS)
            for name in symbols:
                server.enter_room(sid, tick_room(name))
        socket.watching = symbols
        return True

    def forget(self, sid: str) -> None:
        self.sockets.pop(sid, None)

    def disconnect_all(self) -> None:
        for sid in list(self.sockets):
            self.forget(sid)
            self.socketio.server.disconnect(sid)

    def _snapshot(self, sid: str) -> None:
        """What a page needs at once: account, positions, active orders, status."""
        from views.accounts import status_data

        oms = self.desk.engine.oms
        emit = self.socketio.emit
        if oms.account is not None:
            emit("account", {"type": "account", "data": oms.account.to_dict()}, to=sid)
        emit("position", {"type": "position", "data": [p.to_dict() for p in oms.position_list()]}, to=sid)
        emit("active_order", {"type": "active_order", "data": [o.to_dict() for o in oms.active_orders()]}, to=sid)
        emit("status", status_data(), to=sid)

    # --- engine events ------------------------------------------------------------------------
    def _on_event(self, topic: str, payload: Any) -> None:
        if topic == events.TICK:
            self._ticks[payload.local_symbol] = payload
            return
        handler = _SIMPLE.get(topic)
        if handler is not None:
            self.socketio.emit(topic, handler(payload), to=DESK_ROOM)
        elif topic == events.STATUS:
            self.socketio.emit("status", payload, to=DESK_ROOM)
        elif topic == events.BAR:
            data = {"local_symbol": payload.local_symbol, "interval": payload.interval.value, "data": payload.to_row()}
            self.socketio.emit("bar", data, to=DESK_ROOM)

    def _tick_loop(self) -> None:
        while True:
            self.socketio.sleep(max(0.05, float(self.desk.settings.TICK_PUSH_INTERVAL)))
            self.flush_ticks()

    def flush_ticks(self) -> None:
        pending, self._ticks = self._ticks, {}
        if not pending:
            return
        # A socket still sending the last flush's ticks skips this one: a slow browser loses
        # intermediate display ticks (never orders, trades or positions) and costs nothing.
        behind = self._backed_up()
        for index, (name, tick) in enumerate(pending.items(), start=1):
            # One emit to both rooms: encoded once, each socket receives it once.
            self.socketio.emit("tick", {"type": "tick", "data": tick.to_dict()}, to=[ALL_TICKS, tick_room(name)],
                               skip_sid=behind)  # fmt: skip
            if index % FLUSH_YIELD_EVERY == 0:
                self.socketio.sleep(0)  # a big market must not hold the loop: the engine and HTTP go on

    def _backed_up(self) -> list[str]:
        """Sockets whose Engine.IO queue still holds more than a flush's worth of messages."""
        server = self.socketio.server
        behind = []
        for sid in list(self.sockets):
            eio_sid = server.manager.eio_sid_from_sid(sid, "/")
            socket = server.eio.sockets.get(eio_sid) if eio_sid else None
            queue = getattr(socket, "queue", None)
            if queue is not None and queue.qsize() > MAX_QUEUED:
                behind.append(sid)
        return behind

    def _guard(self) -> None:
        """Drop sockets that never identified, and those whose token expired or was revoked."""
        while True:
            self.socketio.sleep(1.0)
            now = time.monotonic()
            for sid, socket in list(self.sockets.items()):
                if socket.claims is None and now - socket.since > IDENTIFY_WITHIN:
                    self.refuse(sid)
                elif socket.claims is not None and now - socket.since > TOKEN_CHECK_EVERY:
                    socket.since = now
                    if not self._still_valid(socket.claims):
                        self.refuse(sid)

    def _still_valid(self, claims: dict[str, Any]) -> bool:
        if float(claims.get("exp", 0)) < time.time():
            return False
        try:
            store = self.desk.store
            return not (float(claims.get("issued", 0)) < store.revoked_before() or store.is_revoked(claims["jti"]))
        except TokenError:
            return False


def _listed(kind: str):
    return lambda items: {"type": kind, "data": [item.to_dict() for item in items]}


def _single(kind: str):
    return lambda item: {"type": kind, "data": item.to_dict()}


_SIMPLE = {
    events.ORDER: _single("order"),
    events.TRADE: _single("trade"),
    events.ACCOUNT: _single("account"),
    events.ACTIVE_ORDER: _listed("active_order"),
    events.POSITION: _listed("position"),
    events.LOG: lambda record: record.to_dict(),
    events.CONTRACT: lambda names: list(names),
    events.STRATEGY: lambda state: state,
}
