"""A backtest the server was asked for, made ready to run: its bars from the store, its terms, its work.

Everything here is checked before a run is queued, so a request that cannot run (no bars in the range, an
instrument nobody knows) is refused with a message and nothing started. The work itself (`backtest_work`)
only writes the bars to a scratch file and hands them to the child (backend/lab/child.py): user code never
runs in the server.

Terms, in this order, each overlaid by the next: the live contract's (size, tick, margin ratios) when the
engine knows the instrument, with the fees of the sim's table when the table has it (CTP's contract query
carries no fees); otherwise the sim's table; then what the user gave. An instrument neither knows is
usable with terms the user gives in full.
"""

from __future__ import annotations

import threading
import uuid
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.lab.child import CHECKOUT, run_in_child
from backend.lab.data import Bars
from backend.lab.engine import MAX_WARMUP_BARS
from backend.lab.report import LabError
from backend.lab.runs import Outcome, Progress, RunFailed, Work
from backend.lab.terms import Terms, sim_terms, terms_from
from backend.lab.ticks import NoTicks, Ticks, load_ticks
from backend.strategy_runtime.workdir import hidden_paths

if TYPE_CHECKING:
    from backend.engine.constants import Interval
    from backend.engine.objects import ContractData
    from backend.lab.spec import BacktestSpec
    from model.protocols import LabStore, TickStore

SCRATCH = "lab"  # under the data directory: the bar files handed to the children
MAX_RUN_BARS = 2_000_000  # bars one backtest may replay (~8 years of 1-minute bars of a night product)
MAX_RUN_TICKS = 1_000_000  # recorded ticks one tick-mode backtest may replay (~25 days of a liquid contract)
PAGE = 50_000  # bars read from the store at a time
HEADLINE = ("total_return", "annual_return", "sharpe_ratio", "max_drawdown", "win_rate", "trade_count", "net_pnl")


class PlanError(ValueError):
    """The request cannot run as asked; the message names the field and why (a 400)."""


def load_bars(store: LabStore, local_symbol: str, interval: Interval, start_ms: int | None,
              end_ms: int | None) -> Bars:  # fmt: skip
    """The stored bars of a range as columns, read page by page (blocking: call it off the loop), with up to
    MAX_WARMUP_BARS before `start_ms` for the strategy's warm-up (its load_bars; the replay starts at start_ms).
    PlanError when the range itself holds no bar, or too many."""
    columns: dict[str, array] = {name: array("q" if name == "start_ms" else "d") for name in
                                 ("start_ms", "open", "high", "low", "close", "volume", "open_interest")}  # fmt: skip
    since = start_ms
    if start_ms is not None and start_ms > 0:
        earlier = store.load_bars(local_symbol, interval, None, start_ms - 1, MAX_WARMUP_BARS)
        since = earlier[0][0] if earlier else start_ms
    while True:
        rows = store.load_bar_rows(local_symbol, interval, since, end_ms, PAGE)
        for row in rows:
            columns["start_ms"].append(row.start_ms)
            columns["open"].append(row.open)
            columns["high"].append(row.high)
            columns["low"].append(row.low)
            columns["close"].append(row.close)
            columns["volume"].append(row.volume)
            columns["open_interest"].append(row.open_interest)
        if len(columns["start_ms"]) > MAX_RUN_BARS + MAX_WARMUP_BARS:
            raise PlanError(f"start: the range holds more than {MAX_RUN_BARS:,} {interval.value} bars: narrow it")
        if len(rows) < PAGE:
            break
        since = rows[-1].start_ms + 1
    if not columns["start_ms"] or columns["start_ms"][-1] < (start_ms or 0):
        raise PlanError(f"start: no {interval.value} bars of {local_symbol} stored in this range (record them, "
                        "import a CSV with POST /bar/import, or on the sim open its chart once)")  # fmt: skip
    return Bars(local_symbol, interval.value, **columns)


