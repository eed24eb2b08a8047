"""The deployment of the design card, for real: supervisor keeps uWSGI running, nginx faces the browser.

supervisord and nginx run from this machine's packages (tools/ensure_test_tools.sh installs them
under `make test` when it can), with configurations generated from deploy/supervisor.conf and
deploy/nginx.conf by replacing their placeholders: a temporary directory for the data, logs and
runtime files, free loopback ports, this checkout's path, the current user. uWSGI is this checkout's
(.venv/bin/uwsgi with uwsgi.ini). Everything the test starts is stopped at the end, by pid, also when
it fails. Nothing sleeps: waits are bounded retries (`pause` between attempts) or waits on events.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from tests.e2e.conftest import Events, free_port, pause

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
UWSGI = ROOT / ".venv" / "bin" / "uwsgi"
SUPERVISOR_TEMPLATE = ROOT / "deploy" / "supervisor.conf"
NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf"
ACCESS_CODE = "deploy-access-code-1"
STRATEGY = "deploy_probe"
WORKER_MODULE = "backend.strategy_runtime.worker"
START_DEADLINE = 60.0  # seconds for /health to answer through nginx (uWSGI loads the app in its worker)
READY_DEADLINE = 60.0  # seconds for a restarted desk to be logged back in with its strategy running
STOP_WAIT = 20  # stopwaitsecs in deploy/supervisor.conf
HTTP_TIMEOUT = 10.0
SERVER_NAME = "desk.test"  # ALLOWED_HOSTS of the deployment under test (nginx listens on 127.0.0.1)
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin", "/bin"])


def which(name: str) -> str:
    return shutil.which(name, path=SEARCH_PATH) or ""


def _missing_tools() -> str:
    """Why this test cannot run here ("" when it can)."""
    if not Path("/proc/self/stat").exists():
        return "the deployment test needs Linux (/proc)"
    missing = [name for name in ("nginx", "supervisord", "supervisorctl") if not which(name)]
    if missing:
        packages = " ".join(sorted({"nginx" if name == "nginx" else "supervisor" for name in missing}))
        if os.geteuid() == 0:
            why = "tools/ensure_test_tools.sh, run by make test, could not install them: see its output"
        else:
            why = "not root, so tools/ensure_test_tools.sh (run by make test) could not install them"
        return f"{', '.join(missing)} not installed ({why}); fix, as root: apt-get install -y {packages}"
    if not UWSGI.exists():
        return f"{UWSGI} missing: `make deps` installs uwsgi from requirements.txt"
    options = subprocess.run([str(UWSGI), "--help"], capture_output=True, text=True, timeout=30).stdout
    if "--ssl-socket" not in options:
        return (f"{UWSGI} was built without SSL (libssl-dev was missing), so it cannot do the websocket handshake; "
                "fix: apt-get install -y libssl-dev && .venv/bin/pip install --force-reinstall --no-deps "
                "--no-cache-dir uwsgi==2.0.31")  # fmt: skip
    return ""


# --- processes, from /proc --------------------------------------------------------------------------
def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process we can see."""
    found: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # it ended meanwhile
            continue
        found[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), command)
    return found


def alive(pid: int, marker: str) -> bool:
    """Whether `pid` still runs a command containing `marker` (guards against a reused pid)."""
    entry = processes().get(pid)
    return entry is not None and marker in entry[1]


def children(pid: int, marker: str) -> list[int]:
    return sorted(child for child, (parent, command) in processes().items() if parent == pid and marker in command)


def strategy_workers() -> set[int]:
    return {pid for pid, (_, command) in processes().items() if WORKER_MODULE in command}


def wait_until(what: str, check: Callable[[], Any], deadline: float, detail: Callable[[], str] = lambda: "") -> Any:
    """Retry `check` until it returns something truthy; fail with `what` (and `detail()`) after `deadline` s."""
    end = time.monotonic() + deadline
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > end:
            pytest.fail(f"{what} within {deadline:g}s\n{detail()}")
        pause(0.1)


