"""POST/GET/DELETE /optimise through the app factory: a sweep is a run of the lab's registry, checked like a
backtest plus its grid and target, run by a driver process whose children are the points; its ranked runs
equal run_sweep's on the same bars; progress is the `backtest` event with kind `optimise`.

The app runs on gevent in this (unpatched) process, as in test_lab_api.py (whose app and bar helpers these
tests use); waits are the registry's (`wait`), never sleeps."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.extensions import socketio
from backend.lab.data import bars_from_csv
from backend.lab.spec import BacktestSpec
from backend.lab.sweep import run_sweep
from tests.integration.lab_apps import SYMBOL, WAIT, LabApp, make_lab
from tests.integration.test_lab_api import CROSS, SPIN, bars_csv, lab_children, wait_for

GRID = {"fast": [3, 5], "slow": {"start": 10, "stop": 20, "step": 10}}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabApp]:
    """One app with the cross strategy and a day of bars, for the tests that start nothing."""
    made = make_lab(tmp_path_factory.mktemp("optimise"))
    made.upload(CROSS)
    made.import_bars(bars_csv(1))
    yield made
    made.close()


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_the_optimise_routes_refuse_a_missing_token(shared: LabApp, method: str) -> None:
    status, body = shared.call(method, "/optimise", token="", json={"strategy": "cross", "local_symbol": SYMBOL,
                                                                     "grid": GRID})  # fmt: skip
    assert (status, body["msg"]) == (401, "token error")


BAD = [
    ({"grid": {}}, "grid: an object of at least one parameter"),
    ({"grid": "[1]"}, "grid:"),
    ({"grid": {"fastest": [1, 2]}}, "grid.fastest: not a parameter of this strategy"),
    ({"grid": {"fast": ["3"]}}, "grid.fast: expected integer"),
    ({"grid": {"fast": {"start": 1, "stop": 20000, "step": 1}, "slow": [1]}}, "grid.fast: 20000 values"),
    ({"grid": {"fast": list(range(1, 201)), "slow": list(range(1, 101))}}, "grid: 20000 points, at most 10000"),
    ({"target": "riches"}, "target: one of total_return"),
    ({"strategy": "nobody"}, "strategy: unknown strategy nobody"),
    ({"params": {"fast": "x"}}, "params.fast: expected integer"),
    ({"start": "2030-01-01", "end": "2030-02-01"}, "start: no 1m bars of rb2605.SHFE"),
]


@pytest.mark.parametrize(("fields", "message"), BAD, ids=[m for _, m in BAD])
def test_a_bad_grid_or_target_is_a_400_and_starts_nothing(shared: LabApp, fields: dict[str, Any], message: str) -> None:
    status, body = shared.call("POST", "/optimise", json={"strategy": "cross", "local_symbol": SYMBOL, "grid": GRID,
                                                          **fields})  # fmt: skip
    assert status == 400 and body["msg"].startswith(message), body
    assert shared.ok("GET", "/optimise") == []
    assert lab_children() == []


def test_unknown_ids_and_backtests_are_not_optimisations(shared: LabApp) -> None:
    assert shared.call("GET", "/optimise", query_string={"id": "0" * 32})[0] == 404
    assert shared.call("DELETE", "/optimise", query_string={"id": "x"})[0] == 400
    paths = shared.client.get("/openapi.json").get_json()["paths"]
    assert set(paths["/optimise"]) == {"get", "post", "delete"}
    assert paths["/optimise"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/OptimiseRequest")


def test_a_sweep_runs_end_to_end_ranked_as_run_sweep_ranks_it(apps: Callable[..., LabApp], tmp_path: Path) -> None:
    lab = apps(LAB_SWEEP_WORKERS=2)
    lab.upload(CROSS)
    text = bars_csv(2)
    lab.import_bars(text)
    socket = socketio.test_client(lab.app, auth={"token": lab.token})
    socket.get_received()  # the snapshot
    run_id = lab.ok("POST", "/optimise", json={"strategy": "cross", "local_symbol": SYMBOL, "grid": GRID,
                                               "target": "net_pnl", "params": {"volume": 2}})["id"]  # fmt: skip
    assert lab.lab.wait(run_id, WAIT), lab.lab.status(run_id)
    found = lab.ok("GET", "/optimise", query_string={"id": run_id})
    assert (found["status"], found["error"], found["progress"]) == ("finished", "", 1.0)
    assert (found["target"], found["points"], found["grid"], found["params"]) == ("net_pnl", 4, GRID, {"volume": 2})
    runs = found["runs"]
    assert [run["rank"] for run in runs] == [1, 2, 3, 4] and all(run["error"] is None for run in runs)
    assert sorted((run["params"]["fast"], run["params"]["slow"]) for run in runs) == [(3, 10), (3, 20), (5, 10),
                                                                                     (5, 20)]  # fmt: skip

    bars_from_csv(text, SYMBOL).to_file(tmp_path / "bars.bin")
    local = run_sweep(BacktestSpec.from_json({"code": CROSS, "local_symbol": SYMBOL, "params": {"volume": 2},
                                              "terms": found["terms"]}),
                      tmp_path / "bars.bin", [run["params"] for run in sorted(runs, key=lambda run: run["index"])],
                      "net_pnl", workers=1)  # fmt: skip
    assert [[run["params"], run["stats"]] for run in runs] == json.loads(json.dumps(
        [[point.params, point.stats] for point in local.ranked]))

    events = [packet["args"][0] for packet in socket.get_received() if packet["name"] == "backtest"]
    assert all(event["id"] == run_id and event["kind"] == "optimise" for event in events)
    assert [event["status"] for event in events][:2] == ["queued", "running"] and events[-1]["status"] == "finished"
    progress = [event["progress"] for event in events]
    assert progress == sorted(progress) and progress[-1] == 1.0
    socket.disconnect()

    listed = lab.ok("GET", "/optimise")
    assert [item["id"] for item in listed] == [run_id] and "runs" not in listed[0]
    assert listed[0]["stats"]["best_params"] == runs[0]["params"] and listed[0]["stats"]["points"] == 4
    assert lab.ok("GET", "/backtest") == []  # a sweep is not a backtest
    assert lab.ok("DELETE", "/optimise", query_string={"id": run_id}) == {"id": run_id, "status": "deleted"}
    assert lab.ok("GET", "/optimise") == []


def test_deleting_a_running_sweep_cancels_it_and_kills_its_children(apps: Callable[..., LabApp]) -> None:
    lab = apps(LAB_SWEEP_WORKERS=2)
    lab.upload(SPIN.replace('    bar_interval = "1m"\n', '    bar_interval = "1m"\n    params = {"n": 1}\n'))
    lab.import_bars(bars_csv(1))
    run_id = lab.ok("POST", "/optimise", json={"strategy": "spin", "local_symbol": SYMBOL, "grid": {"n": [1, 2, 3]},
                                               "target": "net_pnl"})["id"]  # fmt: skip
    wait_for("the spinning children", lambda: len(_grandchildren()) == 2)
    assert lab.ok("DELETE", "/optimise", query_string={"id": run_id}) == {"id": run_id, "status": "cancelled"}
    assert lab.ok("GET", "/optimise", query_string={"id": run_id})["status"] == "cancelled"
    wait_for("the children gone", lambda: not _grandchildren())


def _grandchildren() -> list[int]:
    """The backtest children of our sweep drivers (the driver is this process's child, they are its)."""
    import psutil

    found = []
    for driver in psutil.Process().children():
        try:
            if "backend.lab.sweep_driver" in " ".join(driver.cmdline()):
                found += [child.pid for child in driver.children() if child.status() != psutil.STATUS_ZOMBIE]
        except psutil.NoSuchProcess:
            continue
    return found
