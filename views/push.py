"""Engine events -> Socket.IO events (shared/API.md).

Orders, trades, positions, account, logs and state go out as they happen: never dropped. Ticks are
display data. A tick goes out at once to every socket that is not busy (issue 17: at light load
the display is as fresh as a per-tick push), to a room per instrument (sockets that `watch`) and to
the room of sockets that see all. A socket with more than a few messages queued (MAX_QUEUED,
MAX_QUEUED_BATCHES: its browser or network is slower than the ticks) is busy: its ticks wait,
only the latest of each instrument, and it gets them together as soon as its queue drains (the
flusher looks again every LAG_RECHECK while someone waits). Under load the ticks that arrive while
a flush is being sent wait for the next flush, so they coalesce per instrument too. A slow browser
therefore never slows the engine, and never has more than one pending tick per instrument beyond
what is queued.
TICK_PUSH_INTERVAL is now the longest the flusher sleeps when nothing happens, not a floor.

One bound remains for a market that ticks faster than anyone can read: an instrument goes out at
most once per TICK_MIN_GAP (0.1 s: ten a second, more than the desk draws); a newer tick within the
gap waits for its end, latest wins. A real front sends two ticks a second per instrument, so this
never holds one back there; a fast sim (bench/web.py's builtin run: 100 a second per instrument)
would otherwise have every tick encoded and sent to every socket.

Sockets that `watch` with `batch: true` get one `ticks` message per flush holding all their changed
instruments instead of one `tick` message each: with a big market that is the difference between
one websocket frame per socket per flush and thousands (bench/web.py). They get finished bars the
same way, as one `bars` message per flush (never skipped): at each minute's end every instrument
finishes a bar, and one `bar` message per bar per socket would hold the engine for seconds there,
because the engine publishes bars from its own greenlet. The intraday `shared` points (SHARED_FUNC,
one per instrument at each minute's end) go the same two ways: one `shared` message each, or one
`shared_batch` message per flush. And the flushes together take at most PUSH_SHARE of the loop's
time: a flush that took long stretches the pause after it, so under overload the display slows down
and the engine does not.

Each tick is encoded to JSON once, when it is flushed, and kept as the instrument's latest; every
message is then made of those texts (RawJson), so sockets that catch up at different moments, each
with its own set of instruments, cost a string join each, not an encoding of the market.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from flask_socketio import SocketIO
from socketio.packet import Packet

from auth.tokens import TokenError, Tokens
from backend.engine import events
from views.json_input import MalformedPacket, SocketJSON

if TYPE_CHECKING:
    from backend.engine.engine import MainEngine

DESK_ROOM = "desk"  # every authenticated socket
ALL_TICKS = "ticks:all"
BATCH_ALL = "ticks:all:batch"  # sockets that take every instrument in one `ticks` message per flush
SINGLE_BARS = "bars:single"  # sockets that take one message per bar (`bar`) and per intraday point (`shared`)
BATCH_BARS = "bars:batch"  # ... and those that take them all in one per flush (`bars`, `shared_batch`)
PUSH_SHARE = 0.3  # the most of the loop's time tick flushes may take
IDENTIFY_WITHIN = 10.0  # seconds an unauthenticated socket may wait before `identify`
TOKEN_CHECK_EVERY = 5.0
FLUSH_YIELD_EVERY = 200
# A socket with more messages than this still queued is busy: its ticks wait, coalesced. A few queued
# is not busy (as before issue 17): under load its writer has the next flush at hand; at light load
# the queues are empty, so this delays nothing there.
MAX_QUEUED = 512  # for a socket of one message per tick
MAX_QUEUED_BATCHES = 2  # for a batch socket: each of its messages is a whole flush
LAG_RECHECK = 0.01  # seconds between looks at the busy sockets' queues while one of them waits for ticks
TICK_MIN_GAP = 0.1  # seconds: an instrument's ticks go out at most this often (the latest, at the gap's end)


class RawJson(str):
    """A JSON text already encoded, placed in a packet as it is: a tick is encoded once, when it is
    flushed, and any batch of ticks is a join of their texts. So the sockets that were busy and catch
    up (each with its own set of instruments) cost a join, not an encoding of thousands of ticks."""


_HOLE = "\x00raw json\x00"  # stands in for a RawJson while its packet's envelope is encoded
_HOLE_TEXT = json.dumps(_HOLE)


class _PacketJson:
    """The JSON of TextPacket: read depth-limited (SocketJSON), written with an event's `data` given as a
    RawJson spliced in as is."""

    loads = staticmethod(SocketJSON.loads)

    @staticmethod
    def dumps(data: Any, **kwargs: Any) -> str:
        payload = data[1] if type(data) is list and len(data) == 2 else None
        if type(payload) is dict and type(payload.get("data")) is RawJson:
            text = json.dumps([data[0], {**payload, "data": _HOLE}], **kwargs)
            return text.replace(_HOLE_TEXT, payload["data"], 1)
        return json.dumps(data, **kwargs)


class TextPacket(Packet):
    """Socket.IO packets of JSON only: ctpdesk never sends binary, so nothing is searched for it.

    python-socketio walks every value of an event's data looking for bytes before encoding it; for a
    batch of the full market's ticks that walk took as long as the JSON encoding itself (about 60 ms
    a flush). Ticks go out pre-encoded (RawJson). Incoming packets are read with the depth-limited JSON
    of views/json_input.py; one that does not decode raises MalformedPacket (views/sockets.py
    disconnects its sender).
    """

    uses_binary_events = False
    json = _PacketJson

    def decode(self, encoded_packet: Any) -> int:
        try:
            return int(super().decode(encoded_packet) or 0)
        except (ValueError, TypeError, IndexError) as error:  # TooDeep, bad JSON, a bad id, an empty packet
            raise MalformedPacket(str(error)) from None


def _cpu_clock() -> float:
    """The event loop thread's CPU seconds: what a flush costs the loop.

    Wall time was the measure, but the sim's clock and the CTP callback threads take the GIL in turns
    with the loop (sys.setswitchinterval(0.001)), so a flush's wall time counted their work too and
    PUSH_SHARE's pause stretched with it: with the full market a flush cycle took about a second
    (bench/web.py --only full: display p50 0.7-0.9 s) while the flusher itself used a fraction of that.
    """
    return time.thread_time()


def _encoded(tick: Any) -> str:
    """A tick's JSON, the fields and values of TickData.to_dict (orjson writes a slots dataclass in field
    order, enums as their values, datetimes and dates in ISO 8601 as isoformat does): a quarter of the
    time of json.dumps(tick.to_dict()), which was most of a full-market flush. Non-finite numbers,
    which TickCleaner already turns into 0, would be null rather than json's invalid NaN."""
    return orjson.dumps(tick).decode()


