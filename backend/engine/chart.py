"""Bars for every instrument that ticks: 1-minute bars from ticks, the higher intervals from them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from backend.engine.bars import BarAggregator, BarBuilder, DailyAggregator
from backend.engine.constants import Interval
from backend.engine.objects import BarData, TickData

HIGHER = (Interval.MINUTE_5, Interval.MINUTE_15, Interval.MINUTE_30, Interval.HOUR)


class _Instrument:
    def __init__(self, grace: float) -> None:
        self.builder = BarBuilder(grace=grace)
        self.aggregators = [BarAggregator(interval, grace=grace) for interval in HIGHER]
        self.daily = DailyAggregator()
        self.trading_day: date | None = None

    def due(self) -> datetime | None:
        """The earliest moment close_due has something of this instrument to finish."""
        dues = [bar.due for bar in (self.builder, *self.aggregators) if bar.due is not None]
        return min(dues) if dues else None


class BarRoom:
    """Owns the bar builders; hands every finished bar (any interval) to `on_bars`.

    The timer's close_due runs twice a second over every instrument that ever ticked (thousands on
    a full market) though bars fall due about once a minute: the room keeps the earliest due moment
    of all (`_next_due`, lowered whenever a bar starts forming) and skips the scan until it comes.
    """

    def __init__(self, on_bars: Callable[[list[BarData]], None], grace: float = 1.5) -> None:
        self._on_bars = on_bars
        self._grace = grace
        self._instruments: dict[str, _Instrument] = {}
        self._next_due: datetime | None = None  # no instrument has anything due before this

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
        """Publish bars whose time is over even if no tick followed (force: everything forming)."""
        if not force and (self._next_due is None or now < self._next_due):
            return
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

    def _finish(self, instrument: _Instrument, minute_bars: list[BarData]) -> None:
        if not minute_bars:
            return
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
