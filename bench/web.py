"""The web server under load: tick fan-out to 20 Socket.IO clients and the order round trip, each beside a
baseline measured in the same run.

    .venv/bin/python bench/web.py [--clients 20] [--seconds 10] [--orders 1000]
                                  [--only full|builtin|overload|light|orders] [--tick-rate 2.5]
                                  [--builtin-tick-rate 100] [--overload-tick-rate 50] [--light-tick-rate 2]
                                  [--light-clients 5] [--push-interval 0.25] [--json out.json]

Every figure is taken against real server processes on loopback (`python run.py --config tmp.yaml`, a temporary
DATA_DIR, ACCESS_CODE set, SIM_QUERY_RATE 0); the clients run in this process. Their CPU, the servers' CPU (utime +
stime from /proc/<pid>/stat, 100% = one core) and what other processes used of the machine are printed.

(1) Tick fan-out. Log in, subscribe every instrument (POST /market in batches), connect 20 Socket.IO clients
    (websocket transport, token in the CONNECT auth; each asks for batches with `watch {batch: true}` as the
    browser desk does: one `ticks` message per push holding every changed instrument), wait for the first
    tick, warm up, measure over a window:
    * ticks received by the clients a second, all and per client;
    * display latency p50/p99: the client's receive time minus the tick's own `datetime`. The sim stamps ticks
      with its own clock, the wall clock in 7x24 mode (times of day are compared: the engine dates daytime ticks
      with the trading day, which is not the calendar day at weekends), at the start of the market slot that
      made them. CZCE ticks are left out (their UpdateMillisec is 0: whole-second stamps). The latency includes
      the wait for the next push while the socket is busy (a socket with nothing queued gets a tick at once;
      TICK_PUSH_INTERVAL, printed, is only the flusher's longest sleep). Its median in the window's first and
      last fifths shows a growing backlog; so does the age of the newest tick the clients have ("market seconds
      reaching the clients per second": 1.00 while everything keeps up);
    * ticks the engine accepted a second. The server counts none, so they are derived. The sim prints
      1 + int(random() * 40) lots a snapshot (backend/sim/market.py) and starts every instrument at volume 0 (a
      fresh data directory), so the sum of the `volume` of every tick in GET /market divided by 20.5 counts the
      snapshots the engine has applied (160,247 against 160,248 counted by an instrumented engine in a
      validation run). Two GET /market 3 s apart before any socket give the sim's pace (snapshots per second of
      its clock, which the engine applies in order) and the engine's rate alone; in the window the engine's
      rate is that pace times the market seconds reaching the clients per second (a lower bound: the push
      forwards the engine's newest ticks). One more GET /market after the window bounds the engine's own lag.
    Four runs: "full" (SIM_MARKET full, ~8,700 instruments at 2.5 snapshots a second each, about a real front's
    pace: ~21,800 a second offered, just above the target; coalescing has little to merge and each batch holds
    most of the market, megabytes), "builtin" (~210 instruments at 100 ticks a second each, 21,000 a second
    offered: just above the target, and coalescing merges ~10 ticks per instrument and push: an instrument goes
    out at most every TICK_MIN_GAP, 0.1 s, views/push.py), "overload" (the
    full market at SIM_TICK_RATE 50, far more than the embedded sim can make: it runs flat out and takes the CPU
    the engine and the push need; no target, it shows how the server degrades: once 100,000 ticks wait in the
    bridge, only the newest of each instrument waits (backend/bridge.py), so the engine's volumes count the
    ticks it absorbed, applied or merged into a newer one). And "light" (issue 17): the builtin market at 2 ticks
    a second each (~420 a second) and 5 clients (--light-clients), where nothing needs coalescing: each tick
    should reach the clients as fast as the naive per-tick emit's do (targets: display p50 < 10 ms, p99
    < 50 ms; the desk waited for its 0.25 s flush there: p50 132 ms, p99 256 ms against 1.1 / 3.8 ms).
(2) Baseline: a naive push as ctpbee_backend does it: a tiny Flask-SocketIO server on gevent defined in this
    file (`--naive-server`), with its own sim of the same market and rate, the same tick cleaning on the MD
    callback thread (backend.gateway.ticks.TickCleaner), the same hand-off (backend.bridge.Bridge) and one
    Socket.IO emit of every tick to every client. Same clients, same figures; its engine figures are its own
    counters (ticks from its sim, emits, bridge backlog), and the derivation above is checked against them.
(3) Order round trip. A fresh server, one socket client connected, 1,000 sequential POST /order_solve (a
    marketable limit order on the nearest DCE iron-ore future: buy-open at limit_up, then sell-close at
    limit_down, so the position stays flat), timed from just before the HTTP request to the client's receipt
    of that order's `trade` event (matched on order_id); the HTTP answer's own time is reported too.
    Baseline: GET /health on the same keep-alive session (requests), and on a new connection each time.
    This server lifts the risk engine's rate limits (ORDER_RISK: orders a second, a strategy's orders a second,
    orders a day, the high-frequency line), which 1,000 orders as fast as they come back would pass: the run
    measures the order path, not the limits. The risk engine stays on (RISK_ENABLED), so its checks are in the
    figures; the position and working-order limits (defaults 100 lots, 50 orders) stay, as the position never
    passes one lot and one order works at a time.

The clients speak Engine.IO 4 / Socket.IO 5 over a raw websocket, all in one selector loop: the python-socketio
client starts a thread for every message it receives (engineio/client.py: run_async=True) and cannot take
thousands of ticks a second.

Targets (issue 4): the engine keeps up with >= 20,000 ticks a second while 20 clients are connected; order round
trip median < 10 ms on loopback. Issue 17: display latency p50 < 10 ms and p99 < 50 ms at light load, p50 < 200 ms
for the full market with 20 clients. The JSON summary is the last line of stdout.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and "--naive-server" in sys.argv:  # gevent first, as run.py does
    from gevent import monkey

    monkey.patch_all()

import argparse  # noqa: E402
import array  # noqa: E402
import base64  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import selectors  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TICK_TARGET = 20_000.0  # ticks a second accepted by the engine with 20 clients connected
ORDER_TARGET_MS = 10.0  # order round trip median
# The order run's risk settings: the rate limits lifted (0: off), the risk engine itself on.
ORDER_RISK = {"RISK_ENABLED": True, "RISK_ORDERS_PER_SECOND": 0, "RISK_STRATEGY_ORDERS_PER_SECOND": 0,
              "RISK_ORDERS_PER_DAY": 0, "RISK_ENFORCE_HFT_LINE": False}  # fmt: skip
ACCESS_CODE = "bench-web-access-code"
TICK_RATE = 2.5  # snapshots a second per instrument of the full market: ~21,800 a second, a real front's pace
OVERLOAD_TICK_RATE = 50.0  # the sim runs flat out
LIGHT_TICK_RATE = 2.0  # issue 17's light load: the builtin market (~210 instruments) at 2 ticks a second each
LIGHT_CLIENTS = 5
# Issue 17: display latency targets, ms (p50, p99; None: no target), per run.
LATENCY_TARGETS: dict[str, tuple[float | None, float | None]] = {"light": (10.0, 50.0), "full": (200.0, None)}
MEAN_LOTS = 20.5  # the mean of 1 + int(random() * 40), the lots a sim snapshot prints
SHANGHAI_UTC_OFFSET = 8 * 3600
DAY = 86_400.0
CLK_TCK = os.sysconf("SC_CLK_TCK")

TICK_TIME = re.compile(rb'"datetime": ?"\d{4}-\d\d-\d\dT(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?')
# In a `ticks` batch: a tick's exchange and its stamp (TickData.to_dict puts them side by side).
BATCH_TICK = re.compile(rb'"exchange": ?"(\w+)", ?"datetime": ?"\d{4}-\d\d-\d\dT(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?')
BATCH_SAMPLE_BYTES = 32_000  # latency is sampled at both ends of a batch: the oldest and the newest ticks
ORDER_ID = re.compile(rb'"order_id": ?"([^"]+)"')


# --- processes ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads (fields 14 and 15 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def own_cpu_seconds() -> float:
    return time.process_time()


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used (/proc/stat: everything but idle and iowait)."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(value) for value in handle.readline().split()[1:9]]  # user .. steal (guest is in user)
    return (sum(values) - values[3] - values[4]) / CLK_TCK


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the bench process dies, however it dies (Linux prctl)."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Server:
    """A server subprocess on a loopback port; its output goes to a log file, shown if it fails."""

    def __init__(self, command: list[str], port: int, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                        preexec_fn=_die_with_parent)  # fmt: skip
        self.pid = self.process.pid

    def wait_healthy(self, timeout: float = 60.0) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if requests.get(self.base + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not healthy within {timeout:g}s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


def start_ctpdesk(scratch: Path, name: str, **settings: Any) -> Server:
    port = free_port()
    config = {
        "HOST": "127.0.0.1", "PORT": port, "DATA_DIR": str(scratch / f"{name}-data"), "ACCESS_CODE": ACCESS_CODE,
        "SIM_MARKET": "full", "SIM_TICK_RATE": TICK_RATE, "SIM_QUERY_RATE": 0, **settings,
    }  # fmt: skip
    path = scratch / f"{name}.yaml"
    path.write_text("".join(f"{key}: {json.dumps(value)}\n" for key, value in config.items()), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("CTPDESK_")}
    server = Server([sys.executable, "run.py", "--config", str(path)], port, scratch / f"{name}.log", env)
    server.wait_healthy()
    return server


class Rest:
    """The REST client a script would use: one keep-alive requests.Session with the JWT."""

    def __init__(self, base: str) -> None:
        import requests

        self.base = base
        self.session = requests.Session()
        self.token = ""

    def use(self, token: str) -> Rest:
        self.token = token
        self.session.headers["Authorization"] = f"JWT {token}"
        return self

    def login(self) -> str:
        answer = self.call("POST", "/login", json={"authorization": ACCESS_CODE, "userid": "demo", "password": "demo"},
                           timeout=120)  # fmt: skip
        self.use(answer)
        return answer

    def call(self, method: str, path: str, timeout: float = 60, **kwargs: Any) -> Any:
        response = self.session.request(method, self.base + path, timeout=timeout, **kwargs)
        body = response.json()
        if response.status_code != 200 or not body.get("success"):
            raise RuntimeError(f"{method} {path}: {response.status_code} {body.get('msg')}")
        return body["data"]


# --- Socket.IO clients ----------------------------------------------------------------------------
def _mask(payload: bytes, key: bytes) -> bytes:
    size = len(payload)
    if not size:
        return payload
    stream = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(size, "big")


def _frame(text: str, opcode: int = 1) -> bytes:
    """A masked client frame (RFC 6455)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65_536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    key = os.urandom(4)
    return head + key + _mask(payload, key)


