"""The server access code: never a built-in default.

Taken from configuration or the environment; when absent on first start, generated, stored hashed
and printed once. `/login` checks it; `PUT /auth_code` changes it (stored hashed, persisted).

A configured code is applied when it first appears or when the configuration changes it, not on
every start: a change made through `PUT /auth_code` survives a restart with the same configuration.
"""

from __future__ import annotations

import secrets

from werkzeug.security import check_password_hash, generate_password_hash

from model import NotFound
from model.protocols import ValueStore

HASH_KEY = "access_code_hash"
CONFIGURED_KEY = "access_code_configured_hash"  # the configured code last applied
MIN_LENGTH = 8


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
        except NotFound:
            return self.verify(configured)  # stores from before this marker: the code in force is it
        return check_password_hash(applied, configured)

    def verify(self, candidate: str) -> bool:
        try:
            stored = self.store.get_value(HASH_KEY)
        except NotFound:
            return False
        return bool(candidate) and check_password_hash(stored, candidate)

    def change(self, new_code: str) -> None:
        if len(new_code) < MIN_LENGTH:
            raise ValueError(f"the access code needs at least {MIN_LENGTH} characters")
        self._save(new_code)

    def _save(self, code: str) -> None:
        self.store.set_value(HASH_KEY, generate_password_hash(code))

