"""The lab's sweeps (issue 18): POST /optimise runs a grid of a strategy's params, one backtest per point, and
ranks them by a statistic; GET /optimise lists the sweeps or serves one (its runs ranked, each with its params
and statistics); DELETE /optimise cancels a queued or running sweep (its children killed, or its dask futures
cancelled) or deletes an ended one. Progress: the `backtest` Socket.IO event with `kind: "optimise"`.

A sweep is a run of the lab's registry (backend/lab/runs.py) like a backtest, checked the same way before
anything starts (views/lab.py: the strategy, its params, the instrument's terms, the store's bars in the
range), plus its grid and target (backend/lab/sweep.py). It runs in a driver process (sweep_process.py)
on LAB_SWEEP_WORKERS children at once, or on the dask.distributed cluster at DASK_SCHEDULER.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from flask import Blueprint
from pydantic import BeforeValidator, Field

from backend.lab.runs import QueueFull
from backend.lab.sweep import SweepError, check_target, grid
from backend.lab.sweep_process import sweep_work
from backend.strategy_runtime.params import declared_params
from views import lab as backtests
from views.auth_required import token_required
from views.desk import desk
from views.envelope import ApiError, envelope
from views.lab_schemas import BacktestRequest
from views.params import parse
from views.schemas import _json_object

blueprint = Blueprint("optimise", __name__)
KIND = "optimise"


class OptimiseRequest(BacktestRequest):
    """POST /optimise: POST /backtest's fields (its `params` lie under every point), the grid and the target."""

    grid: Annotated[dict[str, Any], BeforeValidator(_json_object)] = Field(
        description="{param: [values]} or {param: {start, stop, step}} (stop included); at most 10,000 points")
    target: str = Field("sharpe_ratio", min_length=1, max_length=32,
                        description="the statistic to rank by; higher is better, except max_drawdown and "
                                    "max_drawdown_days (smaller magnitude is better)")  # fmt: skip


@blueprint.post("/optimise")
@token_required
def start():
    request = parse(OptimiseRequest)
    try:
        check_target(request.target)
        code = backtests.strategy_code(request.strategy)  # read once: plan_run takes it
        points = grid(request.grid, declared_params(code))
    except SweepError as error:
        raise ApiError(str(error), 400) from None
    spec, data = backtests.plan_run(request, code)
    settings = desk().settings
    work = sweep_work(spec, data, points, request.target, Path(settings.DATA_DIR).resolve(),
                      settings.LAB_SWEEP_WORKERS or None, settings.DASK_SCHEDULER or None)  # fmt: skip
    summary = {**backtests.run_summary(request, spec), "grid": request.grid, "target": request.target,
               "points": len(points)}  # fmt: skip
    try:
        run_id = backtests.lab().submit(KIND, summary, work)
    except QueueFull as error:
        raise ApiError(str(error), 409) from None
    unit = "ticks" if request.mode == "tick" else f"{request.interval.value} bars"
    return envelope({"id": run_id}, f"optimisation of {request.strategy}: {len(points)} points on {len(data)} {unit} "
                                    "queued")  # fmt: skip


@blueprint.get("/optimise")
@token_required
def read():
    return backtests.read_runs(KIND, "optimisation")


@blueprint.delete("/optimise")
@token_required
def remove():
    return backtests.remove_run(KIND, "optimisation")
