"""The server access code: never a built-in default.

Taken from configuration or the environment; when absent on first start, generated, stored hashed
and printed once. `/login` checks it; `PUT /auth_code` changes it (stored hashed, persisted).

A configured code is applied when it first appears or when the configuration changes it, not on
every start: a change made through `PUT /auth_code` survives a restart with the same configuration.

The hash is werkzeug's (scrypt today; older stores hold pbkdf2 hashes, which werkzeug still checks):
slow on purpose, ~70 ms, so a copy of the store does not give the code away cheaply. A request checks
and makes hashes on gevent's thread pool (hashlib releases the GIL while it hashes): the event loop,
which carries every order, push and answer, never waits for one. How many a client may ask for is
the business of auth/attempts.py.
"""

from __future__ import annotations

import secrets
from typing import TypeVar

from werkzeug.security import check_password_hash, generate_password_hash

from lib.offload import off_loop
from model import NotFound
from model.protocols import ValueStore

HASH_KEY = "access_code_hash"
CONFIGURED_KEY = "access_code_configured_hash"  # the configured code last applied
MIN_LENGTH = 8
T = TypeVar("T")


class AccessCode:
    def __init__(self, store: ValueStore) -> None:
        self.store = store

    def ensure(self, configured: str) -> str | None:
        """Make sure a code exists; returns a newly generated one (to print once), else None."""
        if configured:
            if not self._configured_before(configured):
                self._save(configured)
                self.store.set_value(CONFIGURED_KEY, generate_password_hash(configured))
            return None
        try:
            self.store.get_value(HASH_KEY)
            return None
        except NotFound:
            generated = secrets.token_urlsafe(12)
            self._save(generated)
            return generated

    def _configured_before(self, configured: str) -> bool:
        try:
            applied = self.store.get_value(CONFIGURED_KEY)
        except NotFound:  # stores from before this marker: the code in force is it
            stored = self._stored()
            return stored is not None and check_password_hash(stored, configured)
        return check_password_hash(applied, configured)

    def verify(self, candidate: str) -> bool:
        """Tell whether `candidate` is the code (a request's check: hashed off the event loop)."""
        stored = self._stored()
        return bool(candidate) and stored is not None and off_loop(check_password_hash, stored, candidate)

    def _stored(self) -> str | None:
        try:
            return self.store.get_value(HASH_KEY)
        except NotFound:
            return None

    def change(self, new_code: str) -> None:
        """Replace the code (PUT /auth_code: hashed off the event loop)."""
        if len(new_code) < MIN_LENGTH:
            raise ValueError(f"the access code needs at least {MIN_LENGTH} characters")
        self.store.set_value(HASH_KEY, off_loop(generate_password_hash, new_code))

    def _save(self, code: str) -> None:
        self.store.set_value(HASH_KEY, generate_password_hash(code))
