"""The Store contract (model/store.py), one suite run against every backend.

SQLite always runs (a file in tmp_path). MongoDB runs only against a real server named by MONGO_URI;
each test gets a database of its own, dropped afterwards. No stand-in replaces the server.
"""

from __future__ import annotations

import inspect
import itertools
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.engine.constants import Direction, Exchange, Interval, Offset, OrderType, Status
from backend.engine.objects import SHANGHAI, BarData, LogData, OrderData, TradeData
from model import SQLITE_FILE, NotFound, Store, StoreError, StoreUnavailable, StrategyRecord, open_store, protocols
from model.mongo_store import MongoStore, describe_hosts
from model.sqlite_store import SqliteStore
from tests.conftest import Opener, _with_database

DAY = "20260105"
START = datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI)
START_MS = int(START.timestamp() * 1000)
MINUTE_MS = 60_000


@pytest.fixture
def store(open_backend: Opener) -> Store:
    return open_backend()


# --- builders -------------------------------------------------------------------------------------
def bar(minute: int, close: float = 3200.0, symbol: str = "rb2601", interval: Interval = Interval.MINUTE,
        volume: int = 10) -> BarData:  # fmt: skip
    moment = START + timedelta(minutes=minute)
    return BarData(symbol, Exchange.SHFE, interval, moment, close - 1, close + 2, close - 3, close, volume, 1e6, 5.0)


def ts(minute: int) -> int:
    return START_MS + minute * MINUTE_MS


def order(order_id: str, status: Status = Status.NOTTRADED, **extra: Any) -> dict[str, Any]:
    data = OrderData(order_id, "rb2601", Exchange.SHFE, Direction.LONG, Offset.OPEN, OrderType.LIMIT, 3200.0, 2,
                     status=status, status_msg="未成交", time=START).to_dict()  # fmt: skip
    return data | extra


def trade(trade_id: str, direction: Direction = Direction.LONG, volume: int = 1) -> dict[str, Any]:
    return TradeData(trade_id, "1_2_3", "rb2601", Exchange.SHFE, direction, Offset.OPEN, 3200.0, volume,
                     time=START).to_dict()  # fmt: skip


def log(message: str) -> dict[str, Any]:
    return LogData(message, created=START).to_dict()


# --- bars -----------------------------------------------------------------------------------------
def test_saving_a_bar_twice_replaces_it_and_keeps_one_row(store: Store) -> None:
    store.save_bars([bar(0, 3200.0), bar(1, 3201.0)])
    store.save_bars([bar(1, 3209.0, volume=99)])
    assert store.bar_count("rb2601.SHFE", Interval.MINUTE) == 2
    rows = store.load_bars("rb2601.SHFE", "1m", None, None, 10)
    assert rows == [bar(0, 3200.0).to_row(), bar(1, 3209.0, volume=99).to_row()]


def test_save_bars_counts_distinct_keys_and_the_last_bar_of_a_key_wins(store: Store) -> None:
    assert store.save_bars([bar(0, 3200.0), bar(0, 3205.0), bar(1)]) == 2
    assert store.save_bars([]) == 0
    assert store.load_bars("rb2601.SHFE", Interval.MINUTE, ts(0), ts(0), 5) == [bar(0, 3205.0).to_row()]


def test_loaded_rows_are_the_wire_format_with_its_types(store: Store) -> None:
    store.save_bars([BarData("rb2601", Exchange.SHFE, Interval.MINUTE, START, 3200, 3202, 3199, 3201, 7)])
    (row,) = store.load_bars("rb2601.SHFE", Interval.MINUTE, None, None, 1)
    assert row == [START_MS, 3200.0, 3202.0, 3199.0, 3201.0, 7]
    assert [type(value) for value in row] == [int, float, float, float, float, int]


