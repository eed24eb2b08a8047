"""Origins and hosts over a real server on loopback (`python run.py`), with real clients: a foreign
`Host` refused on REST and /socket.io/, Socket.IO refusing a foreign Origin and taking a listed one,
and in Chromium a front end served from another origin (a little http.server on another loopback
port) that logs in with fetch and connects Socket.IO with the desk's own client library: it works
when its origin is in CORS_ORIGINS and fails without. The desk itself keeps its socket under
`connect-src 'self'`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import socketio

from tests.e2e.conftest import ACCESS_CODE, HTTP_TIMEOUT, Desk, ServerFactory, free_port
from views import ui

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
FOREIGN = "http://rebound.evil.example"
WAIT_MS = 15_000
FRONT_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>another front end</title></head>
<body>
<p>login: <span id="login">pending</span></p>
<p>socket: <span id="socket">pending</span></p>
<script>
// A front end of its own (as the ctpbee team's Vue client): REST with fetch and JSON, then the
// desk's served Socket.IO client. Each step reports in the page; nothing here retries.
const params = new URLSearchParams(location.search);
const desk = params.get("desk");
const show = (id, text) => { document.getElementById(id).textContent = text; };

async function logIn() {
  const answer = await fetch(desk + "/login", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({authorization: params.get("code"), userid: "demo", password: "demo"})});
  const body = await answer.json();
  if (!body.success) throw new Error(body.msg);
  const status = await fetch(desk + "/status", {headers: {Authorization: "JWT " + body.data}});
  if (!status.ok) throw new Error("status " + status.status);
  return body.data;
}

function connect(token) {
  const socket = io(desk, {auth: {token}, reconnection: false});
  let seen = "";
  socket.on("status", () => { seen = "status"; });
  socket.io.engine.on("upgrade", (transport) => {
    const wait = () => seen ? show("socket", "ok " + transport.name) : setTimeout(wait, 50);
    wait();
  });
  socket.on("connect_error", (error) => show("socket", "failed: " + error.message));
}

async function run() {
  let token = params.get("token");  // when the login cannot work, the socket still gets a good token
  try {
    token = await logIn();
    show("login", "ok");
  } catch (error) {
    show("login", "failed: " + error);
  }
  connect(token);
}

const library = document.createElement("script");
library.src = desk + "/vendor/socket.io.min.js";
library.onload = run;
library.onerror = () => show("socket", "failed: no library");
document.head.appendChild(library);
</script>
</body></html>
"""


class FrontEnd:
    """The other origin: serves FRONT_PAGE at any path, on its own loopback port."""

    def __init__(self) -> None:
        page = FRONT_PAGE.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def front() -> Iterator[FrontEnd]:
    made = FrontEnd()
    yield made
    made.close()


@pytest.fixture(scope="module")
def listed(server_factory: ServerFactory, front: FrontEnd) -> Desk:
    """A desk that lists the front end's origin."""
    return Desk(server_factory(CORS_ORIGINS=[front.origin]))


@pytest.fixture(scope="module")
def unlisted(server_factory: ServerFactory) -> Desk:
    """A desk with the default: no other origin."""
    return Desk(server_factory())


@pytest.fixture
def clients() -> Iterator[list[socketio.Client]]:
    made: list[socketio.Client] = []
    yield made
    for client in made:
        if client.connected:
            client.disconnect()


