"""The embedded store: one SQLite file under the data directory.

Durability: WAL mode with synchronous=NORMAL. A commit appends to the WAL file through the OS page
cache before the call returns, so a kill -9 of this process loses nothing committed (the kernel
still writes the pages out, and the next open replays the WAL). Only a power cut or a kernel crash
can lose the last few commits, and even then the file stays consistent. FULL would fsync on every
commit, a disk flush per order or bar batch, to cover a case a trading desk recovers from anyway by
re-querying the counter.

Concurrency: one connection, guarded by one native lock. Calls come from native threads (the store
writer, gevent's threadpool), so the lock is taken from the unpatched thread module; that is safe
for greenlets too, because nothing inside the lock yields to the gevent hub.
"""

from __future__ import annotations

import importlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model import shapes
from model.shapes import BarRow
from model.sqlite_schema import migrate
from model.store import LabRunRecord, NotFound, Store, StoreError, StrategyRecord

if TYPE_CHECKING:
    from backend.engine.constants import Interval
    from backend.engine.objects import BarData

_WATERMARK = "revoked_before"


def _native_lock() -> Any:
    """A lock of the real thread module, even after gevent's monkey-patching."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency; the store does not need it
        return importlib.import_module("_thread").allocate_lock()
    return monkey.get_original("_thread", "allocate_lock")()


def _private_files(path: Path) -> None:
    """The database and its WAL files only for the server's user (0600): they hold the saved login and the
    hashed access code. SQLite makes the -wal and -shm files with the database file's mode, so creating
    that one 0600 before SQLite does (and tightening older ones) covers all three."""
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            os.chmod(name, 0o600)
        except (FileNotFoundError, PermissionError):  # none yet, or another user's: left as they are
            pass


class SqliteStore(Store):
    def __init__(self, path: Path, max_logs: int = 10_000, busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path)
        self.max_logs = shapes.check_max_logs(max_logs)
        self._lock = _native_lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            _private_files(self.path)
            connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        self._connection: sqlite3.Connection | None = connection
        try:
            self._configure(connection, busy_timeout_ms)
            with self._transaction() as db:
                migrate(db, self.path)
        except BaseException:
            connection.close()
            raise

    def _configure(self, connection: sqlite3.Connection, busy_timeout_ms: int) -> None:
        try:
            # busy_timeout first: another process (a second server, the crash test) may hold the file.
            connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            connection.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot configure {self.path}: {exc}") from exc
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: WAL mode refused (journal_mode is {mode}); is it on a network share?")

    # --- plumbing -------------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._connection is None:
                raise StoreError(f"store {self.path} is closed")
            try:
                yield self._connection
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE takes the write lock up front, so no upgrade deadlock."""
        with self._locked() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def _rows(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._locked() as db:
            return db.execute(sql, parameters).fetchall()

    def _column(
        self, sql: str, parameters: tuple[Any, ...] = (), decode: Callable[[Any], Any] | None = None
    ) -> list[Any]:
        values = [row[0] for row in self._rows(sql, parameters)]
        return values if decode is None else [decode(value) for value in values]

    # --- bars -----------------------------------------------------------------------------------
    def save_bars(self, bars: Iterable[BarData]) -> int:
        rows = shapes.bar_rows(bars)
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO bars VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (local_symbol, interval, start_ms) DO UPDATE SET open = excluded.open,"
                " high = excluded.high, low = excluded.low, close = excluded.close, volume = excluded.volume,"
                " turnover = excluded.turnover, open_interest = excluded.open_interest",
                rows,
            )
        return len(rows)

    def load_bars(
        self, local_symbol: str, interval: Interval | str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[list[Any]]:
        low, high = shapes.bar_range(start_ms, end_ms, limit)
        rows = self._rows(
            "SELECT start_ms, open, high, low, close, volume FROM bars"
            " WHERE local_symbol = ? AND interval = ? AND start_ms BETWEEN ? AND ? ORDER BY start_ms DESC LIMIT ?",
            (local_symbol, shapes.interval_value(interval), low, high, limit),
        )
        return [list(row) for row in reversed(rows)]

    def load_bar(self, local_symbol: str, interval: Interval | str, start_ms: int) -> BarRow | None:
        rows = self._rows(
            "SELECT local_symbol, interval, start_ms, open, high, low, close, volume, turnover, open_interest"
            " FROM bars WHERE local_symbol = ? AND interval = ? AND start_ms = ?",
            (local_symbol, shapes.interval_value(interval), int(start_ms)),
        )
        return BarRow(*rows[0]) if rows else None

    def bar_count(self, local_symbol: str, interval: Interval | str) -> int:
        return self._column(
            "SELECT count(*) FROM bars WHERE local_symbol = ? AND interval = ?",
            (local_symbol, shapes.interval_value(interval)),
        )[0]

    # --- recorded ticks -----------------------------------------------------------------------------
    def save_tick_chunk(self, local_symbol: str, first_ms: int, last_ms: int, count: int, data: bytes) -> None:
        row = shapes.tick_chunk(local_symbol, first_ms, last_ms, count, data)
        with self._transaction() as db:
            db.execute("INSERT INTO tick_chunks (local_symbol, first_ms, last_ms, count, data) VALUES (?, ?, ?, ?, ?)",
                       row)  # fmt: skip

    def load_tick_chunks(self, local_symbol: str, start_ms: int | None, end_ms: int | None) -> list[bytes]:
        low, high = shapes.tick_range(start_ms, end_ms)
        return self._column(
            "SELECT data FROM tick_chunks WHERE local_symbol = ? AND last_ms >= ? AND first_ms <= ? ORDER BY seq",
            (local_symbol, low, high), bytes,
        )  # fmt: skip

    def tick_summary(self) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT local_symbol, sum(count), min(first_ms), max(last_ms), sum(length(data)) FROM tick_chunks"
            " GROUP BY local_symbol ORDER BY local_symbol"
        )
        return [dict(zip(_SUMMARY, row, strict=True)) for row in rows]

    def load_recording(self) -> list[str]:
        return self._column("SELECT local_symbol FROM recording ORDER BY local_symbol")

    def set_recording(self, local_symbol: str, on: bool) -> None:
        (symbol,) = shapes.symbol_list([local_symbol])
        with self._transaction() as db:
            if on:
                db.execute("INSERT OR IGNORE INTO recording VALUES (?)", (symbol,))
            else:
                db.execute("DELETE FROM recording WHERE local_symbol = ?", (symbol,))

    # --- configuration --------------------------------------------------------------------------
    def load_config(self) -> dict[str, Any]:
        rows = self._rows("SELECT key, value FROM config ORDER BY rowid")
        return {key: shapes.from_json(value) for key, value in rows}

    def save_config(self, values: dict[str, Any]) -> None:
        encoded = [(shapes.check_str("config key", key), shapes.to_json(value)) for key, value in values.items()]
        with self._transaction() as db:
            db.execute("DELETE FROM config")
            db.executemany("INSERT INTO config (key, value) VALUES (?, ?)", encoded)

    # --- small values ---------------------------------------------------------------------------
    def get_value(self, key: str) -> str:
        found = self._column("SELECT value FROM kv WHERE key = ?", (key,))
        if not found:
            raise NotFound(f"no value stored under {key!r}")
        return found[0]

    def set_value(self, key: str, value: str) -> None:
        shapes.check_str("value", value)
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (shapes.check_str("key", key), value))

    # --- revoked tokens -------------------------------------------------------------------------
    def revoke_token(self, jti: str, expires_at: float) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO revoked_tokens VALUES (?, ?)"
                " ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
                (shapes.check_str("jti", jti), float(expires_at)),
            )

    def is_revoked(self, jti: str) -> bool:
        return bool(self._rows("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,)))

    def revoke_all_before(self, moment: float) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                (_WATERMARK, float(moment)),
            )

    def revoked_before(self) -> float:
        found = self._column("SELECT value FROM meta WHERE key = ?", (_WATERMARK,))
        return float(found[0]) if found else 0.0

    def purge_expired_tokens(self, now: float) -> int:
        with self._transaction() as db:
            return db.execute("DELETE FROM revoked_tokens WHERE expires_at <= ?", (float(now),)).rowcount

    # --- strategies -----------------------------------------------------------------------------
    def save_strategy_code(self, name: str, text: str, updated_at: float) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO strategies (name, text, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at",
                (shapes.check_str("name", name), shapes.check_str("text", text), float(updated_at)),
            )

    def get_strategy(self, name: str) -> StrategyRecord:
        rows = self._rows(f"{_STRATEGY_SELECT} WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"no strategy named {name!r}")
        return StrategyRecord(*rows[0])

    def list_strategies(self) -> list[StrategyRecord]:
        return [StrategyRecord(*row) for row in self._rows(f"{_STRATEGY_SELECT} ORDER BY name")]

    def set_strategy_state(self, name: str, status: str, error: str, started_at: float | None) -> None:
        started = None if started_at is None else float(started_at)
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE strategies SET status = ?, error = ?, started_at = ? WHERE name = ?",
                (shapes.check_str("status", status), shapes.check_str("error", error), started, name),
            ).rowcount
        if not changed:
            raise NotFound(f"no strategy named {name!r}")

    def delete_strategy(self, name: str) -> None:
        with self._transaction() as db:
            deleted = db.execute("DELETE FROM strategies WHERE name = ?", (name,)).rowcount
        if not deleted:
            raise NotFound(f"no strategy named {name!r}")

    # --- the order/trade journal ----------------------------------------------------------------
    def save_order(self, trading_day: str, order: dict[str, Any]) -> None:
        (order_id,) = shapes.journal_key("order", order, shapes.ORDER_KEY)
        data = shapes.to_json(order)
        with self._transaction() as db:
            # An upsert keeps the row's seq, so the order keeps the place of its first save.
            db.execute(
                "INSERT INTO orders (trading_day, order_id, data) VALUES (?, ?, ?)"
                " ON CONFLICT (trading_day, order_id) DO UPDATE SET data = excluded.data",
                (shapes.check_str("trading_day", trading_day), order_id, data),
            )

    def load_orders(self, trading_day: str) -> list[dict[str, Any]]:
        return self._column(
            "SELECT data FROM orders WHERE trading_day = ? ORDER BY seq", (trading_day,), shapes.from_json
        )

    def save_trade(self, trading_day: str, trade: dict[str, Any]) -> bool:
        key = shapes.journal_key("trade", trade, shapes.TRADE_KEY)
        data = shapes.to_json(trade)
        with self._transaction() as db:
            return bool(
                db.execute(
                    "INSERT OR IGNORE INTO trades (trading_day, exchange, trade_id, direction, data)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (shapes.check_str("trading_day", trading_day), *key, data),
                ).rowcount
            )

    def load_trades(self, trading_day: str) -> list[dict[str, Any]]:
        return self._column(
            "SELECT data FROM trades WHERE trading_day = ? ORDER BY seq", (trading_day,), shapes.from_json
        )

    # --- subscriptions --------------------------------------------------------------------------
    def load_subscriptions(self) -> list[str]:
        return self._column("SELECT local_symbol FROM subscriptions ORDER BY local_symbol")

    def add_subscriptions(self, local_symbols: Iterable[str]) -> None:
        symbols = [(symbol,) for symbol in shapes.symbol_list(local_symbols)]
        with self._transaction() as db:
            db.executemany("INSERT OR IGNORE INTO subscriptions VALUES (?)", symbols)

    def remove_subscriptions(self, local_symbols: Iterable[str]) -> None:
        symbols = [(symbol,) for symbol in shapes.symbol_list(local_symbols)]
        with self._transaction() as db:
            db.executemany("DELETE FROM subscriptions WHERE local_symbol = ?", symbols)

    # --- logs -----------------------------------------------------------------------------------
    def append_logs(self, records: Iterable[dict[str, Any]]) -> None:
        encoded = [(shapes.to_json(record),) for record in records]
        if not encoded:
            return
        with self._transaction() as db:
            db.executemany("INSERT INTO logs (data) VALUES (?)", encoded)
            self._trim_logs(db)

    def _trim_logs(self, db: sqlite3.Connection) -> None:
        """Trim back to max_logs once 10% over, so most appends cost no delete.

        seq only grows and only the oldest rows go, so max - min + 1 is the row count (an upper
        bound at worst), read from the ends of the rowid tree instead of counting every row.
        """
        low, high = db.execute("SELECT min(seq), max(seq) FROM logs").fetchone()
        if high - low + 1 > self.max_logs + shapes.log_slack(self.max_logs):
            db.execute("DELETE FROM logs WHERE seq <= ?", (high - self.max_logs,))

    def recent_logs(self, limit: int) -> list[dict[str, Any]]:
        rows = self._column(
            "SELECT data FROM logs ORDER BY seq DESC LIMIT ?", (shapes.check_limit(limit),), shapes.from_json
        )
        return rows[::-1]

    # --- lab runs ---------------------------------------------------------------------------------
    def load_bar_rows(
        self, local_symbol: str, interval: Interval | str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[BarRow]:
        low, high = shapes.bar_range(start_ms, end_ms, limit)
        rows = self._rows(
            "SELECT local_symbol, interval, start_ms, open, high, low, close, volume, turnover, open_interest"
            " FROM bars WHERE local_symbol = ? AND interval = ? AND start_ms BETWEEN ? AND ? ORDER BY start_ms LIMIT ?",
            (local_symbol, shapes.interval_value(interval), low, high, limit),
        )
        return [BarRow(*row) for row in rows]

    def save_lab_run(
        self, run_id: str, kind: str, created_at: float, summary: dict[str, Any], result: dict[str, Any] | None
    ) -> None:
        encoded = (shapes.check_str("run_id", run_id), shapes.check_str("kind", kind), float(created_at),
                   shapes.to_json(summary), None if result is None else shapes.to_json(result))  # fmt: skip
        with self._transaction() as db:
            db.execute(
                "INSERT INTO lab_runs VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET"
                " summary = excluded.summary, result = coalesce(excluded.result, lab_runs.result)",
                encoded,
            )

    def get_lab_run(self, run_id: str) -> LabRunRecord:
        rows = self._rows("SELECT run_id, kind, created_at, summary, result FROM lab_runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise NotFound(f"no lab run {run_id!r}")
        found, kind, created_at, summary, result = rows[0]
        return LabRunRecord(found, kind, created_at, shapes.from_json(summary),
                            None if result is None else shapes.from_json(result))  # fmt: skip

    def list_lab_runs(self, kind: str | None, limit: int) -> list[LabRunRecord]:
        where, parameters = ("WHERE kind = ?", (kind,)) if kind is not None else ("", ())
        limited = (*parameters, shapes.check_limit(limit))
        rows = self._rows(f"SELECT run_id, kind, created_at, summary FROM lab_runs {where}"
                          " ORDER BY created_at DESC, rowid DESC LIMIT ?", limited)  # fmt: skip
        return [LabRunRecord(run_id, kind_, created_at, shapes.from_json(summary))
                for run_id, kind_, created_at, summary in rows]  # fmt: skip

    def delete_lab_run(self, run_id: str) -> None:
        with self._transaction() as db:
            deleted = db.execute("DELETE FROM lab_runs WHERE run_id = ?", (run_id,)).rowcount
        if not deleted:
            raise NotFound(f"no lab run {run_id!r}")

    # --- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


_SUMMARY = ("local_symbol", "count", "first_ms", "last_ms", "bytes")
_STRATEGY_SELECT = "SELECT name, text, updated_at, status, error, started_at FROM strategies"
