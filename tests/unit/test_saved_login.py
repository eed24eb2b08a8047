"""The saved counter login: encrypted at rest, unreadable with another secret, forgotten on clear."""

from __future__ import annotations

from pathlib import Path

from auth.saved_login import KEY, SavedLogin
from backend.gateway.base import LoginSettings
from model.sqlite_store import SqliteStore

LOGIN = LoginSettings("investor1", "s3cret-pass", "9999", td_address="tcp://10.0.0.1:1", md_address="tcp://10.0.0.1:2",
                      interface="ctp")  # fmt: skip


def test_round_trip_and_the_password_is_not_stored_in_clear(tmp_path: Path):
    store = SqliteStore(tmp_path / "s.sqlite3")
    saved = SavedLogin(store, "secret-a")
    saved.save(LOGIN)
    assert saved.load() == LOGIN
    assert "s3cret-pass" not in store.get_value(KEY) and "investor1" not in store.get_value(KEY)


def test_another_secret_cannot_read_it(tmp_path: Path):
    store = SqliteStore(tmp_path / "s.sqlite3")
    SavedLogin(store, "secret-a").save(LOGIN)
    assert SavedLogin(store, "secret-b").load() is None


def test_clear_forgets_it(tmp_path: Path):
    store = SqliteStore(tmp_path / "s.sqlite3")
    saved = SavedLogin(store, "secret-a")
    assert saved.load() is None
    saved.save(LOGIN)
    saved.clear()
    assert saved.load() is None
