"""Trading-calendar rules: trading day of a moment, sessions across midnight and weekends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.sim.calendar import (
    SHANGHAI,
    in_session,
    is_business_day,
    is_night,
    last_session_end_before,
    next_business_day,
    now_shanghai,
    previous_business_day,
    session_bounds,
    trading_day_for,
)
from backend.sim.instruments import InstrumentSpec, builtin_instruments

# The week used throughout: Thursday 2025-11-20 .. Tuesday 2025-11-25.
THU, FRI, SAT, SUN, MON, TUE = (date(2025, 11, day) for day in (20, 21, 22, 23, 24, 25))


def at(day: date, hhmm: str, second: int = 0) -> datetime:
    hour, minute = (int(part) for part in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=SHANGHAI)


@cache
def spec(product: str) -> InstrumentSpec:
    return next(s for s in builtin_instruments(MON) if s.product == product)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at(THU, "17:59", 59), THU),
        (at(THU, "18:00"), FRI),
        (at(FRI, "10:00"), FRI),
        (at(FRI, "17:59"), FRI),
        (at(FRI, "18:00"), MON),
        (at(FRI, "21:00"), MON),
        (at(SAT, "01:30"), MON),  # the after-midnight tail of Friday's night session
        (at(SAT, "10:00"), MON),
        (at(SAT, "21:00"), MON),
        (at(SUN, "21:00"), MON),
        (at(MON, "01:00"), MON),
        (at(MON, "09:00"), MON),
        (at(TUE, "01:00"), TUE),  # the tail of Monday's night session
        (datetime(2025, 11, 21, 13, 0, tzinfo=UTC), MON),  # Friday 21:00 in Shanghai
        (datetime(2025, 11, 21, 9, 59, tzinfo=UTC), FRI),  # Friday 17:59 in Shanghai
    ],
)
def test_trading_day_for(moment: datetime, expected: date) -> None:
    assert trading_day_for(moment) == expected


@pytest.mark.parametrize(
    ("day", "business", "following", "preceding"),
    [
        (THU, True, FRI, date(2025, 11, 19)),
        (FRI, True, MON, THU),
        (SAT, False, MON, FRI),
        (SUN, False, MON, FRI),
        (MON, True, TUE, FRI),
    ],
)
def test_business_days(day: date, business: bool, following: date, preceding: date) -> None:
    assert is_business_day(day) is business
    assert next_business_day(day) == following
    assert previous_business_day(day) == preceding


@pytest.mark.parametrize(
    ("moment", "night"),
    [
        (at(MON, "17:59"), False),
        (at(MON, "18:00"), True),
        (at(TUE, "05:59"), True),
        (at(TUE, "06:00"), False),
    ],
)
def test_is_night(moment: datetime, night: bool) -> None:
    assert is_night(moment) is night


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        trading_day_for(datetime(2025, 11, 24, 9, 0))


def test_now_shanghai_is_aware() -> None:
    assert now_shanghai().utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("product", "moment", "inside"),
    [
        # day-only product (DCE eggs)
        ("jd", at(MON, "08:59", 59), False),
        ("jd", at(MON, "09:00"), True),
        ("jd", at(MON, "10:14", 59), True),
        ("jd", at(MON, "10:15"), False),
        ("jd", at(MON, "10:30"), True),
        ("jd", at(MON, "11:30"), False),
        ("jd", at(MON, "13:30"), True),
        ("jd", at(MON, "14:59", 59), True),
        ("jd", at(MON, "15:00"), False),
        ("jd", at(FRI, "21:30"), False),
        ("jd", at(SAT, "10:00"), False),
        # night to 23:00 (rebar)
        ("rb", at(FRI, "22:59", 59), True),
        ("rb", at(FRI, "23:00"), False),
        ("rb", at(SAT, "00:30"), False),
        # night to 01:00 (copper)
        ("cu", at(FRI, "20:59", 59), False),
        ("cu", at(FRI, "21:00"), True),
        ("cu", at(FRI, "23:30"), True),
        ("cu", at(SAT, "00:59", 59), True),
        ("cu", at(SAT, "01:00"), False),
        ("cu", at(SAT, "21:30"), False),
        ("cu", at(SUN, "21:30"), False),
        ("cu", at(MON, "00:30"), False),  # Sunday night does not trade
        ("cu", at(MON, "09:00"), True),
        ("cu", at(MON, "21:30"), True),
        ("cu", at(TUE, "00:30"), True),  # Monday's night session
        # night to 02:30 (gold)
        ("au", at(FRI, "21:00"), True),
        ("au", at(SAT, "02:29", 59), True),
        ("au", at(SAT, "02:30"), False),
        ("au", at(SAT, "21:30"), False),
        ("au", at(SUN, "01:00"), False),  # Saturday night does not trade
        ("au", at(MON, "02:00"), False),
        ("au", at(TUE, "02:00"), True),
        # CFFEX index and treasury futures
        ("IF", at(MON, "09:29", 59), False),
        ("IF", at(MON, "09:30"), True),
        ("IF", at(MON, "11:30"), False),
        ("IF", at(MON, "13:00"), True),
        ("IF", at(MON, "15:00"), False),
        ("IF", at(MON, "21:30"), False),
        ("T", at(MON, "15:14", 59), True),
        ("T", at(MON, "15:15"), False),
    ],
)
def test_in_session(product: str, moment: datetime, inside: bool) -> None:
    assert in_session(spec(product), moment) is inside


def test_in_session_accepts_other_time_zones() -> None:
    assert in_session(spec("cu"), datetime(2025, 11, 21, 16, 30, tzinfo=UTC))  # Sat 00:30 Shanghai


def test_session_bounds_put_the_night_on_the_previous_business_evening() -> None:
    assert session_bounds(spec("cu"), MON) == [
        (at(FRI, "21:00"), at(SAT, "01:00")),
        (at(MON, "09:00"), at(MON, "10:15")),
        (at(MON, "10:30"), at(MON, "11:30")),
        (at(MON, "13:30"), at(MON, "15:00")),
    ]
    assert session_bounds(spec("au"), TUE)[0] == (at(MON, "21:00"), at(TUE, "02:30"))
    assert session_bounds(spec("rb"), TUE)[0] == (at(MON, "21:00"), at(MON, "23:00"))
    assert session_bounds(spec("IF"), TUE) == [
        (at(TUE, "09:30"), at(TUE, "11:30")),
        (at(TUE, "13:00"), at(TUE, "15:00")),
    ]


@pytest.mark.parametrize(
    ("product", "moment", "end"),
    [
        ("cu", at(SAT, "10:00"), at(SAT, "01:00")),
        ("cu", at(MON, "08:00"), at(SAT, "01:00")),
        ("cu", at(MON, "10:15"), at(MON, "10:15")),
        ("cu", at(MON, "10:20"), at(MON, "10:15")),
        ("cu", at(MON, "16:00"), at(MON, "15:00")),
        ("jd", at(SAT, "10:00"), at(FRI, "15:00")),
        ("jd", at(MON, "08:59"), at(FRI, "15:00")),
        ("jd", at(MON, "21:30"), at(MON, "15:00")),
        ("au", at(TUE, "03:00"), at(TUE, "02:30")),
        ("IF", at(MON, "20:00"), at(MON, "15:00")),
    ],
)
def test_last_session_end_before(product: str, moment: datetime, end: datetime) -> None:
    assert last_session_end_before(spec(product), moment) == end


# --- properties --------------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 12, 31),
    timezones=st.sampled_from([SHANGHAI, UTC]),
)


@given(moments)
def test_trading_day_is_a_business_day_not_before_the_calendar_date(moment: datetime) -> None:
    day = trading_day_for(moment)
    assert is_business_day(day)
    assert day >= moment.astimezone(SHANGHAI).date()
    assert day - moment.astimezone(SHANGHAI).date() <= timedelta(days=3)


@given(moments, moments)
def test_trading_day_is_monotonic(first: datetime, second: datetime) -> None:
    early, late = sorted((first, second))
    assert trading_day_for(early) <= trading_day_for(late)


@given(moments, st.sampled_from(["jd", "rb", "cu", "au", "IF", "T"]))
def test_last_session_end_is_a_session_end_at_or_before(moment: datetime, product: str) -> None:
    instrument = spec(product)
    end = last_session_end_before(instrument, moment)
    assert end <= moment
    assert in_session(instrument, end - timedelta(microseconds=1))
    assert not in_session(instrument, end)
    assert not any(end < stop <= moment for _, stop in session_bounds(instrument, trading_day_for(moment)))