def time_of_day(match: re.Match[bytes]) -> float:
    return time_of_day_parts(match.groups())


def time_of_day_parts(groups: tuple[Any, ...]) -> float:
    hours, minutes, seconds, fraction = groups
    value = int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    return value + int(fraction) / 10 ** len(fraction) if fraction else float(value)


def wrapped(delta: float) -> float:
    """A difference of two times of day, within half a day either way."""
    return (delta + DAY / 2) % DAY - DAY / 2


class Market:
    """What the clients of one pool have seen of the market (every client gets the same ticks): `frontier` is
    the newest tick stamp any client has received (time of day, Shanghai), i.e. how far the market has come
    as far as the clients know."""

    def __init__(self) -> None:
        self.frontier: float | None = None
        self.recording = False


class SioClient:
    """One Socket.IO client (Engine.IO 4, websocket transport), driven by a ClientPool's selector loop.

    Server frames are parsed straight from the receive buffer; a tick costs one regex search (its stamp). Every
    frame of one recv() shares the receive time taken right after the recv() returned.
    """

    def __init__(self, host: str, port: int, token: str, market: Market | None = None,
                 on_event: Callable[[SioClient, str, bytes, float], None] | None = None,
                 batch: bool = False) -> None:  # fmt: skip
        self.token = token
        self.batch = batch  # ask for one `ticks` message per flush (`watch {batch: true}`), as the desk does
        self.market = market or Market()
        self.on_event = on_event
        self.state = "http"
        self.error = ""
        self.buffer = bytearray()
        self.ticks = 0
        self.events: dict[str, int] = {}
        self.latency = array.array("d")  # seconds, non-CZCE ticks received while recording
        self.arrivals = array.array("d")  # wall time of each latency sample
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.sock.setblocking(False)

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def send_text(self, text: str, opcode: int = 1) -> None:
        self.sock.setblocking(True)
        try:
            self.sock.sendall(_frame(text, opcode))
        finally:
            self.sock.setblocking(False)

    def readable(self) -> bool:
        """Read what arrived and handle every complete frame; False once the connection is gone."""
        try:
            chunk = self.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as error:
            self.error = self.error or f"recv: {error}"
            self.state = "closed"
            return False
        now = time.time()
        if not chunk:
            self.error = self.error or "closed by the server"
            self.state = "closed"
            return False
        buffer = self.buffer
        buffer += chunk
        if self.state == "http":
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return True
            status = bytes(buffer[: buffer.find(b"\r\n")])
            if b" 101 " not in status:
                self.error = f"websocket upgrade refused: {status.decode(errors='replace')}"
                self.state = "closed"
                return False
            del buffer[: end + 4]
            self.state = "open"
        return self._frames(buffer, now)

    def _frames(self, buffer: bytearray, now: float) -> bool:
        position, size = 0, len(buffer)
        while size - position >= 2:
            length, head = buffer[position + 1] & 0x7F, 2
            if length == 126:
                if size - position < 4:
                    break
                length, head = int.from_bytes(buffer[position + 2 : position + 4], "big"), 4
            elif length == 127:
                if size - position < 10:
                    break
                length, head = int.from_bytes(buffer[position + 2 : position + 10], "big"), 10
            end = position + head + length
            if end > size:
                break
            opcode = buffer[position] & 0x0F
            payload = buffer[position + head : end]
            position = end
            if opcode == 1:
                self._message(payload, now)
            elif opcode == 8:
                self.error = self.error or "websocket closed by the server"
                self.state = "closed"
                return False
            elif opcode == 9:  # websocket ping: pong
                self.send_text(payload.decode(errors="replace"), 10)
        del buffer[:position]
        return True

    def _message(self, data: bytearray, now: float) -> None:
        if data.startswith(b'42["tick",'):
            self.ticks += 1
            self._tick(data, now)
        elif data.startswith(b'42["ticks"'):
            self._batch(data, now)
        elif data.startswith(b"42["):
            name = data[4 : data.find(b'"', 4)].decode()
            self.events[name] = self.events.get(name, 0) + 1
            if self.on_event is not None:
                self.on_event(self, name, bytes(data), now)
        elif data == b"2":  # Engine.IO ping
            self.send_text("3")
        elif data.startswith(b"0") and self.state == "open":  # Engine.IO open: connect the default namespace
            self.send_text("40" + json.dumps({"token": self.token}))
            self.state = "connecting"
        elif data.startswith(b"40"):
            self.state = "ready"
            if self.batch:
                self.send_text('42["watch",{"batch":true}]')
        elif data.startswith(b"44"):
            self.error = f"connection refused: {data[2:].decode(errors='replace')}"
            self.state = "closed"
        elif data.startswith(b"41") or data.startswith(b"1"):
            self.error = self.error or "disconnected by the server"
            self.state = "closed"

    def _tick(self, data: bytearray, now: float) -> None:
        if b'CZCE"' in data:  # CZCE stamps whole seconds (UpdateMillisec 0): no latency from them
            return
        stamp = TICK_TIME.search(data)
        if stamp is None:
            return
        stamped = time_of_day(stamp)
        market = self.market
        if market.frontier is None or wrapped(stamped - market.frontier) > 0:
            market.frontier = stamped
        if not market.recording:
            return
        self.latency.append(wrapped((now + SHANGHAI_UTC_OFFSET) % DAY - stamped))
        self.arrivals.append(now)

    def _batch(self, data: bytearray, now: float) -> None:
        self.ticks += data.count(b'"local_symbol"')
        size = BATCH_SAMPLE_BYTES
        ends = (data,) if len(data) <= 2 * size else (data[:size], data[-size:])
        market = self.market
        for part in ends:
            for stamp in BATCH_TICK.finditer(part):
                if stamp.group(1) == b"CZCE":
                    continue
                stamped = time_of_day_parts(stamp.groups()[1:])
                if market.frontier is None or wrapped(stamped - market.frontier) > 0:
                    market.frontier = stamped
                if market.recording:
                    self.latency.append(wrapped((now + SHANGHAI_UTC_OFFSET) % DAY - stamped))
                    self.arrivals.append(now)

    def close(self) -> None:
        try:
            if self.state != "closed":
                self.sock.setblocking(True)
                self.sock.settimeout(1)
                self.sock.sendall(_frame("41") + _frame("1"))
        except OSError:
            pass
        self.sock.close()


