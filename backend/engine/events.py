"""Events the gateway hands the engine (past tense: things that happened), and topic names.

The gateway publishes plain immutable objects through the bridge: the `XxxData` objects of
objects.py plus the few event types below that carry more than one object or no object at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.engine.constants import ConnectionState
from backend.engine.objects import ContractData, PositionData

# Topics of the engine's publications (what listeners subscribe to).
TICK = "tick"
BAR = "bar"
ORDER = "order"
ACTIVE_ORDER = "active_order"
TRADE = "trade"
POSITION = "position"
ACCOUNT = "account"
CONTRACT = "contract"
LOG = "log"
STATUS = "status"
STRATEGY = "strategy"
SHARED = "shared"
CANCEL_REJECTED = "cancel_rejected"
TRADING_DAY = "trading_day"
RISK = "risk"  # a refusal, a warning before a line, the kill switch: {kind, rule, message, ...}


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    """The trader ("td") or market-data ("md") session moved to a new state."""

    api: str  # "td" | "md"
    state: ConnectionState
    reason: int = 0  # OnFrontDisconnected reason
    error_id: int = 0  # the counter's ErrorID when a step failed
    error_msg: str = ""
    trading_day: str = ""  # YYYYMMDD once logged in
    front_id: int = 0
    session_id: int = 0


@dataclass(frozen=True, slots=True)
class ContractsLoaded:
    """A complete instrument query."""

    contracts: tuple[ContractData, ...]


@dataclass(frozen=True, slots=True)
class OpenInterestLoaded:
    """The counter's open interest of every listed instrument (a depth-market-data query): what picks each
    product's main contract before any of it is subscribed. Pairs of (local_symbol, open interest)."""

    open_interest: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class PositionsSnapshot:
    """A complete position query: a position absent from it is now zero."""

    positions: tuple[PositionData, ...]


@dataclass(frozen=True, slots=True)
class CancelRejected:
    order_id: str
    error_id: int
    error_msg: str


@dataclass(frozen=True, slots=True)
class QueryFailed:
    query: str
    error_id: int
    error_msg: str


@dataclass(frozen=True, slots=True)
class TradingDayChanged:
    """The account moved to a later trading day (previous is "" on the very first login)."""

    previous: str
    current: str
