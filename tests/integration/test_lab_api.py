"""The lab's REST routes through the app factory: POST/GET/DELETE /backtest, the `backtest` Socket.IO event,
runs in real child processes, results stored and read back after a restart.

The app runs on gevent in this (unpatched) process, as in test_web_api.py: a run's work is on an OS thread of
its own and its progress reaches the loop through the registry's bridge; the tests wait on the registry
(`wait`, a gevent Event) and never sleep. Bars come from /bar/import (the store) and, for the command line,
from the same CSV: REST and `python -m backend.lab backtest --json` must give the same report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import gevent
import pytest

from backend.engine.objects import SHANGHAI
from backend.extensions import socketio
from lib.trading_calendar import next_business_day
from tests.integration.lab_apps import SYMBOL, WAIT, LabApp, make_lab

CHECKOUT = Path(__file__).resolve().parents[2]

CROSS = '''
from backend.strategy import Strategy


class Cross(Strategy):
    bar_interval = "1m"
    params = {"fast": 5, "slow": 20, "volume": 1}

    def on_init(self):
        self.closes = []

    def on_bar(self, bar):
        self.closes.append(bar.close_price)
        slow = self.params["slow"]
        if len(self.closes) < slow:
            return
        fast_average = sum(self.closes[-self.params["fast"]:]) / self.params["fast"]
        slow_average = sum(self.closes[-slow:]) / slow
        held = self.positions.get(f"{bar.local_symbol}.long")
        holding = held is not None and held.volume > 0
        if fast_average > slow_average and not holding:
            self.buy(bar.close_price, self.params["volume"], bar)
        elif fast_average < slow_average and holding:
            self.sell(bar.close_price, held.volume, bar)


ext = Cross("cross")
'''

SPIN = '''
from backend.strategy import Strategy


class Spin(Strategy):
    bar_interval = "1m"

    def on_bar(self, bar):
        while True:  # a run that never ends by itself: only a cancel (or the timeout) stops it
            pass


ext = Spin("spin")
'''


# --- bars -------------------------------------------------------------------------------------------------
def session_minutes(days: int) -> list[datetime]:
    """Day-session minute starts of `days` business days (SHFE rb: 09:00-10:15, 10:30-11:30, 13:30-15:00)."""
    minutes: list[datetime] = []
    day = next_business_day(date(2026, 1, 4))
    for _ in range(days):
        for begin, end in (("09:00", "10:15"), ("10:30", "11:30"), ("13:30", "15:00")):
            moment = datetime.combine(day, datetime.strptime(begin, "%H:%M").time(), tzinfo=SHANGHAI)
            finish = datetime.combine(day, datetime.strptime(end, "%H:%M").time(), tzinfo=SHANGHAI)
            while moment < finish:
                minutes.append(moment)
                moment += timedelta(minutes=1)
        day = next_business_day(day)
    return minutes


def bars_csv(days: int = 3) -> str:
    """A price that swings (so a moving-average cross trades both ways), on rb's tick of 1 yuan."""
    lines = ["datetime,open,high,low,close,volume,open_interest"]
    price = 3500
    for index, minute in enumerate(session_minutes(days)):
        step = 3 if (index // 40) % 2 == 0 else -3
        opening, price = price, price + step
        lines.append(f"{minute:%Y-%m-%d %H:%M:%S},{opening},{max(opening, price) + 2},{min(opening, price) - 2},"
                     f"{price},{50 + index % 7},{10000 + index}")  # fmt: skip
    return "\n".join(lines) + "\n"


# --- apps -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabApp]:
    """One app with both strategies and three days of bars, for the tests that start nothing."""
    made = make_lab(tmp_path_factory.mktemp("lab"))
    made.upload(CROSS)
    made.upload(SPIN)
    made.import_bars(bars_csv())
    yield made
    made.close()


def lab_children() -> list[int]:
    """Our backtest children still alive (zombies included until reaped: they count as alive here)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and b"backend.lab.child" in command:
            found.append(int(entry.name))
    return found


def wait_for(what: str, check: Any, timeout: float = WAIT) -> Any:
    """Re-check `check` while yielding to the loop (the runs' bookkeeping lives there)."""
    with gevent.Timeout(timeout, AssertionError(f"{what}: not within {timeout:g} s")):
        while not (found := check()):
            gevent.sleep(0.02)
    return found


# --- tokens ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
@pytest.mark.parametrize("token", ["", "not.a.token"], ids=["missing", "bad"])
def test_every_lab_route_refuses_a_missing_or_bad_token(shared: LabApp, method: str, token: str):
    status, body = shared.call(method, "/backtest", token=token, json={"strategy": "cross", "local_symbol": SYMBOL})
    assert (status, body["msg"]) == (401, "token error")
    assert shared.ok("GET", "/backtest") == [] or method == "GET"


# --- bad input: 400, nothing started --------------------------------------------------------------------
BAD_FIELDS = [
    ({"strategy": "nobody"}, "strategy: unknown strategy nobody"),
    ({"strategy": "1bad"}, "strategy:"),
    ({"strategy": ""}, "strategy:"),
    ({"local_symbol": "rb 2605"}, "local_symbol:"),
    ({"local_symbol": "zz9999.SHFE"}, "local_symbol: unknown instrument zz9999.SHFE"),
    ({"interval": "2m"}, "interval:"),
    ({"mode": "sideways"}, "mode:"),
    ({"start": "not a time"}, "start:"),
    ({"end": -5}, "end:"),
    ({"start": "2026-01-06 10:00", "end": "2026-01-05 10:00"}, "end: must not be before start"),
    ({"start": "2030-01-01", "end": "2030-02-01"}, "start: no 1m bars of rb2605.SHFE"),
    ({"params": [1, 2]}, "params:"),
    ({"params": "{not json"}, "params:"),
    ({"params": {"nope": 1}}, "params.nope: not a parameter"),
    ({"params": {"fast": "five"}}, "params.fast: expected integer"),
    ({"params": {"fast": 2.5}}, "params.fast: expected integer"),
    ({"capital": True}, "capital: expected a number, not true or false"),
    ({"capital": 0}, "capital:"),
    ({"capital": "NaN"}, "capital:"),
    ({"size": True}, "size: expected a number, not true or false"),
    ({"size": 0}, "size:"),
    ({"pricetick": -1}, "pricetick:"),
    ({"open_rate": 1.5}, "open_rate:"),
    ({"close_today_per_lot": -1}, "close_today_per_lot:"),
    ({"long_margin_ratio": 1.5}, "long_margin_ratio:"),
    ({"limit_ratio": False}, "limit_ratio: expected a number, not true or false"),
    ({"terms": "[1]"}, "terms:"),
    ({"terms": {"size": -3}}, "terms.size:"),
    ({"slippage": -1}, "slippage:"),
    ({"slippage": True}, "slippage: expected a number, not true or false"),
    ({"fill_share": 0}, "fill_share:"),
    ({"fill_share": 1.5}, "fill_share:"),
    ({"close_pattern": "oldest"}, "close_pattern:"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_FIELDS, ids=[next(iter(f)) + ":" + m for f, m in BAD_FIELDS])
def test_bad_input_is_a_400_naming_the_field_and_starts_nothing(shared: LabApp, fields: dict[str, Any], message: str):
    status, body = shared.call("POST", "/backtest", json={"strategy": "cross", "local_symbol": SYMBOL, **fields})
    assert status == 400 and body["msg"].startswith(message), body
    assert shared.ok("GET", "/backtest") == []
    assert lab_children() == []


@pytest.mark.parametrize(("method", "query", "status"), [
    ("GET", {"id": "x"}, 400), ("GET", {"id": "0" * 32}, 404), ("DELETE", {}, 400), ("DELETE", {"id": "f" * 32}, 404),
])  # fmt: skip
def test_run_ids_are_checked_and_unknown_ones_are_404(shared: LabApp, method: str, query: dict, status: int):
    answer, body = shared.call(method, "/backtest", query_string=query)
    assert answer == status and body["msg"].startswith("id:" if status == 400 else "unknown backtest"), body


def test_the_lab_routes_are_in_the_openapi_document(shared: LabApp):
    paths = shared.client.get("/openapi.json").get_json()["paths"]
    assert set(paths["/backtest"]) == {"get", "post", "delete"}
    body = paths["/backtest"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith("/BacktestRequest")
    assert {parameter["name"] for parameter in paths["/backtest"]["delete"]["parameters"]} == {"id"}


# --- runs -------------------------------------------------------------------------------------------------
def test_a_backtest_runs_end_to_end_and_agrees_with_the_command_line(apps: Any, tmp_path: Path):
    lab = apps()
    lab.upload(CROSS)
    text = bars_csv()
    lab.import_bars(text)
    socket = socketio.test_client(lab.app, auth={"token": lab.token})
    assert socket.is_connected()
    socket.get_received()  # the snapshot
    run_id = lab.start("cross", params={"fast": 4}, capital=500_000)
    found = lab.finished(run_id)
    assert found["status"] == "finished" and found["progress"] == 1.0 and found["error"] == ""
    assert found["strategy"] == "cross" and found["params"] == {"fast": 4} and found["capital"] == 500_000
    assert found["stats"]["trade_count"] > 0 and len(found["trades"]) == found["stats"]["trade_count"]
    assert found["daily"] and found["equity"] and found["orders"]

    events = [packet["args"][0] for packet in socket.get_received() if packet["name"] == "backtest"]
    assert [event["status"] for event in events][:2] == ["queued", "running"] and events[-1]["status"] == "finished"
    assert all(event["id"] == run_id and event["kind"] == "backtest" for event in events)
    progress = [event["progress"] for event in events]
    assert progress == sorted(progress) and progress[-1] == 1.0
    socket.disconnect()

    listed = lab.ok("GET", "/backtest")
    assert [item["id"] for item in listed] == [run_id] and "trades" not in listed[0]
    assert listed[0]["stats"]["net_pnl"] == found["stats"]["net_pnl"] and listed[0]["status"] == "finished"

    (tmp_path / "cross.py").write_text(CROSS, encoding="utf-8")
    (tmp_path / "bars.csv").write_text(text, encoding="utf-8")
    command = [sys.executable, "-m", "backend.lab", "backtest", "--strategy", str(tmp_path / "cross.py"),
               "--bars", str(tmp_path / "bars.csv"), "--symbol", SYMBOL, "--param", "fast=4", "--capital", "500000",
               "--json", str(tmp_path / "report.json")]  # fmt: skip
    done = subprocess.run(command, cwd=CHECKOUT, capture_output=True, text=True, timeout=WAIT, check=False)
    assert done.returncode == 0, done.stderr
    cli = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert found["stats"] == cli["stats"]
    assert found["trades"] == cli["trades"] and found["daily"] == cli["daily"] and found["equity"] == cli["equity"]


def test_a_backtest_closes_in_the_desks_close_pattern_unless_it_asks_for_another(apps: Any):
    """A plain close on SHFE takes today's or yesterday's lots first as the desk would (CLOSE_PATTERN, which PUT
    /config changes at once); the run keeps the pattern it used. The split itself: tests/unit/test_lab_engine.py."""
    lab = apps()
    lab.upload(CROSS)
    lab.import_bars(bars_csv(1))
    assert lab.finished(lab.start("cross"))["close_pattern"] == "today"
    lab.ok("PUT", "/config", json={"CLOSE_PATTERN": "yesterday"})
    found = lab.finished(lab.start("cross"))
    assert found["close_pattern"] == "yesterday" and found["status"] == "finished"
    assert lab.finished(lab.start("cross", close_pattern="today"))["close_pattern"] == "today"
    assert [item["close_pattern"] for item in lab.ok("GET", "/backtest")] == ["today", "yesterday", "today"]


def test_results_survive_a_restart(apps: Any, tmp_path: Path):
    first = apps(tmp_path / "data")
    first.upload(CROSS)
    first.import_bars(bars_csv(2))
    run_id = first.start("cross")
    before = first.finished(run_id)
    first.close()
    second = apps(tmp_path / "data")
    assert second.ok("GET", "/backtest", query_string={"id": run_id}) == before
    assert [item["id"] for item in second.ok("GET", "/backtest")] == [run_id]
    assert second.ok("DELETE", "/backtest", query_string={"id": run_id}) == {"id": run_id, "status": "deleted"}
    assert second.call("GET", "/backtest", query_string={"id": run_id})[0] == 404
    assert second.ok("GET", "/backtest") == []


def test_a_run_interrupted_by_a_stop_is_an_error_after_the_restart(apps: Any, tmp_path: Path):
    first = apps(tmp_path / "data")
    first.upload(SPIN)
    first.import_bars(bars_csv(1))
    run_id = first.start("spin")
    wait_for("the spinning child", lab_children)
    first.close()  # the child is killed, nothing recorded: as after a crash
    assert lab_children() == []
    left = tmp_path / "data" / "lab" / ("0" * 32 + ".bar")  # a crash leaves the run's data file behind
    left.write_bytes(b"bars")
    second = apps(tmp_path / "data")
    assert not left.exists()
    found = second.ok("GET", "/backtest", query_string={"id": run_id})
    assert (found["status"], found["error"]) == ("error", "interrupted by a restart")


def test_with_one_slot_a_second_run_queues_and_a_cancel_kills_the_first(apps: Any):
    lab = apps(LAB_MAX_RUNS=1)
    lab.upload(SPIN)
    lab.upload(CROSS)
    lab.import_bars(bars_csv(1))
    spinning = lab.start("spin")
    queued = lab.start("cross")
    assert lab.ok("GET", "/backtest", query_string={"id": queued})["status"] == "queued"
    children = wait_for("the spinning child", lab_children)
    assert len(children) == 1
    assert lab.ok("GET", "/backtest", query_string={"id": queued})["status"] == "queued"
    assert lab.ok("DELETE", "/backtest", query_string={"id": spinning}) == {"id": spinning, "status": "cancelled"}
    assert lab.ok("GET", "/backtest", query_string={"id": spinning})["status"] == "cancelled"
    assert not Path(f"/proc/{children[0]}").exists()  # killed and reaped
    found = lab.finished(queued)
    assert found["status"] == "finished" and found["stats"]["trade_count"] > 0


def test_a_queued_run_is_cancelled_without_starting(apps: Any):
    lab = apps(LAB_MAX_RUNS=1)
    lab.upload(SPIN)
    lab.import_bars(bars_csv(1))
    spinning = lab.start("spin")
    waiting = lab.start("spin")
    assert lab.ok("DELETE", "/backtest", query_string={"id": waiting}) == {"id": waiting, "status": "cancelled"}
    found = lab.ok("GET", "/backtest", query_string={"id": waiting})
    assert found["status"] == "cancelled" and found["started_at"] is None
    assert lab.ok("DELETE", "/backtest", query_string={"id": spinning})["status"] == "cancelled"


def test_a_run_longer_than_lab_timeout_is_stopped_as_an_error(apps: Any):
    lab = apps(LAB_TIMEOUT=0.5)
    lab.upload(SPIN)
    lab.import_bars(bars_csv(1))
    found = lab.finished(lab.start("spin"))
    assert found["status"] == "error" and found["error"].startswith("took longer than LAB_TIMEOUT (0.5 s)")
    assert lab_children() == []


def test_an_error_in_the_strategy_is_the_runs_error(apps: Any):
    lab = apps()
    lab.upload(CROSS.replace("self.closes.append(bar.close_price)", "self.closes.append(bar.close_price / 0)"))
    lab.import_bars(bars_csv(1))
    found = lab.finished(lab.start("cross"))
    assert found["status"] == "error" and "ZeroDivisionError" in found["error"], found["error"]


def test_on_the_sim_a_backtest_replays_its_history_with_the_live_contracts_terms(apps: Any):
    lab = apps()
    lab.log_in()
    contracts = lab.ok("GET", "/contract", query_string={"product": "rb", "exchange": "SHFE"})
    contract = sorted((item for item in contracts if item["is_trading"]), key=lambda item: item["local_symbol"])[0]
    assert lab.ok("GET", "/backtest") == []
    lab.upload(CROSS)
    run_id = lab.ok("POST", "/backtest", json={"strategy": "cross", "local_symbol": contract["local_symbol"],
                                               "open_per_lot": 2.5})["id"]  # fmt: skip
    found = lab.finished(run_id)
    assert found["status"] == "finished", found["error"]
    terms = found["terms"]
    assert (terms["size"], terms["pricetick"], terms["long_margin_ratio"]) == (
        contract["size"], contract["pricetick"], contract["long_margin_ratio"])
    assert terms["open_per_lot"] == 2.5  # the user's over the contract's
    assert found["stats"]["trade_count"] > 0 and found["stats"]["total_days"] >= 10  # the sim's 20 days of past


TICKER = '''
from backend.strategy import Strategy


class Ticker(Strategy):
    n = 0

    def on_tick(self, tick):
        self.n += 1
        if self.n == 3:
            self.buy(tick.ask_price_1, 1, tick)
        elif self.n == 8:
            self.sell(tick.bid_price_1, 1, tick)


ext = Ticker("ticker")
'''


def test_tick_mode_replays_the_ticks_the_desk_recorded(apps: Any):
    lab = apps()
    lab.log_in()
    contracts = lab.ok("GET", "/contract", query_string={"product": "rb", "exchange": "SHFE"})
    name = sorted(item["local_symbol"] for item in contracts if item["is_trading"])[0]
    lab.upload(TICKER)
    status, body = lab.call("POST", "/backtest", json={"strategy": "ticker", "local_symbol": name, "mode": "tick"})
    assert status == 400 and body["msg"].startswith(f"start: no ticks of {name} recorded"), body
    lab.ok("PUT", "/record", json={"local_symbol": name, "on": True})
    lab.ok("POST", "/market", json={"symbol": name})
    engine = lab.app.extensions["ctpdesk"].engine

    def recorded() -> int:
        assert engine.recorder.flush()
        counts = [item.get("count", 0) for item in engine.store.tick_summary() if item["local_symbol"] == name]
        return sum(counts) >= 12

    wait_for("12 recorded ticks", recorded)
    found = lab.finished(lab.ok("POST", "/backtest", json={"strategy": "ticker", "local_symbol": name,
                                                           "mode": "tick"})["id"])  # fmt: skip
    assert found["status"] == "finished", found["error"]
    assert found["mode"] == "tick" and [trade["offset"] for trade in found["trades"]] == ["open", "closetoday"]  # SHFE


WARM = '''
from backend.strategy import Strategy


class Warm(Strategy):
    bar_interval = "1m"

    def on_init(self):
        self.info(f"warm {len(self.load_bars('rb2605.SHFE'))}")
        self.seen = 0

    def on_bar(self, bar):
        self.seen += 1
        if self.seen == 1:
            self.info(f"first {bar.datetime}")


ext = Warm("warm")
'''


def test_the_range_starts_at_start_and_the_bars_before_it_are_the_warm_up(apps: Any):
    lab = apps()
    lab.upload(WARM)
    lab.import_bars(bars_csv(2))
    second_day = session_minutes(2)[225]  # 225 minutes a day
    found = lab.finished(lab.start("warm", start=second_day.isoformat()))
    assert found["status"] == "finished", found["error"]
    messages = [line["message"] for line in found["logs"]]
    assert "warm 225" in messages and f"first {second_day.isoformat()}" in messages, messages
    assert found["stats"]["total_days"] == 1 and found["start"] == int(second_day.timestamp() * 1000)
