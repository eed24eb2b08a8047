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


@dataclass
class TickCleaner:
    """Stateful per gateway: remembers the last accepted tick time of each instrument."""

    contracts: dict[str, ContractData] = field(default_factory=dict)  # by symbol
    trading_day: date | None = None  # the session's trading day, from login
    last_seen: dict[str, datetime] = field(default_factory=dict)
    dropped: int = 0

    def clean(self, data: dict[str, Any]) -> TickData | None:
        tick = self._convert(data)
        if tick is None:
            self.dropped += 1
            return None
        last = self.last_seen.get(tick.symbol)
        if last is not None and tick.datetime < last:
            self.dropped += 1
            return None
        self.last_seen[tick.symbol] = tick.datetime
        return tick

    def _convert(self, data: dict[str, Any]) -> TickData | None:
        symbol = data.get("InstrumentID", "")
        contract = self.contracts.get(symbol)
        clock = parse_clock(data.get("UpdateTime", ""), data.get("UpdateMillisec", 0))
        if contract is None or clock is None:
            return None
        trading_day = self.trading_day or parse_day(data.get("TradingDay", ""))
        if trading_day is None:
            return None
        moment = datetime.combine(calendar_date(trading_day, clock), clock, SHANGHAI)
        values = {
            "last_price": price(data.get("LastPrice", 0.0)),
            "volume": int(data.get("Volume", 0)),
            "turnover": price(data.get("Turnover", 0.0)),
            "open_interest": price(data.get("OpenInterest", 0.0)),
            "open_price": price(data.get("OpenPrice", 0.0)),
            "high_price": price(data.get("HighestPrice", 0.0)),
            "low_price": price(data.get("LowestPrice", 0.0)),
            "pre_close": price(data.get("PreClosePrice", 0.0)),
            "pre_settlement_price": price(data.get("PreSettlementPrice", 0.0)),
            "limit_up": price(data.get("UpperLimitPrice", 0.0)),
            "limit_down": price(data.get("LowerLimitPrice", 0.0)),
            "average_price": price(data.get("AveragePrice", 0.0)),
        }
        for level in range(1, 6):
            values[f"bid_price_{level}"] = price(data.get(f"BidPrice{level}", 0.0))
            values[f"ask_price_{level}"] = price(data.get(f"AskPrice{level}", 0.0))
            values[f"bid_volume_{level}"] = int(data.get(f"BidVolume{level}", 0))
            values[f"ask_volume_{level}"] = int(data.get(f"AskVolume{level}", 0))
        return TickData(
            symbol=symbol,
            exchange=contract.exchange,
            datetime=moment,
            trading_day=trading_day,
            name=contract.name,
            **values,
        )