class ClientPool:
    """Socket.IO clients served by one selector loop (the calling thread, or a thread of its own)."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.clients: list[SioClient] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, client: SioClient) -> SioClient:
        self.clients.append(client)
        self.selector.register(client.sock, selectors.EVENT_READ, client)
        return client

    def run_for(self, seconds: float, until: Callable[[], bool] | None = None) -> None:
        deadline = time.monotonic() + seconds
        select = self.selector.select
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or (until is not None and until()):
                return
            for key, _ in select(min(left, 0.05)):
                client = key.data
                if not client.readable():
                    self.selector.unregister(client.sock)

    def connect_all(self, timeout: float) -> float:
        began = time.monotonic()
        self.run_for(timeout, lambda: all(client.state in ("ready", "closed") for client in self.clients))
        failed = [client.error or client.state for client in self.clients if not client.ready]
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(self.clients)} clients did not connect: {failed[0]}")
        return time.monotonic() - began

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self.run_for, args=(1e9,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for client in self.clients:
            client.close()
        self.selector.close()


# --- (1) and (2): tick fan-out ----------------------------------------------------------------------
def percentile(values: Any, fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def fan_out(server: Server, token: str, clients: int, warmup: float, seconds: float,
            stats: Callable[[], dict[str, Any]] | None = None, batch: bool = False) -> dict[str, Any]:  # fmt: skip
    """Connect the clients, wait for the first ticks, warm up, and measure one window."""
    market = Market()
    pool = ClientPool()
    try:
        for _ in range(clients):
            pool.add(SioClient("127.0.0.1", server.port, token, market, batch=batch))
        connect_s = pool.connect_all(120)
        began = time.monotonic()
        pool.run_for(120, lambda: market.frontier is not None)
        first_tick_s = time.monotonic() - began
        if market.frontier is None:
            raise RuntimeError("no tick reached the clients within 120 s")
        pool.run_for(warmup)
        before = _sample(server, pool, market, stats)
        market.recording = True
        pool.run_for(seconds)
        market.recording = False
        after = _sample(server, pool, market, stats)
        dropped = [client.error for client in pool.clients if client.state == "closed"]
    finally:
        pool.close()
    elapsed = after["t"] - before["t"]
    received = after["ticks"] - before["ticks"]
    latency = [value for client in pool.clients for value in client.latency]
    frontier_speed = wrapped(after["frontier"] - before["frontier"]) / elapsed
    result: dict[str, Any] = {
        "clients": clients,
        "connect_s": connect_s,
        "first_tick_s": first_tick_s,
        "window_s": elapsed,
        "received_per_s": received / elapsed,
        "received_per_client_per_s": received / elapsed / clients,
        "frontier_speed": frontier_speed,
        "data_age_start_s": wrapped(before["now_tod"] - before["frontier"]),
        "data_age_end_s": wrapped(after["now_tod"] - after["frontier"]),
        "server_cpu_percent": 100 * (after["server_cpu"] - before["server_cpu"]) / elapsed,
        "client_cpu_percent": 100 * (after["own_cpu"] - before["own_cpu"]) / elapsed,
        "other_cpu_percent": max(0.0, 100 * ((after["machine_busy"] - before["machine_busy"])
                                             - (after["server_cpu"] - before["server_cpu"])
                                             - (after["own_cpu"] - before["own_cpu"])) / elapsed),
        "machine_cpus": os.cpu_count(),
        "server_rss_mb_start": before["rss"],
        "server_rss_mb_end": after["rss"],
        "latency_samples": len(latency),
        "latency_p50_ms": 1000 * percentile(latency, 0.50),
        "latency_p99_ms": 1000 * percentile(latency, 0.99),
        "latency_max_ms": 1000 * max(latency, default=float("nan")),
        "clients_dropped": len(dropped),
    }
    result.update(_latency_trend(pool.clients))
    if stats is not None:
        span = after["stats_t"] - before["stats_t"]
        result["server_received_per_s"] = (after["received"] - before["received"]) / span
        result["server_emitted_per_s"] = (after["emitted"] - before["emitted"]) / span
        result["server_backlog_start"] = before["backlog"]
        result["server_backlog_end"] = after["backlog"]
    if dropped:
        result["drop_reason"] = dropped[0]
    return result


def _sample(server: Server, pool: ClientPool, market: Market,
            stats: Callable[[], dict[str, Any]] | None) -> dict[str, Any]:  # fmt: skip
    now = time.time()
    sample = {
        "t": time.monotonic(),
        "now_tod": (now + SHANGHAI_UTC_OFFSET) % DAY,
        "frontier": market.frontier,
        "ticks": sum(client.ticks for client in pool.clients),
        "server_cpu": cpu_seconds(server.pid),
        "own_cpu": own_cpu_seconds(),
        "machine_busy": machine_busy_seconds(),
        "rss": rss_mb(server.pid),
    }
    if stats is not None:
        counters = stats()
        sample.update(received=counters["received"], emitted=counters["emitted"], backlog=counters["backlog"],
                      stats_t=counters["t"])  # fmt: skip
    return sample


def _latency_trend(clients: list[SioClient]) -> dict[str, Any]:
    """Median latency of the ticks received in the window's first and last fifths: growth means a backlog."""
    pairs = [(at, value) for client in clients for at, value in zip(client.arrivals, client.latency, strict=True)]
    if len(pairs) < 10:
        return {}
    start = min(at for at, _ in pairs)
    end = max(at for at, _ in pairs)
    fifth = (end - start) / 5
    early = [value for at, value in pairs if at < start + fifth]
    late = [value for at, value in pairs if at >= end - fifth]
    return {"latency_first_fifth_p50_ms": 1000 * statistics.median(early),
            "latency_last_fifth_p50_ms": 1000 * statistics.median(late)}  # fmt: skip


