"""The server access code: never a built-in default.

Taken from configuration or the environment; when absent on first start, generated, stored hashed
and printed once. `/login` checks it; `PUT /auth_code` changes it (stored hashed, persisted).
"""

from __future__ import annotations

import secrets

from werkzeug.security import check_password_hash, generate_password_hash

from model import NotFound

HASH_KEY = "access_code_hash"
MIN_LENGTH = 8


class AccessCode:
    def __init__(self, store: object) -> None:
        self.store = store

    def ensure(self, configured: str) -> str | None:
        """Make sure a code exists; returns a newly generated one (to print once), else None."""
        if configured:
            if not self.verify(configured):
                self._save(configured)
            return None
        try:
            self.store.get_value(HASH_KEY)  # type: ignore[attr-defined]
            return None
        except NotFound:
            generated = secrets.token_urlsafe(12)
            self._save(generated)
            return generated

    def verify(self, candidate: str) -> bool:
        try:
            stored = self.store.get_value(HASH_KEY)  # type: ignore[attr-defined]
        except NotFound:
            return False
        return bool(candidate) and check_password_hash(stored, candidate)

    def change(self, new_code: str) -> None:
        if len(new_code) < MIN_LENGTH:
            raise ValueError(f"the access code needs at least {MIN_LENGTH} characters")
        self._save(new_code)

    def _save(self, code: str) -> None:
        self.store.set_value(HASH_KEY, generate_password_hash(code))  # type: ignore[attr-defined]

