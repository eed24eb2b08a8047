"""What the views work with: one object per app, built by the factory (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app

if TYPE_CHECKING:
    from auth.access import AccessCode
    from auth.tokens import Tokens
    from backend.engine.engine import MainEngine
    from lib.config import Settings


@dataclass
class Desk:
    settings: Settings
    store: Any
    engine: MainEngine
    access: AccessCode
    tokens: Tokens
    runtime: dict[str, Any]  # the /config values in force
    push: Any = None
    strategies: Any = None  # the strategy manager
    saved_login: Any = None  # auth.saved_login.SavedLogin
    auto_login: Any = None  # the greenlet logging back in after a restart
    login_password: str = ""


def desk() -> Desk:
    return current_app.extensions["ctpdesk"]
