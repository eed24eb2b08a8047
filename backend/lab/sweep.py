"""Optimisation: a grid over a strategy's declared `params`, one backtest per point, ranked by a statistic.

Every point is one backtest run by `run_in_child` (backend/lab/child.py), so user code always runs in its
own sandboxed process, wherever the point runs: here, a bounded pool of threads each waiting on one child;
on a dask.distributed cluster (sweep_dask.py), one task per point that starts the child on its worker.

The grid (`grid`): for each parameter a list of values or a range `{start, stop, step}` (stop included:
`5:20:5` is 5, 10, 15, 20), checked against the strategy's declared params and their types
(backend/strategy_runtime/params.py); points are the product in the order the parameters and values were
given, at most MAX_POINTS.

Ranking (`rank`): by `target`, one of API.md's statistics. Higher is better, except `max_drawdown` and
`max_drawdown_days` where the smaller magnitude is better. Ties keep the grid's order (the parameters' order,
then the values' order), so the ranking is one total order that does not depend on which point finished
first or where it ran. Points without a finite target value come after those with one, failed points last.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from backend.lab.child import run_in_child
from backend.lab.report import LabError
from backend.lab.spec import BacktestSpec
from backend.strategy_runtime.params import ParamsError, check_params

MAX_POINTS = 10_000  # a grid larger than this is a mistake more often than a plan: split it
STATISTICS = (
    "total_return", "annual_return", "sharpe_ratio", "max_drawdown", "max_drawdown_days", "return_drawdown_ratio",
    "win_rate", "profit_factor", "trade_count", "turnover", "commission", "slippage", "net_pnl",
)  # fmt: skip
SMALLER_IS_BETTER = frozenset({"max_drawdown", "max_drawdown_days"})  # by magnitude: -5% beats -10%
RUNNING_AT_MOST = 0.99  # a point's share while its child runs
PROGRESS_STEP = 0.01  # the sweep's progress is reported in steps of at least this share

Progress = Callable[[float], None]


class SweepError(ValueError):
    """A grid or target the sweep refuses (the message names the parameter and why)."""


@dataclass(frozen=True)
class PointResult:
    """One point of the grid: its index in the grid, its params, and the statistics or the error."""

    index: int
    params: dict[str, Any]
    stats: dict[str, Any] | None = None
    error: str | None = None
    worker: str = "local"  # where its child ran: "local" or the dask worker's address

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "params": self.params, "stats": self.stats, "error": self.error,
                "worker": self.worker}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PointResult:
        return cls(int(data["index"]), dict(data["params"]), data.get("stats"), data.get("error"),
                   str(data.get("worker", "local")))  # fmt: skip


@dataclass(frozen=True)
class SweepReport:
    """The sweep's points ranked by `target` (best first); `cancelled` when it was stopped before the end."""

    target: str
    ranked: list[PointResult]
    where: str  # "local" or the scheduler's address
    cancelled: bool = False
    workers: int = 0  # children at once here, or the cluster's workers when it started

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "where": self.where, "cancelled": self.cancelled, "workers": self.workers,
                "ranked": [point.to_json() for point in self.ranked]}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SweepReport:
        return cls(str(data["target"]), [PointResult.from_json(item) for item in data["ranked"]], str(data["where"]),
                   bool(data.get("cancelled", False)), int(data.get("workers", 0)))  # fmt: skip


