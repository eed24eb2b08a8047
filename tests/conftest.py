"""Shared fixtures. Each block belongs to one group of tests; add yours in a block of its own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from model import Store
from model.mongo_store import MongoStore
from model.sqlite_store import SqliteStore
from tests.integration.trader_sim import TraderSim, new_sim


# --- simulated counter, trader side (tests/integration/test_sim_*.py) ---------------------------------
@pytest.fixture
def trader_sim_factory(tmp_path: Path) -> Iterator[Callable[..., TraderSim]]:
    """Make sims (configure(name, **settings)); all are stopped and shut down after the test."""
    made: list[TraderSim] = []

    def make(name: str | None = None, **settings: Any) -> TraderSim:
        sim = new_sim(tmp_path, name, **settings)
        made.append(sim)
        return sim

    yield make
    for sim in reversed(made):
        sim.stop()


@pytest.fixture
def trader_sim(trader_sim_factory: Callable[..., TraderSim]) -> TraderSim:
    """A sim with the test defaults (unlimited queries, no random walk, fixed clock)."""
    return trader_sim_factory()


@pytest.fixture
def trader(trader_sim: TraderSim) -> Any:
    """A client logged in to `trader_sim` with settlement confirmed."""
    return trader_sim.ready_client()


# --- store backends (tests/unit/test_store_contract.py, test_lab_runs.py, test_tick_recorder.py) ------------
MONGO_URI = os.environ.get("MONGO_URI", "")
NO_MONGO = "no MongoDB server here: set MONGO_URI to run the store tests against one"
Opener = Callable[..., Store]


def _with_database(uri: str, database: str) -> str:
    """The same server with another database; credentials keep authenticating where they did."""
    scheme, _, rest = uri.partition("://")
    authority, _, tail = rest.partition("/")
    path, _, query = tail.partition("?")
    if "@" in authority and "authsource=" not in query.lower():
        query = "&".join(filter(None, [query, f"authSource={path or 'admin'}"]))
    return f"{scheme}://{authority}/{database}" + (f"?{query}" if query else "")


@pytest.fixture(params=["sqlite", pytest.param("mongodb", marks=pytest.mark.skipif(not MONGO_URI, reason=NO_MONGO))])
def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """open_backend(name="main", max_logs=...) opens a store; the same name reopens the same data."""
    opened: list[Store] = []
    databases: set[str] = set()
    prefix = f"ctpdesk_test_{uuid.uuid4().hex[:10]}"

    def open_(name: str = "main", max_logs: int = 10_000) -> Store:
        if request.param == "sqlite":
            store: Store = SqliteStore(tmp_path / f"{name}.sqlite3", max_logs=max_logs)
        else:
            store = MongoStore(_with_database(MONGO_URI, f"{prefix}_{name}"), max_logs=max_logs)
            databases.add(f"{prefix}_{name}")
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()
    if databases:
        import pymongo  # only to drop the test databases: the product has no "drop everything" call

        with pymongo.MongoClient(MONGO_URI, serverSelectionTimeoutMS=5000) as client:
            for database in databases:
                client.drop_database(database)
