"""The real bindings (openctp_ctp, openctp_tts) up to the network.

No CTP front is reachable from these machines, so the fronts here are loopback sockets that refuse
or drop connections — exactly what real fronts do outside service hours. Each interface runs in its
own process: the binding's library choice is global to a process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lib.ctp_preflight import CtpBindingUnavailable, binding_available, check_binding

ROOT = Path(__file__).resolve().parents[2]

GATEWAY_SCRIPT = r"""
import json, sys, time
from pathlib import Path
from backend.engine.engine import EngineConfig, LoginFailed, MainEngine
from backend.gateway.base import LoginSettings
from model.sqlite_store import SqliteStore

interface, address, data = sys.argv[1], sys.argv[2], Path(sys.argv[3])
engine = MainEngine(SqliteStore(data / "store.sqlite3"), EngineConfig(flow_dir=data / "flow", query_interval=0.0))
states = []
engine.bus.subscribe("status", lambda topic, status: states.append(status["td"]))
started = time.monotonic()
try:
    engine.connect(LoginSettings("demo", "demo", "9999", td_address=address, md_address=address,
                                 interface=interface), timeout=4.0)
    outcome = "connected"
except LoginFailed as failure:
    outcome = f"failed {failure.error_id}: {failure}"
elapsed = time.monotonic() - started
logs = [record.message for record in engine.logs]
engine.close()
print(json.dumps({"outcome": outcome, "elapsed": elapsed, "logs": logs, "states": len(states),
                  "reasons": sorted({s["reason"] for s in states}),
                  "flow_files": sorted(p.name for p in (data / "flow").rglob("*.con")),
                  "flow_dirs": sorted(str(p.relative_to(data)) for p in (data / "flow").rglob("*") if p.is_dir())}))
sys.stdout.flush()
# The answer is out. Skip the interpreter's teardown: under load openctp_tts's own static destructors
# sometimes abort there ("terminate called without an active exception"), after the API was released.
import os
os._exit(0)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def dropping_front() -> Iterator[str]:
    """A front that accepts every connection and closes it at once (a front outside service hours)."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    stop = threading.Event()
    accepted = [0]

    def serve() -> None:
        while not stop.is_set() and accepted[0] < 100_000:  # bounded: it stops by itself
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            accepted[0] += 1
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    server.close()


def run_gateway(interface: str, address: str, data: Path) -> dict:
    available, reason = binding_available({"ctp": "openctp_ctp", "tts": "openctp_tts"}[interface])
    if not available:
        pytest.skip(reason)
    done = subprocess.run(
        [sys.executable, "-c", GATEWAY_SCRIPT, interface, address, str(data)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("interface", ["ctp", "tts"])
def test_refused_front_fails_the_login_in_time_and_creates_the_flow_files(interface: str, tmp_path: Path):
    result = run_gateway(interface, f"tcp://127.0.0.1:{free_port()}", tmp_path)
    assert result["outcome"].startswith("failed"), result
    assert result["elapsed"] < 10, "the login must give up at its timeout, never hang"
    # The flow directory exists before the API is created (the real library crashes otherwise) ...
    assert f"flow/{interface}/9999_demo" in result["flow_dirs"], result
    if interface == "ctp":  # ... and CTP writes its files under the prefix, not into a directory
        assert {"td_DialogRsp.con", "md_DialogRsp.con"} <= set(result["flow_files"]), result


@pytest.mark.parametrize("interface", ["ctp", "tts"])
def test_front_that_drops_every_connection_is_reported_once_and_backed_off(
    interface: str, tmp_path: Path, dropping_front: str
):
    result = run_gateway(interface, dropping_front, tmp_path)
    assert result["outcome"].startswith("failed"), result
    assert result["elapsed"] < 10
    # The library fires OnFrontDisconnected hundreds of times a second here; the engine hears of it
    # a handful of times, and the gateway backs off instead of spinning.
    assert result["states"] < 50, result
    assert len(result["logs"]) < 30, result["logs"]
    assert any("front unreachable" in line for line in result["logs"]) or 4097 in result["reasons"], result


def test_preflight_names_the_fix_when_the_locale_is_missing(tmp_path: Path):
    # glibc finds locales through LOCPATH: an empty directory hides zh_CN.GB18030, and importing
    # the binding would abort the process. The pre-flight must turn that into an error message.
    if not binding_available("openctp_ctp")[0]:
        pytest.skip("openctp_ctp is not importable here at all")
    script = "from lib.ctp_preflight import check_binding, CtpBindingUnavailable\n" \
             "try:\n    check_binding('openctp_ctp')\n    print('IMPORTED')\n" \
             "except CtpBindingUnavailable as error:\n    print('ERROR', error)\n"  # fmt: skip
    environment = dict(os.environ, LOCPATH=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ERROR"), done.stdout
    assert "zh_CN.GB18030" in done.stdout and "localedef" in done.stdout


def test_preflight_reports_a_missing_binding():
    with pytest.raises(CtpBindingUnavailable, match="not installed"):
        check_binding("openctp_nonexistent_binding")
