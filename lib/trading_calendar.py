"""Business days and the night boundary of China's futures exchanges: which calendar day a clock
time of a trading day falls on.

Why here, outside the sim and the desk's gateway: both date things by the same rules. The sim
stamps its ticks and rolls its trading day by them; the gateway dates a front's ticks by them
(CTP.md §5: a tick carries only its trading day and a clock time). Two copies would drift apart,
so the rules live here once and both import them.

Simplification: only weekends are non-business days. There is no holiday table (the exchanges
publish one each December), so the night before a public holiday is dated as any other.
"""

from __future__ import annotations

from datetime import date, time, timedelta

# From this clock time on, the exchanges are already in the next trading day.
NIGHT_START = time(18, 0)
# Before this clock time, the moment still belongs to the night that began the evening before.
NIGHT_END = time(6, 0)


def is_business_day(day: date) -> bool:
    """Monday to Friday (no holiday table, see the module docstring)."""
    return day.weekday() < 5


def next_business_day(day: date) -> date:
    """The first business day strictly after `day`."""
    day += timedelta(days=1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def previous_business_day(day: date) -> date:
    """The last business day strictly before `day`."""
    day -= timedelta(days=1)
    while not is_business_day(day):
        day -= timedelta(days=1)
    return day


def calendar_date(trading_day: date, clock: time) -> date:
    """The calendar date of the clock time `clock` that belongs to `trading_day`.

    A night session runs on the evening of the business day before its trading day (Friday
    evening for Monday): from NIGHT_START on, that evening's date; before NIGHT_END, the morning
    after that evening (Saturday for Monday's trading day); anything else is the day itself.
    """
    if clock >= NIGHT_START:
        return previous_business_day(trading_day)
    if clock < NIGHT_END:
        return previous_business_day(trading_day) + timedelta(days=1)
    return trading_day