def test_load_bars_range_includes_both_ends(store: Store) -> None:
    store.save_bars([bar(minute) for minute in range(10)])
    rows = store.load_bars("rb2601.SHFE", Interval.MINUTE, ts(2), ts(5), 100)
    assert [row[0] for row in rows] == [ts(2), ts(3), ts(4), ts(5)]
    assert store.load_bars("rb2601.SHFE", Interval.MINUTE, ts(5), ts(5), 100)[0][0] == ts(5)
    assert store.load_bars("rb2601.SHFE", Interval.MINUTE, ts(6), ts(5), 100) == []


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [(None, None, list(range(10))), (7, None, [7, 8, 9]), (None, 1, [0, 1])],
    ids=["both-open", "open-end", "open-start"],
)
def test_load_bars_with_open_ends(store: Store, start: int | None, end: int | None, expected: list[int]) -> None:
    store.save_bars([bar(minute) for minute in range(10)])
    start_ms = None if start is None else ts(start)
    end_ms = None if end is None else ts(end)
    rows = store.load_bars("rb2601.SHFE", Interval.MINUTE, start_ms, end_ms, 100)
    assert [row[0] for row in rows] == [ts(minute) for minute in expected]


def test_load_bars_over_the_limit_returns_the_latest_in_ascending_order(store: Store) -> None:
    store.save_bars([bar(minute) for minute in range(20)])
    latest = store.load_bars("rb2601.SHFE", Interval.MINUTE, None, None, 3)
    assert [row[0] for row in latest] == [ts(17), ts(18), ts(19)]
    ranged = store.load_bars("rb2601.SHFE", Interval.MINUTE, ts(2), ts(10), 2)
    assert [row[0] for row in ranged] == [ts(9), ts(10)]


