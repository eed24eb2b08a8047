"""Bars for every instrument that ticks: 1-minute bars from ticks, the higher intervals from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from backend.engine.bars import ONE_MINUTE, BarAggregator, BarBuilder, DailyAggregator, merge_bars, minute_of
from backend.engine.constants import Interval
from backend.engine.objects import BarData, TickData, epoch_ms

if TYPE_CHECKING:
    from model.protocols import BarStore

HIGHER = (Interval.MINUTE_5, Interval.MINUTE_15, Interval.MINUTE_30, Interval.HOUR)


class _Instrument:
    def __init__(self, grace: float) -> None:
        self.builder = BarBuilder(grace=grace)
        self.aggregators = [BarAggregator(interval, grace=grace) for interval in HIGHER]
        self.daily = DailyAggregator()
        self.trading_day: date | None = None
        self.first_minute: datetime | None = None  # the first 1-minute bar the room finished, and its day
        self.first_day: date | None = None

    def due(self) -> datetime | None:
        """The earliest moment close_due has something of this instrument to finish."""
        dues = [bar.due for bar in (self.builder, *self.aggregators) if bar.due is not None]
        return min(dues) if dues else None


class BarRoom:
    """Owns the bar builders; hands every finished bar (any interval) to `on_bars`.

    The timer's close_due runs twice a second over every instrument that ever ticked (thousands on
    a full market) though bars fall due about once a minute: the room keeps the earliest due moment
    of all (`_next_due`, lowered whenever a bar starts forming) and skips the scan until it comes.

    close_due is also the room's clock for `on_minute`: it is told the start of each clock minute
    once that minute (plus the grace) is over, after that minute's bars, once per minute that ends
    while the room is watched (the first call only sets the mark). What hangs on a minute's end
    without a bar of its own (the intraday shared series) hangs there, on the same clock as the bars.
    """

    def __init__(self, on_bars: Callable[[list[BarData]], None], grace: float = 1.5,
                 on_minute: Callable[[datetime], None] | None = None) -> None:  # fmt: skip
        self._on_bars = on_bars
        self._grace = grace
        self._instruments: dict[str, _Instrument] = {}
        self._next_due: datetime | None = None  # no instrument has anything due before this
        self._on_minute = on_minute
        self._minute: datetime | None = None  # the last minute whose end was told (or the mark)

    def update_tick(self, tick: TickData) -> None:
        instrument = self._instruments.get(tick.local_symbol)
        if instrument is None:
            instrument = self._instruments[tick.local_symbol] = _Instrument(self._grace)
        builder = instrument.builder
        finished = builder.update_tick(tick)  # formed by earlier ticks: the earlier trading day
        if finished:
            self._finish(instrument, finished)
        instrument.trading_day = tick.trading_day
        due = builder.due
        if due is not None and (self._next_due is None or due < self._next_due):
            self._next_due = due

    def close_due(self, now: datetime, force: bool = False) -> None:
        """Publish bars whose time is over even if no tick followed (force: everything forming, and
        no minute's end: a shutdown is not one); then tell on_minute of a minute that is over."""
        if force or (self._next_due is not None and now >= self._next_due):
            self._close(now, force)
        if self._on_minute is not None and not force:
            self._tell_minute(now)

    def _tell_minute(self, now: datetime) -> None:
        ended = minute_of(now - timedelta(seconds=self._grace) - ONE_MINUTE)  # the last minute over, grace included
        if self._minute is None:
            self._minute = ended  # it ended before the room watched: only the mark
        elif ended > self._minute and self._on_minute is not None:
            self._minute = ended
            self._on_minute(ended)

    def _close(self, now: datetime, force: bool) -> None:
        moment = now + timedelta(days=1) if force else now
        next_due = None
        for instrument in self._instruments.values():
            self._finish(instrument, instrument.builder.close_due(moment))
            finished = [bar for aggregator in instrument.aggregators for bar in aggregator.close_due(moment)]
            if force:
                finished.extend(instrument.daily.close_day())
            if finished:
                self._on_bars(finished)
            due = instrument.due()
            if due is not None and (next_due is None or due < next_due):
                next_due = due
        self._next_due = next_due

    def current(self, local_symbol: str) -> BarData | None:
        instrument = self._instruments.get(local_symbol)
        return instrument.builder.current() if instrument else None

    def began_before_record(self, bar: BarData) -> bool:
        """Whether `bar`'s period (5m..1d) began before the first minute the room recorded of its instrument:
        the bar holds only the minutes from there on, the earlier ones may be stored (save_over_stored)."""
        instrument = self._instruments.get(bar.local_symbol)
        if instrument is None or instrument.first_minute is None or bar.interval is Interval.MINUTE:
            return False
        if bar.interval is Interval.DAILY:  # dated its trading day, whose night session came the evening before
            return bar.datetime.date() == instrument.first_day
        return bar.datetime < instrument.first_minute

    def _finish(self, instrument: _Instrument, minute_bars: list[BarData]) -> None:
        if not minute_bars:
            return
        if instrument.first_minute is None:
            instrument.first_minute, instrument.first_day = minute_bars[0].datetime, instrument.trading_day
        finished = list(minute_bars)
        for bar in minute_bars:
            for aggregator in instrument.aggregators:
                finished.extend(aggregator.update_bar(bar))
                due = aggregator.due
                if due is not None and (self._next_due is None or due < self._next_due):
                    self._next_due = due
            if instrument.trading_day is not None:
                finished.extend(instrument.daily.update_bar(bar, instrument.trading_day))
        self._on_bars(finished)


def aggregate_minutes(minute_bars: list[BarData], trading_day_of: Callable[[BarData], date]) -> list[BarData]:
    """The 5m..1h windows and the daily bars of finished 1-minute bars of one instrument (history, imports),
    by the aggregators the room uses live, every window flushed at the end. Oldest first in, any order out."""
    aggregators = [BarAggregator(interval) for interval in HIGHER]
    daily = DailyAggregator()
    finished: list[BarData] = []
    for bar in minute_bars:
        for aggregator in aggregators:
            finished.extend(aggregator.update_bar(bar))
        finished.extend(daily.update_bar(bar, trading_day_of(bar)))
    for aggregator in aggregators:
        finished.extend(aggregator.flush())
    finished.extend(daily.close_day())
    return finished


def save_over_stored(store: BarStore, bars: list[BarData], partial: list[BarData]) -> int:
    """Save finished bars; each of `partial` (BarRoom.began_before_record) first merged after the stored bar
    of its key, which holds the period's earlier minutes (the sim's history, an earlier run of the desk)."""
    merged = {id(bar): _after_stored(store, bar) for bar in partial}
    return store.save_bars([merged.get(id(bar), bar) for bar in bars])


def _after_stored(store: BarStore, bar: BarData) -> BarData:
    row = store.load_bar(bar.local_symbol, bar.interval, epoch_ms(bar.datetime))
    if row is None:
        return bar
    stored = replace(bar, open_price=row.open, high_price=row.high, low_price=row.low, close_price=row.close,
                     volume=row.volume, turnover=row.turnover, open_interest=row.open_interest)  # fmt: skip
    return merge_bars(stored, bar)
