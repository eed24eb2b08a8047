"""Exchange time as a replay reads it: trading days, dates and each minute's ISO text, from epoch ms.

The loop over a million bars asks these at most once a trading day or a midnight, and builds a bar's
`datetime` from a date prefix and a per-minute suffix instead of formatting each one.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from backend.sim.calendar import trading_day_for
from lib.trading_calendar import NIGHT_START

SHANGHAI = timezone(timedelta(hours=8))
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def _suffixes() -> dict[int, str]:
    """The time part of an ISO start by ms since midnight, for each minute: on_bar's `datetime` without strftime."""
    return {minute * 60_000: f"T{minute // 60:02d}:{minute % 60:02d}:00+08:00" for minute in range(1440)}


MINUTE_SUFFIX = _suffixes()


def local_day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).date()


def trading_day_of(ms: int) -> tuple[str, int]:
    """(the trading day YYYYMMDD the sim dates `ms` by, the epoch ms of the next 18:00 exchange time).

    backend.sim.calendar.trading_day_for: from 18:00 (lib.trading_calendar.NIGHT_START) on the next business
    day. Its answer holds until the next 18:00, so the loop asks it once a day, not once a bar."""
    moment = datetime.fromtimestamp(ms / 1000, SHANGHAI)
    evening = datetime.combine(moment.date(), NIGHT_START, SHANGHAI)
    if moment >= evening:
        evening += timedelta(days=1)
    return trading_day_for(moment).strftime("%Y%m%d"), int(evening.timestamp() * 1000)

