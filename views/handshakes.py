"""Engine.IO sessions: a cap per client address, and a short life for those without a Socket.IO socket.

An Engine.IO handshake (`GET /socket.io/?EIO=4&transport=polling`) needs no token: the token comes
with the Socket.IO connect that follows. python-engineio keeps every session until its client
misses a ping (pingInterval + pingTimeout: about 45 s), so 100,000 handshakes in 38 s from one
client took the server from 260 MB to 1.2 GB (issue 16). Here:

- a client address may hold ENGINEIO_PER_ADDRESS sessions at once; one more handshake is refused
  with 429 in the envelope before Engine.IO sees it (the address is the one ProxyFix gives behind
  nginx, BEHIND_PROXY);
- a session without a connected Socket.IO socket (on the default namespace, the only one) for
  ENGINEIO_CONNECT_WITHIN seconds is closed: one that never connected, and one whose socket was
  dropped (views/push.py drops a socket that connected without a token and did not `identify`
  within its own 10 s) but which went on answering pings.

A browser's page holds one session, connected at once, so neither limit touches it.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from flask_socketio import SocketIO

SWEEP_EVERY = 1.0  # seconds between looks at the sessions (at most; less for a short life)
NAMESPACE = "/"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Handshakes:
    """Counts Engine.IO sessions by address (from Engine.IO's own connect and disconnect events) and
    closes those that go without a Socket.IO socket for too long; `middleware` refuses handshakes."""

    def __init__(self, socketio: SocketIO, per_address: int, connect_within: float, path: str = "socket.io") -> None:
        self.server = socketio.server
        self.eio = self.server.eio
        self.per_address = per_address
        self.connect_within = connect_within
        self.prefix = "/" + path.strip("/")
        self.address: dict[str, str] = {}  # Engine.IO sid -> client address
        self.count: Counter[str] = Counter()  # client address -> sessions
        self.alone_since: dict[str, float] = {}  # Engine.IO sid -> when it was last seen without a socket
        self._hook_events()
        self._sweeper = socketio.start_background_task(self._sweep_forever)

    # --- counting ---------------------------------------------------------------------------------
    def _hook_events(self) -> None:
        handlers = self.eio.handlers
        connect, disconnect = handlers["connect"], handlers["disconnect"]

        def on_connect(eio_sid: str, environ: dict[str, Any], *args: Any) -> Any:
            self.opened(eio_sid, str(environ.get("REMOTE_ADDR", "")))
            return connect(eio_sid, environ, *args)

        def on_disconnect(eio_sid: str, *args: Any) -> Any:
            self.closed(eio_sid)
            return disconnect(eio_sid, *args)

        handlers["connect"], handlers["disconnect"] = on_connect, on_disconnect

    def opened(self, eio_sid: str, address: str) -> None:
        self.address[eio_sid] = address
        self.count[address] += 1
        self.alone_since[eio_sid] = time.monotonic()

    def closed(self, eio_sid: str) -> None:
        address = self.address.pop(eio_sid, None)
        self.alone_since.pop(eio_sid, None)
        if address is not None:
            self.count[address] -= 1
            if self.count[address] <= 0:
                del self.count[address]

    def close(self) -> None:
        """The server is stopping: the sweeps end."""
        self._sweeper.kill()

    # --- the short life ---------------------------------------------------------------------------
    def _sweep_forever(self) -> None:
        pause = min(SWEEP_EVERY, self.connect_within / 4) if self.connect_within > 0 else SWEEP_EVERY
        while True:
            self.server.sleep(pause)
            self.sweep(time.monotonic())

    def sweep(self, now: float) -> None:
        """Forget sessions Engine.IO dropped without telling (a refused connect), close those alone too long."""
        sockets = self.eio.sockets
        manager = self.server.manager
        for eio_sid in list(self.address):
            session = sockets.get(eio_sid)
            if session is None or session.closed:
                self.closed(eio_sid)
            elif manager.sid_from_eio_sid(eio_sid, NAMESPACE) is not None:
                self.alone_since[eio_sid] = now
            elif 0 < self.connect_within < now - self.alone_since.get(eio_sid, now):
                self._close(eio_sid, session)

    def _close(self, eio_sid: str, session: Any) -> None:
        """Close without waiting for the client to take the close packet (it may never poll again)."""
        try:
            session.close(wait=False, abort=False, reason=self.eio.reason.SERVER_DISCONNECT)
        except Exception:  # noqa: BLE001 - already closing: it goes all the same
            pass
        sockets = self.eio.sockets
        if sockets.get(eio_sid) is session:
            del sockets[eio_sid]
        self.closed(eio_sid)

    # --- the cap ----------------------------------------------------------------------------------
    def full(self, environ: dict[str, Any]) -> bool:
        """A handshake (no `sid` yet) from an address that holds its every session already."""
        if self.per_address <= 0 or "sid" in parse_qs(environ.get("QUERY_STRING", "")):  # as Engine.IO reads it
            return False
        return self.count[str(environ.get("REMOTE_ADDR", ""))] >= self.per_address

    def middleware(self, app: WsgiApp) -> WsgiApp:
        """`app` with handshakes over the cap answered 429, in the envelope, before Engine.IO sees them."""
        refusal = json.dumps({"success": False, "data": "",
                              "msg": f"too many Socket.IO connections from this address (at most "
                                     f"{self.per_address}): close some, or wait and try again"}).encode()  # fmt: skip
        retry = str(max(1, math.ceil(self.connect_within)))

        def limited(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            if (path == self.prefix or path.startswith(self.prefix + "/")) and self.full(environ):
                start_response("429 Too Many Requests", [("Content-Type", "application/json"),
                                                         ("Content-Length", str(len(refusal))),
                                                         ("Retry-After", retry)])  # fmt: skip
                return [refusal]
            return app(environ, start_response)

        return limited
