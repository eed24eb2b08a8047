"""lib/trading_calendar.py: the one copy of the business-day and night rules the sim and the gateway share."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from backend.gateway import ticks
from backend.sim import calendar as sim_calendar
from backend.sim.instruments import builtin_instruments
from lib import trading_calendar

WEEK = [date(2026, 11, 23) + timedelta(days=offset) for offset in range(7)]  # Monday to Sunday


def test_the_gateway_dates_ticks_by_the_shared_rule() -> None:
    assert ticks.calendar_date is trading_calendar.calendar_date


@pytest.mark.parametrize("name", ["is_business_day", "next_business_day", "previous_business_day", "calendar_date"])
def test_the_sim_calendar_uses_the_shared_rules(name: str) -> None:
    assert getattr(sim_calendar, name) is getattr(trading_calendar, name)


@pytest.mark.parametrize("trading_day", [day for day in WEEK if trading_calendar.is_business_day(day)])
def test_a_session_opens_on_the_date_the_gateway_gives_its_first_tick(trading_day: date) -> None:
    """The sim's session bounds and the gateway's tick dating agree for every session of every product."""
    specs = {spec.sessions: spec for spec in builtin_instruments(trading_day)}  # one instrument per set of hours
    for spec in specs.values():
        for start, _ in sim_calendar.session_bounds(spec, trading_day):
            assert start.date() == ticks.calendar_date(trading_day, start.time()), (spec.symbol, start)
