"""The websocket transport of `python run.py` (gevent's server): whole frames, framed once for every
socket, and a closed connection after the websocket closes.

Engine.IO serves websockets on gevent's server through simple-websocket, whose `send` (1.1.0, the
newest) hands each frame to one `socket.send` and ignores how much of it the kernel took. When a
client's socket buffer is full, a big frame (a batch of the full market's ticks is megabytes) goes
out cut short, the rest of the stream is read as garbage and the browser's connection dies: with the
full market, no tick reached any client (bench/web.py). Here the frame goes through `sendall`.

Only Engine.IO's writer greenlet sends data frames on a socket, so a frame is never interleaved with
another; simple-websocket still answers a client's websocket ping with its own write (browsers send
none).

When the websocket session ends, gevent's server does not know the connection was taken over: it
went on reading it as keep-alive HTTP (the client's close frame read as a request line, and the TCP
connection left open, so every client waited for its own timeout to close). Ending the request with
ECONNRESET, which gevent's server takes silently as a client gone, makes it close the connection.

A push sends one message to many sockets, and wsproto copies a message five times to frame it
(bench/web.py's full market: a third of the server's time went to framing the same 7 MB for each
of 20 sockets). A server's frame of a message is the same bytes on every connection without an
extension, so the frame of the last big message is kept and sent as it is to the next socket that
sends the same message. Connections that asked for permessage-deflate (browsers do) compress with
state of their own and always frame their own.

uWSGI (gevent_uwsgi) has its own websocket code and does not use this.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any

import simple_websocket
from engineio.async_drivers.gevent import WebSocketWSGI
from flask_socketio import SocketIO
from wsproto.events import BytesMessage, TextMessage

SHARE_FRAMES_FROM = 64 * 1024  # message size from which a frame is kept for the next socket


@dataclass
class _LastFrame:
    message: str | bytes = b""
    frame: bytes = b""


class WholeFrameWebSocket(WebSocketWSGI):
    _last = _LastFrame()  # one for every socket: they all run on the one event loop

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        offered = environ.get("HTTP_SEC_WEBSOCKET_EXTENSIONS", "").lower()
        self.plain = "permessage-deflate" not in offered  # no extension: frames are the same bytes everywhere
        super().__call__(environ, start_response)
        raise ConnectionResetError(errno.ECONNRESET, "websocket session over: close the connection")

    def send(self, message: Any) -> None:
        ws = self.ws
        if not ws.connected:
            raise OSError("websocket closed")
        try:
            if self.plain and len(message) >= SHARE_FRAMES_FROM:
                last = self._last
                if message != last.message:  # identical objects compare equal at once
                    last.message, last.frame = message, bytes(ws.ws.send(_event(message)))
                frame = last.frame
            else:
                frame = ws.ws.send(_event(message))
            ws.sock.sendall(frame)
        except simple_websocket.ConnectionClosed:
            raise OSError("websocket closed") from None


def _event(message: str | bytes) -> BytesMessage | TextMessage:
    return BytesMessage(data=message) if isinstance(message, bytes) else TextMessage(data=str(message))


def use_whole_frames(socketio: SocketIO) -> None:
    """Serve websockets with WholeFrameWebSocket (the gevent async mode only)."""
    eio = socketio.server.eio
    if eio.async_mode == "gevent" and eio._async.get("websocket") is WebSocketWSGI:
        eio._async = {**eio._async, "websocket": WholeFrameWebSocket}  # a copy: the driver's table is shared
