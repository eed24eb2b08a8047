"""Issue 16, findings 2, 3, 5 and 6: the limits at the edge of `run.py`'s server, through a real one.

Bodies over their path's limit (413) and headers over theirs (431) are refused in the envelope
without the server's memory moving; tokenless Engine.IO handshakes are capped per address (429) and
a session that never connects a socket is closed after its short life; the pylint bomb gets a clear
refusal; idle connections are closed, so 1,100 of them against a 1,024-descriptor server leave
/health answering; and the timeouts leave websockets and long polls alone.

The server runs with short timeouts (2 s) and RLIMIT_NOFILE 1,024 (soft and hard, so run.py cannot
raise it). Every wait is bounded.
"""

from __future__ import annotations

import json
import resource
import selectors
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import ROOT, Desk, ServerFactory, SocketFactory, pause

TIMEOUT = 2.0  # HEADER_TIMEOUT and KEEPALIVE_TIMEOUT of the server under test
LIFE = 2.0  # ENGINEIO_CONNECT_WITHIN
PER_ADDRESS = 20  # ENGINEIO_PER_ADDRESS
DESCRIPTORS = 1024
RSS_SLACK_KB = 8 * 1024  # how far the server's memory may move under a refused flood
# astroid folds each repetition into a hundred million items (its own cap): 1.6 GB without a limit
PYLINT_BOMB = "A = (0,) * 10**8\nB = (0,) * 10**8\nprint(A, B, (0,) * 10**8)\n"


def _few_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTORS, DESCRIPTORS))


@pytest.fixture(scope="module")
def edge(server_factory: ServerFactory) -> Desk:
    return Desk(server_factory(preexec=_few_descriptors, HEADER_TIMEOUT=TIMEOUT, KEEPALIVE_TIMEOUT=TIMEOUT,
                               ENGINEIO_CONNECT_WITHIN=LIFE, ENGINEIO_PER_ADDRESS=PER_ADDRESS))  # fmt: skip


# --- helpers ------------------------------------------------------------------------------------------
def rss_kb(desk: Desk) -> int:
    assert desk.server.process is not None
    for line in Path(f"/proc/{desk.server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def connect(desk: Desk, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", desk.server.port), timeout=timeout)


def read_until_closed(sock: socket.socket, deadline: float) -> tuple[bytes, bool]:
    """Everything the server sends until it closes (True) or the deadline passes (False)."""
    data = b""
    while True:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk


