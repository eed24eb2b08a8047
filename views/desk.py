"""What the views work with: one object per app, built whole by the factory (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app

if TYPE_CHECKING:
    from auth.access import AccessCode
    from auth.tokens import Tokens
    from backend.engine.engine import MainEngine
    from backend.history import BarHistory
    from backend.lab.runs import RunRegistry
    from backend.session import CounterSession
    from backend.strategy_runtime.manager import StrategyManager
    from lib.config import Settings
    from model import Store
    from views.push import Push


@dataclass(frozen=True)
class Desk:
    settings: Settings
    store: Store
    engine: MainEngine
    access: AccessCode
    tokens: Tokens
    runtime: dict[str, Any]  # the /config values in force
    strategies: StrategyManager
    session: CounterSession  # the counter login: log in and out, logging back in after a restart
    push: Push
    history: BarHistory  # /bar and strategies' warm-up: the store's bars, the sim's past filled in
    lab: RunRegistry  # the lab's backtests and sweeps (issue 18)


def desk() -> Desk:
    return current_app.extensions["ctpdesk"]
