"""The SQLite schema, versioned with PRAGMA user_version and brought up to date on open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from model.store import StoreError

# Each entry takes the file from version N to N + 1; append, never edit, once released.
MIGRATIONS: tuple[str, ...] = (
    """
    -- WITHOUT ROWID: the primary key is the table, so a range read is one index scan.
    CREATE TABLE bars (
        local_symbol TEXT NOT NULL, interval TEXT NOT NULL, start_ms INTEGER NOT NULL,
        open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,
        volume INTEGER NOT NULL, turnover REAL NOT NULL, open_interest REAL NOT NULL,
        PRIMARY KEY (local_symbol, interval, start_ms)
    ) WITHOUT ROWID;
    -- rowid kept: load_config returns keys in the order they were saved.
    CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value REAL NOT NULL) WITHOUT ROWID;
    CREATE TABLE revoked_tokens (jti TEXT PRIMARY KEY, expires_at REAL NOT NULL) WITHOUT ROWID;
    CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);
    CREATE TABLE strategies (
        name TEXT PRIMARY KEY, text TEXT NOT NULL, updated_at REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'stopped', error TEXT NOT NULL DEFAULT '', started_at REAL
    ) WITHOUT ROWID;
    -- seq (the rowid) only grows, as nothing is deleted: it is the first-saved order.
    CREATE TABLE orders (
        seq INTEGER PRIMARY KEY, trading_day TEXT NOT NULL, order_id TEXT NOT NULL, data TEXT NOT NULL,
        UNIQUE (trading_day, order_id)
    );
    CREATE INDEX orders_by_day ON orders (trading_day, seq);
    CREATE TABLE trades (
        seq INTEGER PRIMARY KEY, trading_day TEXT NOT NULL, exchange TEXT NOT NULL, trade_id TEXT NOT NULL,
        direction TEXT NOT NULL, data TEXT NOT NULL,
        UNIQUE (trading_day, exchange, trade_id, direction)
    );
    CREATE INDEX trades_by_day ON trades (trading_day, seq);
    CREATE TABLE subscriptions (local_symbol TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE TABLE logs (seq INTEGER PRIMARY KEY, data TEXT NOT NULL);
    """,
    """
    -- Recorded ticks (issue 18): packed chunks of one instrument (backend/engine/tick_codec.py); seq is the
    -- order they were saved in, which is the order the ticks arrived in.
    CREATE TABLE tick_chunks (
        seq INTEGER PRIMARY KEY, local_symbol TEXT NOT NULL, first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,
        count INTEGER NOT NULL, data BLOB NOT NULL
    );
    CREATE INDEX tick_chunks_by_symbol ON tick_chunks (local_symbol, last_ms);
    CREATE TABLE recording (local_symbol TEXT PRIMARY KEY) WITHOUT ROWID;
    """,
    """
    -- Lab runs (issue 18): the summary is read for the list, the result (a whole report) only for one run.
    CREATE TABLE IF NOT EXISTS lab_runs (
        run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, created_at REAL NOT NULL, summary TEXT NOT NULL, result TEXT
    );
    CREATE INDEX IF NOT EXISTS lab_runs_by_time ON lab_runs (kind, created_at);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Create or upgrade the schema inside the caller's transaction; refuse a file from a newer ctpdesk."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path} has schema version {version}; this ctpdesk knows up to {SCHEMA_VERSION}")
    for number in range(version, SCHEMA_VERSION):
        for statement in _statements(MIGRATIONS[number]):
            db.execute(statement)
    if version != SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _statements(script: str) -> list[str]:
    """Split a migration into statements; executescript would commit the caller's transaction first."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]
