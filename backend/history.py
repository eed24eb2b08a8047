"""Bar history for /bar and for strategies' warm-up: the store's bars, filled once from the sim's past.

A real counter serves no history: there the store's own recorded bars (and bars imported from a CSV,
backend/bars_import.py) are all there is. On the embedded sim, the first time an instrument's bars
are asked for, its past (backend/sim/history.py: 1-minute bars of the last 20 trading days, night
sessions included) is generated to end where the store's record begins: at the first recorded
1-minute bar and its open, or, with nothing recorded yet, now and at the current price. The higher
intervals are aggregated by the engine's own aggregators (chart.aggregate_minutes). A mark in the
store (`bars.history.<local_symbol>`) makes it once per instrument, across restarts too.

Only what ends before the record begins is written, so no recorded bar is replaced (bars are keyed
by (local_symbol, interval, start) and saving upserts): windows that would reach past the end are
left to the engine, which makes them from the ticks; the daily bar of the trading day the record
starts in likewise. The partial daily bar of today written here is not lost when the engine finishes
its own: the engine merges a bar begun before its record after the stored one (chart.save_over_stored).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import gevent
from gevent.lock import BoundedSemaphore

from backend.engine.chart import aggregate_minutes
from backend.engine.constants import INTERVAL_MINUTES, Exchange, Interval
from backend.engine.objects import SHANGHAI, BarData
from backend.sim.calendar import trading_day_for
from backend.sim.history import HISTORY_DAYS, MinuteBar, exchange_history
from backend.sim.registry import parse_address, registry
from lib.trading_calendar import calendar_date
from model.store import NotFound

if TYPE_CHECKING:
    from backend.engine.engine import MainEngine
    from backend.sim.exchange import SimExchange
    from model import Store

log = logging.getLogger(__name__)
MARK = "bars.history."


class BarHistory:
    """Loads bars from the store, filling an instrument's sim past first (once) when logged in to the sim."""

    def __init__(self, engine: MainEngine, store: Store, days: int = HISTORY_DAYS) -> None:
        self.engine = engine
        self.store = store
        self.days = days
        self._done: set[str] = set()
        self._locks: dict[str, BoundedSemaphore] = {}

    def load(self, local_symbol: str, interval: Interval | str, start_ms: int | None, end_ms: int | None,
             limit: int) -> list[list[Any]]:  # fmt: skip
        """Rows [ts_ms, open, high, low, close, volume] as Store.load_bars, history filled first (greenlet side)."""
        self.ensure(local_symbol)
        arguments = (local_symbol, interval, start_ms, end_ms, limit)
        return gevent.get_hub().threadpool.apply(self.store.load_bars, arguments)

    def ensure(self, local_symbol: str) -> int:
        """Fill the sim past of one instrument unless done; return how many bars were written (0: none)."""
        if local_symbol in self._done:
            return 0
        exchange = self._sim()
        if exchange is None:
            return 0  # a real counter (or none): the record is the history
        lock = self._locks.setdefault(local_symbol, BoundedSemaphore())
        with lock:  # two charts opening at once make it once
            if local_symbol in self._done:
                return 0
            try:
                written = gevent.get_hub().threadpool.apply(self.fill, (exchange, local_symbol))
            except Exception:  # the store failing, say: serve what is stored, try again next time
                log.exception("%s: making the sim's history failed", local_symbol)
                return 0
            self._done.add(local_symbol)
            return written

    def _sim(self) -> SimExchange | None:
        login = self.engine.login
        name = parse_address(login.td_address) if login is not None and self.engine.gateway is not None else None
        return registry.running(name) if name is not None else None

    def fill(self, exchange: SimExchange, local_symbol: str) -> int:
        """Generate and store the past (blocking: run it off the event loop). Idempotent through the mark."""
        mark = MARK + local_symbol
        try:
            self.store.get_value(mark)
            return 0
        except NotFound:
            pass
        symbol, _, exchange_name = local_symbol.rpartition(".")
        if symbol not in exchange.specs or exchange.specs[symbol].exchange != exchange_name:
            return 0  # not an instrument of this sim: nothing to make up
        first = self._first_recorded(local_symbol)
        end, price = first if first is not None else (as_ticks_date(exchange.now()), None)
        minutes = exchange_history(exchange, symbol, end, self.days, end_price=price)
        bars = to_bars(symbol, Exchange(exchange_name), minutes, end)
        if first is not None:  # the daily bar of the day the record starts in is the engine's
            bars = [bar for bar in bars if bar.interval is not Interval.DAILY or bar.datetime.date() != _day(end)]
        else:  # the engine may have saved a bar since the record was read: it stays as recorded
            recent = self._recent(local_symbol, end)
            bars = [bar for bar in bars if (bar.interval.value, _ms(bar.datetime)) not in recent]
        written = self.store.save_bars(bars)
        self.store.set_value(mark, end.isoformat())
        log.info("%s: %d bars of sim history stored", local_symbol, written)
        return written

    def _recent(self, local_symbol: str, end: datetime) -> set[tuple[str, int]]:
        """(interval, start) of the bars stored from shortly before `end` on (a race with the engine's writer)."""
        since = _ms(end - timedelta(days=4))  # a daily bar is dated its trading day, days after a Friday night
        return {(interval.value, row[0]) for interval in Interval
                for row in self.store.load_bars(local_symbol, interval, since, None, 10_000)}  # fmt: skip

    def _first_recorded(self, local_symbol: str) -> tuple[datetime, float] | None:
        """The start and open of the earliest stored 1-minute bar, None when there is none."""
        count = self.store.bar_count(local_symbol, Interval.MINUTE)
        if count == 0:
            return None
        first = self.store.load_bars(local_symbol, Interval.MINUTE, None, None, count)[0]
        return datetime.fromtimestamp(first[0] / 1000, SHANGHAI), float(first[1])


def as_ticks_date(moment: datetime) -> datetime:
    """`moment` as the desk's ticks are dated (CTP's rule, lib.trading_calendar.calendar_date: the clock on
    the calendar day its trading day puts it), so the history ends where the ticks' bars begin. On a
    business day that is the moment itself; on a weekend the sim's ticks carry another day (Saturday
    19:00 is Friday 19:00 of Monday's trading day), and a history ending at the real Saturday would
    put Friday night's bars after the live ones (issue 17, item 4)."""
    local = moment.astimezone(SHANGHAI)
    day = calendar_date(trading_day_for(local), local.time().replace(tzinfo=None))
    return datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=SHANGHAI)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _day(moment: datetime) -> date:
    return trading_day_for(moment)


def to_bars(symbol: str, exchange: Exchange, minutes: list[MinuteBar], end: datetime) -> list[BarData]:
    """The sim's minutes (before `end`) as the desk's 1-minute bars plus every higher interval (5m..1d);
    intraday windows reaching past `end` are left out: the engine makes them from the ticks."""
    days = {minute.start: minute.trading_day for minute in minutes}
    bars = [BarData(symbol, exchange, Interval.MINUTE, m.start, m.open, m.high, m.low, m.close, m.volume,
                    m.turnover, m.open_interest) for m in minutes]  # fmt: skip
    higher = aggregate_minutes(bars, lambda bar: days[bar.datetime])
    higher = [bar for bar in higher if bar.interval is Interval.DAILY
                  or bar.datetime + timedelta(minutes=INTERVAL_MINUTES[bar.interval]) <= end]  # fmt: skip
    return bars + higher