def engine_snapshot(rest: Rest, timeout: float = 120) -> dict[str, Any]:
    """The engine's own state through GET /market: how many sim snapshots it has applied, and how fresh.

    Every instrument's cumulative volume starts at 0 when the sim first steps it (a fresh data directory)
    and grows by 20.5 lots a snapshot on average, so the sum over all instruments / 20.5 counts the
    snapshots the engine applied (within about 0.5% beyond 20,000 of them; 160,247 against 160,248 counted
    in an instrumented validation run). The view reads the engine somewhere between the request and the
    answer: both times are kept.
    """
    sent = time.time()
    rows = rest.call("GET", "/market", timeout=timeout)
    answered = time.time()
    lots = 0
    newest: float | None = None
    for row in rows:
        tick = row.get("tick")
        if not tick:
            continue
        lots += int(tick["volume"])
        found = TICK_TIME.search(b'"datetime":"' + tick["datetime"].encode())
        if found is not None and not row["local_symbol"].endswith(".CZCE"):
            stamp = time_of_day(found)
            if newest is None or wrapped(stamp - newest) > 0:
                newest = stamp
    return {"snapshots": lots / MEAN_LOTS, "newest": newest, "sent": sent, "answered": answered}


def snapshot_lag(snapshot: dict[str, Any], at: str = "") -> float:
    """Wall clock minus the engine's newest tick stamp, at the request ("sent"), the answer ("answered"), or
    halfway (the default)."""
    if snapshot["newest"] is None:
        return float("nan")
    if not at:
        return (snapshot_lag(snapshot, "sent") + snapshot_lag(snapshot, "answered")) / 2
    return wrapped((snapshot[at] + SHANGHAI_UTC_OFFSET) % DAY - snapshot["newest"])


