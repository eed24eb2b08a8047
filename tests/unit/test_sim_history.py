"""The sim's generated past (backend/sim/history.py) and the aggregation it shares with the engine."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from backend.engine.chart import aggregate_minutes
from backend.engine.constants import Exchange, Interval
from backend.engine.objects import SHANGHAI, BarData
from backend.sim.history import HISTORY_DAYS, day_minutes, generate, history_minutes
from lib.sessions import BOND_DAY, DAY, NIGHT_0230, sessions_for

SATURDAY = datetime(2026, 12, 5, 17, 0, tzinfo=SHANGHAI)
TUESDAY_10 = datetime(2026, 12, 8, 10, 0, 30, tzinfo=SHANGHAI)


def test_a_trading_day_has_its_night_on_the_business_day_before():
    monday = day_minutes(NIGHT_0230, date(2026, 12, 7))
    assert monday[0] == datetime(2026, 12, 4, 21, 0, tzinfo=SHANGHAI)  # Friday evening
    assert datetime(2026, 12, 5, 2, 29, tzinfo=SHANGHAI) in monday  # past midnight, Saturday morning
    assert len(monday) == 330 + 225 and len(day_minutes(DAY, date(2026, 12, 7))) == 225
    assert len(day_minutes(BOND_DAY, date(2026, 12, 7))) == 255


def test_the_history_covers_the_days_before_and_stops_at_the_end():
    minutes = history_minutes(DAY, TUESDAY_10)
    days = sorted({day for _, day in minutes})
    assert len(days) == HISTORY_DAYS + 1 and days[-1] == date(2026, 12, 8)
    assert minutes[-1][0] == datetime(2026, 12, 8, 9, 59, tzinfo=SHANGHAI)  # 10:00 is not finished at 10:00:30
    assert all(day.weekday() < 5 for day in days)
    assert [start for start, _ in minutes] == sorted(start for start, _ in minutes)


def test_the_walk_ends_at_the_price_and_is_reproducible_per_seed_and_symbol():
    bars = generate("ag2602", sessions_for("ag"), 1.0, 7500.0, SATURDAY, seed=7, size=15)
    assert bars[-1].close == 7500.0 and bars[-1].start == datetime(2026, 12, 5, 2, 29, tzinfo=SHANGHAI)
    assert bars == generate("ag2602", sessions_for("ag"), 1.0, 7500.0, SATURDAY, seed=7, size=15)
    assert bars != generate("ag2602", sessions_for("ag"), 1.0, 7500.0, SATURDAY, seed=8, size=15)
    assert bars != generate("ag2604", sessions_for("ag"), 1.0, 7500.0, SATURDAY, seed=7, size=15)
    assert all(a.close == b.open for a, b in zip(bars, bars[1:], strict=False))
    assert all(0 < bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high for bar in bars)
    assert all(bar.volume > 0 and bar.turnover > 0 and bar.open_interest >= 0 for bar in bars)
    closes = [bar.close for bar in bars]
    assert 0.5 < min(closes) / 7500 and max(closes) / 7500 < 2  # a plausible month, not a random explosion


def test_prices_stay_on_the_tick_and_positive():
    bars = generate("IO2612-C-4000", sessions_for("IO"), 0.2, 1.2, SATURDAY, seed=1)
    assert bars[-1].close == 1.2
    assert all(round(price / 0.2, 6) == round(price / 0.2) and price > 0
               for bar in bars for price in (bar.open, bar.high, bar.low, bar.close))  # fmt: skip
    with pytest.raises(ValueError):
        generate("x", (), 1.0, 10.0, SATURDAY, seed=1)


def test_aggregate_minutes_matches_the_room_s_windows():
    start = datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI)
    minutes = [BarData("rb2601", Exchange.SHFE, Interval.MINUTE, start + timedelta(minutes=i), 10 + i, 12 + i, 9 + i,
                       11 + i, 1) for i in range(70)]  # fmt: skip
    bars = aggregate_minutes(minutes, lambda bar: bar.datetime.date())
    by_interval = {interval: [bar for bar in bars if bar.interval is interval] for interval in Interval}
    assert len(by_interval[Interval.MINUTE_5]) == 14 and by_interval[Interval.MINUTE_5][0].volume == 5
    assert [bar.datetime.minute for bar in by_interval[Interval.HOUR]] == [0, 0]
    assert by_interval[Interval.HOUR][0].close_price == 11 + 59 and by_interval[Interval.HOUR][1].volume == 10
    (day,) = by_interval[Interval.DAILY]
    assert (day.open_price, day.high_price, day.low_price, day.close_price, day.volume) == (10, 81, 9, 80, 70)
