"""The active counter login, kept encrypted so a restarted server logs itself back in.

A quant's strategies must survive a crash or a reboot: after a restart the desk reconnects to the
counter with the last login and resumes the strategies that were running, without anyone at a
browser. The password is encrypted (Fernet) with a key derived from the data directory's secret,
so a copy of the database alone does not reveal it. Logout forgets it.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken

from backend.gateway.base import LoginSettings
from model import NotFound
from model.protocols import ValueStore

KEY = "saved_login"


class SavedLogin:
    def __init__(self, store: ValueStore, secret: str) -> None:
        self.store = store
        digest = hashlib.sha256(f"ctpdesk saved login {secret}".encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def save(self, settings: LoginSettings) -> None:
        payload = json.dumps(dataclasses.asdict(settings)).encode()
        self.store.set_value(KEY, self._fernet.encrypt(payload).decode())

    def load(self) -> LoginSettings | None:
        try:
            token = self.store.get_value(KEY)
        except NotFound:
            return None
        if not token:
            return None
        try:
            return LoginSettings(**json.loads(self._fernet.decrypt(token.encode())))
        except (InvalidToken, ValueError, TypeError):
            return None  # another secret (a new data directory) or damage: nothing to resume

    def clear(self) -> None:
        self.store.set_value(KEY, "")