# --- the grid ---------------------------------------------------------------------------------------------
def grid(ranges: dict[str, Any], declared: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The points of `ranges` ({param: [values] or {start, stop, step}}), each checked against `declared`
    (the strategy's `params` literal); SweepError naming the parameter at fault."""
    if not isinstance(ranges, dict) or not ranges:
        raise SweepError("grid: an object of at least one parameter and its values")
    axes: list[tuple[str, list[Any]]] = []
    for name, given in ranges.items():
        values = _axis(name, given)
        for value in values:
            try:
                check_params(declared, {name: value})
            except ParamsError as error:
                raise SweepError(f"grid.{str(error).removeprefix('params.')}") from None
        axes.append((name, values))
    count = math.prod(len(values) for _, values in axes)
    if count > MAX_POINTS:
        raise SweepError(f"grid: {count} points, at most {MAX_POINTS} (fewer values, or split the sweep)")
    names = [name for name, _ in axes]
    return [dict(zip(names, combination, strict=True)) for combination in itertools.product(*(v for _, v in axes))]


def _axis(name: str, given: Any) -> list[Any]:
    if isinstance(given, dict):
        values = _stepped(name, given)
    elif isinstance(given, list):
        values = list(given)
    else:
        raise SweepError(f"grid.{name}: a list of values or {{start, stop, step}}")
    if not values:
        raise SweepError(f"grid.{name}: no values")
    if len(values) > MAX_POINTS:
        raise SweepError(f"grid.{name}: {len(values)} values, at most {MAX_POINTS}")
    seen: set[str] = set()
    for value in values:
        key = json.dumps(value, sort_keys=True, default=str)
        if key in seen:
            raise SweepError(f"grid.{name}: {key} listed twice")
        seen.add(key)
    return values


def _stepped(name: str, given: dict[str, Any]) -> list[Any]:
    """start, start+step, ... up to stop included; integers stay integers, decimals are counted exactly
    (0.1:0.3:0.1 is three values, none of them 0.30000000000000004)."""
    if set(given) != {"start", "stop", "step"}:
        raise SweepError(f"grid.{name}: a range needs exactly start, stop and step")
    numbers = [given[key] for key in ("start", "stop", "step")]
    if any(isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n) for n in numbers):
        raise SweepError(f"grid.{name}: start, stop and step must be finite numbers")
    try:
        start, stop, step = (Decimal(repr(n)) for n in numbers)
    except InvalidOperation:
        raise SweepError(f"grid.{name}: start, stop and step must be finite numbers") from None
    if step <= 0:
        raise SweepError(f"grid.{name}: step must be greater than 0")
    if stop < start:
        raise SweepError(f"grid.{name}: stop must not be less than start")
    count = int((stop - start) / step) + 1
    if count > MAX_POINTS:
        raise SweepError(f"grid.{name}: {count} values, at most {MAX_POINTS}")
    integers = all(isinstance(n, int) for n in numbers)
    return [int(start + i * step) if integers else float(start + i * step) for i in range(count)]


def check_target(target: str) -> str:
    if target not in STATISTICS:
        raise SweepError(f"target: one of {', '.join(STATISTICS)}")
    return target


# --- ranking ----------------------------------------------------------------------------------------------
def rank(points: Iterable[PointResult], target: str) -> list[PointResult]:
    """Best first by `target` (see the module's docstring); ties and unranked points in grid order."""
    return sorted(points, key=lambda point: _rank_key(point, target))


def _rank_key(point: PointResult, target: str) -> tuple[int, float, int]:
    if point.stats is None:
        return (2, 0.0, point.index)
    value = point.stats.get(target)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return (1, 0.0, point.index)
    score = abs(value) if target in SMALLER_IS_BETTER else -value
    return (0, float(score), point.index)


def finite_json(value: Any) -> Any:
    """JSON has no NaN or infinity: such a statistic (a Sharpe ratio of no trades, say) is written as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite_json(item) for item in value]
    return value


# --- running ----------------------------------------------------------------------------------------------
def point_spec(spec: BacktestSpec, params: dict[str, Any]) -> BacktestSpec:
    """The spec of one point: the sweep's own params with the point's over them."""
    return replace(spec, params={**spec.params, **params})


def run_sweep(spec: BacktestSpec, data_path: Path | str, points: list[dict[str, Any]], target: str,
              workers: int | None = None, scheduler: str | None = None, progress: Progress | None = None,
              cancel: threading.Event | None = None, point_timeout: float | None = None,
              hidden: Iterable[Path | str] = ()) -> SweepReport:  # fmt: skip
    """Run every point (locally on `workers` children at a time, or on the dask cluster at `scheduler`) and
    rank them by `target`. A point that fails reports its error; the others go on. `cancel` stops it all.
    `hidden`: paths no child may read (run_in_child's; the server's data directory and config)."""
    check_target(target)
    if not points:
        raise SweepError("grid: no points")
    cancel = cancel or threading.Event()
    meter = _Meter(len(points), progress)
    if scheduler:
        from backend.lab.sweep_dask import run_on_cluster  # dask is only imported when a cluster is used

        results, count = run_on_cluster(spec, Path(data_path), points, scheduler, meter, cancel, point_timeout,
                                        [str(path) for path in hidden])  # fmt: skip
    else:
        count = max(1, min(workers or os.cpu_count() or 1, len(points)))
        results = _run_local(spec, Path(data_path), points, count, meter, cancel, point_timeout,
                             [Path(path) for path in hidden])  # fmt: skip
    return SweepReport(target, rank(results, target), scheduler or "local", cancel.is_set(), count)


def _run_local(spec: BacktestSpec, data_path: Path, points: list[dict[str, Any]], workers: int, meter: _Meter,
               cancel: threading.Event, timeout: float | None, hidden: list[Path]) -> list[PointResult]:  # fmt: skip
    """At most `workers` children at once, each waited on by one thread of the pool."""

    def one(index: int) -> PointResult | None:
        if cancel.is_set():
            return None
        params = points[index]
        try:
            report = run_in_child(point_spec(spec, params), data_path, progress=meter.point(index), cancel=cancel,
                                  timeout=timeout, hidden=hidden)  # fmt: skip
        except LabError as error:
            if cancel.is_set():
                return None
            result = PointResult(index, params, error=str(error))
        else:
            result = PointResult(index, params, stats=dict(report.stats))
        meter.finished(index)
        return result

    results: list[PointResult] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lab-sweep") as pool:
        pending: set[Future] = {pool.submit(one, index) for index in range(len(points))}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                results.extend(result for future in done if (result := future.result()) is not None)
        except BaseException:
            cancel.set()  # a fault of ours (not the user's): stop the other children before raising
            raise
    return results


class _Meter:
    """The sweep's progress: the mean of the points' own progress, reported in PROGRESS_STEP steps."""

    def __init__(self, count: int, progress: Progress | None) -> None:
        self._shares = [0.0] * count
        self._sum = 0.0
        self._done = 0
        self._progress = progress
        self._reported = 0.0
        self._lock = threading.Lock()

    def point(self, index: int) -> Progress:
        """The child's own progress, short of done: a point is done when its result is in (`finished`)."""
        return lambda share: self._update(index, min(float(share), RUNNING_AT_MOST))

    def finished(self, index: int) -> None:
        self._update(index, 1.0)

    def _update(self, index: int, share: float) -> None:
        """Under the lock, callback included: the shares reported never go back, whichever thread reports."""
        with self._lock:
            if share <= self._shares[index]:
                return
            self._done += share == 1.0
            self._sum += share - self._shares[index]
            self._shares[index] = share
            total = 1.0 if self._done == len(self._shares) else min(RUNNING_AT_MOST, self._sum / len(self._shares))
            if self._progress is not None and (total - self._reported >= PROGRESS_STEP or total == 1.0):
                self._reported = total
                self._progress(total)


# --- the command line's form ------------------------------------------------------------------------------
def grid_option(text: str) -> tuple[str, Any]:
    """`name=start:stop:step` or `name=v1,v2,...` (each value read as JSON, else as a string) as a grid entry."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not name or not values.strip():
        raise SweepError(f"--grid {text}: name=start:stop:step or name=v1,v2,...")
    if values.count(":") == 2 and "," not in values:
        bounds = [_value(part) for part in values.split(":")]
        return name, dict(zip(("start", "stop", "step"), bounds, strict=True))
    return name, [_value(part) for part in values.split(",")]


def _value(text: str) -> Any:
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        return text
