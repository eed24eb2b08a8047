"""The saved counter login: encrypted at rest, unreadable with another secret, forgotten on clear."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from auth.saved_login import KEY, SavedLogin
from auth.tokens import SECRET_FILE, load_secret
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


def test_the_files_it_lives_in_are_only_for_the_servers_user(tmp_path: Path):
    # The saved login is in the store, its key derived from the secret file: both 0600, even when an
    # older version left them (and the data directory) readable by everyone.
    (tmp_path / SECRET_FILE).write_text("an-older-secret")
    os.chmod(tmp_path / SECRET_FILE, 0o644)
    old = SqliteStore(tmp_path / "s.sqlite3")
    old.close()
    os.chmod(tmp_path / "s.sqlite3", 0o644)
    secret = load_secret(tmp_path)
    store = SqliteStore(tmp_path / "s.sqlite3")
    SavedLogin(store, secret).save(LOGIN)
    files = [tmp_path / SECRET_FILE, *tmp_path.glob("s.sqlite3*")]
    assert len(files) == 4  # the secret, the database, its -wal and -shm
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in files} == {path.name: 0o600 for path in files}
    fresh = tmp_path / "fresh"
    load_secret(fresh)
    SqliteStore(fresh / "s.sqlite3").close()
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in fresh.iterdir())
