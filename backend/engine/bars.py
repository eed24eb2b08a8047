"""Bars from ticks, and the higher intervals from 1-minute bars (CTP.md §6).

Pure arithmetic: no I/O, no threads, no clock. Time comes in as arguments (the ticks' own times, and
`now` for timer closes), so every rule can be tested by feeding data; the engine owns the timer.
Finished bars are immutable and each is returned exactly once: a bar, or a window, that has been
published is never reopened by late data (the store keys bars by (local_symbol, interval, start)).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from backend.engine.constants import INTERVAL_MINUTES, Exchange, Interval
from backend.engine.objects import SHANGHAI, BarData, TickData

ONE_MINUTE = timedelta(minutes=1)
DEFAULT_GRACE = 1.5  # seconds after a bar's end before a timer close: the last tick may still be in flight


def minute_of(moment: datetime) -> datetime:
    """The opening minute that labels a bar: the whole datetime floored, so 23:00 and 09:00 never merge."""
    if moment.tzinfo is not SHANGHAI:  # ticks already carry exchange time: skip the conversion
        moment = moment.astimezone(SHANGHAI)
    return moment.replace(second=0, microsecond=0)


def window_of(moment: datetime, span: timedelta) -> datetime:
    """The start of the clock-aligned window holding `moment` (5m: :00, :05...; 1h: :00)."""
    local = moment.astimezone(SHANGHAI)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + ((local - midnight) // span) * span


def merge_bars(bar: BarData, later: BarData) -> BarData:
    """One bar of `bar`'s key over both bars' disjoint minutes: `bar` the earlier, `later` the later ones."""
    return replace(
        bar,
        high_price=max(bar.high_price, later.high_price),
        low_price=min(bar.low_price, later.low_price),
        close_price=later.close_price,
        volume=bar.volume + later.volume,
        turnover=bar.turnover + later.turnover,
        open_interest=later.open_interest,
    )


# What one tick adds to its bar beyond its own price: (volume, turnover, high, low), high / low being
# a new day high / low reached between two snapshots, else None. A plain tuple: one per tick.
_Step = tuple[int, float, float | None, float | None]
_NO_STEP: _Step = (0, 0.0, None, None)


@dataclass(slots=True)
class _DayCounters:
    """The trading day's cumulative counters as high-water marks: the baseline for differences.

    Marks rather than the previous tick's values: CZCE stamps whole seconds, so two ticks of one
    second may arrive swapped; a dip followed by a recovery must not count the same lots twice.
    """

    trading_day: date
    volume: int
    turnover: float
    high: float
    low: float

    @classmethod
    def start(cls, tick: TickData) -> _DayCounters:
        return cls(tick.trading_day, max(0, tick.volume), max(0.0, tick.turnover), tick.high_price, tick.low_price)

    def advance(self, tick: TickData) -> _Step:
        volume, turnover, high, low = tick.volume, tick.turnover, tick.high_price, tick.low_price
        step = (
            volume - self.volume if volume > self.volume else 0,
            turnover - self.turnover if turnover > self.turnover else 0.0,
            high if self.high > 0 and high > self.high else None,
            low if self.low > 0 and 0 < low < self.low else None,
        )
        if volume > self.volume:
            self.volume = volume
        if turnover > self.turnover:
            self.turnover = turnover
        if high > self.high:
            self.high = high
        if low > 0:
            self.low = min(self.low, low) if self.low > 0 else low
        return step


@dataclass(slots=True)
class _Forming:
    """The minute bar being built: mutated in place per tick (replacing a frozen bar per tick is costly)."""

    symbol: str
    exchange: Exchange
    start: datetime
    end: datetime  # start + 1 minute: ticks before it belong to this bar
    open: float
    high: float
    low: float
    close: float
    volume: int = 0
    turnover: float = 0.0
    open_interest: float = 0.0

    def freeze(self) -> BarData:
        return BarData(self.symbol, self.exchange, Interval.MINUTE, self.start, self.open, self.high, self.low,
                       self.close, self.volume, self.turnover, self.open_interest)  # fmt: skip


class BarBuilder:
    """1-minute bars of one instrument from its ticks.

    Baseline rule: the very first tick the builder sees has no predecessor (the engine may have
    started mid-day, when the cumulative volume holds the whole day so far), so it counts 0 lots and
    only sets the baseline. The first tick of a later trading day counts its whole cumulative volume
    (CTP restarts the counters each trading day). Ticks are dropped, changing nothing, when they are
    older than the last accepted one, belong to an earlier trading day, carry no price, or fall in a
    minute whose bar was already published; the lots of a dropped tick are counted by the next tick.
    """

    def __init__(self, grace: float = DEFAULT_GRACE) -> None:
        self._grace = timedelta(seconds=grace)
        self._bar: _Forming | None = None  # mutable while forming: frozen when published or read
        self._day: _DayCounters | None = None
        self._last_time: datetime | None = None
        self._published: datetime | None = None  # start of the last finished bar
        self._reopen: datetime | None = None  # end of the last finished bar: earlier ticks are dropped
        self.due: datetime | None = None  # when close_due finishes the forming bar (None: none forming)

    def update_tick(self, tick: TickData) -> list[BarData]:
        """Take a tick; return the bars it finished (0 or 1)."""
        moment = tick.datetime
        bar = self._bar
        if bar is not None and bar.start <= moment < bar.end:
            start = bar.start  # the common case, without flooring the time
        elif self._reopen is not None and moment < self._reopen:
            return []  # in (or before) a minute whose bar is published
        else:
            start = minute_of(moment)
        # Dropped, changing nothing: no price, older than the last accepted tick, of an earlier
        # trading day, or in a published minute (checked inline: every tick of the market comes here).
        if tick.last_price <= 0 or (self._last_time is not None and moment < self._last_time):
            return []
        day = self._day
        if (day is not None and tick.trading_day < day.trading_day) or (
            self._published is not None and start <= self._published
        ):
            return []
        step = day.advance(tick) if day is not None and tick.trading_day == day.trading_day else self._advance(tick)
        self._last_time = moment
        finished = [self._finish()] if bar is not None and bar.start != start else []
        self._add(tick, start, step)
        return finished

    def close_due(self, now: datetime) -> list[BarData]:
        """Finish the forming bar once its minute (plus the grace) is over, tick or no tick."""
        if self.due is not None and now >= self.due:
            return [self._finish()]
        return []

    def flush(self) -> list[BarData]:
        """Finish the forming bar whatever the time (end of a backfill, shutdown)."""
        return [self._finish()] if self._bar is not None else []

    def current(self) -> BarData | None:
        """The forming bar, for display."""
        return self._bar.freeze() if self._bar is not None else None

    def _advance(self, tick: TickData) -> _Step:
        if self._day is not None and tick.trading_day == self._day.trading_day:
            return self._day.advance(tick)
        first_ever = self._day is None
        self._day = _DayCounters.start(tick)
        return _NO_STEP if first_ever else (self._day.volume, self._day.turnover, None, None)

    def _add(self, tick: TickData, start: datetime, step: _Step) -> None:
        price = tick.last_price
        bar = self._bar
        if bar is None:
            end = start + ONE_MINUTE
            bar = self._bar = _Forming(tick.symbol, tick.exchange, start, end, price, price, price, price)
            self.due = end + self._grace
        volume, turnover, high, low = step
        high = high or price
        low = low or price
        if price > bar.high or high > bar.high:
            bar.high = max(price, high)
        if price < bar.low or low < bar.low:
            bar.low = min(price, low)
        bar.close = price
        bar.volume += volume
        bar.turnover += turnover
        bar.open_interest = tick.open_interest

    def _finish(self) -> BarData:
        forming, self._bar = self._bar, None
        assert forming is not None
        self._published, self._reopen, self.due = forming.start, forming.end, None
        return forming.freeze()


class BarAggregator:
    """5m, 15m, 30m or 1h bars from finished 1-minute bars, in windows aligned to the clock.

    A window is finished by its last minute's bar, by a bar beyond it (its last minutes had no
    trade), or by `close_due` once its end has passed (the session's last window).
    """

    def __init__(self, interval: Interval, grace: float = DEFAULT_GRACE) -> None:
        if interval is Interval.MINUTE or interval not in INTERVAL_MINUTES:
            raise ValueError(f"cannot aggregate 1-minute bars into {interval.value} windows")
        self.interval = interval
        self._span = timedelta(minutes=INTERVAL_MINUTES[interval])
        self._grace = timedelta(seconds=grace)
        self._bar: BarData | None = None
        self._last_minute: datetime | None = None
        self._published: datetime | None = None  # start of the last finished window
        self.due: datetime | None = None  # when close_due finishes the forming window (None: none forming)

    def update_bar(self, bar: BarData) -> list[BarData]:
        """Take a finished 1-minute bar; return the windows it finished (0, 1 or 2)."""
        _require_minute_bar(bar)
        start = window_of(bar.datetime, self._span)
        if self._last_minute is not None and bar.datetime <= self._last_minute:
            return []
        if self._published is not None and start <= self._published:
            return []
        self._last_minute = bar.datetime
        finished = [self._finish()] if self._bar is not None and self._bar.datetime != start else []
        if self._bar is None:
            self._bar = replace(bar, interval=self.interval, datetime=start)
            self.due = start + self._span + self._grace
        else:
            self._bar = merge_bars(self._bar, bar)
        if bar.datetime + ONE_MINUTE >= start + self._span:
            finished.append(self._finish())
        return finished

    def close_due(self, now: datetime) -> list[BarData]:
        """Finish the forming window once its end (plus the grace) has passed."""
        if self.due is not None and now >= self.due:
            return [self._finish()]
        return []

    def flush(self) -> list[BarData]:
        """Finish the forming window whatever the time."""
        return [self._finish()] if self._bar is not None else []

    def current(self) -> BarData | None:
        return self._bar

    def _finish(self) -> BarData:
        bar, self._bar = self._bar, None
        assert bar is not None
        self._published, self.due = bar.datetime, None
        return bar


class DailyAggregator:
    """Daily bars from 1-minute bars, grouped by trading day (the night session opens the next day).

    BarData carries no trading day, so the caller passes it with each bar. The daily bar is dated
    the trading day at 00:00 Asia/Shanghai.
    """

    def __init__(self) -> None:
        self._bar: BarData | None = None
        self._last_minute: datetime | None = None
        self._published: date | None = None  # the last finished trading day

    def update_bar(self, bar: BarData, trading_day: date) -> list[BarData]:
        """Take a finished 1-minute bar of `trading_day`; return the day it finished, if any."""
        _require_minute_bar(bar)
        start = datetime.combine(trading_day, time(0), tzinfo=SHANGHAI)
        if self._last_minute is not None and bar.datetime <= self._last_minute:
            return []
        if (self._published is not None and trading_day <= self._published) or (
            self._bar is not None and start < self._bar.datetime
        ):
            return []
        self._last_minute = bar.datetime
        finished = self.close_day() if self._bar is not None and self._bar.datetime != start else []
        self._bar = (
            replace(bar, interval=Interval.DAILY, datetime=start) if self._bar is None else merge_bars(self._bar, bar)
        )
        return finished

    def close_day(self) -> list[BarData]:
        """Finish the day's bar (after the day's close); later bars of that day are dropped."""
        bar, self._bar = self._bar, None
        if bar is None:
            return []
        self._published = bar.datetime.date()
        return [bar]

    def current(self) -> BarData | None:
        return self._bar


def _require_minute_bar(bar: BarData) -> None:
    if bar.interval is not Interval.MINUTE:
        raise ValueError(f"expected a 1-minute bar, got {bar.interval.value} for {bar.local_symbol}")


def bars_from_ticks(ticks: Iterable[TickData], grace: float = DEFAULT_GRACE) -> list[BarData]:
    """All 1-minute bars of a tick stream of one instrument, the last one included (tests, backfills)."""
    builder = BarBuilder(grace)
    bars = [bar for tick in ticks for bar in builder.update_tick(tick)]
    return bars + builder.flush()