def parse_responses(buffer: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Whole HTTP responses (status, body) at the start of `buffer`, and what is left of it."""
    found = []
    while True:
        head_end = buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return found, buffer
        head = buffer[:head_end].decode("latin-1").split("\r\n")
        length = next((int(line.split(":", 1)[1]) for line in head[1:] if line.lower().startswith("content-length:")),
                      0)  # fmt: skip
        end = head_end + 4 + length
        if len(buffer) < end:
            return found, buffer
        found.append((int(head[0].split()[1]), buffer[head_end + 4:end]))
        buffer = buffer[end:]


def response_of(raw: bytes) -> tuple[int, dict[str, Any]]:
    responses, _ = parse_responses(raw)
    assert responses, f"no whole response: {raw[:300]!r}"
    status, body = responses[0]
    return status, json.loads(body)


def assert_refused(raw: bytes, status: int, words: str) -> None:
    got, body = response_of(raw)
    assert got == status, raw[:300]
    assert body["success"] is False and body["data"] == "" and words in body["msg"], body


# --- 2: request bodies and headers ---------------------------------------------------------------------
def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(edge: Desk) -> None:
    before = rss_kb(edge)
    with connect(edge) as sock:
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000000\r\n\r\n" + b"[" * 256 * 1024)  # fmt: skip
        raw, closed = read_until_closed(sock, time.monotonic() + 5)
    assert_refused(raw, 413, "at most 1,048,576 bytes")
    assert closed, "the connection stays open after a refused body"
    assert rss_kb(edge) - before < RSS_SLACK_KB


@pytest.mark.parametrize(("path", "length", "status"), [
    ("/check_code", 1_500_000, 401), ("/check_code", 2_500_000, 413), ("/config", 1_500_000, 413)])
def test_the_code_paths_take_a_bigger_body(edge: Desk, path: str, length: int, status: int) -> None:
    """200,000 characters of code are up to 1.2 MB as JSON: /code, /check_code, /run_code take 2 MB."""
    with connect(edge) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {length}\r\n\r\n".encode())  # fmt: skip
        if status != 413:  # no token: 401 once the body is in (gevent reads what the app left of it)
            sock.sendall(b" " * length)
        raw, _ = read_until_closed(sock, time.monotonic() + 5)
    assert response_of(raw)[0] == status, raw[:300]


def test_a_chunked_body_that_keeps_coming_is_cut_at_the_limit(edge: Desk) -> None:
    before = rss_kb(edge)
    sent = [0]
    stop = threading.Event()
    with connect(edge) as sock:
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")  # fmt: skip
        chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"

        def feed() -> None:  # up to 100 MB, for as long as the server takes it
            try:
                while not stop.is_set() and sent[0] < 100_000_000:
                    sock.sendall(chunk)
                    sent[0] += 0x10000
            except OSError:
                pass

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            raw, closed = read_until_closed(sock, time.monotonic() + 10)
        finally:
            stop.set()
            feeder.join(timeout=10)
    assert_refused(raw, 413, "at most 1,048,576 bytes")
    assert closed, "the connection stays open after a refused body"
    assert sent[0] < 50_000_000, f"the server took {sent[0]:,} bytes of a refused body"
    assert rss_kb(edge) - before < RSS_SLACK_KB


@pytest.mark.parametrize("headers", [b"".join(b"X-Many-%d: 1\r\n" % i for i in range(1000)),
                                     b"X-Huge: " + b"a" * 100_000 + b"\r\n"], ids=["1000 headers", "100 KB header"])
def test_headers_over_the_caps_are_refused_with_431(edge: Desk, headers: bytes) -> None:
    with connect(edge) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n" + headers + b"\r\n")
        raw, _ = read_until_closed(sock, time.monotonic() + 5)
    assert_refused(raw, 431, "request headers too large")


# --- 3: Engine.IO handshakes -----------------------------------------------------------------------------
HANDSHAKE = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n"


def handshakes(desk: Desk, count: int, window: int = 250) -> list[tuple[int, bytes]]:
    """`count` tokenless polling handshakes, pipelined on one keep-alive connection."""
    answers: list[tuple[int, bytes]] = []
    buffer = b""
    sent = 0
    deadline = time.monotonic() + 30
    with connect(desk) as sock:
        while len(answers) < count:
            if sent - len(answers) < window and sent < count:
                batch = min(window, count - sent)
                sock.sendall(HANDSHAKE * batch)
                sent += batch
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            chunk = sock.recv(1 << 20)
            assert chunk, f"the server closed the connection after {len(answers)} answers"
            found, buffer = parse_responses(buffer + chunk)
            answers.extend(found)
    return answers


def test_tokenless_handshakes_are_capped_per_address_and_memory_stays_bounded(edge: Desk) -> None:
    before = rss_kb(edge)
    answers = []
    threads = [threading.Thread(target=lambda: answers.extend(handshakes(edge, 5000))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 20_000
    statuses = Counter(status for status, _ in answers)
    assert statuses[429] >= 19_000 and set(statuses) == {200, 429}, statuses
    refused = json.loads(next(body for status, body in answers if status == 429))
    assert refused["success"] is False and f"at most {PER_ADDRESS}" in refused["msg"]
    assert rss_kb(edge) - before < 4 * RSS_SLACK_KB


def open_session(desk: Desk) -> str:
    """A polling handshake's sid, once the address has room again (bounded)."""
    deadline = time.monotonic() + 4 * LIFE + 5
    while True:
        response = requests.get(f"{desk.base}/socket.io/?EIO=4&transport=polling", timeout=10)
        if response.status_code == 200:
            return str(json.loads(response.text[1:])["sid"])
        assert response.status_code == 429 and time.monotonic() < deadline, response.text
        pause(0.2)


def test_a_session_that_never_connects_a_socket_is_closed_after_its_short_life(edge: Desk) -> None:
    sid = open_session(edge)
    url = f"{edge.base}/socket.io/?EIO=4&transport=polling&sid={sid}"
    opened = time.monotonic()
    assert requests.post(url, data="3", timeout=10).status_code == 200  # a pong: the session is there
    while requests.post(url, data="3", timeout=10).status_code == 200:
        assert time.monotonic() - opened < LIFE + 4, "the session outlived its short life"
        pause(0.2)
    assert time.monotonic() - opened > LIFE / 2


# --- 5: the pylint child ------------------------------------------------------------------------------------
def test_the_pylint_bomb_is_refused_with_a_clear_message(edge: Desk) -> None:
    began = time.monotonic()
    response = edge.api.post("/check_code", json={"text": PYLINT_BOMB}, timeout=25)
    body = response.json()
    assert response.status_code == 422, body
    assert body["success"] is False and "more memory than the checker allows" in body["msg"]
    assert time.monotonic() - began < 15


@pytest.mark.parametrize("name", ["double_ma.py", "tick_momentum.py"])
def test_the_shipped_strategies_still_lint(edge: Desk, name: str) -> None:
    text = (ROOT / "strategies" / name).read_text(encoding="utf-8")
    response = edge.api.post("/check_code", json={"text": text}, timeout=30)
    assert response.status_code == 200, response.text
    messages = response.json()["data"]
    assert isinstance(messages, list) and not [item for item in messages if item["type"] in ("fatal", "error")]


# --- 6: idle connections ------------------------------------------------------------------------------------
def test_idle_connections_are_closed_and_health_still_answers(edge: Desk) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1400:
        if hard != resource.RLIM_INFINITY and hard < 1400:
            pytest.skip(f"this test needs 1,400 descriptors (the hard limit is {hard})")
        resource.setrlimit(resource.RLIMIT_NOFILE, (1400, hard))
    idle = [connect(edge, timeout=5) for _ in range(1100)]  # more than the server has descriptors
    try:
        began = time.monotonic()
        assert requests.get(f"{edge.base}/health", timeout=4 * TIMEOUT + 4).status_code == 200
        assert time.monotonic() - began < 4 * TIMEOUT + 4
        closed = 0
        deadline = time.monotonic() + 4 * TIMEOUT + 4
        with selectors.DefaultSelector() as selector:
            for sock in idle:
                selector.register(sock, selectors.EVENT_READ)
            while closed < len(idle) and time.monotonic() < deadline:
                for key, _ in selector.select(max(deadline - time.monotonic(), 0.01)):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    try:
                        assert sock.recv(1024) == b""  # a silent connection is closed without an answer
                    except ConnectionResetError:
                        pass
                    selector.unregister(sock)
                    closed += 1
        assert closed == len(idle), f"only {closed} of {len(idle)} idle connections were closed"
    finally:
        for sock in idle:
            sock.close()


def test_a_keep_alive_connection_is_closed_after_its_idle_time(edge: Desk) -> None:
    with connect(edge) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        began = time.monotonic()
        raw, closed = read_until_closed(sock, began + TIMEOUT + 4)
    assert response_of(raw)[0] == 200 and closed
    assert time.monotonic() - began > TIMEOUT / 2


def test_a_websocket_and_a_long_poll_outlive_the_timeouts(edge: Desk, sockets: SocketFactory) -> None:
    ws = sockets(edge, edge.token)
    sid = open_session(edge)
    url = f"{edge.base}/socket.io/?EIO=4&transport=polling&sid={sid}"
    assert requests.post(url, data="40", timeout=10).status_code == 200  # a socket (it may `identify` within 10 s)
    assert requests.get(url, timeout=10).text.startswith("40")  # its connect answer
    with connect(edge) as poll:  # the next poll waits for something to send: nothing comes
        poll.sendall(f"GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        raw, closed = read_until_closed(poll, time.monotonic() + 2 * TIMEOUT + 1)
        assert not closed and raw == b"", f"the long poll was cut: {raw[:200]!r}"
    assert ws.client.connected and not ws.events.disconnected.is_set()
    answer = ws.client.call("watch", {"symbols": None}, timeout=10)
    assert answer["success"] is True
