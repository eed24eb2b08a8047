"""A real ctpdesk server in a subprocess (`python run.py --config FILE`) and real clients for it.

Each server gets a free loopback port, its own temporary DATA_DIR, a known ACCESS_CODE and a unique
SIM_NAME. Nothing here sleeps: waiting is a bounded retry loop on the health check (with
`threading.Event().wait` between attempts) or a wait on a condition the clients set.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
import yaml

ROOT = Path(__file__).resolve().parents[2]
ACCESS_CODE = "e2e-access-code-1"
START_DEADLINE = 30.0  # seconds for the server to answer /health
STOP_DEADLINE = 10.0  # seconds between SIGTERM and SIGKILL
HTTP_TIMEOUT = 10.0  # every request the tests make is bounded
_sim_names = itertools.count()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pause(seconds: float) -> None:
    """Block this (non-gevent) thread for a moment without sleeping on the test's time budget."""
    threading.Event().wait(seconds)


def wait_until(what: str, check: Callable[[], Any], seconds: float = 20.0) -> Any:
    """Poll `check` until it gives something truthy, and return that; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        pause(0.1)
    return found


# --- the server process ---------------------------------------------------------------------------
def wait_healthy(base: str, process: subprocess.Popen, within: float) -> str:
    """"" once `base`/health answers 200; else why not (the process ended, or `within` seconds passed)."""
    deadline = time.monotonic() + within
    while True:
        if process.poll() is not None:
            return f"the server exited with {process.returncode} before answering"
        try:
            if requests.get(f"{base}/health", timeout=0.5).status_code == 200:
                return ""
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            return f"no /health answer within {within:g}s"
        pause(0.05)


@dataclass
class Server:
    """One `run.py` subprocess; `start` waits for /health, `stop` ends it (SIGTERM, then SIGKILL)."""

    workdir: Path
    data_dir: Path
    settings: dict[str, Any]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    killed: bool = False
    preexec: Callable[[], None] | None = None  # runs in the child before run.py (e.g. a lower RLIMIT_NOFILE)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"server-{self.port}.log"

    def log_tail(self, size: int = 4000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-size:]
        except FileNotFoundError:
            return ""

    def start(self) -> Server:
        config = {
            "HOST": "127.0.0.1",
            "PORT": self.port,
            "DATA_DIR": str(self.data_dir),
            "ACCESS_CODE": ACCESS_CODE,
            "SIM_NAME": f"e2e{os.getpid()}_{next(_sim_names)}",
            "SIM_QUERY_RATE": 0,
            "SIM_TICK_RATE": 4,
            "TICK_PUSH_INTERVAL": 0.1,
            "LOGIN_TIMEOUT": 20,
            "REFRESH_INTERVAL": 2,  # account/position refreshes: keeps the waits for them short
            **self.settings,
        }
        config_path = self.workdir / f"config-{self.port}.yaml"
        config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        # The file must decide: CTPDESK_* (and MONGO_URI) in the environment would override it.
        env = {k: v for k, v in os.environ.items() if not k.startswith("CTPDESK_") and k != "MONGO_URI"}
        env["PYTHONUNBUFFERED"] = "1"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "run.py", "--config", str(config_path)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=self.preexec,
            )  # fmt: skip
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        assert self.process is not None
        problem = wait_healthy(self.base, self.process, START_DEADLINE)
        if problem:
            self.stop()
            pytest.fail(f"{problem}:\n{self.log_tail()}")

    def stop(self) -> int:
        """SIGTERM; SIGKILL if it is still alive after STOP_DEADLINE. Returns the exit status."""
        process = self.process
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                self.killed = True
                process.kill()
                process.wait(timeout=STOP_DEADLINE)
        assert process.returncode is not None, "the server process did not exit"
        return process.returncode


# --- clients ----------------------------------------------------------------------------------------
@dataclass
class Desk:
    """A client of one server: base URL, access code, log in, authed sessions."""

    server: Server
    access_code: str = ACCESS_CODE
    _api: requests.Session | None = None

    @property
    def base(self) -> str:
        return self.server.base

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def login(self, userid: str = "demo", password: str = "demo") -> str:
        response = requests.post(self.url("/login"), json={"authorization": self.access_code, "userid": userid,
                                                           "password": password}, timeout=30)  # fmt: skip
        body = response.json()
        assert response.status_code == 200, body
        assert body["success"] is True and isinstance(body["data"], str) and body["data"].count(".") == 2
        return body["data"]

    def session(self, token: str | None = None) -> requests.Session:
        """A requests.Session sending `Authorization: JWT <token>` (a fresh login when no token given)."""
        session = requests.Session()
        session.headers["Authorization"] = f"JWT {token or self.login()}"
        request = session.request

        def bounded(method: str, url: str, **kwargs: Any) -> requests.Response:
            kwargs.setdefault("timeout", HTTP_TIMEOUT)
            return request(method, url if url.startswith("http") else self.url(url), **kwargs)

        session.request = bounded  # type: ignore[method-assign]
        return session

    @property
    def api(self) -> requests.Session:
        """One authed session, made on first use (logs in)."""
        if self._api is None:
            self._api = self.session()
        return self._api

    @property
    def token(self) -> str:
        return str(self.api.headers["Authorization"]).split(" ", 1)[1]


class Events:
    """Everything a Socket.IO client received, in order; waits on a condition, never sleeps."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []
        self.disconnected = threading.Event()
        self._changed = threading.Condition()

    def add(self, name: str, data: Any) -> None:
        with self._changed:
            self.items.append((name, data))
            self._changed.notify_all()

    def mark(self) -> int:
        with self._changed:
            return len(self.items)

    def of(self, name: str, since: int = 0) -> list[Any]:
        with self._changed:
            return [data for seen, data in self.items[since:] if seen == name]

    def wait_for(self, name: str, predicate: Callable[[Any], bool] = lambda _: True, *, since: int = 0,
                 timeout: float = 10.0) -> Any:  # fmt: skip
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for seen, data in self.items[since:]:
                    if seen == name and predicate(data):
                        return data
                left = deadline - time.monotonic()
                if left <= 0:
                    names = sorted({seen for seen, _ in self.items[since:]})
                    raise AssertionError(f"no matching {name!r} event within {timeout:g}s (got: {names})")
                self._changed.wait(left)

    def count(self, name: str, predicate: Callable[[Any], bool], n: int, *, since: int = 0,
              timeout: float = 10.0) -> list[Any]:  # fmt: skip
        """Wait until `n` matching events arrived after `since`; returns all events of `name` since then."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                seen = [data for event, data in self.items[since:] if event == name]
                if sum(1 for data in seen if predicate(data)) >= n:
                    return seen
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"fewer than {n} matching {name!r} events within {timeout:g}s")
                self._changed.wait(left)


@dataclass
class Socket:
    client: socketio.Client
    events: Events


class SocketFactory:
    """Real python-socketio clients; every one still connected is disconnected at teardown.

    The teardown closes them all at once: a client's disconnect waits for the server to close the
    TCP connection after the websocket closing handshake, which this server does not do (see
    test_the_server_closes_the_connection_after_the_websocket_closing_handshake), so each costs the
    websocket-client close timeout (3 s).
    """

    def __init__(self) -> None:
        self.made: list[socketio.Client] = []

    def __call__(self, desk: Desk, token: str | None = None, *, upgrade: bool = False, query: str = "",
                 **connect: Any) -> Socket:  # fmt: skip
        """Connect with `auth={"token": token}` (no auth when token is None); websocket only unless
        `upgrade` (the default polling, then the upgrade to websocket); `query` is added to the URL."""
        client = socketio.Client(reconnection=False)
        events = Events()
        client.on("*", lambda event, *args: events.add(event, args[0] if len(args) == 1 else list(args)))
        client.on("disconnect", lambda *_: events.disconnected.set())
        self.made.append(client)
        auth = {"token": token} if token is not None else None
        transports = None if upgrade else ["websocket"]
        url = f"{desk.base}?{query}" if query else desk.base
        client.connect(url, auth=auth, transports=transports, wait_timeout=10, **connect)
        return Socket(client, events)

    def refused(self, desk: Desk, attempts: list[dict[str, Any]]) -> list[BaseException | None]:
        """Connect with each of `attempts` (a `token` plus other `__call__` keywords) at once: each refused
        client takes its close timeout, so they run in parallel. Answers what each raised (None: connected)."""

        def connect(attempt: dict[str, Any]) -> BaseException | None:
            attempt = dict(attempt)
            try:
                self(desk, attempt.pop("token", None), **attempt)
            except socketio.exceptions.ConnectionError as refused:
                return refused
            return None

        with ThreadPoolExecutor(max(1, len(attempts))) as pool:
            return list(pool.map(connect, attempts))

    def close(self) -> None:
        closing = [threading.Thread(target=client.disconnect) for client in self.made if client.connected]
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join(timeout=10)


# --- fixtures ---------------------------------------------------------------------------------------
class ServerFactory:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.servers: list[Server] = []

    def __call__(self, data_dir: Path | None = None, preexec: Callable[[], None] | None = None,
                 **settings: Any) -> Server:  # fmt: skip
        workdir = self.root / f"server{len(self.servers)}"
        workdir.mkdir(parents=True, exist_ok=True)
        server = Server(workdir, data_dir or workdir / "data", settings, preexec=preexec)
        self.servers.append(server)
        return server.start()

    def stop_all(self) -> None:
        problems = []
        for server in self.servers:
            server.stop()
            if server.killed:
                problems.append(f"{server.base} ignored SIGTERM for {STOP_DEADLINE:g}s:\n{server.log_tail()}")
        assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """Start servers (`server_factory(data_dir=..., **settings)`); all are stopped after the module."""
    factory = ServerFactory(tmp_path_factory.mktemp("servers"))
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def desk(server_factory: ServerFactory) -> Desk:
    """A running server, with a client not yet logged in (`desk.api` logs in on first use)."""
    return Desk(server_factory())


@pytest.fixture(scope="module")
def sockets() -> Iterator[SocketFactory]:
    factory = SocketFactory()
    yield factory
    factory.close()