def sim_pace(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Between two GET /market: snapshots the sim made per second of its own clock (the engine applies them in
    order, so the count between the two newest stamps is what the market produced in between) and what the
    engine applied per second of wall clock (middle of the requests)."""
    applied = second["snapshots"] - first["snapshots"]
    stamped = wrapped(second["newest"] - first["newest"]) if None not in (first["newest"], second["newest"]) else 0.0
    middle = (second["sent"] + second["answered"] - first["sent"] - first["answered"]) / 2
    return {"sim_per_s": applied / stamped if stamped > 0.5 else float("nan"), "engine_per_s": applied / middle,
            "sim_seconds": stamped}  # fmt: skip


def health_after(base: str) -> Callable[[], float]:
    """Time one GET /health on a thread of its own; the returned function waits for it (seconds)."""
    import requests

    result: list[float] = []

    def probe() -> None:
        began = time.monotonic()
        try:
            requests.get(base + "/health", timeout=60)
            result.append(time.monotonic() - began)
        except requests.RequestException:
            result.append(float("nan"))

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()

    def wait() -> float:
        thread.join(70)
        return result[0] if result else float("nan")

    return wait


def bench_ctpdesk_fanout(scratch: Path, run: str, market: str, tick_rate: float, push_interval: float, clients: int,
                         warmup: float, seconds: float) -> dict[str, Any]:  # fmt: skip
    server = start_ctpdesk(scratch, f"fanout-{run}", SIM_MARKET=market, SIM_TICK_RATE=tick_rate,
                           TICK_PUSH_INTERVAL=push_interval)  # fmt: skip
    try:
        rest = Rest(server.base)
        began = time.monotonic()
        token = rest.login()
        login_s = time.monotonic() - began
        names = sorted(contract["local_symbol"] for contract in rest.call("GET", "/contract"))
        began = time.monotonic()
        batch = 2500
        for start in range(0, len(names), batch):
            rest.call("POST", "/market", json={"symbols": names[start : start + batch]}, timeout=120)
        subscribe_s = time.monotonic() - began
        subscribed = rest.call("GET", "/status")["subscribed"]
        first = engine_snapshot(rest)  # no socket yet: the sim's pace, and the engine alone
        deadline = time.monotonic() + 30
        while first["newest"] is None and time.monotonic() < deadline:  # the first ticks are on their way
            time.sleep(0.2)
            first = engine_snapshot(rest)
        time.sleep(3.0)
        second = engine_snapshot(rest)
        pace = sim_pace(first, second)
        result = fan_out(server, token, clients, warmup, seconds, batch=True)
        health = health_after(server.base)  # both at once, right after the window
        try:
            last: dict[str, Any] | None = engine_snapshot(rest, timeout=30)
        except Exception:  # noqa: BLE001 - a server that cannot answer in 30 s: say so in the table
            last = None
        result.update(
            instruments=len(names), subscribed=subscribed, login_s=login_s, subscribe_s=subscribe_s,
            sim_per_s=pace["sim_per_s"], engine_per_s=pace["sim_per_s"] * result["frontier_speed"],
            engine_per_s_before_clients=pace["engine_per_s"], engine_lag_before_clients_s=snapshot_lag(second),
            engine_lag_end_s=snapshot_lag(last, "sent") if last else float("nan"),
            engine_lag_end_max_s=snapshot_lag(last, "answered") if last else float("nan"),
            get_market_end_s=last["answered"] - last["sent"] if last else float("nan"),
            health_after_s=health(),
        )  # fmt: skip
        return result
    finally:
        server.stop()


def bench_naive_fanout(scratch: Path, run: str, market: str, tick_rate: float, clients: int, warmup: float,
                       seconds: float) -> dict[str, Any]:  # fmt: skip
    port = free_port()
    stats_path = scratch / f"naive-{run}-stats.json"
    token = base64.b64encode(os.urandom(18)).decode()
    command = [sys.executable, str(Path(__file__).resolve()), "--naive-server", str(port), token, market,
               str(tick_rate), str(scratch / f"naive-{run}-flow"), str(stats_path)]  # fmt: skip
    server = Server(command, port, scratch / f"naive-{run}.log")
    try:
        server.wait_healthy()

        def stats() -> dict[str, Any]:
            for _ in range(50):
                try:
                    return json.loads(stats_path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    time.sleep(0.01)
            raise RuntimeError(f"no stats from the naive server:\n{server.tail()}")

        deadline = time.monotonic() + 120
        while not stats().get("subscribed"):
            if time.monotonic() > deadline or server.process.poll() is not None:
                raise RuntimeError(f"the naive server did not subscribe:\n{server.tail()}")
            time.sleep(0.1)
        subscribed = stats()["subscribed"]
        before_clients = stats()
        result = fan_out(server, token, clients, warmup, seconds, stats)
        produced = result["server_received_per_s"]
        result.update(
            instruments=subscribed, subscribed=subscribed, health_after_s=health_after(server.base)(),
            sim_per_s=produced, engine_per_s=result["server_emitted_per_s"],
            engine_per_s_derived=produced * result["frontier_speed"],
            engine_lag_before_clients_s=before_clients["backlog"] / produced,
            engine_lag_end_s=result["server_backlog_end"] / produced,
        )  # fmt: skip
        return result
    finally:
        server.stop()


# --- the naive server (its own process) --------------------------------------------------------------
def naive_server(port: int, token: str, market: str, tick_rate: float, flow_dir: str, stats_path: str) -> int:
    """ctpbee_backend's way: one Socket.IO emit of every tick to every client, as the tick arrives."""
    from types import SimpleNamespace

    from flask import Flask
    from flask_socketio import SocketIO

    from backend.bridge import Bridge
    from backend.gateway.convert import contract_from
    from backend.gateway.ticks import TickCleaner, parse_day
    from backend.sim import configure, control, mdapi
    from backend.sim.rows import instrument_row
    from lib.native import sleep as native_sleep
    from lib.native import start_new_thread

    sys.setswitchinterval(0.001)  # as run.py does, so both servers share the GIL the same way
    name = "bench-naive"
    app = Flask("naive")
    socketio = SocketIO(app, async_mode="gevent", cors_allowed_origins=[], logger=False, engineio_logger=False)
    counts = {"received": 0, "emitted": 0, "subscribed": 0}

    @app.get("/health")
    def health() -> Any:
        return {"success": True, "msg": "", "data": {"status": "ok"}}

    @socketio.on("connect")
    def connect(auth: Any = None) -> None:
        if not isinstance(auth, dict) or auth.get("token") != token:
            raise ConnectionRefusedError("token error")

    def emit_tick(tick: Any) -> None:  # the bridge's one consumer, on the gevent loop
        socketio.emit("tick", {"type": "tick", "data": tick.to_dict()})
        counts["emitted"] += 1

    bridge = Bridge(emit_tick, "naive-bridge")
    configure(name, market=market, tick_rate=tick_rate, query_rate=0)
    cleaner = TickCleaner()
    Path(flow_dir).mkdir(parents=True, exist_ok=True)
    api = mdapi.CThostFtdcMdApi.CreateFtdcMdApi(str(Path(flow_dir) / "md_"))

    class Spi(mdapi.CThostFtdcMdSpi):  # callbacks on the API's native thread, as in backend/gateway/md_session.py
        def OnFrontConnected(self) -> None:  # noqa: N802 - CTP's names
            login = mdapi.CThostFtdcReqUserLoginField()
            login.UserID, login.Password = "demo", "demo"
            api.ReqUserLogin(login, 1)

        def OnRspUserLogin(self, data: Any, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
            specs = control(name).specs
            for symbol, spec in specs.items():
                contract = contract_from(SimpleNamespace(**instrument_row(spec)))
                if contract is not None:
                    cleaner.contracts[symbol] = contract
            cleaner.trading_day = parse_day(data.TradingDay)
            symbols = sorted(cleaner.contracts)
            for start in range(0, len(symbols), 500):
                batch = [symbol.encode() for symbol in symbols[start : start + 500]]
                api.SubscribeMarketData(batch, len(batch))
            counts["subscribed"] = len(symbols)

        def OnRtnDepthMarketData(self, data: Any) -> None:  # noqa: N802
            tick = cleaner.clean(data)
            if tick is not None:
                counts["received"] += 1
                bridge.put(tick)

    def write_stats() -> None:  # a native thread: the counters, whatever the loop is doing
        temporary = stats_path + ".tmp"
        while True:
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump(dict(counts, backlog=bridge.backlog, t=time.monotonic()), handle)
            os.replace(temporary, stats_path)
            native_sleep(0.05)

    spi = Spi()
    api.RegisterSpi(spi)
    api.RegisterFront(f"sim://{name}")
    api.Init()
    start_new_thread(write_stats, ())
    socketio.run(app, host="127.0.0.1", port=port, log_output=False)
    return 0


# --- (3) order round trip ---------------------------------------------------------------------------
def bench_orders(scratch: Path, orders: int, health_count: int) -> dict[str, Any]:

    server = start_ctpdesk(scratch, "orders", **ORDER_RISK)
    pool = ClientPool()
    try:
        rest = Rest(server.base)
        token = rest.login()
        futures = [c for c in rest.call("GET", "/contract", params={"product": "i", "exchange": "DCE"})
                   if c["product"] == "futures" and c["is_trading"]]  # fmt: skip
        contract = min(futures, key=lambda c: c["expire_date"])
        local_symbol = contract["local_symbol"]
        rest.call("POST", "/market", json={"symbol": local_symbol})
        deadline = time.monotonic() + 30
        tick = None
        while tick is None and time.monotonic() < deadline:
            tick = next((row["tick"] for row in rest.call("GET", "/market") if row["local_symbol"] == local_symbol),
                        None)  # fmt: skip
            time.sleep(0.05)
        if tick is None:
            raise RuntimeError(f"no tick of {local_symbol}")
        trades: dict[str, float] = {}
        arrived = threading.Condition()

        def on_event(client: SioClient, name: str, data: bytes, now: float) -> None:
            if name == "trade":
                at = time.perf_counter()
                found = ORDER_ID.search(data)
                if found is not None:
                    with arrived:
                        trades[found.group(1).decode()] = at
                        arrived.notify_all()

        pool.add(SioClient("127.0.0.1", server.port, token, on_event=on_event))
        pool.connect_all(30)
        pool.start_thread()
        warmup = 20
        to_trade: list[float] = []
        to_answer: list[float] = []
        began = time.monotonic()
        for index in range(warmup + orders):
            buy = index % 2 == 0
            body = {"local_symbol": local_symbol, "direction": "long" if buy else "short",
                    "offset": "open" if buy else "close", "type": "limit",
                    "price": tick["limit_up"] if buy else tick["limit_down"], "volume": 1}  # fmt: skip
            t0 = time.perf_counter()
            response = rest.session.post(rest.base + "/order_solve", json=body, timeout=30)
            t1 = time.perf_counter()
            answer = response.json()
            if response.status_code != 200 or not answer["success"]:
                raise RuntimeError(f"order {index}: {response.status_code} {answer['msg']}")
            order_id = answer["data"]["order_id"]
            with arrived:
                if not arrived.wait_for(lambda: order_id in trades, timeout=10):  # noqa: B023
                    raise RuntimeError(f"no trade event for order {order_id} ({answer['data']['status']})")
            if index >= warmup:
                to_trade.append(1000 * (trades[order_id] - t0))
                to_answer.append(1000 * (t1 - t0))
        orders_s = time.monotonic() - began
        positions = rest.call("GET", "/order_solve")["position_list"]
        risk = rest.call("GET", "/risk")  # the risk engine was on and counted every order
        keep_alive = _timed(lambda: rest.session.get(rest.base + "/health", timeout=30), health_count)
        fresh = _timed(lambda: _fresh_get(server.port, "/health"), max(50, health_count // 5))
    finally:
        pool.close()
        server.stop()
    return {
        "local_symbol": local_symbol,
        "orders": len(to_trade),
        "orders_s": orders_s,
        "to_trade_median_ms": statistics.median(to_trade),
        "to_trade_p99_ms": percentile(to_trade, 0.99),
        "http_answer_median_ms": statistics.median(to_answer),
        "http_answer_p99_ms": percentile(to_answer, 0.99),
        "open_positions_after": sum(int(p.get("volume", 0)) for p in positions),
        "risk_enabled": risk["limits"]["enabled"],
        "risk_orders_counted": next(line["count"] for line in risk["counters"]
                                    if line["what"] == "orders and cancels today"),
        "health_keepalive_median_ms": statistics.median(keep_alive),
        "health_keepalive_p99_ms": percentile(keep_alive, 0.99),
        "health_fresh_median_ms": statistics.median(fresh),
        "health_fresh_p99_ms": percentile(fresh, 0.99),
    }


def _fresh_get(port: int, path: str) -> Any:
    """One GET on a new TCP connection (http.client: no pool to reuse a connection the server closed)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        response.status_code = response.status
        return response
    finally:
        connection.close()


def _timed(call: Callable[[], Any], count: int) -> list[float]:
    values = []
    for _ in range(10):
        call()
    for _ in range(count):
        t0 = time.perf_counter()
        response = call()
        values.append(1000 * (time.perf_counter() - t0))
        if response.status_code != 200:
            raise RuntimeError(f"GET /health: {response.status_code}")
    return values


# --- report -----------------------------------------------------------------------------------------
SCENARIOS = {  # run -> (the sim's market, what it shows, whether the target applies)
    "full": ("full", "every instrument of the full market (about 8,700) at about a real front's pace, just above "
                     "the target: few ticks per instrument, so coalescing has little to merge", True),
    "builtin": ("builtin", "the builtin market (about 200 instruments) at 100 ticks a second each, 21,000 a second "
                           "offered (just above the target): coalescing merges about 10 ticks per instrument and "
                           "push (each goes out at most every 0.1 s)", True),
    "overload": ("full", "the full market with the sim flat out: it takes the CPU the engine and the push need "
                         "(no target: how the server degrades)", False),
    "light": ("builtin", "the builtin market (about 200 instruments) at 2 ticks a second each: light load, nothing "
                         "to coalesce, every tick should go out at once (issue 17)", False),
}  # fmt: skip


def main() -> int:
    if "--naive-server" in sys.argv:
        at = sys.argv.index("--naive-server")
        port, token, market, rate, flow, stats = sys.argv[at + 1 : at + 7]
        return naive_server(int(port), token, market, float(rate), flow, stats)
    from lib.config import Settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="fan-out measuring window")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds after the first tick arrived")
    parser.add_argument("--tick-rate", type=float, default=TICK_RATE, help="SIM_TICK_RATE, full market")
    parser.add_argument("--builtin-tick-rate", type=float, default=100.0, help="SIM_TICK_RATE, builtin market")
    parser.add_argument("--overload-tick-rate", type=float, default=OVERLOAD_TICK_RATE,
                        help="SIM_TICK_RATE, the overload run (full market)")  # fmt: skip
    parser.add_argument("--light-tick-rate", type=float, default=LIGHT_TICK_RATE,
                        help="SIM_TICK_RATE, the light run (builtin market)")  # fmt: skip
    parser.add_argument("--light-clients", type=int, default=LIGHT_CLIENTS, help="clients of the light run")
    parser.add_argument("--push-interval", type=float, default=Settings().TICK_PUSH_INTERVAL,
                        help="TICK_PUSH_INTERVAL of the ctpdesk servers")  # fmt: skip
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--health", type=int, default=150, help="GET /health requests of the baseline")
    parser.add_argument("--only", choices=(*SCENARIOS, "orders"), action="append",
                        help="run only these parts (repeatable); default: all")  # fmt: skip
    parser.add_argument("--json", help="also write the JSON summary to this file")
    args = parser.parse_args()
    parts = args.only or [*SCENARIOS, "orders"]

    began = time.monotonic()
    fanouts: dict[str, tuple[dict[str, Any], dict[str, Any], float]] = {}
    orders: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-web-") as scratch_dir:
        scratch = Path(scratch_dir)
        rates = {"full": args.tick_rate, "builtin": args.builtin_tick_rate, "overload": args.overload_tick_rate,
                 "light": args.light_tick_rate}  # fmt: skip
        for run, (market, _, _) in SCENARIOS.items():
            if run in parts:
                rate = rates[run]
                clients = args.light_clients if run == "light" else args.clients
                desk = bench_ctpdesk_fanout(scratch, run, market, rate, args.push_interval, clients,
                                            args.warmup, args.seconds)  # fmt: skip
                naive = bench_naive_fanout(scratch, run, market, rate, clients, args.warmup, args.seconds)
                fanouts[run] = (desk, naive, rate)
        if "orders" in parts:
            orders = bench_orders(scratch, args.orders, args.health)
    report(fanouts, orders, args, time.monotonic() - began)
    return 0


def _finite(value: Any) -> Any:
    """The summary as strict JSON: NaN and infinities (figures that could not be taken) become null."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _verdict(met: bool | None) -> str:
    return "" if met is None else (" met" if met else " MISSED")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:9.2f}" if b and a == a and b == b else " " * 9


FANOUT_ROWS = [  # label, key, decimals, is the target row
    ("sim ticks/s produced (the market's pace)", "sim_per_s", 0, False),
    ("engine ticks/s accepted, in the window", "engine_per_s", 0, True),
    ("market s reaching the clients per s", "frontier_speed", 2, False),
    ("engine lag s, before the clients connected", "engine_lag_before_clients_s", 1, False),
    ("engine lag s, after the window", "engine_lag_end_s", 1, False),
    ("newest tick at the clients, age s, window start", "data_age_start_s", 1, False),
    ("newest tick at the clients, age s, window end", "data_age_end_s", 1, False),
    ("ticks received /s, all clients", "received_per_s", 0, False),
    ("ticks received /s, per client", "received_per_client_per_s", 0, False),
    ("display latency p50 ms", "latency_p50_ms", 0, False),
    ("display latency p99 ms", "latency_p99_ms", 0, False),
    ("  p50 ms, first fifth of the window", "latency_first_fifth_p50_ms", 0, False),
    ("  p50 ms, last fifth of the window", "latency_last_fifth_p50_ms", 0, False),
    ("server CPU % (100 = one core)", "server_cpu_percent", 0, False),
    ("server RSS MB, window start", "server_rss_mb_start", 0, False),
    ("server RSS MB, window end", "server_rss_mb_end", 0, False),
    ("GET /health right after the window, s", "health_after_s", 2, False),
    ("bench process (the clients) CPU %", "client_cpu_percent", 0, False),
    ("other processes' CPU % (this machine: {cpus} CPUs)", "other_cpu_percent", 0, False),
]  # fmt: skip


def report_fanout(number: str, run: str, desk: dict[str, Any], naive: dict[str, Any], rate: float,
                  args: argparse.Namespace) -> bool:  # fmt: skip
    nan = float("nan")
    met = desk["engine_per_s"] >= TICK_TARGET and desk["frontier_speed"] >= 0.95
    _, shows, has_target = SCENARIOS[run]
    clients = desk["clients"]
    print(f"{number} tick fan-out, {run}: {shows}.")
    print(f"    {desk['subscribed']:,} instruments subscribed, SIM_TICK_RATE {rate:g} (offered "
          f"{desk['subscribed'] * rate:,.0f}/s), {clients} clients, {desk['window_s']:.1f} s window, "
          f"TICK_PUSH_INTERVAL {args.push_interval:g} s")
    print(f"{'measure':50} {'ctpdesk':>12} {'naive emit':>12} {'ratio':>9}  target")
    latency_targets = dict(zip(("latency_p50_ms", "latency_p99_ms"), LATENCY_TARGETS.get(run, (None, None)),
                               strict=True))  # fmt: skip
    for label, key, digits, target_row in FANOUT_ROWS:
        a, b = desk.get(key, nan), naive.get(key, nan)
        target = f">= {TICK_TARGET:,.0f} and >= 0.95 below{_verdict(met)}" if target_row and has_target else ""
        if latency_targets.get(key) is not None:
            target = f"< {latency_targets[key]:g}{_verdict(a < latency_targets[key])}"
        label = label.format(cpus=desk["machine_cpus"])
        print(f"{label:50} {a:12,.{digits}f} {b:12,.{digits}f} {_ratio(a, b)}  {target}")
    print(f"  ctpdesk's engine ticks/s = the sim's pace x market s reaching the clients per s. The pace is from two "
          f"GET /market 3 s apart before any socket (the engine alone then applied "
          f"{desk['engine_per_s_before_clients']:,.0f}/s); the push forwards the engine's newest ticks, so the "
          f"product is a lower bound on the engine. Its lag after the window is from GET /market: >= "
          f"{desk['engine_lag_end_s']:.1f} s (<= {desk['engine_lag_end_max_s']:.1f} s; the call took "
          f"{desk['get_market_end_s']:.1f} s).")
    print(f"  The naive server's figures are its own counters in the window: {naive['server_received_per_s']:,.0f}"
          f" ticks/s from its sim, {naive['server_emitted_per_s']:,.0f} emits/s (derived the ctpdesk way: "
          f"{naive['engine_per_s_derived']:,.0f}/s), bridge backlog {naive['server_backlog_start']:,} -> "
          f"{naive['server_backlog_end']:,} ticks (lag = backlog / sim rate).")
    print(f"  ctpdesk: login {desk['login_s']:.1f} s, subscribing {desk['subscribe_s']:.1f} s, {clients} "
          f"sockets connected in {desk['connect_s']:.1f} s (naive: {naive['connect_s']:.1f} s)")
    print()
    return met


def report(fanouts: dict[str, tuple[dict[str, Any], dict[str, Any], float]], orders: dict[str, Any],
           args: argparse.Namespace, total_s: float) -> None:  # fmt: skip
    summary: dict[str, Any] = {"settings": {
        "clients": args.clients, "light_clients": args.light_clients, "window_s": args.seconds,
        "tick_push_interval": args.push_interval,
        "sim_tick_rate": {market: rate for market, (_, _, rate) in fanouts.items()}}}  # fmt: skip
    targets: dict[str, Any] = {"engine_ticks_per_s": TICK_TARGET, "order_median_ms": ORDER_TARGET_MS}
    runs = (("(1)/(2)", "full"), ("(1b)/(2b)", "builtin"), ("(1c)/(2c)", "overload"), ("(1d)/(2d)", "light"))
    for number, run in runs:
        if run not in fanouts:
            continue
        desk, naive, rate = fanouts[run]
        met = report_fanout(number, run, desk, naive, rate, args)
        if SCENARIOS[run][2]:
            targets[f"ticks_met_{run}"] = met
        p50, p99 = LATENCY_TARGETS.get(run, (None, None))
        if p50 is not None or p99 is not None:
            targets[f"latency_met_{run}"] = ((p50 is None or desk["latency_p50_ms"] < p50)
                                             and (p99 is None or desk["latency_p99_ms"] < p99))  # fmt: skip
        summary[f"fanout_{run}"] = {"ctpdesk": desk, "naive": naive, "ratios": {
            key: desk[key] / naive[key] if naive.get(key) else None
            for key in ("engine_per_s", "received_per_s", "latency_p50_ms", "latency_p99_ms",
                        "server_cpu_percent")}}  # fmt: skip
    if orders:
        order_met = orders["to_trade_median_ms"] < ORDER_TARGET_MS
        targets["orders_met"] = order_met
        keep = orders["health_keepalive_median_ms"]
        print(f"(3) order round trip: {orders['orders']} sequential POST /order_solve on {orders['local_symbol']}, "
              f"one socket client, keep-alive HTTP session")
        print(f"{'measure':40} {'ms':>9}   {'baseline':32} {'ms':>9} {'ratio':>9}  target")
        order_rows = [
            ("order -> trade event, median", orders["to_trade_median_ms"], "GET /health, same session, p50", keep,
             f"< {ORDER_TARGET_MS:g}", order_met),
            ("order -> trade event, p99", orders["to_trade_p99_ms"], "GET /health, same session, p99",
             orders["health_keepalive_p99_ms"], "", None),
            ("order -> HTTP answer, median", orders["http_answer_median_ms"], "GET /health, same session, p50", keep,
             "", None),
            ("order -> HTTP answer, p99", orders["http_answer_p99_ms"], "GET /health, same session, p99",
             orders["health_keepalive_p99_ms"], "", None),
            ("order -> trade event, median", orders["to_trade_median_ms"], "GET /health, new connection, p50",
             orders["health_fresh_median_ms"], "", None),
            ("order -> HTTP answer, median", orders["http_answer_median_ms"], "GET /health, new connection, p50",
             orders["health_fresh_median_ms"], "", None),
        ]  # fmt: skip
        for label, value, base_label, base, target, met in order_rows:
            ratio = _ratio(value, base)
            print(f"{label:40} {value:9.2f}   {base_label:32} {base:9.2f} {ratio}  {target}{_verdict(met)}")
        print(f"  GET /health new connection p99 {orders['health_fresh_p99_ms']:.2f} ms; position after the run: "
              f"{orders['open_positions_after']} lots; the orders took {orders['orders_s']:.1f} s")
        print(f"  risk engine {'on' if orders['risk_enabled'] else 'OFF'} with its rate limits lifted: it counted "
              f"{orders['risk_orders_counted']:,} orders")
        summary["orders"] = orders
        summary["order_ratios"] = {"to_trade_vs_health": orders["to_trade_median_ms"] / keep,
                                   "http_answer_vs_health": orders["http_answer_median_ms"] / keep}  # fmt: skip
    print(f"(bench {total_s:.0f} s)")
    summary["targets"] = targets
    summary["total_s"] = total_s
    line = json.dumps(_finite(summary))
    if args.json:
        Path(args.json).write_text(line + "\n", encoding="utf-8")
    print(line)


if __name__ == "__main__":
    sys.exit(main())
