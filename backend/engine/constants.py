"""The engine's vocabulary. Values are the lower-case English words of the wire format (API.md)."""

from __future__ import annotations

from enum import StrEnum


class Direction(StrEnum):
    LONG = "long"
    SHORT = "short"


class Offset(StrEnum):
    OPEN = "open"
    CLOSE = "close"
    CLOSETODAY = "closetoday"
    CLOSEYESTERDAY = "closeyesterday"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    FAK = "fak"
    FOK = "fok"


class Status(StrEnum):
    SUBMITTING = "submitting"
    NOTTRADED = "nottraded"
    PARTTRADED = "parttraded"
    ALLTRADED = "alltraded"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


# Progress of an order: a status update with a lower rank is stale and must be ignored
# (a RESTART replay or a late OnRtnOrder must never move an order backwards).
STATUS_RANK = {
    Status.SUBMITTING: 0,
    Status.NOTTRADED: 1,
    Status.PARTTRADED: 2,
    Status.ALLTRADED: 3,
    Status.CANCELLED: 3,
    Status.REJECTED: 3,
}
ACTIVE_STATUSES = frozenset({Status.SUBMITTING, Status.NOTTRADED, Status.PARTTRADED})


class Exchange(StrEnum):
    CFFEX = "CFFEX"
    SHFE = "SHFE"
    DCE = "DCE"
    CZCE = "CZCE"
    INE = "INE"
    GFEX = "GFEX"
    OTHER = "OTHER"  # counters such as TTS add exchanges: tolerate, never crash


class Product(StrEnum):
    FUTURES = "futures"
    OPTION = "option"
    COMBINATION = "combination"
    SPOT = "spot"
    OTHER = "other"


class Interval(StrEnum):
    MINUTE = "1m"
    MINUTE_5 = "5m"
    MINUTE_15 = "15m"
    MINUTE_30 = "30m"
    HOUR = "1h"
    DAILY = "1d"


INTERVAL_MINUTES = {
    Interval.MINUTE: 1,
    Interval.MINUTE_5: 5,
    Interval.MINUTE_15: 15,
    Interval.MINUTE_30: 30,
    Interval.HOUR: 60,
}


class ConnectionState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    AUTHENTICATED = "authenticated"
    LOGGED_IN = "logged_in"
    READY = "ready"
    FAILED = "failed"  # stopped retrying (bad credentials, client not authorised)


# Exchanges that keep today's and yesterday's lots apart (CloseToday needed for today's lots).
TODAY_YESTERDAY_EXCHANGES = frozenset({Exchange.SHFE, Exchange.INE})
# Exchanges that refuse plain market orders; CZCE refuses FOK.
NO_MARKET_ORDER_EXCHANGES = frozenset({Exchange.SHFE, Exchange.INE, Exchange.CFFEX})
NO_FOK_EXCHANGES = frozenset({Exchange.CZCE})