def socket_from(desk: Desk, token: str, origin: str | None, made: list[socketio.Client]) -> socketio.Client:
    """A websocket-only python-socketio client sending `origin` (None: websocket-client's own, which
    is the server's: http://127.0.0.1:<port>)."""
    options = {"origin": origin} if origin else {}
    client = socketio.Client(reconnection=False, websocket_extra_options=options)
    made.append(client)
    client.connect(desk.base, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    return client


# --- a real server, real clients ---------------------------------------------------------------------
def test_a_foreign_host_is_refused_on_rest_and_socket_io(listed: Desk) -> None:
    for path in ("/health", "/socket.io/?EIO=4&transport=polling", "/"):
        response = requests.get(listed.url(path), headers={"Host": "rebound.evil.example:5000"}, timeout=HTTP_TIMEOUT)
        assert response.status_code == 400, (path, response.status_code, response.text[:200])
        assert response.json() == {"success": False, "msg": "host not allowed", "data": ""}
    assert requests.get(listed.url("/health"), headers={"Host": "localhost"}, timeout=HTTP_TIMEOUT).status_code == 200


def test_socket_io_refuses_a_foreign_origin_and_takes_a_listed_one(listed: Desk, front: FrontEnd,
                                                                   clients: list[socketio.Client]) -> None:  # fmt: skip
    token = listed.login()
    with pytest.raises(socketio.exceptions.ConnectionError):
        socket_from(listed, token, FOREIGN, clients)
    assert socket_from(listed, token, front.origin, clients).connected
    assert socket_from(listed, token, None, clients).connected  # the desk's own origin
    refused = requests.get(listed.url("/socket.io/?EIO=4&transport=polling"), headers={"Origin": FOREIGN},
                           timeout=HTTP_TIMEOUT)  # fmt: skip
    assert refused.status_code == 403 and refused.json()["msg"].startswith("origin not allowed")


def test_a_listed_origins_preflight_is_answered_by_the_real_server(listed: Desk, front: FrontEnd) -> None:
    preflight = requests.options(listed.url("/order_solve"), timeout=HTTP_TIMEOUT, headers={
        "Origin": front.origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})  # fmt: skip
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == front.origin
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    foreign = requests.options(listed.url("/order_solve"), timeout=HTTP_TIMEOUT,
                               headers={"Origin": FOREIGN, "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert foreign.status_code == 403 and "Access-Control-Allow-Origin" not in foreign.headers


# --- Chromium -------------------------------------------------------------------------------------------
def _browser_ready() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} missing: `make test` installs Debian's chromium when run as root"
    if not all((ui.MODULES / path).is_file() for path in ui.VENDOR.values()):
        return "ui/node_modules missing: `make test` runs tools/ensure_ui.sh (npm ci)"
    return ""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if _browser_ready():
        pytest.skip(_browser_ready())
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements-dev.txt")
    from tests.e2e.test_browser_desk import CHROMIUM_ARGS

    with sync_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    """A fresh page with the Content-Security-Policy enforced (the desk tests bypass it)."""
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.console_lines = []
    page.on("console", lambda message: page.console_lines.append(message.text))
    yield page
    context.close()


def open_front(tab: Any, front: FrontEnd, desk: Desk, token: str = "") -> tuple[str, str]:
    """Open the front end against `desk`; the login's and the socket's outcomes once both are in."""
    query = urlencode({"desk": desk.base, "code": ACCESS_CODE, "token": token})
    tab.goto(f"{front.origin}/?{query}")
    tab.wait_for_function("['login', 'socket'].every(id => document.getElementById(id).textContent !== 'pending')",
                          timeout=WAIT_MS)  # fmt: skip
    return tab.locator("#login").text_content(), tab.locator("#socket").text_content()


def test_a_front_end_on_another_origin_works_when_its_origin_is_listed(tab: Any, front: FrontEnd,
                                                                       listed: Desk) -> None:  # fmt: skip
    login, socket_state = open_front(tab, front, listed)
    assert (login, socket_state) == ("ok", "ok websocket"), tab.console_lines


def test_the_same_front_end_fails_on_a_desk_that_does_not_list_it(tab: Any, front: FrontEnd, unlisted: Desk) -> None:
    token = unlisted.login()  # a good token: only the origin can stop the socket
    login, socket_state = open_front(tab, front, unlisted, token)
    assert login.startswith("failed") and socket_state.startswith("failed"), (login, socket_state)
    assert any("CORS" in line for line in tab.console_lines), tab.console_lines


def test_the_desk_keeps_its_websocket_under_connect_src_self(tab: Any, listed: Desk) -> None:
    """`connect-src 'self'` covers ws: to the page's own host (CSP 3): the desk's socket upgrades."""
    sockets: list[Any] = []
    frames: list[Any] = []

    def opened(socket: Any) -> None:  # called as the event is dispatched, before any of its frames
        if "/socket.io/" in socket.url:
            sockets.append(socket)
            socket.on("framereceived", lambda payload: frames.append(payload))

    tab.on("websocket", opened)
    tab.goto(listed.base + "/")
    tab.get_by_test_id("login-access").fill(ACCESS_CODE)
    tab.get_by_test_id("login-password").fill("demo")
    tab.get_by_test_id("login-submit").click()
    tab.locator("#desk-view").wait_for(state="visible")
    if not sockets:
        tab.wait_for_event("websocket", predicate=lambda socket: "/socket.io/" in socket.url, timeout=WAIT_MS)
    if not frames:
        sockets[0].wait_for_event("framereceived", timeout=WAIT_MS)
    assert frames, "no websocket frame reached the desk"
    assert not [line for line in tab.console_lines if "Content Security Policy" in line], tab.console_lines
