"""Origins and hosts: under which names the desk answers (ALLOWED_HOSTS) and which browser pages on
other origins may call it (CORS_ORIGINS), for REST and Socket.IO alike.

* **Hosts** (DNS rebinding): a page on a domain the attacker controls, re-pointed at this machine,
  is "same origin" with it for the browser, and the `Host` header it sends is the attacker's name.
  So every request, Socket.IO's included, whose `Host` is not one of the desk's names is refused
  (400) before anything else sees it. Loopback names always pass: a browser sends them only when
  it was pointed at this machine itself.
* **Origins**: the desk's own origin (`scheme://Host` as this request came in: behind nginx, after
  ProxyFix) and the listed ones. A websocket handshake is not subject to CORS at all, so a foreign
  origin is refused on the Socket.IO path (403). So is any request that can change something
  (anything but GET and HEAD): browsers send a form POST to another origin without asking first
  and only hide the answer, which would let any page a trader visits try access codes at
  `/login`. A GET from a foreign origin is answered without CORS headers: the browser keeps it
  from the page. A listed origin gets its preflights answered and `Access-Control-Allow-Origin`
  on every answer, errors included, so the front end can read the envelope.

`EdgeGuard` is the WSGI part (hosts, refusals), wrapped round Flask-SocketIO's middleware so it sees
`/socket.io/` too, and inside ProxyFix so that behind nginx it sees the browser's `Host` and scheme.
`install` adds the CORS headers and preflight answers to Flask's responses.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request

from lib.config import Settings
from lib.hosts import canonical_origin, is_address, join_host, split_host
from views.envelope import ApiError, envelope

log = logging.getLogger("ctpdesk.origins")
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})
SAFE_METHODS = frozenset({"GET", "HEAD"})
ALLOW_HEADERS = "Authorization, Content-Type"
EXPOSE_HEADERS = "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
PREFLIGHT_MAX_AGE = "600"  # seconds a browser may reuse a preflight's answer
HOST_REFUSED = "host not allowed"
_REMEMBERED_REFUSALS = 32  # distinct refused hosts logged; more are refused silently

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class HostPolicy:
    """The names the desk answers to: `names` on any port, `pairs` (name, port) on that port only."""

    names: frozenset[str]
    pairs: frozenset[tuple[str, int]]
    any_address: bool = False  # any IP address (HOST is 0.0.0.0 / :: and ALLOWED_HOSTS is unset)
    any_host: bool = False  # ALLOWED_HOSTS: ["*"]

    @classmethod
    def from_settings(cls, settings: Settings) -> HostPolicy:
        if "*" in settings.ALLOWED_HOSTS:
            return cls(LOOPBACK, frozenset(), any_host=True)
        entries = settings.ALLOWED_HOSTS or _default_hosts(settings.HOST)
        names, pairs = set(LOOPBACK), set()
        for entry in entries:
            split = split_host(entry)
            if split is None:
                continue
            if split[1] is None:
                names.add(split[0])
            else:
                pairs.add((split[0], split[1]))
        wildcard = not settings.ALLOWED_HOSTS and settings.HOST.strip() in WILDCARD_BINDS
        return cls(frozenset(names), frozenset(pairs), any_address=wildcard)

    def allows(self, host_header: str | None) -> bool:
        """Whether a request with this `Host` header is for the desk. None (HTTP/1.0 without one)
        passes: it cannot come from a browser, so it cannot be a rebinding."""
        if host_header is None or self.any_host:
            return True
        split = split_host(host_header)
        if split is None:
            return False
        host, port = split
        return (host in self.names or (port is not None and (host, port) in self.pairs)
                or (self.any_address and is_address(host)))  # fmt: skip

    def describe(self) -> str:
        shown = sorted(self.names) + sorted(join_host(*pair) for pair in self.pairs)
        if self.any_host:
            return "any host (ALLOWED_HOSTS: *)"
        return ", ".join(shown) + (", any IP address" if self.any_address else "")


def _default_hosts(bind: str) -> tuple[str, ...]:
    """ALLOWED_HOSTS unset: the bound address; on a wildcard bind also this machine's names (its
    addresses pass anyway: see HostPolicy.any_address)."""
    bind = bind.strip()
    if bind not in WILDCARD_BINDS:
        return (bind,)
    return tuple({socket.gethostname(), socket.getfqdn()})


@dataclass(frozen=True)
class OriginPolicy:
    """The listed origins (CORS_ORIGINS, canonical) and the desk's own, worked out per request."""

    listed: frozenset[str]

    @staticmethod
    def own(environ: Mapping[str, Any]) -> str | None:
        """This request's own origin: its scheme and Host (behind nginx, the browser's, via ProxyFix)."""
        host = environ.get("HTTP_HOST")
        if not host:
            return None
        return canonical_origin(f"{environ.get('wsgi.url_scheme', 'http')}://{host}")

    def allows(self, origin: str | None, environ: Mapping[str, Any]) -> bool:
        """Whether a page on `origin` may use the desk: its own origin or a listed one. No Origin
        header (scripts, curl, same-origin GETs) is not a cross-origin page and passes. Also
        Engine.IO's `cors_allowed_origins` (EdgeGuard refuses first; with this, polling answers
        carry `Access-Control-Allow-Origin` for a listed origin)."""
        if not origin:
            return True
        return origin in self.listed or origin == self.own(environ)


