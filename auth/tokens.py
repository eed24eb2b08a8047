"""JWTs: issue, verify (JWT or Bearer header), revoke one or all.

The signing secret lives in the data directory (created on first start, mode 0600) so tokens
survive a restart and nobody configures a weak one by accident. Logout revokes every token issued
before it (a watermark in the store); single tokens can be revoked by their jti.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from pathlib import Path
from typing import Any

from flask_jwt_extended import create_access_token, decode_token

from model.protocols import TokenStore

SECRET_FILE = "jwt_secret"
HEADER_TYPES = ("jwt", "bearer")


class TokenError(Exception):
    """Missing, malformed, expired, tampered or revoked: the client must log in again."""


def load_secret(data_dir: Path) -> str:
    """The data directory's secret, made on first use; an existing file is tightened to 0600 (older ones were not)."""
    path = data_dir / SECRET_FILE
    if path.exists():
        with contextlib.suppress(PermissionError):  # another user's file: readable, so usable, but not ours to chmod
            path.chmod(0o600)
        return path.read_text(encoding="ascii").strip()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secret)
    return secret


class Tokens:
    def __init__(self, store: TokenStore) -> None:
        self.store = store

    def issue(self, userid: str) -> str:
        return create_access_token(identity=userid, additional_claims={"issued": time.time()})

    def verify(self, token: str) -> dict[str, Any]:
        if not token:
            raise TokenError("no token")
        try:
            claims = decode_token(token)
        except Exception as error:  # expired, bad signature, malformed: all the same to a client
            raise TokenError(str(error)) from None
        if self.revoked(claims):
            raise TokenError("revoked")
        return claims

    def revoked(self, claims: dict[str, Any]) -> bool:
        """Tell whether verified claims were revoked since: one by one, or by a logout after they were issued."""
        return float(claims.get("issued", 0)) < self.store.revoked_before() or self.store.is_revoked(claims["jti"])

    def revoke_all(self) -> None:
        self.store.revoke_all_before(time.time())

    def revoke(self, claims: dict[str, Any]) -> None:
        self.store.revoke_token(claims["jti"], float(claims.get("exp", time.time())))


def token_from_header(value: str | None) -> str:
    """The token of `Authorization: JWT <token>` or `Bearer <token>`; '' when absent or malformed."""
    if not value:
        return ""
    kind, _, token = value.strip().partition(" ")
    return token.strip() if kind.lower() in HEADER_TYPES and token.strip() else ""