def test_bars_are_kept_apart_by_symbol_and_interval(store: Store) -> None:
    store.save_bars([bar(0, symbol="rb2601"), bar(0, symbol="rb2605"), bar(0, interval=Interval.MINUTE_5)])
    assert store.bar_count("rb2601.SHFE", Interval.MINUTE) == 1
    assert store.bar_count("rb2605.SHFE", Interval.MINUTE) == 1
    assert store.bar_count("rb2601.SHFE", Interval.MINUTE_5) == 1
    assert store.bar_count("hc2601.SHFE", Interval.MINUTE) == 0
    assert store.load_bars("hc2601.SHFE", Interval.MINUTE, None, None, 10) == []


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.load_bars("rb2601.SHFE", Interval.MINUTE, None, None, 0), ValueError),
        (lambda s: s.load_bars("rb2601.SHFE", Interval.MINUTE, None, None, -1), ValueError),
        (lambda s: s.load_bars("rb2601.SHFE", "7m", None, None, 10), ValueError),
        (lambda s: s.bar_count("rb2601.SHFE", "tick"), ValueError),
        (lambda s: s.save_bars([bar(0), replace(bar(1), datetime=datetime(2026, 1, 5, 9))]), ValueError),
        (lambda s: s.recent_logs(0), ValueError),
    ],
    ids=["zero-limit", "negative-limit", "unknown-interval", "count-unknown-interval", "naive-datetime", "log-limit"],
)
def test_invalid_arguments_are_refused_before_anything_is_written(
    store: Store, call: Callable[[Store], Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        call(store)
    assert store.bar_count("rb2601.SHFE", Interval.MINUTE) == 0


# --- configuration and small values ---------------------------------------------------------------
def test_config_is_empty_until_saved_then_round_trips_and_is_replaced_whole(store: Store) -> None:
    assert store.load_config() == {}
    values = {"risk": {"max_volume": 10, "symbols": ["rb2601.SHFE"]}, "title": "期货交易台", "ratio": 0.5,
              "on": True, "none": None, "dotted.key": 1}  # fmt: skip
    store.save_config(values)
    assert store.load_config() == values
    store.save_config({"title": "新"})
    assert store.load_config() == {"title": "新"}


def test_config_that_is_not_json_is_refused_and_the_old_one_kept(store: Store) -> None:
    store.save_config({"a": 1})
    with pytest.raises(TypeError):
        store.save_config({"when": datetime.now(SHANGHAI)})
    assert store.load_config() == {"a": 1}


def test_values_are_set_replaced_and_unknown_keys_raise_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_value("access_code_hash")
    store.set_value("access_code_hash", "pbkdf2$1")
    store.set_value("access_code_hash", "pbkdf2$2")
    store.set_value("备注", "中文值")
    assert store.get_value("access_code_hash") == "pbkdf2$2"
    assert store.get_value("备注") == "中文值"
    with pytest.raises(TypeError):
        store.set_value("n", 5)  # type: ignore[arg-type]


def test_not_found_is_both_a_store_error_and_a_lookup_error() -> None:
    assert issubclass(NotFound, StoreError) and issubclass(NotFound, LookupError)


# --- revoked tokens -------------------------------------------------------------------------------
def test_revoked_tokens_are_remembered_one_by_one(store: Store) -> None:
    store.revoke_token("jti-1", 2000.0)
    assert store.is_revoked("jti-1")
    assert not store.is_revoked("jti-2")


def test_the_watermark_starts_at_zero_and_only_moves_forward(store: Store) -> None:
    assert store.revoked_before() == 0.0
    store.revoke_all_before(1_700_000_000.5)
    store.revoke_all_before(1_600_000_000.0)
    assert store.revoked_before() == 1_700_000_000.5


def test_purge_forgets_revocations_expired_at_or_before_now(store: Store) -> None:
    store.revoke_token("old", 100.0)
    store.revoke_token("edge", 200.0)
    store.revoke_token("live", 300.0)
    store.revoke_token("extended", 150.0)
    store.revoke_token("extended", 400.0)  # a second revocation keeps the later expiry
    assert store.purge_expired_tokens(200.0) == 2
    assert [store.is_revoked(jti) for jti in ("old", "edge", "live", "extended")] == [False, False, True, True]
    assert store.purge_expired_tokens(200.0) == 0


# --- strategies -----------------------------------------------------------------------------------
def test_strategy_lifecycle(store: Store) -> None:
    store.save_strategy_code("双均线", "# 双均线\nclass S: ...\n", 10.0)
    assert store.get_strategy("双均线") == StrategyRecord("双均线", "# 双均线\nclass S: ...\n", 10.0)
    store.set_strategy_state("双均线", "running", "", 11.0)
    store.save_strategy_code("双均线", "v2", 12.0)
    assert store.get_strategy("双均线") == StrategyRecord("双均线", "v2", 12.0, "running", "", 11.0)
    failure = "ZeroDivisionError: 除零"
    store.set_strategy_state("双均线", "error", failure, None)
    assert store.get_strategy("双均线") == StrategyRecord("双均线", "v2", 12.0, "error", failure, None)
    store.delete_strategy("双均线")
    with pytest.raises(NotFound):
        store.get_strategy("双均线")


def test_strategies_are_listed_by_name(store: Store) -> None:
    for name in ("momentum", "arbitrage", "grid"):
        store.save_strategy_code(name, f"# {name}", 1.0)
    assert [record.name for record in store.list_strategies()] == ["arbitrage", "grid", "momentum"]
    assert store.list_strategies()[0] == StrategyRecord("arbitrage", "# arbitrage", 1.0, "stopped", "", None)


@pytest.mark.parametrize(
    "call",
    [lambda s: s.get_strategy("ghost"), lambda s: s.set_strategy_state("ghost", "running", "", 1.0),
     lambda s: s.delete_strategy("ghost")],
    ids=["get", "set-state", "delete"],
)  # fmt: skip
def test_unknown_strategy_raises_not_found(store: Store, call: Callable[[Store], Any]) -> None:
    with pytest.raises(NotFound):
        call(store)
    assert store.list_strategies() == []


# --- the order/trade journal ----------------------------------------------------------------------
def test_an_updated_order_replaces_its_dict_and_keeps_its_first_saved_place(store: Store) -> None:
    store.save_order(DAY, order("1_1_1", Status.SUBMITTING))
    store.save_order(DAY, order("1_1_2"))
    store.save_order(DAY, order("1_1_1", Status.ALLTRADED, sys_id="  12345", 备注="已成"))
    assert store.load_orders(DAY) == [order("1_1_1", Status.ALLTRADED, sys_id="  12345", 备注="已成"), order("1_1_2")]


def test_orders_of_other_days_are_kept_apart(store: Store) -> None:
    store.save_order(DAY, order("1_1_1"))
    store.save_order("20260106", order("1_1_1", Status.CANCELLED))
    assert store.load_orders(DAY) == [order("1_1_1")]
    assert store.load_orders("20260106") == [order("1_1_1", Status.CANCELLED)]
    assert store.load_orders("20250101") == []


def test_a_replayed_fill_returns_false_and_keeps_the_first_row(store: Store) -> None:
    assert store.save_trade(DAY, trade("      101"))
    assert store.save_trade(DAY, trade("      102"))
    assert not store.save_trade(DAY, trade("      101", volume=9))
    assert store.load_trades(DAY) == [trade("      101"), trade("      102")]


def test_both_sides_of_a_self_trade_and_other_days_are_distinct_fills(store: Store) -> None:
    assert store.save_trade(DAY, trade("7", Direction.LONG))
    assert store.save_trade(DAY, trade("7", Direction.SHORT))
    assert store.save_trade("20260106", trade("7", Direction.LONG))
    assert [row["direction"] for row in store.load_trades(DAY)] == ["long", "short"]


@pytest.mark.parametrize(
    "call",
    [lambda s: s.save_order(DAY, {"status": "nottraded"}), lambda s: s.save_order(DAY, order("")),
     lambda s: s.save_trade(DAY, {"trade_id": "1", "direction": "long"})],
    ids=["order-without-id", "empty-order-id", "trade-without-exchange"],
)  # fmt: skip
def test_journal_entries_without_their_key_are_refused(store: Store, call: Callable[[Store], Any]) -> None:
    with pytest.raises(ValueError):
        call(store)
    assert store.load_orders(DAY) == [] and store.load_trades(DAY) == []


# --- subscriptions --------------------------------------------------------------------------------
def test_subscriptions_add_and_remove_idempotently_and_list_sorted(store: Store) -> None:
    store.add_subscriptions(["rb2605.SHFE", "IF2601.CFFEX"])
    store.add_subscriptions(["rb2605.SHFE", "m2605.DCE"])
    assert store.load_subscriptions() == ["IF2601.CFFEX", "m2605.DCE", "rb2605.SHFE"]
    store.remove_subscriptions(["rb2605.SHFE", "never.SHFE"])
    store.remove_subscriptions(["rb2605.SHFE"])
    assert store.load_subscriptions() == ["IF2601.CFFEX", "m2605.DCE"]
    with pytest.raises(TypeError):
        store.add_subscriptions("rb2605.SHFE")


# --- logs -----------------------------------------------------------------------------------------
def test_recent_logs_are_the_latest_oldest_first(store: Store) -> None:
    assert store.recent_logs(5) == []
    store.append_logs(log(f"第{number}条") for number in range(8))
    store.append_logs([])
    assert [record["message"] for record in store.recent_logs(3)] == ["第5条", "第6条", "第7条"]
    assert store.recent_logs(100)[0] == log("第0条")


def test_the_log_cap_holds_within_its_slack(open_backend: Opener) -> None:
    store = open_backend(max_logs=20)
    for number in range(100):
        store.append_logs([log(f"single {number}")])
        kept = store.recent_logs(1000)
        assert min(number + 1, 20) <= len(kept) <= 22 and kept[-1]["message"] == f"single {number}"
    store.append_logs(log(f"batch {number}") for number in range(57))
    kept = store.recent_logs(1000)
    assert 20 <= len(kept) <= 22
    assert kept[-1]["message"] == "batch 56"
    assert [record["message"] for record in kept[-20:]] == [f"batch {number}" for number in range(37, 57)]


# --- across calls, threads and restarts -----------------------------------------------------------
def _writer(store: Store, worker: int, count: int) -> None:
    for number in range(count):
        key = f"{worker}-{number}"
        store.save_order(DAY, order(key))
        store.save_trade(DAY, trade(key))
        store.save_bars([bar(worker * count + number)])
        store.append_logs([log(key)])
        store.add_subscriptions([f"s{key}.SHFE"])


def test_concurrent_writes_from_four_threads_lose_nothing(store: Store) -> None:
    count, failures = 40, []
    barrier = threading.Barrier(4)

    def run(worker: int) -> None:
        barrier.wait(timeout=10)
        try:
            _writer(store, worker, count)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == [] and not any(thread.is_alive() for thread in threads)
    assert len(store.load_orders(DAY)) == len(store.load_trades(DAY)) == 4 * count
    assert store.bar_count("rb2601.SHFE", Interval.MINUTE) == 4 * count
    assert len(store.recent_logs(1000)) == len(store.load_subscriptions()) == 4 * count
    for worker in range(4):  # each thread's own orders keep the order it saved them in
        mine = [row["order_id"] for row in store.load_orders(DAY) if row["order_id"].startswith(f"{worker}-")]
        assert mine == [f"{worker}-{number}" for number in range(count)]


def test_everything_written_is_there_after_reopening(open_backend: Opener) -> None:
    first = open_backend("durable")
    _writer(first, 0, 3)
    first.save_config({"交易所": "SHFE"})
    first.set_value("k", "v")
    first.revoke_token("j", 9e9)
    first.revoke_all_before(5.0)
    first.save_strategy_code("s", "text", 1.0)
    first.close()
    again = open_backend("durable")
    assert [row["order_id"] for row in again.load_orders(DAY)] == ["0-0", "0-1", "0-2"]
    assert len(again.load_trades(DAY)) == 3 and again.bar_count("rb2601.SHFE", Interval.MINUTE) == 3
    assert again.load_config() == {"交易所": "SHFE"} and again.get_value("k") == "v"
    assert again.is_revoked("j") and again.revoked_before() == 5.0
    assert again.get_strategy("s").text == "text" and len(again.recent_logs(10)) == 3


def test_a_closed_store_refuses_calls_and_closing_twice_is_harmless(store: Store) -> None:
    store.close()
    store.close()
    with pytest.raises(StoreError):
        store.load_subscriptions()


# --- property: bars -------------------------------------------------------------------------------
_symbols = itertools.count()
bar_saves = st.lists(
    st.lists(st.tuples(st.integers(0, 40), st.integers(3000, 3100), st.integers(0, 500)), max_size=15), max_size=6
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(saves=bar_saves, limit=st.integers(1, 50))
def test_bars_loaded_are_the_saved_keys_ascending_with_the_last_values(
    store: Store, saves: list[list[tuple[int, int, int]]], limit: int
) -> None:
    # One store serves every example (the health check is suppressed for that); a fresh symbol keeps them apart.
    symbol = f"p{next(_symbols)}"
    expected: dict[int, list[Any]] = {}
    for batch in saves:
        bars = [bar(minute, float(close), symbol=symbol, volume=volume) for minute, close, volume in batch]
        store.save_bars(bars)
        expected.update((row[0], row) for row in (one.to_row() for one in bars))
    rows = store.load_bars(f"{symbol}.SHFE", Interval.MINUTE, None, None, 1000)
    assert rows == [expected[key] for key in sorted(expected)]
    assert all(earlier[0] < later[0] for earlier, later in itertools.pairwise(rows))
    assert store.load_bars(f"{symbol}.SHFE", Interval.MINUTE, None, None, limit) == rows[-limit:]
    assert store.bar_count(f"{symbol}.SHFE", Interval.MINUTE) == len(expected)


# --- the narrow slices consumers are typed with (model/protocols.py) --------------------------------
SLICES = [protocols.EngineStore, protocols.StrategyStore, protocols.ValueStore, protocols.TokenStore,
          protocols.ConfigStore]  # fmt: skip


def _members(protocol: type) -> list[str]:
    return sorted({name for part in protocol.__mro__ if part.__module__ == protocols.__name__
                   for name, value in vars(part).items() if callable(value) and not name.startswith("_")})  # fmt: skip


@pytest.mark.parametrize("backend", [Store, SqliteStore, MongoStore], ids=lambda backend: backend.__name__)
@pytest.mark.parametrize("protocol", SLICES, ids=lambda protocol: protocol.__name__)
def test_every_backend_satisfies_each_slice_with_the_stores_own_signatures(protocol: type, backend: type) -> None:
    members = _members(protocol)
    assert members, protocol
    for name in members:
        assert str(inspect.signature(getattr(backend, name))) == str(inspect.signature(getattr(protocol, name))), name


# --- SQLite specifics -----------------------------------------------------------------------------
def test_sqlite_store_is_in_wal_mode_with_a_versioned_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "ctpdesk.sqlite3"
    SqliteStore(path).close()  # the parent directories are created
    with sqlite3.connect(path) as db:  # read the file as it is on disk, not through the store
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 1
    db.close()


def test_sqlite_store_refuses_a_file_from_a_newer_ctpdesk(tmp_path: Path) -> None:
    path = tmp_path / "ctpdesk.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 999")
    db.close()
    with pytest.raises(StoreError, match="schema version 999"):
        SqliteStore(path)


def test_open_store_without_a_mongo_uri_uses_sqlite_under_the_data_directory(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    try:
        assert isinstance(store, SqliteStore) and store.path == tmp_path / "data" / SQLITE_FILE
    finally:
        store.close()


# --- MongoDB without a server: everything up to the driver's first round trip ----------------------
def _closed_port() -> int:
    """A loopback port nothing listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_mongo_store_with_no_server_fails_fast_naming_the_host_not_the_password() -> None:
    port = _closed_port()
    began = time.monotonic()
    with pytest.raises(StoreUnavailable) as raised:
        MongoStore(f"mongodb://trader:s3cret@127.0.0.1:{port}/desk", server_selection_timeout_ms=200)
    assert time.monotonic() - began < 5
    assert f"127.0.0.1:{port}" in str(raised.value) and "s3cret" not in str(raised.value)


def test_mongo_store_with_a_malformed_uri_raises_a_store_error() -> None:
    with pytest.raises(StoreError, match="invalid MONGO_URI"):
        MongoStore("mongodb://127.0.0.1:notaport/desk", server_selection_timeout_ms=200)


@pytest.mark.parametrize(
    ("uri", "hosts"),
    [("mongodb://127.0.0.1:27017", "127.0.0.1:27017"),
     ("mongodb://u:p%40ss@db1:1,db2:2/desk?replicaSet=r", "db1:1,db2:2"),
     ("mongodb+srv://user:pw@cluster0.example.net/?retryWrites=true", "cluster0.example.net")],
    ids=["plain", "credentials-and-replica-set", "srv"],
)  # fmt: skip
def test_mongo_hosts_are_described_without_credentials(uri: str, hosts: str) -> None:
    assert describe_hosts(uri) == hosts


def test_test_databases_keep_authenticating_where_the_uri_did() -> None:
    assert _with_database("mongodb://u:p@h:1/prod?tls=true", "t") == "mongodb://u:p@h:1/t?tls=true&authSource=prod"
    assert _with_database("mongodb://h:1", "t") == "mongodb://h:1/t"


def test_load_bar_gives_the_whole_stored_bar_of_one_key(store: Store) -> None:
    saved = BarData("rb2601", Exchange.SHFE, Interval.DAILY, START, 3200, 3210, 3190, 3205, 7, 224_000.0, 1234.0)
    store.save_bars([saved, bar(0)])
    row = store.load_bar("rb2601.SHFE", Interval.DAILY, ts(0))
    assert row is not None and tuple(row) == ("rb2601.SHFE", "1d", ts(0), 3200, 3210, 3190, 3205, 7, 224_000.0, 1234.0)
    assert store.load_bar("rb2601.SHFE", "1d", ts(1)) is None and store.load_bar("ag2606.SHFE", "1d", ts(0)) is None
