"""JWTs: issue, verify (JWT or Bearer header), revoke one or all.

The signing secret lives in the data directory (created on first start, mode 0600) so tokens
survive a restart and nobody configures a weak one by accident. Logout revokes every token issued
before it (a watermark in the store); changing the access code does the same except for the token
of the one who changed it (kept by its jti next to the watermark it goes with); single tokens can
be revoked by their jti.

Claims are checked for their shape as well as their signature: a token signed with the right key
but carrying an `issued` that is no finite number, a missing or non-string `jti` or `sub`, or
another `type` than access is a bad token (401), never a 500 -- and a NaN `issued` would otherwise
compare as issued after every logout.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import time
from pathlib import Path
from typing import Any, Protocol

from flask_jwt_extended import create_access_token, decode_token

from model import NotFound
from model.protocols import TokenStore, ValueStore

SECRET_FILE = "jwt_secret"
HEADER_TYPES = ("jwt", "bearer")
KEPT_KEY = "token_kept"  # {"jti", "before"}: the token a revocation at watermark `before` spared


class TokensStore(TokenStore, ValueStore, Protocol):
    """Revoked tokens and the watermark, plus one small value: the token an access-code change kept."""


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
    def __init__(self, store: TokensStore) -> None:
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
        check_claims(claims)
        if self.revoked(claims):
            raise TokenError("revoked")
        return claims

    def revoked(self, claims: dict[str, Any]) -> bool:
        """Tell whether verified claims were revoked since: one by one, or by a revocation of all after they were
        issued (unless that revocation kept them). Claims of the wrong shape raise TokenError."""
        check_claims(claims)
        watermark = self.store.revoked_before()
        if claims["issued"] < watermark and not self._kept(claims["jti"], watermark):
            return True
        return self.store.is_revoked(claims["jti"])

    def revoke_all(self, keep: dict[str, Any] | None = None) -> None:
        """Revoke every token issued until now; all but `keep`'s (verified claims) when given.

        Logout keeps none. Changing the access code keeps the changer's token: the changer has just proved the
        account password with it, and the page that made the change goes on working; everyone else logs in again.
        """
        moment = time.time()
        kept = json.dumps({"jti": keep["jti"], "before": moment}) if keep is not None else ""
        self.store.set_value(KEPT_KEY, kept)  # first: a crash in between leaves a kept value no watermark matches
        self.store.revoke_all_before(moment)

    def _kept(self, jti: str, watermark: float) -> bool:
        try:
            kept = json.loads(self.store.get_value(KEPT_KEY))
        except (NotFound, ValueError):
            return False
        return isinstance(kept, dict) and kept.get("jti") == jti and kept.get("before") == watermark

    def revoke(self, claims: dict[str, Any]) -> None:
        self.store.revoke_token(claims["jti"], float(claims.get("exp", time.time())))


def check_claims(claims: dict[str, Any]) -> None:
    """Raise TokenError unless the claims have the shape ctpdesk issues: a signature says who made a token,
    not that its content is sane (a string or NaN `issued` once gave a 500, or escaped every revocation)."""
    for name in ("issued", "exp"):
        if not _finite_number(claims.get(name)):
            raise TokenError(f"{name}: not a number")
    for name in ("jti", "sub"):
        value = claims.get(name)
        if not isinstance(value, str) or not value:
            raise TokenError(f"{name}: not a string")
    if claims.get("type", "access") != "access":
        raise TokenError("not an access token")


def _finite_number(value: Any) -> bool:
    """A JSON number that is a float's worth: not a boolean, not NaN or infinite, not an integer of 400 digits."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def token_from_header(value: str | None) -> str:
    """The token of `Authorization: JWT <token>` or `Bearer <token>`; '' when absent or malformed."""
    if not value:
        return ""
    kind, _, token = value.strip().partition(" ")
    return token.strip() if kind.lower() in HEADER_TYPES and token.strip() else ""