def _array(texts: Any) -> RawJson:
    return RawJson("[" + ",".join(texts) + "]")


def tick_room(local_symbol: str) -> str:
    return f"tick:{local_symbol}"


@dataclass
class Socket:
    claims: dict[str, Any] | None = None
    since: float = field(default_factory=time.monotonic)
    watching: list[str] | None = None  # None: every subscribed instrument
    batch: bool = False  # one `ticks` message per flush instead of one `tick` per instrument
    seen: int = 0  # the last flush whose ticks it got (a busy socket falls behind, then catches up)


class Push:
    """Engine events out to the sockets; `status` answers what a new socket's first `status` event says."""

    def __init__(self, socketio: SocketIO, engine: MainEngine, tokens: Tokens, status: Callable[[], dict[str, Any]],
                 tick_interval: float) -> None:  # fmt: skip
        self.socketio = socketio
        self.engine = engine
        self.tokens = tokens
        self.status = status
        self.tick_interval = max(0.05, float(tick_interval))
        self.sockets: dict[str, Socket] = {}
        self._ticks: dict[str, Any] = {}  # latest display tick per instrument, not yet flushed
        self._latest: dict[str, str] = {}  # every instrument's latest flushed tick, as sent (JSON)
        self._changed_at: dict[str, int] = {}  # ... and the flush that sent it
        self._flushes = 0  # flushes that sent ticks
        self._last_flush: list[str] = []  # the instruments of the last of them
        self._sent_at: dict[str, float] = {}  # when each instrument last went out (monotonic)
        self._wake_by = 0.0  # when the waiting flusher wakes anyway (0 while it flushes)
        self._behind = False  # a busy socket waits for ticks: look again soon
        self._wake = socketio.server.eio.create_event()  # set by a tick (or bars) while the flusher waits
        self._bars: list[dict[str, Any]] = []  # finished bars for the batch sockets' next flush
        self._shared: list[dict[str, Any]] = []  # intraday points for the batch sockets' next flush
        self._single_bars = 0  # authenticated sockets that take one `bar` message per bar
        self._batch_bars = 0  # ... and those that take a `bars` message per flush
        engine.bus.subscribe(None, self._on_event)
        self._tasks = [socketio.start_background_task(self._tick_loop), socketio.start_background_task(self._guard)]

    # --- sockets ------------------------------------------------------------------------------
    def pending(self, sid: str) -> None:
        self.sockets[sid] = Socket()

    def authenticated(self, sid: str, claims: dict[str, Any]) -> None:
        socket = self.sockets.setdefault(sid, Socket())
        socket.claims = claims
        socket.seen = self._flushes  # from the next flush on: the ticks not flushed yet are its first
        self.socketio.server.enter_room(sid, DESK_ROOM)
        self.socketio.server.enter_room(sid, ALL_TICKS)
        self.socketio.server.enter_room(sid, SINGLE_BARS)
        self._count_bar_sockets()
        self._snapshot(sid)

    def refuse(self, sid: str) -> None:
        self.forget(sid)
        self.socketio.server.disconnect(sid)

    def watch(self, sid: str, symbols: list[str] | None, batch: bool = False) -> bool:
        socket = self.sockets.get(sid)
        if socket is None or socket.claims is None:
            return False
        server = self.socketio.server
        if not socket.batch:
            for name in socket.watching or []:
                server.leave_room(sid, tick_room(name))
        server.leave_room(sid, ALL_TICKS)
        server.leave_room(sid, BATCH_ALL)
        if batch:
            if symbols is None:
                server.enter_room(sid, BATCH_ALL)  # a batch socket with a list is served on its own
        elif symbols is None:
            server.enter_room(sid, ALL_TICKS)
        else:
            for name in symbols:
                server.enter_room(sid, tick_room(name))
        server.leave_room(sid, BATCH_BARS if not batch else SINGLE_BARS)
        server.enter_room(sid, BATCH_BARS if batch else SINGLE_BARS)
        socket.watching, socket.batch = symbols, batch
        self._count_bar_sockets()
        return True

    def forget(self, sid: str) -> None:
        self.sockets.pop(sid, None)
        self._count_bar_sockets()

    def _count_bar_sockets(self) -> None:
        """Who takes bars how: counted when sockets change, not per bar (a minute's end finishes thousands)."""
        authed = [socket for socket in self.sockets.values() if socket.claims is not None]
        self._batch_bars = sum(1 for socket in authed if socket.batch)
        self._single_bars = len(authed) - self._batch_bars

    def close(self) -> None:
        """The server is stopping: no more events in, the flusher and the guard end (the store closes next)."""
        self.engine.bus.unsubscribe(None, self._on_event)
        for task in self._tasks:
            task.kill()

    def disconnect_all(self) -> None:
        for sid in list(self.sockets):
            self.forget(sid)
            self.socketio.server.disconnect(sid)

    def drop_revoked(self) -> None:
        """Disconnect at once the sockets whose token was just revoked (an access-code change), not at the next
        round of the guard."""
        for sid, socket in list(self.sockets.items()):
            if socket.claims is not None and not self._still_valid(socket.claims):
                self.refuse(sid)

    def _snapshot(self, sid: str) -> None:
        """What a page needs at once: account, positions, active orders, status."""
        oms = self.engine.oms
        emit = self.socketio.emit
        if oms.account is not None:
            emit("account", {"type": "account", "data": oms.account.to_dict()}, to=sid)
        emit("position", {"type": "position", "data": [p.to_dict() for p in oms.position_list()]}, to=sid)
        emit("active_order", {"type": "active_order", "data": [o.to_dict() for o in oms.active_orders()]}, to=sid)
        emit("status", self.status(), to=sid)

    # --- engine events ------------------------------------------------------------------------
    def _on_event(self, topic: str, payload: Any) -> None:
        if topic == events.TICK:
            name = payload.local_symbol
            self._ticks[name] = payload
            # it goes out now, unless its instrument went out less than TICK_MIN_GAP ago and the
            # flusher wakes by then anyway (while it flushes, it looks at what waits when done)
            if not self._wake.is_set() and self._sent_at.get(name, 0.0) + TICK_MIN_GAP < self._wake_by:
                self._wake.set()
            return
        handler = _SIMPLE.get(topic)
        if handler is not None:
            self.socketio.emit(topic, handler(payload), to=DESK_ROOM)
        elif topic == events.STATUS:
            self.socketio.emit("status", payload, to=DESK_ROOM)
        elif topic == events.BAR:
            data = {"local_symbol": payload.local_symbol, "interval": payload.interval.value, "data": payload.to_row()}
            if self._single_bars:
                self.socketio.emit("bar", data, to=SINGLE_BARS)
            if self._batch_bars:
                self._bars.append(data)
                if not self._wake.is_set():
                    self._wake.set()
        elif topic == events.SHARED:
            point = payload.to_dict()
            if self._single_bars:
                self.socketio.emit("shared", {"type": "shared", "data": point}, to=SINGLE_BARS)
            if self._batch_bars:
                self._shared.append(point)
                if not self._wake.is_set():
                    self._wake.set()

    def _tick_loop(self) -> None:
        pause = 0.0
        while True:
            if pause > 0:
                self.socketio.sleep(pause)
            # woken by the next tick; TICK_PUSH_INTERVAL is only the longest sleep with nothing to do
            timeout = self._next_wait()
            self._wake_by = time.monotonic() + timeout
            if timeout > 0:
                self._wake.wait(timeout)
            self._wake.clear()
            self._wake_by = 0.0
            spent = self.flush_ticks()
            # flushes take at most PUSH_SHARE of the time: a long one stretches the next pause
            pause = spent * (1 - PUSH_SHARE) / PUSH_SHARE

    def _next_wait(self) -> float:
        """Seconds until the flusher must look again: at once for a waiting tick whose gap is over, at
        the end of the first gap, every LAG_RECHECK while a busy socket waits, else TICK_PUSH_INTERVAL."""
        wait = LAG_RECHECK if self._behind else self.tick_interval
        if self._ticks:
            sent_at = self._sent_at
            due = min(sent_at.get(name, 0.0) for name in self._ticks) + TICK_MIN_GAP
            wait = min(wait, max(0.0, due - time.monotonic()))
        return wait

    def flush_ticks(self) -> float:
        """Send the finished bars, the intraday points and the latest tick of each changed instrument;
        answers the seconds of loop time it took.

        Sockets that are not busy and got the last flush get this one's ticks (one encoding for all
        of them). A busy socket gets nothing now (it keeps its `seen`); once it is free again it gets
        the latest tick of every instrument that changed since its `seen`, in one go.
        """
        began = _cpu_clock()
        bars, self._bars = self._bars, []
        if bars:  # never skipped: a chart needs every bar
            self.socketio.emit("bars", {"type": "bars", "data": bars}, to=BATCH_BARS)
        shared, self._shared = self._shared, []
        if shared:  # nor every point of the series
            self.socketio.emit("shared_batch", {"type": "shared_batch", "data": shared}, to=BATCH_BARS)
        spent = _cpu_clock() - began
        pending, self._ticks = self._ticks, {}
        authed = [(sid, socket) for sid, socket in self.sockets.items() if socket.claims is not None]
        if not authed or not (pending or self._behind):
            self._behind = False
            return spent
        started = _cpu_clock()
        now = time.monotonic()
        sent_at, since = self._sent_at, now - TICK_MIN_GAP
        held = {name: tick for name, tick in pending.items() if sent_at.get(name, 0.0) > since}
        if held:  # went out less than TICK_MIN_GAP ago: wait for the gap's end (nothing was added since)
            self._ticks.update(held)
            pending = {name: tick for name, tick in pending.items() if name not in held}
        ticks = {name: _encoded(tick) for name, tick in pending.items()}
        if ticks:
            self._last_flush = list(ticks)
            sent_at.update(dict.fromkeys(ticks, now))
            self._flushes += 1
            self._latest.update(ticks)
            self._changed_at.update(dict.fromkeys(ticks, self._flushes))
        flush = self._flushes
        busy = set(self._backed_up())
        ready = [(sid, socket) for sid, socket in authed if sid not in busy and socket.seen < flush]
        spent += _cpu_clock() - started
        spent += self._send_single(ticks, flush, ready, authed)
        started = _cpu_clock()
        self._send_batches(flush, ready)
        for _, socket in ready:
            socket.seen = flush
        self._behind = any(socket.seen < flush for sid, socket in authed if sid in self.sockets)
        return spent + _cpu_clock() - started

    def _send_single(self, ticks: dict[str, str], flush: int, ready: list[tuple[str, Socket]],
                     authed: list[tuple[str, Socket]]) -> float:  # fmt: skip
        """One `tick` message per instrument to the sockets that take them so. Those that got the last
        flush get this one's ticks through the rooms (each encoded once for all of them); those that
        were busy catch up. Answers the loop time it took."""
        started = _cpu_clock()
        single = [(sid, socket) for sid, socket in ready if not socket.batch]
        if not single:
            return 0.0
        current = {sid for sid, socket in single if ticks and socket.seen == flush - 1}
        spent = 0.0
        if current:
            skip = [sid for sid, _ in authed if sid not in current]  # a list: python-socketio takes no set
            for index, (name, tick) in enumerate(ticks.items(), start=1):
                # One emit to both rooms: encoded once, each socket receives it once.
                self.socketio.emit("tick", {"type": "tick", "data": RawJson(tick)}, to=[ALL_TICKS, tick_room(name)],
                                   skip_sid=skip)  # fmt: skip
                if index % FLUSH_YIELD_EVERY == 0:
                    spent += _cpu_clock() - started
                    self.socketio.sleep(0)  # a big market must not hold the loop: the engine and HTTP go on
                    started = _cpu_clock()
        late = [(sid, socket) for sid, socket in single if sid not in current]
        every = [sid for sid, socket in late if socket.watching is None]
        if every:  # from the oldest seen: one encoding per tick for all of them
            self._emit_each(self._changed_since(min(socket.seen for sid, socket in late if sid in every)), every)
        for sid, socket in late:
            if socket.watching is not None:
                self._emit_each([name for name in socket.watching if self._changed_at.get(name, 0) > socket.seen],
                                [sid])  # fmt: skip
        return spent + _cpu_clock() - started

    def _send_batches(self, flush: int, ready: list[tuple[str, Socket]]) -> None:
        """One `ticks` message per flush to the batch sockets, with the latest tick of each instrument
        changed since the flush they last got.

        Those that take every instrument and got the last flush share one message (one encoding, one
        websocket frame: views/websocket.py); those that were busy share another, made from the
        oldest `seen` among them: one that fell behind later may get again a latest tick it already
        has, which changes nothing on its screen, rather than each costing a message of its own."""
        latest, changed_at, emit = self._latest, self._changed_at, self.socketio.emit
        every = [(sid, socket) for sid, socket in ready if socket.batch and socket.watching is None]
        current = [sid for sid, socket in every if socket.seen == flush - 1]
        if current and self._last_flush:
            emit("ticks", {"type": "ticks", "data": _array(latest[name] for name in self._last_flush)}, to=current)
        late = [socket.seen for _, socket in every if socket.seen < flush - 1]
        if late:
            names = self._changed_since(min(late))
            if names:
                emit("ticks", {"type": "ticks", "data": _array(latest[name] for name in names)},
                     to=[sid for sid, socket in every if socket.seen < flush - 1])  # fmt: skip
        for sid, socket in ready:
            if socket.batch and socket.watching is not None:
                mine = [name for name in socket.watching if changed_at.get(name, 0) > socket.seen]
                if mine:
                    emit("ticks", {"type": "ticks", "data": _array(latest[name] for name in mine)}, to=sid)

    def _changed_since(self, seen: int) -> list[str]:
        return [name for name, at in self._changed_at.items() if at > seen]

    def _emit_each(self, names: list[str], sids: list[str]) -> None:
        for index, name in enumerate(names, start=1):
            self.socketio.emit("tick", {"type": "tick", "data": RawJson(self._latest[name])}, to=sids)
            if index % FLUSH_YIELD_EVERY == 0:
                self.socketio.sleep(0)

    def _backed_up(self) -> list[str]:
        """Sockets whose Engine.IO queue still holds more than a few messages their writer has not taken."""
        server = self.socketio.server
        behind = []
        for sid, mine in list(self.sockets.items()):
            eio_sid = server.manager.eio_sid_from_sid(sid, "/")
            socket = server.eio.sockets.get(eio_sid) if eio_sid else None
            queue = getattr(socket, "queue", None)
            if queue is not None and queue.qsize() > (MAX_QUEUED_BATCHES if mine.batch else MAX_QUEUED):
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
            return not self.tokens.revoked(claims)
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
    events.RISK: lambda event: {"type": "risk", "data": event},
}
