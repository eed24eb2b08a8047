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


class BarRoom:
    """Owns the bar builders; hands every finished bar (any interval) to `on_bars`."""

    def __init__(self, on_bars: Callable[[list[BarData]], None], grace: float = 1.5) -> None:
        self._on_bars = on_bars
        self._grace = grace
        self._instruments: dict[str, _Instrument] = {}

    def update_tick(self, tick: TickData) -> None:
        instrument = self._instruments.get(tick.local_symbol)
        if instrument is None:
            instrument = self._instruments[tick.local_symbol] = _Instrument(self._grace)
        finished = instrument.builder.update_tick(tick)  # formed by earlier ticks: the earlier trading day
        self._finish(instrument, finished)
        instrument.trading_day = tick.trading_day

    def close_due(self, now: datetime, force: bool = False) -> None:
        """Publish bars whose time is over even if no tick followed (force: everything forming)."""
        moment = now + timedelta(days=1) if force else now
        for instrument in self._instruments.values():
            self._finish(instrument, instrument.builder.close_due(moment))
            finished = [bar for aggregator in instrument.aggregators for bar in aggregator.close_due(moment)]
            if force:
                finished.extend(instrument.daily.close_day())
            if finished:
                self._on_bars(finished)

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
            if instrument.trading_day is not None:
                finished.extend(instrument.daily.update_bar(bar, instrument.trading_day))
        self._on_bars(finished)
