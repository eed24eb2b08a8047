"""Bar building (backend/engine/bars.py): the rules of CTP.md §6, case by case, then as properties."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.engine.bars import BarAggregator, BarBuilder, DailyAggregator, bars_from_ticks, minute_of
from backend.engine.constants import Exchange, Interval
from backend.engine.objects import SHANGHAI, BarData, TickData

D1 = date(2025, 1, 2)  # Thursday
D2 = date(2025, 1, 3)  # Friday: its night session opens on Thursday evening
D3 = date(2025, 1, 6)  # Monday: its night session opens on Friday evening


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def make_tick(
    when: str,
    price: float = 100.0,
    volume: int = 0,
    *,
    day: date = D2,
    turnover: float = 0.0,
    high: float = 0.0,
    low: float = 0.0,
    interest: float = 0.0,
) -> TickData:
    return TickData(
        symbol="rb2601",
        exchange=Exchange.SHFE,
        datetime=at(when),
        trading_day=day,
        last_price=price,
        volume=volume,
        turnover=turnover,
        open_interest=interest,
        high_price=high,
        low_price=low,
    )


def make_bar(when: str, close: float = 100.0, volume: int = 1, *, high: float = 0.0, low: float = 0.0) -> BarData:
    return BarData(
        "rb2601", Exchange.SHFE, Interval.MINUTE, at(when), close, high or close, low or close, close, volume,
        turnover=volume * 10.0, open_interest=volume,
    )  # fmt: skip


# --- 1-minute bars: where one bar ends and the next begins ---------------------------------------------
@pytest.mark.parametrize(
    ("times", "starts"),
    [
        pytest.param(["2025-01-03 09:00:00", "2025-01-03 09:00:59.999"], ["2025-01-03 09:00"], id="same-minute"),
        pytest.param(
            ["2025-01-03 09:00:59.5", "2025-01-03 09:01:00"], ["2025-01-03 09:00", "2025-01-03 09:01"], id="minute"
        ),
        pytest.param(
            ["2025-01-02 23:00:00", "2025-01-03 09:00:00"],
            ["2025-01-02 23:00", "2025-01-03 09:00"],
            id="night-close-vs-day-open",
        ),
        pytest.param(
            ["2025-01-03 09:05:10", "2025-01-03 10:05:20"], ["2025-01-03 09:05", "2025-01-03 10:05"], id="hour"
        ),
        pytest.param(
            ["2025-01-02 09:30:10", "2025-01-03 09:30:20"],
            ["2025-01-02 09:30", "2025-01-03 09:30"],
            id="same-minute-24h-apart",
        ),
        pytest.param(
            ["2025-01-02 23:59:59.5", "2025-01-03 00:00:00"],
            ["2025-01-02 23:59", "2025-01-03 00:00"],
            id="midnight",
        ),
    ],
)
def test_a_bar_is_labelled_by_its_opening_minute_and_never_spans_two(times: list[str], starts: list[str]) -> None:
    bars = bars_from_ticks(make_tick(when) for when in times)
    assert [bar.datetime for bar in bars] == [at(start) for start in starts]
    assert all(bar.datetime.tzinfo is not None and bar.interval is Interval.MINUTE for bar in bars)


def test_the_day_open_finishes_the_night_close_bar() -> None:
    builder = BarBuilder()
    assert builder.update_tick(make_tick("2025-01-02 23:00:00", 101.0)) == []
    finished = builder.update_tick(make_tick("2025-01-03 09:00:00", 99.0))
    assert [(bar.datetime, bar.close_price) for bar in finished] == [(at("2025-01-02 23:00"), 101.0)]
    current = builder.current()
    assert current is not None and (current.datetime, current.open_price) == (at("2025-01-03 09:00"), 99.0)


# --- volume and turnover ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ticks", "volumes"),
    [
        pytest.param(
            [("2025-01-03 09:00:00", D2, 1000), ("2025-01-03 09:00:01", D2, 1005), ("2025-01-03 09:01:00", D2, 1012)],
            [5, 7],
            id="first-tick-ever-is-only-the-baseline",
        ),
        pytest.param(
            [("2025-01-02 14:59:59", D1, 500), ("2025-01-02 21:00:00", D2, 30), ("2025-01-02 21:00:01", D2, 35)],
            [0, 35],
            id="first-tick-of-new-trading-day-keeps-its-own-volume",
        ),
        pytest.param(
            [("2025-01-03 09:00:00", D2, 100), ("2025-01-03 09:00:01", D2, 90), ("2025-01-03 09:00:02", D2, 110)],
            [10],
            id="dip-clamped-and-recovery-not-counted-twice",
        ),
        pytest.param(
            [
                ("2025-01-03 09:00:00", D2, 100),
                ("2025-01-03 09:00:30", D2, 105),
                ("2025-01-03 09:01:00", D2, 95),
                ("2025-01-03 09:02:00", D2, 108),
            ],
            [5, 0, 3],
            id="negative-difference-gives-an-empty-bar-not-a-negative-one",
        ),
    ],
)
def test_bar_volume_is_the_growth_of_the_cumulative_volume(
    ticks: list[tuple[str, date, int]], volumes: list[int]
) -> None:
    bars = bars_from_ticks(
        make_tick(when, volume=volume, day=day, turnover=volume * 10.0) for when, day, volume in ticks
    )
    assert [bar.volume for bar in bars] == volumes
    assert [bar.turnover for bar in bars] == [volume * 10.0 for volume in volumes]


def test_open_interest_is_the_last_ticks() -> None:
    bars = bars_from_ticks(
        [make_tick("2025-01-03 09:00:00", interest=7.0), make_tick("2025-01-03 09:00:05", interest=9.0)]
    )
    assert [bar.open_interest for bar in bars] == [9.0]


# --- ticks that are dropped -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "late",
    [
        pytest.param(make_tick("2025-01-03 09:01:04", 90.0, 120), id="earlier-second-same-minute"),
        pytest.param(make_tick("2025-01-03 09:00:50", 90.0, 120), id="earlier-minute"),
        pytest.param(make_tick("2025-01-03 09:01:06", 90.0, 120, day=D1), id="earlier-trading-day"),
        pytest.param(make_tick("2025-01-03 09:01:06", 0.0, 120), id="no-price"),
    ],
)
def test_a_dropped_tick_neither_closes_the_bar_nor_counts(late: TickData) -> None:
    builder = BarBuilder()
    builder.update_tick(make_tick("2025-01-03 09:00:10", 100.0, 100))
    builder.update_tick(make_tick("2025-01-03 09:01:05", 101.0, 110))
    before = builder.current()
    assert builder.update_tick(late) == []
    assert builder.current() == before
    builder.update_tick(make_tick("2025-01-03 09:01:10", 102.0, 115))
    current = builder.current()
    assert current is not None
    assert (current.datetime, current.volume, current.low_price) == (at("2025-01-03 09:01"), 15, 101.0)


# --- day high / low moved between snapshots ----------------------------------------------------------
@pytest.mark.parametrize(
    ("ticks", "high_low"),
    [
        pytest.param(
            [("2025-01-03 09:00:00", D2, 100, 100, 100), ("2025-01-03 09:00:01", D2, 101, 105, 100)],
            [(105, 100)],
            id="new-day-high-folded",
        ),
        pytest.param(
            [("2025-01-03 09:00:00", D2, 100, 100, 100), ("2025-01-03 09:00:01", D2, 99, 100, 95)],
            [(100, 95)],
            id="new-day-low-folded",
        ),
        pytest.param([("2025-01-03 09:00:00", D2, 100, 110, 90)], [(100, 100)], id="first-ticks-day-range-not-folded"),
        pytest.param(
            [("2025-01-03 09:00:00", D2, 100, 110, 90), ("2025-01-03 09:00:01", D2, 101, 110, 90)],
            [(101, 100)],
            id="unchanged-day-range-not-folded",
        ),
        pytest.param(
            [("2025-01-03 09:00:59", D2, 100, 100, 100), ("2025-01-03 09:01:00", D2, 101, 104, 100)],
            [(100, 100), (104, 101)],
            id="folded-into-the-bar-of-the-tick-that-saw-it",
        ),
        pytest.param(
            [("2025-01-02 14:59:59", D1, 100, 100, 100), ("2025-01-02 21:00:00", D2, 102, 108, 97)],
            [(100, 100), (102, 102)],
            id="new-trading-days-first-range-not-folded",
        ),
        pytest.param(
            [("2025-01-03 09:00:00", D2, 100, 100, 100), ("2025-01-03 09:00:01", D2, 100, 100, 0)],
            [(100, 100)],
            id="unset-low-ignored",
        ),
    ],
)
def test_day_range_moving_between_snapshots_is_folded_into_the_bar(
    ticks: list[tuple[str, date, float, float, float]], high_low: list[tuple[float, float]]
) -> None:
    bars = bars_from_ticks(make_tick(when, price, day=day, high=high, low=low) for when, day, price, high, low in ticks)
    assert [(bar.high_price, bar.low_price) for bar in bars] == high_low


# --- timer close ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("grace", "now", "closes"),
    [
        pytest.param(1.5, "2025-01-02 22:59:59.9", False, id="minute-not-over"),
        pytest.param(1.5, "2025-01-02 23:00:01.4", False, id="within-grace"),
        pytest.param(1.5, "2025-01-02 23:00:01.5", True, id="grace-over"),
        pytest.param(0.0, "2025-01-02 23:00:00", True, id="no-grace"),
    ],
)
def test_timer_closes_the_bar_after_its_minute_plus_grace(grace: float, now: str, closes: bool) -> None:
    builder = BarBuilder(grace=grace)
    builder.update_tick(make_tick("2025-01-02 22:59:30", volume=100))
    closed = builder.close_due(at(now))
    assert [bar.datetime for bar in closed] == ([at("2025-01-02 22:59")] if closes else [])
    assert (builder.current() is None) is closes


def test_a_late_tick_after_a_timer_close_is_dropped_and_counted_by_the_next() -> None:
    builder = BarBuilder()
    builder.update_tick(make_tick("2025-01-02 22:59:30", 100.0, 100))
    builder.update_tick(make_tick("2025-01-02 22:59:40", 101.0, 105))
    (closed,) = builder.close_due(at("2025-01-02 23:00:02"))
    assert (closed.datetime, closed.volume, closed.close_price) == (at("2025-01-02 22:59"), 5, 101.0)
    assert builder.update_tick(make_tick("2025-01-02 22:59:59", 90.0, 107)) == []
    assert builder.current() is None
    assert builder.close_due(at("2025-01-02 23:05")) == []
    assert builder.update_tick(make_tick("2025-01-02 23:00:00.5", 102.0, 110)) == []
    current = builder.current()
    assert current is not None and (current.datetime, current.volume, current.low_price) == (
        at("2025-01-02 23:00"), 5, 102.0,
    )  # fmt: skip


def test_current_is_the_forming_bar() -> None:
    builder = BarBuilder()
    assert builder.current() is None
    builder.update_tick(make_tick("2025-01-03 09:00:01", 100.0))
    builder.update_tick(make_tick("2025-01-03 09:00:02", 103.0))
    builder.update_tick(make_tick("2025-01-03 09:00:03", 98.0))
    current = builder.current()
    assert current is not None
    assert (current.open_price, current.high_price, current.low_price, current.close_price) == (100, 103, 98, 98)


# --- higher intervals -------------------------------------------------------------------------------------
def feed(aggregator: BarAggregator, times: list[str]) -> list[BarData]:
    bars = [bar for when in times for bar in aggregator.update_bar(make_bar(when))]
    return bars + aggregator.flush()


@pytest.mark.parametrize(
    ("interval", "times", "starts"),
    [
        pytest.param(
            Interval.MINUTE_5,
            [f"2025-01-03 09:0{minute}" for minute in range(10)],
            ["2025-01-03 09:00", "2025-01-03 09:05"],
            id="5m",
        ),
        pytest.param(Interval.MINUTE_5, ["2025-01-03 09:03"], ["2025-01-03 09:00"], id="5m-late-first-bar"),
        pytest.param(
            Interval.MINUTE_15,
            ["2025-01-03 09:07", "2025-01-03 09:14", "2025-01-03 09:15", "2025-01-03 09:29"],
            ["2025-01-03 09:00", "2025-01-03 09:15"],
            id="15m",
        ),
        pytest.param(
            Interval.MINUTE_30,
            ["2025-01-03 10:14", "2025-01-03 10:30", "2025-01-03 10:59"],
            ["2025-01-03 10:00", "2025-01-03 10:30"],
            id="30m-across-the-morning-break",
        ),
        pytest.param(
            Interval.HOUR,
            [
                "2025-01-02 21:00",
                "2025-01-02 21:59",
                "2025-01-02 22:00",
                "2025-01-02 22:30",
                "2025-01-02 23:59",
                "2025-01-03 00:00",
                "2025-01-03 00:59",
            ],
            ["2025-01-02 21:00", "2025-01-02 22:00", "2025-01-02 23:00", "2025-01-03 00:00"],
            id="1h-at-night-past-midnight",
        ),
        pytest.param(
            Interval.HOUR,
            ["2025-01-02 22:58", "2025-01-03 09:00"],
            ["2025-01-02 22:00", "2025-01-03 09:00"],
            id="1h-night-close-vs-day-open",
        ),
    ],
)
def test_windows_align_to_the_clock(interval: Interval, times: list[str], starts: list[str]) -> None:
    bars = feed(BarAggregator(interval), times)
    assert [bar.datetime for bar in bars] == [at(start) for start in starts]
    assert all(bar.interval is interval for bar in bars)


@pytest.mark.parametrize(
    ("interval", "times", "closing", "closed"),
    [
        pytest.param(
            Interval.MINUTE_5, ["2025-01-03 09:00", "2025-01-03 09:02"], "2025-01-03 09:07", "2025-01-03 09:00",
            id="5m-gap",
        ),
        pytest.param(
            Interval.HOUR, ["2025-01-02 22:10", "2025-01-02 22:58"], "2025-01-03 09:00", "2025-01-02 22:00",
            id="1h-night-to-day",
        ),
    ],
)  # fmt: skip
def test_a_bar_beyond_the_window_finishes_it_first(
    interval: Interval, times: list[str], closing: str, closed: str
) -> None:
    aggregator = BarAggregator(interval)
    assert [bar for when in times for bar in aggregator.update_bar(make_bar(when))] == []
    finished = aggregator.update_bar(make_bar(closing))
    assert [(bar.datetime, bar.volume) for bar in finished] == [(at(closed), len(times))]


def test_the_windows_last_minute_finishes_it_at_once() -> None:
    aggregator = BarAggregator(Interval.MINUTE_5)
    aggregator.update_bar(make_bar("2025-01-03 09:00"))
    assert [bar.datetime for bar in aggregator.update_bar(make_bar("2025-01-03 09:04"))] == [at("2025-01-03 09:00")]
    assert aggregator.current() is None


@pytest.mark.parametrize(
    ("now", "closes"),
    [("2025-01-03 10:14:59", False), ("2025-01-03 10:15:01.4", False), ("2025-01-03 10:15:01.5", True)],
)
def test_timer_closes_a_window_whose_last_minutes_had_no_bar(now: str, closes: bool) -> None:
    aggregator = BarAggregator(Interval.MINUTE_15)
    aggregator.update_bar(make_bar("2025-01-03 10:10"))
    aggregator.update_bar(make_bar("2025-01-03 10:11"))
    assert [bar.datetime for bar in aggregator.close_due(at(now))] == ([at("2025-01-03 10:00")] if closes else [])


def test_a_late_bar_after_a_timer_close_is_dropped() -> None:
    aggregator = BarAggregator(Interval.MINUTE_15)
    aggregator.update_bar(make_bar("2025-01-03 10:10"))
    assert len(aggregator.close_due(at("2025-01-03 10:16"))) == 1
    assert aggregator.update_bar(make_bar("2025-01-03 10:14")) == []
    assert aggregator.current() is None
    assert aggregator.flush() == []


def test_a_window_sums_its_minutes() -> None:
    aggregator = BarAggregator(Interval.MINUTE_5)
    aggregator.update_bar(make_bar("2025-01-03 09:00", 100.0, 2, high=104.0, low=99.0))
    aggregator.update_bar(make_bar("2025-01-03 09:01", 102.0, 3, high=103.0, low=97.0))
    (bar,) = aggregator.update_bar(make_bar("2025-01-03 09:04", 101.0, 4, high=105.0, low=100.0))
    assert (bar.open_price, bar.high_price, bar.low_price, bar.close_price) == (100.0, 105.0, 97.0, 101.0)
    assert (bar.volume, bar.turnover, bar.open_interest) == (9, 90.0, 4)


@pytest.mark.parametrize("interval", [Interval.MINUTE, Interval.DAILY])
def test_an_aggregator_needs_a_higher_intraday_interval(interval: Interval) -> None:
    with pytest.raises(ValueError, match="cannot aggregate"):
        BarAggregator(interval)


def test_aggregators_take_only_minute_bars() -> None:
    five = next(iter(feed(BarAggregator(Interval.MINUTE_5), ["2025-01-03 09:00"])))
    with pytest.raises(ValueError, match="expected a 1-minute bar"):
        BarAggregator(Interval.HOUR).update_bar(five)
    with pytest.raises(ValueError, match="expected a 1-minute bar"):
        DailyAggregator().update_bar(five, D2)


# --- daily bars -----------------------------------------------------------------------------------------
def test_a_daily_bar_holds_its_trading_day_night_session_included() -> None:
    daily = DailyAggregator()
    minutes = [("2025-01-02 21:00", D2, 1), ("2025-01-02 22:59", D2, 2), ("2025-01-03 09:00", D2, 3),
               ("2025-01-03 14:59", D2, 4)]  # fmt: skip
    assert [bar for when, day, volume in minutes for bar in daily.update_bar(make_bar(when, volume=volume), day)] == []
    (friday,) = daily.update_bar(make_bar("2025-01-03 21:00", volume=5), D3)
    assert (friday.interval, friday.datetime, friday.volume) == (Interval.DAILY, at("2025-01-03 00:00"), 10)
    assert friday.datetime.tzinfo is SHANGHAI
    (monday,) = daily.close_day()
    assert (monday.datetime, monday.volume) == (at("2025-01-06 00:00"), 5)


def test_close_day_publishes_once_and_drops_late_bars_of_that_day() -> None:
    daily = DailyAggregator()
    daily.update_bar(make_bar("2025-01-03 14:58"), D2)
    assert len(daily.close_day()) == 1
    assert daily.update_bar(make_bar("2025-01-03 14:59"), D2) == []
    assert daily.close_day() == []
    assert daily.current() is None
    daily.update_bar(make_bar("2025-01-03 21:00"), D3)
    current = daily.current()
    assert current is not None and current.datetime == at("2025-01-06 00:00")


# --- properties -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Move:
    step_ms: int  # negative now and then: an out-of-order tick
    volume: int  # change of the cumulative volume, negative now and then
    price: int  # change of the last price, in ticks
    beyond: int  # how far the day's range moved beyond the last price between snapshots


moves = st.lists(
    st.builds(
        Move,
        st.one_of(st.integers(0, 40_000), st.integers(0, 40_000), st.integers(-30_000, 0)),
        st.one_of(st.integers(0, 30), st.integers(-10, 0)),
        st.integers(-5, 5),
        st.one_of(st.just(0), st.integers(1, 3)),
    ),
    min_size=1,
    max_size=40,
)


def session(start: str, day: date, first_volume: int, steps: list[Move]) -> list[TickData]:
    when, volume, price = at(start), first_volume, 3500.0
    high = low = price
    ticks = []
    for move in steps:
        when += timedelta(milliseconds=move.step_ms)
        volume = max(0, volume + move.volume)
        price = max(1.0, price + move.price)
        high, low = max(high, price + move.beyond), min(low, price - move.beyond)
        ticks.append(TickData("rb2601", Exchange.SHFE, when, day, last_price=price, volume=volume,
                              turnover=volume * 35_000.0, high_price=high, low_price=low))  # fmt: skip
    return ticks


tick_streams = st.builds(
    lambda day, night, first: (
        session("2025-01-02 14:55:00", D1, first, day) + session("2025-01-02 21:00:00", D2, 0, night)
    ),
    moves,
    moves,
    st.integers(0, 10_000),
)


def accepted(ticks: list[TickData]) -> list[TickData]:
    """The ticks the builder keeps when it is not closed by a timer: those not older than the last kept."""
    kept: list[TickData] = []
    for tick in ticks:
        if not kept or tick.datetime >= kept[-1].datetime:
            kept.append(tick)
    return kept


def expected_volume(ticks: list[TickData]) -> int:
    """Per trading day, the growth of the cumulative volume; the very first tick ever is only a baseline."""
    total, days = 0, sorted({tick.trading_day for tick in ticks})
    for number, day in enumerate(days):
        volumes = [tick.volume for tick in ticks if tick.trading_day == day]
        total += max(volumes) - (volumes[0] if number == 0 else 0)
    return total


@settings(deadline=None)
@given(tick_streams)
def test_property_bar_volumes_add_up_to_the_growth_of_the_cumulative_volume(ticks: list[TickData]) -> None:
    bars = bars_from_ticks(ticks)
    expected = expected_volume(accepted(ticks))
    assert sum(bar.volume for bar in bars) == expected
    assert sum(bar.turnover for bar in bars) == pytest.approx(expected * 35_000.0)
    assert all(bar.volume >= 0 for bar in bars)


@settings(deadline=None)
@given(tick_streams)
def test_property_every_tick_price_lies_within_its_bar(ticks: list[TickData]) -> None:
    bars = {bar.datetime: bar for bar in bars_from_ticks(ticks)}
    for tick in accepted(ticks):
        bar = bars[minute_of(tick.datetime)]
        assert bar.low_price <= tick.last_price <= bar.high_price
        assert bar.low_price <= min(bar.open_price, bar.close_price) <= max(bar.open_price, bar.close_price)


@settings(deadline=None)
@given(tick_streams, st.lists(st.integers(0, 90_000), min_size=1, max_size=40))
def test_property_bar_keys_strictly_increase_even_with_timer_closes(ticks: list[TickData], lags: list[int]) -> None:
    builder = BarBuilder()
    bars: list[BarData] = []
    for number, tick in enumerate(ticks):
        bars.extend(builder.update_tick(tick))
        bars.extend(builder.close_due(tick.datetime + timedelta(milliseconds=lags[number % len(lags)])))
    bars.extend(builder.flush())
    keys = [bar.datetime for bar in bars]
    assert all(earlier < later for earlier, later in zip(keys, keys[1:], strict=False))


@settings(deadline=None)
@given(tick_streams, st.sampled_from([Interval.MINUTE_5, Interval.MINUTE_15, Interval.MINUTE_30, Interval.HOUR]))
def test_property_a_window_is_the_sum_of_its_minutes(ticks: list[TickData], interval: Interval) -> None:
    minutes = bars_from_ticks(ticks)
    aggregator = BarAggregator(interval)
    windows = [bar for minute in minutes for bar in aggregator.update_bar(minute)] + aggregator.flush()
    keys = [bar.datetime for bar in windows]
    assert all(earlier < later for earlier, later in zip(keys, keys[1:], strict=False))
    span = timedelta(minutes={Interval.MINUTE_5: 5, Interval.MINUTE_15: 15, Interval.MINUTE_30: 30}.get(interval, 60))
    for window in windows:
        inside = [bar for bar in minutes if window.datetime <= bar.datetime < window.datetime + span]
        assert window.volume == sum(bar.volume for bar in inside)
        assert window.high_price == max(bar.high_price for bar in inside)
        assert window.low_price == min(bar.low_price for bar in inside)
        assert (window.open_price, window.close_price) == (inside[0].open_price, inside[-1].close_price)
    assert sum(bar.volume for bar in windows) == sum(bar.volume for bar in minutes)
