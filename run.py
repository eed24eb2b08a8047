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
import signal  # noqa: E402
import socket  # noqa: E402

import gevent  # noqa: E402
from gevent.pywsgi import WSGIHandler, WSGIServer  # noqa: E402

from backend.app import create_app, shutdown  # noqa: E402
from lib.config import load_settings  # noqa: E402


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
    server = WSGIServer(_listener(settings.HOST, settings.PORT), application, log=None, handler_class=EnvelopeHandler)
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


class EnvelopeHandler(WSGIHandler):
    """gevent's request handler, answering the requests it refuses itself in the API's envelope too.

    A request line over 8 KiB, or one it cannot parse, never reaches the app: gevent answered it with
    an empty body and no Content-Type, where API.md promises the JSON envelope for every response.
    """

    def handle_one_request(self):  # type: ignore[no-untyped-def]
        result = super().handle_one_request()
        if isinstance(result, tuple) and result[0] in _REFUSED:
            return result[0], _REFUSED[result[0]]
        return result


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
