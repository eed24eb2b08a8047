"""Start ctpdesk: `python run.py [--config FILE]`. Also exposes `app` for uWSGI (`module = run:app`)."""

from __future__ import annotations

import os
import sys

from gevent import monkey

monkey.patch_all()
# CTP callbacks arrive on native threads that need the GIL the event loop holds: a shorter switch
# interval bounds how long they wait for it (order round trips, bench/strategy.py), at little cost.
sys.setswitchinterval(0.001)
# Everything the server and its children write (store, secrets, the sim's journal, the CTP library's flow
# files, strategies' files) is for this user alone: the data directory holds money's secrets.
os.umask(0o077)

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import gevent  # noqa: E402
from gevent.pywsgi import Input, WSGIHandler, WSGIServer  # noqa: E402
from werkzeug.exceptions import RequestEntityTooLarge  # noqa: E402

from backend.app import create_app, shutdown  # noqa: E402
from lib.config import Settings, load_settings  # noqa: E402
from views.body_limits import BODY_CAPPED, body_limit, too_large_message  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ctpdesk: a web trading desk for CTP futures")
    parser.add_argument("--config", default="config.yaml", help="YAML configuration (optional)")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    application = create_app(settings)
    url = f"http://{settings.HOST}:{settings.PORT}/"
    print(f"ctpdesk serving on {url}  (counter: {settings.INTERFACE}); open it in a browser for the desk",
          flush=True)
    generated = application.config.get("CTPDESK_GENERATED_ACCESS_CODE")
    if generated:
        print(f"access code (generated, shown only this once): {generated}", flush=True)
    elif not settings.ACCESS_CODE:
        print("access code: the one generated on the first start (PUT /auth_code changes it)", flush=True)
    if settings.INTERFACE == "sim":
        print(f"log in with the sim's demo account: userid {settings.SIM_USERID}, "
              f"password {settings.SIM_PASSWORD}", flush=True)  # fmt: skip
    main_greenlet = gevent.getcurrent()  # SIGTERM (supervisor, systemd, docker) stops as Ctrl-C does
    gevent.signal_handler(signal.SIGTERM, lambda: main_greenlet.throw(KeyboardInterrupt))
    _more_open_files()
    server = WSGIServer(_listener(settings.HOST, settings.PORT), application, log=None,
                        handler_class=EnvelopeHandler.configured(settings))  # fmt: skip
    try:
        server.serve_forever()  # what socketio.run does on gevent, with a listener of our own (below)
    except KeyboardInterrupt:
        pass
    finally:
        shutdown(application)
    return 0