class EdgeGuard:
    """WSGI middleware: the host check on every request, and the origin check on the Socket.IO path
    and on every request that can change something. Refusals are in the API's envelope."""

    def __init__(self, app: WsgiApp, hosts: HostPolicy, origins: OriginPolicy, socket_path: str) -> None:
        self.app = app
        self.hosts = hosts
        self.origins = origins
        self.socket_path = socket_path
        self._logged: set[str] = set()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST")
        if not self.hosts.allows(host):
            self._note(f"host {host!r} refused: not in ALLOWED_HOSTS ({self.hosts.describe()})")
            return _refuse(start_response, "400 Bad Request", HOST_REFUSED)
        origin = environ.get("HTTP_ORIGIN")
        if self._guarded(environ) and not self.origins.allows(origin, environ):
            self._note(f"origin {origin!r} refused: not this server's own nor in CORS_ORIGINS")
            own = self.origins.own(environ)
            message = f"origin not allowed: {origin} is neither this server's ({own}) nor in CORS_ORIGINS"
            return _refuse(start_response, "403 Forbidden", message)
        return self.app(environ, start_response)

    def _guarded(self, environ: Mapping[str, Any]) -> bool:
        """Requests a foreign page must not get through: the Socket.IO path (no CORS for websockets)
        and whatever may change something."""
        method = environ.get("REQUEST_METHOD", "GET")
        return method not in SAFE_METHODS or str(environ.get("PATH_INFO", "")).startswith(self.socket_path)

    def _note(self, message: str) -> None:
        """Log each kind of refusal once (a bounded set): a misconfigured name shows in the log, a
        flood of them does not fill it."""
        if message not in self._logged and len(self._logged) < _REMEMBERED_REFUSALS:
            self._logged.add(message)
            log.warning("%s", message)


def _refuse(start_response: Callable[..., Any], status: str, message: str) -> list[bytes]:
    body = json.dumps({"success": False, "msg": message, "data": ""}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def install(app: Flask, settings: Settings, origins: OriginPolicy) -> None:
    """Guard the app's outermost WSGI callable (call it after socketio.init_app, before ProxyFix: so
    it sees /socket.io/, and behind nginx the browser's Host) and answer listed origins' CORS."""
    hosts = HostPolicy.from_settings(settings)
    socket_path = getattr(app.wsgi_app, "engineio_path", "/socket.io/")
    app.wsgi_app = EdgeGuard(app.wsgi_app, hosts, origins, socket_path)  # type: ignore[method-assign]
    log.info("answering to %s; browser origins besides the desk's own: %s", hosts.describe(),
             ", ".join(sorted(origins.listed)) or "none")  # fmt: skip
    if origins.listed:
        app.before_request(lambda: _preflight(app, origins))
        app.after_request(lambda response: _cors_headers(response, origins))


def _preflight(app: Flask, origins: OriginPolicy) -> Response | None:
    """Answer a listed origin's preflight (OPTIONS with Access-Control-Request-Method) for a route
    that takes the method asked; a method it does not take is 405 (no route: 404), without the
    go-ahead. Any other request goes on to routing."""
    origin = request.headers.get("Origin")
    wanted = request.headers.get("Access-Control-Request-Method", "").upper()
    if request.method != "OPTIONS" or not wanted or origin not in origins.listed:
        return None
    adapter = app.url_map.bind_to_environ(request.environ)
    methods = sorted(set(adapter.allowed_methods(request.path)) - {"OPTIONS", "HEAD"})
    if wanted not in methods:
        if not methods:
            raise ApiError(f"no route {request.path}", 404)
        raise ApiError(f"{wanted} is not allowed on {request.path} (allowed: {', '.join(methods)})", 405)
    response, _ = envelope("")
    response.headers["Access-Control-Allow-Methods"] = ", ".join(methods)
    response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
    response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    return response


def _cors_headers(response: Response, origins: OriginPolicy) -> Response:
    """CORS headers on every answer to a listed origin, errors included; `Vary: Origin` on every
    answer, since with origins listed the headers depend on it (caches must not mix them up)."""
    response.vary.add("Origin")
    origin = request.headers.get("Origin")
    if origin in origins.listed:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        if request.method == "OPTIONS":
            response.vary.update(("Access-Control-Request-Method", "Access-Control-Request-Headers"))
    return response
