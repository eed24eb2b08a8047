"""Turning DepthMarketData into clean TickData (CTP.md §5).

* unset prices arrive as DBL_MAX: they become 0;
* UpdateMillisec is an int: 5 ms is 0.005 s, never 0.5 s;
* the calendar date comes from the trading day and the clock, not ActionDay (DCE puts the trading
  day there at night; CZCE's TradingDay is the calendar day): night ticks at or after 18:00 belong
  to the business day before the trading day, ticks before 06:00 to the day after that;
* ticks with an empty UpdateTime, of unknown instruments, or older than the last accepted one of
  the instrument are dropped; ExchangeID, often empty, comes from the instrument table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from backend.engine.objects import SHANGHAI, ContractData, TickData

UNSET = 1e300  # anything above is CTP's DBL_MAX "no value"
NIGHT_START = time(18, 0)
MORNING_END = time(6, 0)


def price(value: float) -> float:
    return 0.0 if value is None or value > UNSET or value != value else float(value)


def previous_business_day(day: date) -> date:
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def parse_day(text: str) -> date | None:
    text = (text or "").strip()
    if len(text) != 8 or not text.isdigit():
        return None
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def calendar_date(trading_day: date, clock: time) -> date:
    """The calendar date of a tick stamped `clock` that belongs to `trading_day`."""
    if clock >= NIGHT_START:
        return previous_business_day(trading_day)
    if clock < MORNING_END:
        return previous_business_day(trading_day) + timedelta(days=1)
    return trading_day


def parse_clock(update_time: str, millis: int) -> time | None:
    parts = (update_time or "").strip().split(":")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return None
    hours, minutes, seconds = (int(part) for part in parts)
    if not (0 <= hours < 24 and 0 <= minutes < 60 and 0 <= seconds < 60):
        return None
    return time(hours, minutes, seconds, max(0, min(int(millis or 0), 999)) * 1000)


# DepthMarketData fields in TickData's positional order (after last_price and volume).
_PRICES = ("Turnover", "OpenInterest", "OpenPrice", "HighestPrice", "LowestPrice", "PreClosePrice",
           "PreSettlementPrice", "UpperLimitPrice", "LowerLimitPrice", "AveragePrice",
           "BidPrice1", "BidPrice2", "BidPrice3", "BidPrice4", "BidPrice5",
           "AskPrice1", "AskPrice2", "AskPrice3", "AskPrice4", "AskPrice5")  # fmt: skip
_VOLUMES = ("BidVolume1", "BidVolume2", "BidVolume3", "BidVolume4", "BidVolume5",
            "AskVolume1", "AskVolume2", "AskVolume3", "AskVolume4", "AskVolume5")  # fmt: skip
_SECONDS_CACHE = 4096


@dataclass
class TickCleaner:
    """Stateful per gateway: remembers the last accepted tick time of each instrument.

    `clean` reads a DepthMarketData struct (or a dict of its fields) directly: it runs for every
    tick on the callback thread, so it avoids intermediate copies and parses each second once.
    """

    contracts: dict[str, ContractData] = field(default_factory=dict)  # by symbol
    trading_day: date | None = None  # the session's trading day, from login
    last_seen: dict[str, datetime] = field(default_factory=dict)
    dropped: int = 0
    _seconds: dict[tuple[date, str], datetime | None] = field(default_factory=dict, repr=False)

    def clean(self, data: Any) -> TickData | None:
        get = (lambda name: data.get(name, 0)) if isinstance(data, dict) else data.__getattribute__
        tick = self._convert(get)
        if tick is None:
            self.dropped += 1
            return None
        last = self.last_seen.get(tick.symbol)
        if last is not None and tick.datetime < last:
            self.dropped += 1
            return None
        self.last_seen[tick.symbol] = tick.datetime
        return tick

    def _second(self, trading_day: date, update_time: str) -> datetime | None:
        """The aware datetime of a tick's whole second (memoised: ticks share their seconds)."""
        key = (trading_day, update_time)
        if key in self._seconds:
            return self._seconds[key]
        clock = parse_clock(update_time, 0)
        moment = datetime.combine(calendar_date(trading_day, clock), clock, SHANGHAI) if clock else None
        if len(self._seconds) >= _SECONDS_CACHE:
            self._seconds.clear()
        self._seconds[key] = moment
        return moment

    def _convert(self, get: Any) -> TickData | None:
        symbol = get("InstrumentID")
        contract = self.contracts.get(symbol)
        if contract is None:
            return None
        trading_day = self.trading_day or parse_day(get("TradingDay"))
        if trading_day is None:
            return None
        second = self._second(trading_day, get("UpdateTime") or "")
        if second is None:
            return None
        millis = get("UpdateMillisec") or 0
        moment = second.replace(microsecond=max(0, min(int(millis), 999)) * 1000) if millis else second
        last = get("LastPrice")
        # Positional, in TickData's field order: this runs for every tick.
        return TickData(
            symbol, contract.exchange, moment, trading_day, contract.name, last if last < UNSET else 0.0,
            get("Volume"), *[value if value < UNSET else 0.0 for value in map(get, _PRICES)], *map(get, _VOLUMES),
        )  # fmt: skip
