"""The lab's run registry (backend/lab/runs.py), the store's lab part (model: lab runs, whole bar rows) and a
backtest request made ready to run (backend/lab/plans.py: the terms in force, the bars of a range).

The registry is driven with small works of our own (plain callables that report progress and watch their
cancel flag), over a real SQLite store: what is checked is its bookkeeping (queueing, limits, cancel, timeout,
errors, storage, announcements), not a backtest (tests/integration/test_lab_api.py runs real ones). Waits
yield to the gevent hub through the registry's own `wait`; nothing sleeps.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backend.engine.constants import Exchange, Interval, Product
from backend.engine.objects import SHANGHAI, BarData, ContractData
from backend.lab.plans import PlanError, base_terms, headline, load_bars, run_terms
from backend.lab.runs import INTERRUPTED, MAX_QUEUED, Outcome, QueueFull, RunFailed, RunRegistry
from backend.lab.terms import sim_terms
from model import NotFound, Store, protocols
from model.mongo_store import MongoStore
from model.sqlite_store import SqliteStore
from tests.conftest import Opener

WAIT = 20.0
START = datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI)
START_MS = int(START.timestamp() * 1000)


@pytest.fixture
def store(open_backend: Opener) -> Store:
    """Each backend (tests/conftest.py): SQLite always, MongoDB against MONGO_URI's server."""
    return open_backend()


