"""Persistence behind one interface (model.store.Store); the only package that imports a database driver."""

from __future__ import annotations

from pathlib import Path

from model.store import LabRunRecord, NotFound, Store, StoreError, StoreUnavailable, StrategyRecord

__all__ = ["LabRunRecord", "NotFound", "Store", "StoreError", "StoreUnavailable", "StrategyRecord", "open_store",
           "SQLITE_FILE"]

SQLITE_FILE = "ctpdesk.sqlite3"


def open_store(data_dir: Path, mongo_uri: str = "", max_logs: int = 10_000) -> Store:
    """MongoDB when mongo_uri is set (production), else the SQLite file under data_dir (created if missing)."""
    if mongo_uri:
        # Imported here: pymongo is needed only by those who chose MongoDB.
        from model.mongo_store import MongoStore

        return MongoStore(mongo_uri, max_logs=max_logs)
    from model.sqlite_store import SqliteStore

    return SqliteStore(Path(data_dir) / SQLITE_FILE, max_logs=max_logs)