def load_recorded_ticks(store: TickStore, local_symbol: str, start_ms: int | None, end_ms: int | None) -> Ticks:
    """The ticks recorded in a range, `end_ms` included (blocking: call it off the loop); PlanError for none."""
    try:
        ticks = load_ticks(store, local_symbol, start_ms, None if end_ms is None else end_ms + 1)
    except NoTicks:
        raise PlanError(f"start: no ticks of {local_symbol} recorded in this range (switch its recording on with "
                        "PUT /record; the current minute's ticks are stored once it ends)") from None  # fmt: skip
    if len(ticks) > MAX_RUN_TICKS:
        raise PlanError(f"start: the range holds more than {MAX_RUN_TICKS:,} recorded ticks: narrow it")
    return ticks


def base_terms(local_symbol: str, contract: ContractData | None) -> Terms | None:
    """The terms before the user's: the live contract's with the sim table's fees, else the sim table's; None
    when neither knows the instrument."""
    try:
        table: Terms | None = sim_terms(local_symbol)
    except KeyError:
        table = None
    if contract is None:
        return table
    live = {"size": int(contract.size), "pricetick": float(contract.pricetick),
            "long_margin_ratio": float(contract.long_margin_ratio),
            "short_margin_ratio": float(contract.short_margin_ratio)}  # fmt: skip
    live = {key: value for key, value in live.items() if value > 0}  # a front that leaves a ratio 0: keep the table's
    if table is not None:
        return replace(table, **live)  # type: ignore[arg-type]
    return terms_from({"local_symbol": local_symbol, "exchange": contract.exchange.value, **_NO_FEES, **live}, None)


_NO_FEES = {"open_rate": 0.0, "open_per_lot": 0.0, "close_rate": 0.0, "close_per_lot": 0.0, "close_today_rate": 0.0,
            "close_today_per_lot": 0.0}  # fmt: skip


def run_terms(local_symbol: str, contract: ContractData | None, given: dict[str, Any]) -> Terms:
    """The terms a run uses: the base overlaid by the user's; PlanError when they do not make whole terms."""
    base = base_terms(local_symbol, contract)
    if base is None and not given:
        raise PlanError(f"local_symbol: unknown instrument {local_symbol} (neither the counter nor the sim's table "
                        "lists it): give its terms (size, pricetick, margin and fee rates)")  # fmt: skip
    exchange = local_symbol.rpartition(".")[2]
    try:
        return terms_from({"local_symbol": local_symbol, "exchange": exchange, **given} if base is None else given,
                          base)  # fmt: skip
    except (ValueError, TypeError, KeyError) as error:
        raise PlanError(f"terms: {error}") from None


def clear_scratch(data_dir: Path) -> int:
    """Remove the data files runs of an earlier start left behind (a crash leaves them); return how many."""
    removed = 0
    for path in (data_dir / SCRATCH).glob("*.*"):
        if path.is_file() and path.suffix in (".bar", ".tick"):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def headline(stats: dict[str, Any]) -> dict[str, Any]:
    """The figures a list of runs shows."""
    return {name: stats[name] for name in HEADLINE if name in stats}


@contextmanager
def data_file(data: Bars | Ticks, data_dir: Path) -> Iterator[Path]:
    """A run's bars or ticks in a file of the data directory's `lab/` for its children, removed when the run
    ends (or, after a crash, by clear_scratch at the next start); what the children answered with LabError
    fails the run (RunFailed)."""
    scratch = data_dir / SCRATCH
    scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
    suffix = "bar" if isinstance(data, Bars) else "tick"  # what clear_scratch looks for
    path = scratch / f"{uuid.uuid4().hex}.{suffix}"  # named by us, never by the request
    try:
        data.to_file(path)
        yield path
    except LabError as error:
        raise RunFailed(str(error)) from None
    finally:
        path.unlink(missing_ok=True)


def backtest_work(spec: BacktestSpec, data: Bars | Ticks, data_dir: Path, timeout: float | None = None) -> Work:
    """The run: the bars (or ticks) to a file of the data directory's `lab/`, the child on them (it may not read
    the data directory, config.yaml or the server's /proc once its guards are on), the report back (LabError
    -> RunFailed)."""
    hidden = hidden_paths(data_dir, CHECKOUT)

    def work(progress: Progress, cancel: threading.Event) -> Outcome:
        with data_file(data, data_dir) as path:
            report = run_in_child(spec, path, progress=progress, cancel=cancel, timeout=timeout or None, hidden=hidden)
        result = report.to_json()
        return Outcome(result, headline(result.get("stats", {})))

    return work