class Announced:
    """The registry's `notify`: every event, in order."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, payload: dict[str, Any]) -> None:
        self.events.append(payload)

    def of(self, run_id: str) -> list[str]:
        return [event["status"] for event in self.events if event["id"] == run_id]


@pytest.fixture
def announced() -> Announced:
    return Announced()


@pytest.fixture
def registry_factory(store: Store, announced: Announced) -> Iterator[Callable[..., RunRegistry]]:
    made: list[RunRegistry] = []

    def make(max_runs: int = 2, timeout: float = 0.0) -> RunRegistry:
        made.append(RunRegistry(store, announced, max_runs, timeout))
        return made[-1]

    yield make
    for registry in made:
        registry.close()


def finishing(result: dict[str, Any], headline: dict[str, Any] | None = None, steps: int = 4) -> Callable:
    def work(progress: Callable[[float], None], cancel: threading.Event) -> Outcome:
        for step in range(1, steps + 1):
            progress(step / steps)
        return Outcome(result, headline or {})

    return work


def blocking(started: threading.Event | None = None) -> Callable:
    """A work that runs until it is cancelled (as a child killed by the cancel)."""

    def work(progress: Callable[[float], None], cancel: threading.Event) -> Outcome:
        if started is not None:
            started.set()
        cancel.wait()
        raise RunFailed("cancelled")

    return work


# --- the registry -----------------------------------------------------------------------------------------
def test_a_finished_run_is_stored_announced_and_served_whole(registry_factory: Callable, announced: Announced,
                                                              store: Store):  # fmt: skip
    registry = registry_factory()
    run_id = registry.submit("backtest", {"strategy": "cross"}, finishing({"stats": {"net_pnl": 5.0}, "trades": [1]},
                                                                          {"net_pnl": 5.0}))  # fmt: skip
    assert registry.wait(run_id, WAIT)
    found = registry.get(run_id)
    assert (found["status"], found["progress"], found["error"], found["strategy"]) == ("finished", 1.0, "", "cross")
    assert found["stats"] == {"net_pnl": 5.0} and found["trades"] == [1] and found["finished_at"] >= found["started_at"]
    assert announced.of(run_id)[:2] == ["queued", "running"] and announced.of(run_id)[-1] == "finished"
    record = store.get_lab_run(run_id)
    assert record.kind == "backtest" and record.result == {"stats": {"net_pnl": 5.0}, "trades": [1]}
    listed = registry.listing("backtest")
    assert [(item["id"], item["stats"], "trades" in item) for item in listed] == [(run_id, {"net_pnl": 5.0}, False)]
    assert registry.listing("optimise") == []


def test_at_most_max_runs_run_and_the_others_queue_in_order(registry_factory: Callable, announced: Announced):
    registry = registry_factory(max_runs=1)
    first = registry.submit("backtest", {}, blocking())
    second = registry.submit("optimise", {}, finishing({"best": 1}))
    third = registry.submit("backtest", {}, finishing({"best": 2}))
    assert [registry.status(run) for run in (first, second, third)] == ["running", "queued", "queued"]
    assert registry.remove(first, WAIT) == "cancelled"
    assert registry.get(first)["status"] == "cancelled"
    assert registry.wait(second, WAIT) and registry.wait(third, WAIT)
    assert registry.get(second)["best"] == 1 and registry.get(third)["best"] == 2
    running = [event["id"] for event in announced.events if event["status"] == "running"]
    assert list(dict.fromkeys(running)) == [first, second, third]  # progress events say running too


def test_a_full_queue_refuses_more_runs(registry_factory: Callable):
    registry = registry_factory(max_runs=1)
    running = registry.submit("backtest", {}, blocking())
    waiting = [registry.submit("backtest", {}, blocking()) for _ in range(MAX_QUEUED)]
    with pytest.raises(QueueFull, match=f"{MAX_QUEUED} lab runs already wait"):
        registry.submit("backtest", {}, finishing({}))
    for run_id in (*waiting, running):
        registry.remove(run_id, WAIT)


def test_a_queued_run_cancelled_never_starts(registry_factory: Callable, announced: Announced):
    registry = registry_factory(max_runs=1)
    first = registry.submit("backtest", {}, blocking())
    started = threading.Event()
    waiting = registry.submit("backtest", {}, blocking(started))
    assert registry.remove(waiting) == "cancelled"
    found = registry.get(waiting)
    assert (found["status"], found["started_at"]) == ("cancelled", None) and not started.is_set()
    assert announced.of(waiting) == ["queued", "cancelled"]
    registry.remove(first, WAIT)


def slow_to_stop(release: threading.Event, report: float | None = None) -> Callable:
    """A work whose child takes until `release` to go once cancelled (a sweep's driver on a busy machine), then
    reports `report` as its progress, if given, as a child still reporting what finished."""

    def work(progress: Callable[[float], None], cancel: threading.Event) -> Outcome:
        cancel.wait()
        release.wait()
        if report is not None:
            progress(report)
        return Outcome({"runs": [1]}, {"points": 1})

    return work


def test_a_run_slow_to_stop_reads_cancelled_from_the_answer_on(registry_factory: Callable, announced: Announced,
                                                               store: Store):  # fmt: skip
    """CI saw DELETE answer "cancelled" and the next GET say "running": the sweep's driver took longer than
    remove's wait to end. What was answered is what is read, listed and stored from then on."""
    release = threading.Event()
    registry = registry_factory(max_runs=1)
    run_id = registry.submit("optimise", {}, slow_to_stop(release, report=0.5))
    assert registry.remove(run_id, 0.05) == "cancelled"
    assert registry.get(run_id)["status"] == "cancelled"
    assert [item["status"] for item in registry.listing("optimise")] == ["cancelled"]
    assert store.get_lab_run(run_id).summary["status"] == "cancelled"
    assert announced.of(run_id)[-1] == "cancelled"
    waiting = registry.submit("optimise", {}, finishing({}))
    assert registry.status(waiting) == "queued"  # the stopping run holds its slot until its child is gone
    release.set()
    assert registry.wait(run_id, WAIT) and registry.wait(waiting, WAIT)
    found = store.get_lab_run(run_id)
    assert found.summary["status"] == "cancelled" and found.result is None
    assert registry.get(waiting)["status"] == "finished"
    assert announced.of(run_id).count("cancelled") == 1


def test_a_second_delete_of_a_run_still_stopping_deletes_nothing_until_it_has_ended(registry_factory: Callable,
                                                                                    store: Store):  # fmt: skip
    """Read from a review: the second DELETE took it for ended, deleted its record, and the ending wrote it back."""
    release = threading.Event()
    registry = registry_factory()
    run_id = registry.submit("optimise", {}, slow_to_stop(release))
    assert registry.remove(run_id, 0.05) == "cancelled"
    assert registry.remove(run_id, 0.05) == "cancelled"  # still stopping: nothing to delete yet
    assert store.get_lab_run(run_id).summary["status"] == "cancelled"
    release.set()
    assert registry.wait(run_id, WAIT)
    assert registry.remove(run_id) == "deleted"
    with pytest.raises(NotFound):
        store.get_lab_run(run_id)
    assert registry.listing(None) == []


class SlowCancelWrite:
    """The store, with the write that records a cancel (no finished_at yet) slow: a thread pool's turn."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def save_lab_run(self, run_id: str, kind: str, created_at: float, summary: dict, result: Any) -> None:
        if summary.get("status") == "cancelled" and summary.get("finished_at") is None:
            time.sleep(0.3)
        self.store.save_lab_run(run_id, kind, created_at, summary, result)


def test_a_cancelled_runs_ending_is_stored_after_the_cancel_whatever_the_writes_take(store: Store,
                                                                                     announced: Announced):  # fmt: skip
    """Read from a review: the cancel's write and the ending's ran on two pool threads; the cancel's, landing
    last, left the stored run without its end."""
    release = threading.Event()
    release.set()  # the work ends as soon as it sees the cancel, while the cancel's record is being written
    registry = RunRegistry(SlowCancelWrite(store), announced, 1)
    try:
        run_id = registry.submit("optimise", {}, slow_to_stop(release))
        assert registry.remove(run_id, WAIT) == "cancelled"
        assert registry.wait(run_id, WAIT)
        summary = store.get_lab_run(run_id).summary
        assert summary["status"] == "cancelled" and summary["finished_at"] is not None, summary
    finally:
        registry.close()


def test_a_run_deleted_after_its_timeout_fired_but_before_it_ended_stays_cancelled(registry_factory: Callable,
                                                                                   announced: Announced):  # fmt: skip
    """Read from a review: DELETE answered cancelled, then the timeout's ending turned the run into an error."""
    release = threading.Event()
    registry = registry_factory(timeout=0.1)
    run_id = registry.submit("backtest", {}, slow_to_stop(release))
    run = registry._active[run_id]
    run.timer.join(WAIT)  # the timeout has fired: its cancel is set, the child not gone yet
    assert run.cancel.is_set() and registry.get(run_id)["status"] == "running"
    assert registry.remove(run_id, 0.05) == "cancelled"
    release.set()
    assert registry.wait(run_id, WAIT)
    assert registry.get(run_id)["status"] == "cancelled" and announced.of(run_id)[-1] == "cancelled"


def test_an_ended_run_is_deleted_and_an_unknown_one_is_not_found(registry_factory: Callable, store: Store):
    registry = registry_factory()
    run_id = registry.submit("backtest", {}, finishing({}))
    assert registry.wait(run_id, WAIT)
    assert registry.remove(run_id) == "deleted"
    with pytest.raises(NotFound):
        registry.get(run_id)
    with pytest.raises(NotFound):
        registry.remove(run_id)
    with pytest.raises(NotFound):
        store.get_lab_run(run_id)


@pytest.mark.parametrize(("raised", "error"), [
    (RunFailed("line 12: ZeroDivisionError"), "line 12: ZeroDivisionError"),
    (KeyError("x"), "internal error: KeyError: 'x'"),
])  # fmt: skip
def test_a_failing_work_is_an_error_with_its_reason(registry_factory: Callable, raised: Exception, error: str):
    def work(progress: Callable[[float], None], cancel: threading.Event) -> Outcome:
        raise raised

    registry = registry_factory()
    run_id = registry.submit("backtest", {}, work)
    assert registry.wait(run_id, WAIT)
    assert (registry.get(run_id)["status"], registry.get(run_id)["error"]) == ("error", error)


def test_a_run_over_the_timeout_is_cancelled_and_marked_an_error(registry_factory: Callable):
    registry = registry_factory(timeout=0.2)
    run_id = registry.submit("backtest", {}, blocking())
    assert registry.wait(run_id, WAIT)
    found = registry.get(run_id)
    assert found["status"] == "error" and found["error"] == "took longer than LAB_TIMEOUT (0.2 s): stopped"


def test_progress_goes_out_throttled_and_never_backwards(registry_factory: Callable, announced: Announced):
    registry = registry_factory()
    run_id = registry.submit("backtest", {}, finishing({}, steps=5000))
    assert registry.wait(run_id, WAIT)
    progress = [event["progress"] for event in announced.events if event["id"] == run_id]
    assert len(progress) < 100 and progress == sorted(progress) and progress[-1] == 1.0


def test_a_start_marks_what_a_stopped_server_left_queued_or_running(store: Store, announced: Announced):
    for run_id, status in (("a" * 32, "running"), ("b" * 32, "queued"), ("c" * 32, "finished")):
        store.save_lab_run(run_id, "backtest", 1.0, {"status": status, "error": ""}, {"stats": {}} if
                           status == "finished" else None)  # fmt: skip
    registry = RunRegistry(store, announced, 1)
    try:
        assert registry.recover() == 2
        statuses = {record.run_id: (record.summary["status"], record.summary["error"])
                    for record in store.list_lab_runs(None, 10)}  # fmt: skip
        assert statuses == {"a" * 32: ("error", INTERRUPTED), "b" * 32: ("error", INTERRUPTED),
                            "c" * 32: ("finished", "")}  # fmt: skip
        assert store.get_lab_run("c" * 32).result == {"stats": {}}
    finally:
        registry.close()


def test_closing_stops_running_work_and_records_nothing(store: Store, announced: Announced):
    registry = RunRegistry(store, announced, 1)
    started = threading.Event()
    run_id = registry.submit("backtest", {}, blocking(started))
    assert started.wait(WAIT)
    registry.close()
    assert store.get_lab_run(run_id).summary["status"] == "running"  # the next start marks it
    with pytest.raises(RuntimeError):
        registry.submit("backtest", {}, finishing({}))


def test_max_runs_below_one_is_refused(store: Store, announced: Announced):
    with pytest.raises(ValueError, match="max_runs"):
        RunRegistry(store, announced, 0)


# --- the store's lab part ---------------------------------------------------------------------------------
def test_lab_runs_are_saved_listed_newest_first_and_deleted(store: Store):
    store.save_lab_run("r1", "backtest", 10.0, {"status": "queued"}, None)
    store.save_lab_run("r2", "optimise", 11.0, {"status": "running"}, None)
    store.save_lab_run("r3", "backtest", 12.0, {"status": "finished"}, {"stats": {"sharpe_ratio": 1.5}})
    store.save_lab_run("r1", "backtest", 10.0, {"status": "finished"}, {"stats": {"a": 1}})
    store.save_lab_run("r1", "backtest", 10.0, {"status": "finished", "note": "kept"}, None)  # result kept
    assert store.get_lab_run("r1").result == {"stats": {"a": 1}}
    assert store.get_lab_run("r1").summary == {"status": "finished", "note": "kept"}
    assert [record.run_id for record in store.list_lab_runs(None, 10)] == ["r3", "r2", "r1"]
    assert [record.run_id for record in store.list_lab_runs("backtest", 1)] == ["r3"]
    assert all(record.result is None for record in store.list_lab_runs(None, 10))
    store.delete_lab_run("r1")
    for call in (store.get_lab_run, store.delete_lab_run):
        with pytest.raises(NotFound):
            call("r1")


def _bar(minute: int) -> BarData:
    moment = START + timedelta(minutes=minute)
    return BarData("rb2605", Exchange.SHFE, Interval.MINUTE, moment, 3500 + minute, 3502 + minute, 3499 + minute,
                   3501 + minute, 10 + minute, 1e5, 2000.0 + minute)  # fmt: skip


def test_whole_bar_rows_are_read_earliest_first_page_by_page(store: Store):
    store.save_bars([_bar(minute) for minute in range(10)])
    first = store.load_bar_rows("rb2605.SHFE", "1m", START_MS + 60_000, START_MS + 8 * 60_000, 4)
    assert [row.start_ms for row in first] == [START_MS + minute * 60_000 for minute in (1, 2, 3, 4)]
    assert first[0].open_interest == 2001.0 and first[0].turnover == 1e5 and first[0].volume == 11
    rest = store.load_bar_rows("rb2605.SHFE", Interval.MINUTE, first[-1].start_ms + 1, START_MS + 8 * 60_000, 4)
    assert [row.start_ms for row in rest] == [START_MS + minute * 60_000 for minute in (5, 6, 7, 8)]
    assert store.load_bar_rows("rb2605.SHFE", "5m", None, None, 10) == []


@pytest.mark.parametrize("backend", [Store, SqliteStore, MongoStore], ids=lambda backend: backend.__name__)
def test_every_backend_has_the_lab_slice_with_the_stores_signatures(backend: type):
    members = [name for name, value in vars(protocols.LabStore).items() if callable(value) and not name.startswith("_")]
    assert len(members) == 5
    for name in members:
        expected = str(inspect.signature(getattr(protocols.LabStore, name)))
        assert str(inspect.signature(getattr(backend, name))) == expected, name


# --- a request made ready to run: terms in force, bars of a range ---------------------------------------------
FULL_TERMS = {"size": 7, "pricetick": 0.5, "long_margin_ratio": 0.1, "short_margin_ratio": 0.12, "open_rate": 0.0001,
              "open_per_lot": 0.0, "close_rate": 0.0001, "close_per_lot": 0.0, "close_today_rate": 0.0003,
              "close_today_per_lot": 0.0}  # fmt: skip


def contract(symbol: str, exchange: Exchange, **figures: float) -> ContractData:
    values = {"size": 5, "pricetick": 2.0, "long_margin_ratio": 0.2, "short_margin_ratio": 0.25, **figures}
    return ContractData(symbol, exchange, symbol, Product.FUTURES, **values)  # type: ignore[arg-type]


def test_the_live_contract_sets_size_tick_and_margins_and_the_sim_table_the_fees():
    table = sim_terms("rb2605.SHFE")
    terms = base_terms("rb2605.SHFE", contract("rb2605", Exchange.SHFE))
    assert terms == replace(table, size=5, pricetick=2.0, long_margin_ratio=0.2, short_margin_ratio=0.25)
    assert (terms.size, terms.pricetick) != (table.size, table.pricetick)  # the case is one that tells them apart


def test_a_ratio_the_front_leaves_at_zero_keeps_the_tables():
    table = sim_terms("rb2605.SHFE")
    terms = base_terms("rb2605.SHFE", contract("rb2605", Exchange.SHFE, long_margin_ratio=0.0))
    assert terms is not None and terms.long_margin_ratio == table.long_margin_ratio


def test_a_contract_the_table_does_not_know_has_its_own_figures_and_no_fees():
    terms = base_terms("zz2605.SHFE", contract("zz2605", Exchange.SHFE))
    assert terms is not None and (terms.size, terms.pricetick, terms.exchange) == (5, 2.0, "SHFE")
    assert (terms.open_rate, terms.close_per_lot, terms.close_today_rate) == (0.0, 0.0, 0.0)


def test_the_users_terms_go_over_the_base():
    terms = run_terms("rb2605.SHFE", contract("rb2605", Exchange.SHFE), {"open_per_lot": 3.0, "size": 20})
    assert (terms.open_per_lot, terms.size, terms.pricetick) == (3.0, 20, 2.0)


def test_an_instrument_nobody_knows_needs_the_users_terms_in_full():
    with pytest.raises(PlanError, match="local_symbol: unknown instrument zz2605.SHFE"):
        run_terms("zz2605.SHFE", None, {})
    with pytest.raises(PlanError, match="terms.close_today_per_lot: missing"):
        run_terms("zz2605.SHFE", None, {key: FULL_TERMS[key] for key in FULL_TERMS if key != "close_today_per_lot"})
    terms = run_terms("zz2605.SHFE", None, FULL_TERMS)
    assert (terms.local_symbol, terms.exchange, terms.size, terms.limit_ratio) == ("zz2605.SHFE", "SHFE", 7, 0.0)


def test_headline_keeps_the_listed_figures_only():
    assert headline({"net_pnl": 1.0, "sharpe_ratio": 2.0, "turnover": 3.0}) == {"sharpe_ratio": 2.0, "net_pnl": 1.0}


def test_bars_of_a_range_come_with_the_warm_up_before_it_read_page_by_page(tmp_path: Path, monkeypatch):
    store = SqliteStore(tmp_path / "bars.sqlite3")
    try:
        store.save_bars([_bar(minute) for minute in range(30)])  # open interest 2000 + minute
        monkeypatch.setattr("backend.lab.plans.PAGE", 4)  # several pages
        monkeypatch.setattr("backend.lab.plans.MAX_WARMUP_BARS", 5)
        bars = load_bars(store, "rb2605.SHFE", Interval.MINUTE, START_MS + 20 * 60_000, START_MS + 27 * 60_000)
        assert list(bars.start_ms) == [START_MS + minute * 60_000 for minute in range(15, 28)]
        assert list(bars.open_interest) == [2000.0 + minute for minute in range(15, 28)]
        assert (bars.local_symbol, bars.interval) == ("rb2605.SHFE", "1m")
        with pytest.raises(PlanError, match="start: no 1m bars of rb2605.SHFE stored in this range"):
            load_bars(store, "rb2605.SHFE", Interval.MINUTE, START_MS + 31 * 60_000, None)
        monkeypatch.setattr("backend.lab.plans.MAX_RUN_BARS", 10)
        with pytest.raises(PlanError, match="start: the range holds more than 10 1m bars"):
            load_bars(store, "rb2605.SHFE", Interval.MINUTE, None, None)
    finally:
        store.close()
