"""Trading-calendar rules of China's futures exchanges, in exchange time (Asia/Shanghai).

Why this exists: a night session belongs to the *next* trading day (Friday night is Monday's
trading day), and sessions that pass midnight put part of one trading day on another calendar day.
Every part of the sim that stamps ticks, rolls the trading day or refuses orders out of hours must
agree on these rules, so they live here; the business days and the night boundary under them are
lib.trading_calendar's, which the desk's gateway dates a front's ticks by too.

Simplification: only weekends are non-business days. There is no holiday table (the exchanges
publish one each December); a sim day that would be a public holiday trades like any weekday, and
the night session before a holiday runs.

Session intervals are half-open ``[start, end)``: 10:15:00 is not in the 09:00–10:15 session,
10:14:59.999 is; 09:00:00 is. A session written with ``end <= start`` passes midnight, e.g.
``("21:00", "02:30")``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from lib.trading_calendar import (
    NIGHT_END,
    NIGHT_START,
    calendar_date,
    is_business_day,
    next_business_day,
    previous_business_day,
)

if TYPE_CHECKING:
    from backend.sim.instruments import InstrumentSpec

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now_shanghai() -> datetime:
    """The current moment on the exchanges' clock (aware)."""
    return datetime.now(SHANGHAI)


def _local(moment: datetime) -> datetime:
    """`moment` on the exchange clock; naive datetimes are refused because their zone is a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime")
    return moment.astimezone(SHANGHAI)


def trading_day_for(moment: datetime) -> date:
    """The trading day `moment` belongs to.

    From 18:00 on it is the next business day (a night session opens the next trading day: Friday
    21:00 -> Monday). Before 18:00 it is the calendar day if that is a business day, else the next
    one; so Saturday 01:30 (the tail of Friday's night) and Saturday 10:00 both map to Monday, and
    Tuesday 01:00 (the tail of Monday's night) maps to Tuesday.
    """
    local = _local(moment)
    day = local.date()
    if local.time() >= NIGHT_START or not is_business_day(day):
        return next_business_day(day)
    return day


def is_night(moment: datetime) -> bool:
    """True on the exchange clock at or after 18:00 or before 06:00 (the night-session window)."""
    clock = _local(moment).time()
    return clock >= NIGHT_START or clock < NIGHT_END


def _parse(hhmm: str) -> time:
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=SHANGHAI)


def _interval(start: str, end: str, trading_day: date) -> tuple[datetime, datetime]:
    """One session of `trading_day` as concrete datetimes.

    Night sessions (starting at or after 18:00) run on the evening of the previous business day
    and may pass midnight; a session starting before 06:00 is the after-midnight tail of that
    evening; anything else is a day session on the trading day itself (calendar_date's rule).
    """
    begin, finish = _parse(start), _parse(end)
    start_day = calendar_date(trading_day, begin)
    end_day = start_day + timedelta(days=1) if finish <= begin else start_day
    return _at(start_day, begin), _at(end_day, finish)


def session_bounds(spec: InstrumentSpec, trading_day: date) -> list[tuple[datetime, datetime]]:
    """The session intervals ``[start, end)`` of one trading day, in time order (night first).

    The night session sits on the previous business day's evening (Friday for a Monday).
    """
    return sorted(_interval(start, end, trading_day) for start, end in spec.sessions)


def in_session(spec: InstrumentSpec, moment: datetime) -> bool:
    """True if `moment` lies in one of the instrument's sessions (half-open ``[start, end)``).

    Night sessions run only on the evenings of business days (Friday night runs and belongs to
    Monday; its after-midnight part falls on Saturday morning); Saturday and Sunday nights and
    weekend days never trade.
    """
    day = trading_day_for(moment)
    return any(start <= moment < end for start, end in session_bounds(spec, day))


def last_session_end_before(spec: InstrumentSpec, moment: datetime) -> datetime:
    """The end of the most recent session that ended at or before `moment`.

    Used to stamp the last tick pushed when a client connects outside trading hours.
    """
    if not spec.sessions:
        raise ValueError(f"{spec.symbol} has no trading sessions")
    day = trading_day_for(moment)
    for _ in range(3):  # the answer is in this trading day or the one before it
        ends = [end for _, end in session_bounds(spec, day) if end <= moment]
        if ends:
            return max(ends)
        day = previous_business_day(day)
    raise AssertionError("unreachable: every trading day has sessions")
