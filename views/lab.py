"""The lab's backtests (issue 18): POST /backtest starts one, GET /backtest lists them or serves one whole,
DELETE /backtest cancels a queued or running one or deletes an ended one. Progress goes to every
authenticated socket as the `backtest` event.

Everything a run needs is checked here before it is queued (the strategy, its params against what its class
declares, the instrument and its terms, bars in the range): a request that cannot run is a 400 naming the
field, and nothing starts. The run itself is the registry's (backend/lab/runs.py) and the child's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint
from flask_socketio import SocketIO

from backend.lab.plans import PlanError, backtest_work, load_bars, load_recorded_ticks, run_terms
from backend.lab.runs import QueueFull, RunRegistry
from backend.lab.spec import BacktestSpec
from backend.strategy_runtime.params import ParamsError, check_params, declared_params
from lib.offload import off_loop
from model import NotFound
from views.auth_required import token_required
from views.desk import desk
from views.envelope import ApiError, envelope
from views.lab_schemas import BacktestRequest, RunQuery, RunTarget
from views.params import parse
from views.push import DESK_ROOM

blueprint = Blueprint("lab", __name__)
KIND = "backtest"


def socket_notifier(socketio: SocketIO) -> Callable[[dict[str, Any]], None]:
    """The registry's announcements as the `backtest` event, to every authenticated socket."""
    return lambda payload: socketio.emit("backtest", payload, to=DESK_ROOM)


def lab() -> RunRegistry:
    return desk().lab


@blueprint.post("/backtest")
@token_required
def start():
    request = parse(BacktestRequest)
    spec, data = plan_run(request)
    work = backtest_work(spec, data, Path(desk().settings.DATA_DIR).resolve())
    try:
        run_id = lab().submit(KIND, run_summary(request, spec), work)
    except QueueFull as error:
        raise ApiError(str(error), 409) from None
    unit = "ticks" if request.mode == "tick" else f"{request.interval.value} bars"
    return envelope({"id": run_id}, f"backtest of {request.strategy} on {len(data)} {unit} queued")


@blueprint.get("/backtest")
@token_required
def read():
    return read_runs(KIND, "backtest")


@blueprint.delete("/backtest")
@token_required
def remove():
    return remove_run(KIND, "backtest")


def read_runs(kind: str, label: str) -> Any:
    """GET of a lab resource: the list of its runs, or one (`?id=`) with everything it holds."""
    query = parse(RunQuery)
    if query.id is None:
        return envelope(lab().listing(kind))
    return envelope(find_run(query.id, kind, label))


def remove_run(kind: str, label: str) -> Any:
    """DELETE of a lab resource: cancel the run (`?id=`) if it is queued or running, delete it if it ended."""
    target = parse(RunTarget)
    find_run(target.id, kind, label)  # 404 for an unknown id or another kind's
    try:
        done = lab().remove(target.id)
    except NotFound:  # deleted meanwhile by another request
        raise ApiError(f"unknown {label} {target.id}", 404) from None
    return envelope({"id": target.id, "status": done}, done)


def find_run(run_id: str, kind: str, label: str) -> dict[str, Any]:
    try:
        found = lab().get(run_id)
    except NotFound:
        found = None
    if found is None or found["kind"] != kind:
        raise ApiError(f"unknown {label} {run_id}", 404)
    return found


# --- a request made ready to run ---------------------------------------------------------------------------
def run_summary(request: BacktestRequest, spec: BacktestSpec) -> dict[str, Any]:
    """What a run keeps of its request, with the terms and the close pattern in force, not those given."""
    terms = spec.terms.to_json() if spec.terms is not None else {}
    return {**request.summary(), "terms": terms, "close_pattern": spec.close_pattern}


def plan_run(request: BacktestRequest, code: str | None = None) -> tuple[BacktestSpec, Any]:
    """The spec and the data of a run; `code`: the strategy's source when the caller has read it already."""
    if request.start is not None and request.end is not None and request.end < request.start:
        raise ApiError("end: must not be before start", 400)
    current = desk()
    code = strategy_code(request.strategy) if code is None else code
    defaults = declared_params(code)
    try:
        overrides = check_params(defaults, request.params)
    except ParamsError as error:
        raise ApiError(str(error), 400) from None
    contract = current.engine.oms.contracts.get(request.local_symbol)
    try:
        terms = run_terms(request.local_symbol, contract, request.all_terms())
    except PlanError as error:
        raise ApiError(str(error), 400) from None
    try:
        data = _data(request)
    except PlanError as error:
        raise ApiError(str(error), 400) from None
    spec = BacktestSpec(code=code, local_symbol=request.local_symbol, interval=request.interval.value,
                        mode=request.mode, params=overrides, capital=request.capital, terms=terms,
                        fill_share=request.fill_share, slippage_ticks=request.slippage, start_ms=request.start,
                        end_ms=None,
                        close_pattern=request.close_pattern or current.engine.config.close_pattern)  # fmt: skip
    return spec, data


def _data(request: BacktestRequest) -> Any:
    """What the run replays: recorded ticks in tick mode, else the stored bars (on the sim its past first)."""
    current = desk()
    if request.mode == "tick":
        return _offload(load_recorded_ticks, current.store, request.local_symbol, request.start, request.end)
    current.history.ensure(request.local_symbol)  # on the sim: its past, once
    return _offload(load_bars, current.store, request.local_symbol, request.interval, request.start, request.end)


def strategy_code(name: str) -> str:
    try:
        return _offload(desk().store.get_strategy, name).text
    except NotFound:
        raise ApiError(f"strategy: unknown strategy {name} (upload it with POST /code)", 400) from None


def _offload(function: Callable[..., Any], *arguments: Any) -> Any:
    """Store reads off the loop; a refusal (PlanError, NotFound) raised here, not printed by the pool."""
    return off_loop(function, *arguments, expected=(PlanError, NotFound))