def replace_all(text: str, replacements: dict[str, str], template: Path) -> str:
    """Replace each placeholder, which the template must contain (a renamed one must fail here)."""
    for placeholder, value in replacements.items():
        assert placeholder in text, f"{template.relative_to(ROOT)} no longer contains {placeholder!r}"
        text = text.replace(placeholder, value)
    return text


# --- the deployment ---------------------------------------------------------------------------------
@dataclass
class Deployment:
    """supervisord (with deploy/supervisor.conf) and nginx (with deploy/nginx.conf) on loopback ports."""

    workdir: Path
    rundir: Path  # short: the supervisor socket's path must fit in sockaddr_un
    nginx_port: int = field(default_factory=free_port)
    uwsgi_port: int = field(default_factory=free_port)
    supervisord: subprocess.Popen[bytes] | None = None
    nginx: subprocess.Popen[bytes] | None = None
    uwsgi_seen: set[int] = field(default_factory=set)
    baseline_workers: set[int] = field(default_factory=strategy_workers)  # strategy workers not ours

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def program_log(self) -> Path:
        return self.workdir / "log" / "ctpdesk.log"

    @property
    def supervisord_log(self) -> Path:
        return self.workdir / "supervisord.log"

    @property
    def stop_marker(self) -> Path:
        """In the strategy's own directory: the only place its worker may write."""
        return self.data_dir / "strategies" / STRATEGY / "strategy-stopped.txt"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def logs(self, size: int = 3000) -> str:
        parts = []
        for path in (self.supervisord_log, self.program_log, self.workdir / "nginx" / "error.log"):
            try:
                parts.append(f"--- {path.name}:\n{path.read_text(errors='replace')[-size:]}")
            except FileNotFoundError:
                parts.append(f"--- {path.name}: (none)")
        return "\n".join(parts)

    # --- configuration ----------------------------------------------------------------------------
    def write_configs(self) -> None:
        (self.workdir / "log").mkdir(parents=True)
        (self.workdir / "nginx").mkdir()
        self.data_dir.mkdir()
        user = pwd.getpwuid(os.geteuid()).pw_name
        program = replace_all(SUPERVISOR_TEMPLATE.read_text(encoding="utf-8"), {
            "/srv/ctpdesk": str(ROOT),
            "/var/lib/ctpdesk": str(self.data_dir),
            "/var/log/ctpdesk": str(self.workdir / "log"),
            "user=ctpdesk": f"user={user}",
            "%(ACCESS_CODE)s": ACCESS_CODE,
            'CTPDESK_PORT="5000"': f'CTPDESK_PORT="{self.uwsgi_port}"',
            'CTPDESK_ALLOWED_HOSTS="desk.example.com"': f'CTPDESK_ALLOWED_HOSTS="{SERVER_NAME}"',
            # test-only settings: a sim of its own, quick queries and ticks
            'MONGO_URI=""': (f'MONGO_URI="",CTPDESK_SIM_NAME="deploy{os.getpid()}",CTPDESK_SIM_QUERY_RATE="0",'
                             'CTPDESK_SIM_TICK_RATE="4",CTPDESK_TICK_PUSH_INTERVAL="0.1",CTPDESK_LOGIN_TIMEOUT="20"'),
        }, SUPERVISOR_TEMPLATE)  # fmt: skip
        assert f"stopwaitsecs={STOP_WAIT}\n" in program
        (self.workdir / "ctpdesk.conf").write_text(program, encoding="utf-8")
        socket_path = self.rundir / "supervisor.sock"
        (self.workdir / "supervisord.conf").write_text(
            f"[unix_http_server]\nfile={socket_path}\nchmod=0700\n\n"
            f"[supervisord]\nlogfile={self.supervisord_log}\npidfile={self.workdir / 'supervisord.pid'}\n"
            f"childlogdir={self.workdir / 'log'}\nnodaemon=true\nsilent=true\nuser={user}\n\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
            f"[supervisorctl]\nserverurl=unix://{socket_path}\n\n"
            f"[include]\nfiles = {self.workdir / 'ctpdesk.conf'}\n",
            encoding="utf-8",
        )  # fmt: skip
        nginx_dir = self.workdir / "nginx"
        site = replace_all(NGINX_TEMPLATE.read_text(encoding="utf-8"), {
            "server 127.0.0.1:5000;": f"server 127.0.0.1:{self.uwsgi_port};",
            "listen 80;": f"listen 127.0.0.1:{self.nginx_port};",
            "server_name desk.example.com;": "server_name 127.0.0.1;",
        }, NGINX_TEMPLATE)  # fmt: skip
        (nginx_dir / "ctpdesk.conf").write_text(site, encoding="utf-8")
        temp_paths = "".join(f"    {kind}_temp_path {nginx_dir / kind};\n" for kind in
                             ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
        (nginx_dir / "nginx.conf").write_text(
            ("user root;\n" if os.geteuid() == 0 else "")  # as root, workers may read and write the temp dirs
            + f"worker_processes 1;\npid {nginx_dir / 'nginx.pid'};\nerror_log {nginx_dir / 'error.log'} info;\n"
            "events { worker_connections 256; }\n"
            f"http {{\n    access_log {nginx_dir / 'access.log'};\n{temp_paths}"
            f"    include {nginx_dir / 'ctpdesk.conf'};\n}}\n",
            encoding="utf-8",
        )  # fmt: skip

    # --- starting and stopping ----------------------------------------------------------------------
    def start(self) -> None:
        self.write_configs()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CTPDESK_") and k != "MONGO_URI"}
        env["PATH"] = SEARCH_PATH
        nginx_dir = self.workdir / "nginx"
        nginx = [which("nginx"), "-p", str(nginx_dir), "-c", str(nginx_dir / "nginx.conf")]
        checked = subprocess.run([*nginx, "-t"], capture_output=True, text=True, timeout=30, env=env)
        assert checked.returncode == 0, f"nginx refused the configuration from deploy/nginx.conf:\n{checked.stderr}"
        with open(self.workdir / "supervisord.out", "wb") as out:
            self.supervisord = subprocess.Popen(
                [which("supervisord"), "-n", "-c", str(self.workdir / "supervisord.conf")],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        with open(nginx_dir / "nginx.out", "wb") as out:
            self.nginx = subprocess.Popen([*nginx, "-g", "daemon off;"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)  # fmt: skip

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [which("supervisorctl"), "-c", str(self.workdir / "supervisord.conf"), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)

    def uwsgi_pid(self) -> int:
        """The uWSGI master's pid as supervisor knows it (0 while it is not running)."""
        answer = self.ctl("pid", "ctpdesk", timeout=10).stdout.strip()
        pid = int(answer) if answer.isdigit() else 0
        if pid:
            self.uwsgi_seen.add(pid)
        return pid

    def uwsgi_worker(self, master: int) -> int:
        workers = children(master, "uwsgi")
        assert len(workers) == 1, f"expected exactly one uWSGI worker under {master}, found {workers}"
        self.uwsgi_seen.add(workers[0])
        return workers[0]

    def strategy_worker(self, uwsgi_worker: int) -> int:
        """The one strategy worker process under `uwsgi_worker` (waits for it to appear)."""
        found = wait_until(f"no strategy worker under the uWSGI worker {uwsgi_worker}",
                           lambda: children(uwsgi_worker, WORKER_MODULE), 10, self.logs)  # fmt: skip
        assert len(found) == 1, found
        return found[0]

    def stop_everything(self) -> None:
        """Teardown, whatever happened: supervisor (and through it uWSGI), nginx, anything left over."""
        if self.supervisord is not None and self.supervisord.poll() is None:
            try:
                self.ctl("shutdown", timeout=STOP_WAIT + 20)
            except subprocess.TimeoutExpired:
                pass
            _end(self.supervisord, signal.SIGTERM, STOP_WAIT + 10)
        if self.nginx is not None:
            _end(self.nginx, signal.SIGQUIT, 10)
        for pid in self.uwsgi_seen:
            if alive(pid, "uwsgi"):
                os.kill(pid, signal.SIGKILL)
        for pid in strategy_workers() - self.baseline_workers:
            os.kill(pid, signal.SIGKILL)


def _end(process: subprocess.Popen[bytes], first: signal.Signals, wait: float) -> None:
    if process.poll() is None:
        process.send_signal(first)
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    reason = _missing_tools()
    if reason:
        pytest.skip(reason)
    rundir = Path(tempfile.mkdtemp(prefix="ctpdesk-"))
    deployed = Deployment(tmp_path, rundir)
    try:
        deployed.start()
        yield deployed
    finally:
        deployed.stop_everything()
        shutil.rmtree(rundir, ignore_errors=True)


# --- clients ----------------------------------------------------------------------------------------
class Api:
    """REST through nginx with `Authorization: JWT <token>`."""

    def __init__(self, deployed: Deployment, token: str) -> None:
        self.deployed = deployed
        self.token = token

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        headers = {"Authorization": f"JWT {self.token}"}
        return requests.request(method, self.deployed.url(path), headers=headers, **kwargs)

    def data(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.headers.get("Content-Type", "").startswith("application/json"), response.text[:300]
        body = response.json()
        assert response.status_code == 200 and body["success"] is True, (method, path, response.status_code, body)
        return body["data"]


def websocket_upgraded(deployed: Deployment) -> bool:
    lines = (deployed.workdir / "nginx" / "access.log").read_text().splitlines()
    return any('"GET /socket.io/?transport=websocket' in line and '" 101 ' in line for line in lines)


def healthy(deployed: Deployment) -> bool:
    try:
        response = requests.get(deployed.url("/health"), timeout=2)
    except requests.RequestException:
        return False
    return response.status_code == 200 and response.json()["data"]["status"] == "ok"


def log_in(deployed: Deployment) -> str:
    response = requests.post(deployed.url("/login"), json={"authorization": ACCESS_CODE, "userid": "demo",
                                                           "password": "demo"}, timeout=60)  # fmt: skip
    body = response.json()
    assert response.status_code == 200 and body["success"] is True, body
    return body["data"]


def connect_socket(deployed: Deployment, token: str, made: list[socketio.Client]) -> tuple[socketio.Client, Events]:
    """A python-socketio client through nginx, websocket transport only."""
    client = socketio.Client(reconnection=False)
    events = Events()
    client.on("*", lambda event, *args: events.add(event, args[0] if len(args) == 1 else list(args)))
    made.append(client)
    client.connect(deployed.base, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    return client, events


def is_tick_of(name: str) -> Callable[[Any], bool]:
    return lambda message: message["type"] == "tick" and message["data"]["local_symbol"] == name


def probe_strategy(instrument: str, marker: Path) -> str:
    """A strategy that only logs; on_stop (reached only through a clean stop) notes its pid in `marker`, a
    file of that name in its own directory."""
    return f'''"""Deployment probe: logs, never trades."""

import os

from backend.strategy import Strategy


class DeployProbe(Strategy):
    instruments = ["{instrument}"]

    def on_init(self):
        self.info(f"deploy probe running in {{os.getpid()}}")

    def on_tick(self, tick):
        pass

    def on_stop(self):
        with open({marker.name!r}, "a", encoding="utf-8") as out:  # in its working directory
            out.write(f"{{os.getpid()}}\\n")


ext = DeployProbe("{STRATEGY}")
'''


def status_ready(api: Api) -> dict[str, Any] | None:
    """GET /status once the counter is ready and the probe runs (None before)."""
    response = api.call("GET", "/status")
    assert response.status_code != 401, f"the token issued before the restart was refused: {response.text[:300]}"
    if response.status_code != 200:
        return None
    data = response.json()["data"]
    ready = data["td"]["state"] == "ready" and data["md"]["state"] == "ready"
    return data if ready and STRATEGY in data["strategies_running"] else None


def _hosts_and_origins(deployed: Deployment) -> None:
    """Through nginx the desk answers to its server name (ALLOWED_HOSTS) and to no other, whatever
    X-Forwarded-Host a client sends; a foreign page's socket handshake is refused. (The sockets below,
    whose Origin is nginx's http://127.0.0.1:<port>, show the desk's own origin still passes.)"""
    def get(path: str, **headers: str) -> requests.Response:
        return requests.get(deployed.url(path), headers=headers, timeout=HTTP_TIMEOUT)

    assert get("/health", Host=SERVER_NAME).status_code == 200
    rebound = {"Host": "rebound.evil.example"}
    for headers in (rebound, {**rebound, "X-Forwarded-Host": SERVER_NAME}):  # nginx overwrites the latter
        refused = get("/health", **headers)
        assert refused.status_code == 400 and refused.json()["msg"] == "host not allowed", (headers, refused.text)
    handshake = get("/socket.io/?EIO=4&transport=polling", Origin="http://rebound.evil.example")
    assert handshake.status_code == 403 and handshake.json()["msg"].startswith("origin not allowed"), handshake.text


# --- the test ---------------------------------------------------------------------------------------
def test_supervisor_keeps_the_desk_running_behind_nginx_and_stops_it_cleanly(deployment: Deployment):
    deployed = deployment
    sockets: list[socketio.Client] = []
    try:
        _scenario(deployed, sockets)
    finally:
        for client in sockets:
            if client.connected:
                client.disconnect()


def _scenario(deployed: Deployment, sockets: list[socketio.Client]) -> None:
    wait_until("no /health answer through nginx", lambda: healthy(deployed), START_DEADLINE, deployed.logs)
    first_master = deployed.uwsgi_pid()
    assert first_master, deployed.logs()
    first_uwsgi_worker = deployed.uwsgi_worker(first_master)
    # the browser desk and its libraries, through nginx
    page = requests.get(deployed.url("/"), timeout=HTTP_TIMEOUT)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html"), page.text[:300]
    for path in ("/ui/app.js", "/vendor/socket.io.min.js"):
        asset = requests.get(deployed.url(path), timeout=HTTP_TIMEOUT)
        assert asset.status_code == 200 and asset.headers["Content-Type"].startswith("text/javascript"), path
    _hosts_and_origins(deployed)

    # log in on the sim and subscribe, through nginx
    api = Api(deployed, log_in(deployed))
    contracts = api.data("GET", "/contract", params={"product": "m", "exchange": "DCE"})
    instrument = sorted(item["local_symbol"] for item in contracts if item["is_trading"])[0]
    assert api.data("POST", "/market", json={"symbol": instrument}) == [instrument]

    # ticks over Socket.IO, the websocket transport, through nginx
    client, events = connect_socket(deployed, api.token, sockets)
    assert client.transport() == "websocket"
    tick = events.wait_for("tick", is_tick_of(instrument), timeout=15)["data"]

    # a strategy that runs in its worker process
    code = probe_strategy(instrument, deployed.stop_marker)
    assert api.data("POST", "/code", json={"text": code})["name"] == STRATEGY
    assert api.data("PUT", "/strategy", json={"name": STRATEGY, "operation": "start"})["status"] == "running"
    first_strategy_worker = deployed.strategy_worker(first_uwsgi_worker)

    # a marketable order, seen in the day's orders
    order = api.data("POST", "/order_solve", json={"local_symbol": instrument, "direction": "long", "offset": "open",
                                                    "price": tick["limit_up"], "volume": 1})  # fmt: skip
    order_ids = [item["order_id"] for item in api.data("GET", "/order_solve")["order_list"]]
    assert order["order_id"] in order_ids
    client.disconnect()
    # nginx logs the websocket's request (101 Switching Protocols) once it is closed
    wait_until("no websocket upgrade (101) in nginx's access log", lambda: websocket_upgraded(deployed), 10,
               lambda: (deployed.workdir / "nginx" / "access.log").read_text()[-2000:])  # fmt: skip

    # uWSGI's master killed outright: supervisor starts it again; the desk logs itself back in
    os.kill(first_master, signal.SIGKILL)
    second_master = wait_until("supervisor did not start uWSGI again",
                               lambda: (lambda pid: pid if pid not in (0, first_master) else 0)(deployed.uwsgi_pid()),
                               30, deployed.logs)  # fmt: skip
    wait_until("the killed master's worker and strategy worker outlived it (no-orphans)",
               lambda: not alive(first_uwsgi_worker, "uwsgi") and not alive(first_strategy_worker, WORKER_MODULE),
               15, deployed.logs)  # fmt: skip
    wait_until("no /health answer through nginx after the restart", lambda: healthy(deployed), START_DEADLINE,
               deployed.logs)  # fmt: skip
    # no /login by hand: the old token (the JWT secret lives in the data directory) must see it all back
    status = wait_until("the restarted desk did not log back in with its strategy running",
                        lambda: status_ready(api), READY_DEADLINE, deployed.logs)  # fmt: skip
    assert status["userid"] == "demo" and status["interface"] == "sim"
    assert [item["local_symbol"] for item in api.data("GET", "/market")] == [instrument]
    listing = {item["name"]: item for item in api.data("GET", "/strategy")}
    assert listing[STRATEGY]["status"] == "running"
    second_uwsgi_worker = deployed.uwsgi_worker(second_master)
    second_strategy_worker = deployed.strategy_worker(second_uwsgi_worker)
    order_ids = [item["order_id"] for item in api.data("GET", "/order_solve")["order_list"]]
    assert order["order_id"] in order_ids, f"the order placed before the kill is gone: {order_ids}"
    client, events = connect_socket(deployed, api.token, sockets)  # the counter sends the subscription's ticks again
    assert client.transport() == "websocket"
    events.wait_for("tick", is_tick_of(instrument), timeout=15)

    # a clean stop, with a browser still connected: within stopwaitsecs, no SIGKILL, nothing left behind
    assert not deployed.stop_marker.exists(), "a strategy was stopped cleanly before the final stop"
    started = time.monotonic()
    stopped = deployed.ctl("stop", "ctpdesk", timeout=STOP_WAIT + 20)
    took = time.monotonic() - started
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, (stopped.stdout, stopped.stderr, deployed.logs())
    assert took < STOP_WAIT, f"supervisorctl stop took {took:.1f}s (stopwaitsecs={STOP_WAIT})\n{deployed.logs()}"
    assert "STOPPED" in deployed.ctl("status", "ctpdesk", timeout=10).stdout
    stop_log = deployed.supervisord_log.read_text().rsplit("waiting for ctpdesk to stop", 1)[-1]
    assert "stopped: ctpdesk (exit status 0)" in stop_log and "SIGKILL" not in stop_log, deployed.logs()
    for pid in (second_master, second_uwsgi_worker):
        assert not alive(pid, "uwsgi"), f"uWSGI process {pid} outlived supervisorctl stop"
    assert not alive(second_strategy_worker, WORKER_MODULE), "the strategy worker outlived supervisorctl stop"
    assert not strategy_workers() - deployed.baseline_workers, "strategy workers left behind"
    # the shutdown ran to its end: the strategy's on_stop ran (a cut-off worker never gets there) ...
    assert deployed.stop_marker.exists(), (
        "the strategy was cut off, not stopped (its on_stop never ran): the app's shutdown did not run when uWSGI's "
        "worker exited (uWSGI skips Python's atexit handlers in gevent/async mode; the app must set uwsgi.atexit)"
    )
    assert deployed.stop_marker.read_text().split() == [str(second_strategy_worker)]
    # ... and the store was closed (SQLite checkpoints and removes its write-ahead log on a clean close)
    assert not (deployed.data_dir / "ctpdesk.sqlite3-wal").exists(), "the store was not closed cleanly"
    assert deployed.data_dir.joinpath("ctpdesk.sqlite3").exists()