def _refusal(status: str, message: str) -> bytes:
    """A whole HTTP response in the API's envelope, made once."""
    body = json.dumps({"success": False, "msg": message, "data": ""}).encode()
    head = (f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")  # fmt: skip
    return head.encode() + body


_REFUSED = {  # what gevent's server answers itself, before the app sees a request
    "414": _refusal("414 Request URI Too Long",
                    "the request line is too long (8 KiB at most): send long lists in a body"),  # fmt: skip
    "400": _refusal("400 Bad Request", "malformed HTTP request (request line or headers)"),
}
MAX_HEADER_BYTES = 32 * 1024  # a request's header lines together (uwsgi.ini's buffer-size, nginx's 4 x 8k buffers)
MAX_HEADERS = 100  # header lines (http.client's own cap, which gevent answered with a bare 400 and a traceback)
_TOO_MANY_HEADERS = _refusal("431 Request Header Fields Too Large",
                             f"request headers too large: at most {MAX_HEADERS} lines and "
                             f"{MAX_HEADER_BYTES // 1024} KiB together")  # fmt: skip
_TOO_SLOW = _refusal("408 Request Timeout", "the request's headers did not arrive in time")
LINGER_SECONDS = 2.0  # after refusing a body: how long what the client still sends is read and dropped
LINGER_BYTES = 4 * 1024 * 1024  # ... and how much of it at most


class _Refused(ValueError):
    """A request refused while its headers are read; `response` is the whole answer, in the envelope.

    A ValueError: gevent's server takes it for a client's error (no traceback)."""

    def __init__(self, status: str, response: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.response = response


class _HeaderBudget:
    """The connection's reader as http.client's header parser sees it: at most MAX_HEADERS lines of
    MAX_HEADER_BYTES together, so a client cannot make the server hold megabytes of headers."""

    def __init__(self, rfile: Any) -> None:
        self.rfile = rfile
        self.left = MAX_HEADER_BYTES
        self.lines = 0

    def readline(self, size: int = -1) -> bytes:
        wanted = self.left + 1 if size is None or size < 0 else min(size, self.left + 1)
        line = self.rfile.readline(wanted)
        self.left -= len(line)
        self.lines += line not in (b"\r\n", b"\n", b"")
        if self.left < 0 or self.lines > MAX_HEADERS:
            raise _Refused("431", _TOO_MANY_HEADERS)
        return line


class _CappedInput(Input):
    """gevent's request body, held to its path's limit (`cap`) as it is read.

    A body without a length (chunked) is counted as the app reads it: a read past the limit raises
    RequestEntityTooLarge, which the app answers with 413 in the envelope (werkzeug's own limit,
    request.max_content_length, cuts such a body short without a word: its JSON is then merely
    invalid). gevent drained whatever the app left unread after the response, all of it, so an
    endless body kept a greenlet reading for as long as the client went on sending: here the rest
    is drained only up to the limit, and `cut` says the connection must close instead.
    """

    __slots__ = ("cap", "cut", "taken")  # taken: bytes of body read (gevent counts only a declared length)

    def read(self, length: int | None = None) -> bytes:
        return self._taking(super().read(self._room(length)))

    def readline(self, size: int | None = None) -> bytes:
        return self._taking(super().readline(self._room(size)))

    def _room(self, wanted: int | None) -> int:
        room = self.cap + 1 - self.taken  # one byte past the limit tells a body over it
        return room if wanted is None or wanted < 0 or wanted > room else wanted

    def _taking(self, data: bytes) -> bytes:
        self.taken += len(data)
        if self.taken > self.cap:
            self.cut = True
            raise RequestEntityTooLarge(too_large_message(int(self.cap)))
        return data

    def _discard(self) -> None:
        if self._chunked_input_error or self.cut:
            return
        self.send_100_continue_enabled = False  # nobody waits for a 100 Continue any more
        try:
            while self.read(16384):
                pass
        except RequestEntityTooLarge:
            pass  # cut: the connection closes


class EnvelopeHandler(WSGIHandler):
    """gevent's request handler with the limits a server facing the network needs, each refusal in
    the API's envelope (as nginx and uWSGI do in the deployment, deploy/nginx.conf):

    - A request line over 8 KiB, or one gevent cannot parse, never reaches the app: gevent answered
      it with an empty body and no Content-Type, where API.md promises the JSON envelope.
    - Time: a new connection has HEADER_TIMEOUT seconds to send its request line and headers, and an
      idle keep-alive connection KEEPALIVE_TIMEOUT seconds to begin its next request; then it is
      closed (408 when headers had begun). Without them, silent connections held a descriptor each
      until the server could accept no more (issue 16). Only the reading of a request's head is timed:
      a websocket or a long poll is a request the app is answering, and runs as long as it needs.
    - Size: headers over MAX_HEADERS lines or MAX_HEADER_BYTES are refused with 431; a body whose
      Content-Length is over its path's limit (views/body_limits.py) with 413 before a byte of it is
      read. A chunked body is held to the same limit as the app reads it (werkzeug's LimitedStream),
      and what the app left of it is drained only up to the limit.
    """

    settings = Settings()  # the configured ones: configured(settings)
    _clock: gevent.Timeout | None = None
    _began = False  # this connection has begun a request before

    @classmethod
    def configured(cls, settings: Settings) -> type[EnvelopeHandler]:
        return type(cls.__name__, (cls,), {"settings": settings})

    # --- time -----------------------------------------------------------------------------------
    def _start_clock(self, seconds: float) -> None:
        self._stop_clock()
        if seconds > 0:
            self._clock = gevent.Timeout.start_new(seconds)

    def _stop_clock(self) -> None:
        if self._clock is not None:
            self._clock.close()
            self._clock = None

    def read_requestline(self) -> str:
        first = not self._began
        self._began = True
        self._start_clock(self.settings.HEADER_TIMEOUT if first else self.settings.KEEPALIVE_TIMEOUT)
        try:
            line = super().read_requestline()
        except gevent.Timeout as late:
            if late is not self._clock:
                raise
            return ""  # nothing (or not even a whole request line) in time: closed without an answer
        if not first:  # the next request began: its headers get the whole header timeout
            self._start_clock(self.settings.HEADER_TIMEOUT)
        return line

    def read_request(self, raw_requestline: str) -> bool:
        try:
            super().read_request(raw_requestline)
        except gevent.Timeout as late:
            if late is not self._clock:
                raise
            raise _Refused("408", _TOO_SLOW) from None
        finally:
            self._stop_clock()
        limit = body_limit(urlsplit(self.path).path, self.settings)
        if limit is not None and (self.content_length or 0) > limit:
            raise _Refused("413", _refusal("413 Content Too Large", too_large_message(limit)))
        return True

    # --- size -----------------------------------------------------------------------------------
    def MessageClass(self, fp: Any, *args: Any) -> Any:  # noqa: N802 - gevent's name
        return super().MessageClass(_HeaderBudget(fp), *args)

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        plain = self.wsgi_input
        if environ["wsgi.input"] is plain:  # not a websocket upgrade (which reads the socket itself)
            capped = _CappedInput(self.rfile, self.content_length, socket=plain.socket,
                                  chunked_input=plain.chunked_input)  # fmt: skip
            capped.cap = body_limit(urlsplit(self.path).path, self.settings) or sys.maxsize
            capped.cut, capped.taken = False, 0
            self.wsgi_input = environ["wsgi.input"] = capped
            environ[BODY_CAPPED] = True  # the app leaves the body limit to this stream (views/body_limits.py)
        return environ

    def handle_one_response(self) -> None:
        super().handle_one_response()
        if getattr(self.wsgi_input, "cut", False):  # the rest of a body over the limit is left unread
            self.close_connection = True
            self._linger()

    # --- answers --------------------------------------------------------------------------------
    def _handle_client_error(self, ex: BaseException) -> tuple[str, bytes]:
        if isinstance(ex, _Refused):
            return ex.status, ex.response
        return super()._handle_client_error(ex)

    def handle_one_request(self):  # type: ignore[no-untyped-def]
        try:
            result = super().handle_one_request()
        finally:
            self._stop_clock()
        if not isinstance(result, tuple):
            return result
        status, response = result[0], _REFUSED.get(result[0], result[1])
        if status == "413":  # the client may be sending the body still: answer, then drop what comes
            self.socket.sendall(response)
            self._linger()
            return None
        return status, response

    def _linger(self) -> None:
        """Close after an answer that left the body unread, without resetting the connection under the
        client's feet: stop sending, then read and drop what it still sends for a moment (bounded in
        time and bytes), as nginx's lingering_close does. A reset could lose the answer on its way."""
        sock = self.socket
        try:
            sock.shutdown(socket.SHUT_WR)
            with gevent.Timeout(LINGER_SECONDS, False):
                drained = 0
                while drained < LINGER_BYTES:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    drained += len(chunk)
        except OSError:
            pass


def _more_open_files() -> None:
    """The soft limit of open descriptors raised to the hard one: each connection holds one, and a
    soft limit of 1,024 (a common default) is a few hundred browsers or one hostile client."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass


def _listener(host: str, port: int) -> socket.socket:
    """A listening socket with TCP_NODELAY, which accepted sockets inherit.

    gevent's server writes a response's headers and body separately; with Nagle's algorithm the body
    then waits for the client's delayed ACK: 40 ms on every keep-alive request (bench/web.py).
    """
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind((host, port))
    listener.listen(1024)
    return listener


def _serve_under_uwsgi():
    """uWSGI imports `run:app`; its shutdown (SIGTERM with die-on-term, SIGINT) ends here.

    uWSGI skips Python's atexit handlers in async mode (its gevent loop), so the clean shutdown is
    uWSGI's own exit hook, `uwsgi.atexit`, which the gevent loop calls when the worker stops.
    """
    application = create_app()
    done: list[bool] = []

    def stop() -> None:
        if not done:  # uWSGI may call it twice: after the last request of a graceful stop, then at the end
            done.append(True)
            shutdown(application)

    try:
        import uwsgi
    except ImportError:  # imported outside uWSGI
        import atexit

        atexit.register(stop)
    else:
        uwsgi.atexit = stop
    return application


if __name__ == "__main__":
    sys.exit(main())
else:
    app = _serve_under_uwsgi()
