"""Turning DepthMarketData into clean TickData (CTP.md §5).

* unset prices arrive as DBL_MAX: they become 0;
* UpdateMillisec is an int: 5 ms is 0.005 s, never 0.5 s;
* the calendar date comes from the trading day and the clock, not ActionDay (DCE puts the trading
  day there at night; CZCE's TradingDay is the calendar day): night ticks at or after 18:00 belong
  to the business day before the trading day, ticks before 06:00 to the day after that (the rule
  of lib.trading_calendar, which the sim dates its own ticks by);
* ticks with an empty UpdateTime, of unknown instruments, or older than the last accepted one of
  the instrument are dropped; ExchangeID, often empty, comes from the instrument table;
* with the session filter on, ticks stamped outside the instrument's trading sessions are dropped
  (a front pushes the previous session's last tick on connecting out of hours); the hours come
  from lib.sessions by the contract's product, with the opening auction's leeway; a product the
  table does not know keeps all its ticks.

This runs for every tick of the market on the callback thread, so it reads all the fields it needs
in one C call (operator.attrgetter), parses each second once, keeps what it derives per instrument,
and builds the frozen TickData through its slot builder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from operator import attrgetter
from typing import Any

from backend.engine.constants import Exchange
from backend.engine.objects import SHANGHAI, ContractData, TickData, make_local_symbol, new_tick
from lib.sessions import product_of, seconds_of_day, sessions_for, tick_hours
from lib.trading_calendar import calendar_date

UNSET = 1e300  # anything above is CTP's DBL_MAX "no value"


def price(value: float) -> float:
    return 0.0 if value is None or value > UNSET or value != value else float(value)


def parse_day(text: str) -> date | None:
    text = (text or "").strip()
    if len(text) != 8 or not text.isdigit():
        return None
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def exchange_moment(trading_day: date, clock: time) -> datetime:
    """The exchange-time moment of a clock time that belongs to `trading_day` (CTP.md §5: the calendar date
    from the trading day and the clock): ticks, orders and trades are dated by it alike."""
    return datetime.combine(calendar_date(trading_day, clock), clock, SHANGHAI)


def parse_clock(update_time: str, millis: int) -> time | None:
    parts = (update_time or "").strip().split(":")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return None
    hours, minutes, seconds = (int(part) for part in parts)
    if not (0 <= hours < 24 and 0 <= minutes < 60 and 0 <= seconds < 60):
        return None
    return time(hours, minutes, seconds, max(0, min(int(millis or 0), 999)) * 1000)


# The DepthMarketData fields a tick is made of, read in one go: the instrument and its stamp, then
# the values in TickData's positional order from last_price to ask_volume_5 (the "body").
_STAMP = ("InstrumentID", "UpdateTime", "UpdateMillisec")
_BODY = ("LastPrice", "Volume", "Turnover", "OpenInterest", "OpenPrice", "HighestPrice", "LowestPrice",
         "PreClosePrice", "PreSettlementPrice", "UpperLimitPrice", "LowerLimitPrice", "AveragePrice",
         "BidPrice1", "BidPrice2", "BidPrice3", "BidPrice4", "BidPrice5",
         "AskPrice1", "AskPrice2", "AskPrice3", "AskPrice4", "AskPrice5",
         "BidVolume1", "BidVolume2", "BidVolume3", "BidVolume4", "BidVolume5",
         "AskVolume1", "AskVolume2", "AskVolume3", "AskVolume4", "AskVolume5")  # fmt: skip
FIELDS = _STAMP + _BODY
_read = attrgetter(*FIELDS)
_BODY_START = len(_STAMP)
_AVERAGE = _BODY.index("AveragePrice")  # in the body
_SECONDS_CACHE = 4096


@dataclass(slots=True)
class _Listing:
    """What the cleaner derives from one contract, once: and the instrument's last accepted time."""

    contract: ContractData
    local_symbol: str
    hours: bytes | None  # lib.sessions.tick_hours of its product; None: every second is accepted
    last: datetime | None = None
    # AveragePrice is turnover / volume, so it includes the contract multiplier everywhere but CZCE
    # (CTP.md §5): divided by it here, a tick's average_price is per unit like every other price.
    average_divisor: int = 1


@dataclass
class TickCleaner:
    """Stateful per gateway: remembers the last accepted tick time of each instrument.

    `clean` reads a DepthMarketData struct (or a dict of its fields, missing ones 0). `contracts`
    (by symbol) may be replaced or changed in place at any time: what is derived from a contract is
    made again when its contract object changes.
    """

    contracts: dict[str, ContractData] = field(default_factory=dict)  # by symbol
    trading_day: date | None = None  # the session's trading day, from login
    session_filter: bool = False  # drop ticks stamped outside the instrument's sessions
    dropped: int = 0
    _listings: dict[str, _Listing] = field(default_factory=dict, repr=False)
    _seconds: dict[tuple[date, str], tuple[datetime, int] | None] = field(default_factory=dict, repr=False)
    # The last (millis, second) -> moment: ticks of one moment share it (the sim's, and SHFE's 0 / 500 ms).
    _millis: int = field(default=-1, repr=False)
    _millis_second: tuple[datetime, int] | None = field(default=None, repr=False)
    _millis_moment: datetime | None = field(default=None, repr=False)

    def clean(self, data: Any) -> TickData | None:
        values = tuple(data.get(name, 0) for name in FIELDS) if isinstance(data, dict) else _read(data)
        symbol = values[0]
        contract = self.contracts.get(symbol)
        listing = self._listings.get(symbol)
        if listing is None or listing.contract is not contract:
            if contract is None:
                self.dropped += 1
                return None
            listing = self._listing(symbol, contract, listing)
        trading_day = self.trading_day or parse_day(data.get("TradingDay") if isinstance(data, dict)
                                                    else data.TradingDay)  # fmt: skip
        second = self._seconds.get((trading_day, values[1])) if trading_day else None
        if second is None:
            second = self._second(trading_day, values[1]) if trading_day else None
            if second is None:
                self.dropped += 1
                return None
        moment, of_day = second
        if listing.hours is not None and not listing.hours[of_day]:
            self.dropped += 1
            return None
        millis = values[2]
        if millis:
            if millis == self._millis and second is self._millis_second:  # the ticks of one moment
                moment = self._millis_moment
            else:
                self._millis, self._millis_second = millis, second
                moment = self._millis_moment = moment.replace(microsecond=max(0, min(int(millis), 999)) * 1000)
        last = listing.last
        if last is not None and moment < last:
            self.dropped += 1
            return None
        listing.last = moment
        body = values[_BODY_START:]
        # DBL_MAX (unset) prices to 0. The sum is below UNSET when no value is unset (or NaN): one C
        # call instead of a comparison per price in the common case (values are never below -1e300;
        # volumes are ints far below UNSET, which the comparison leaves as they are).
        if not sum(body) < UNSET:
            body = tuple([value if value < UNSET else 0.0 for value in body])
        divisor = listing.average_divisor
        if divisor != 1 and body[_AVERAGE]:
            body = (*body[:_AVERAGE], body[_AVERAGE] / divisor, *body[_AVERAGE + 1 :])
        contract = listing.contract
        # Positional, in TickData's slot order: symbol, exchange, datetime, trading_day, name, the body
        # (last_price, volume, turnover ... ask_volume_5), local_symbol.
        return new_tick(symbol, contract.exchange, moment, trading_day, contract.name, *body, listing.local_symbol)

    def set_session_filter(self, on: bool) -> None:
        """Turn the session filter on or off (for the instruments known so far too)."""
        self.session_filter = on
        for symbol, listing in list(self._listings.items()):
            self._listing(symbol, listing.contract, listing)

    def _listing(self, symbol: str, contract: ContractData, previous: _Listing | None) -> _Listing:
        hours = None
        if self.session_filter:
            sessions = sessions_for(contract.product_id or product_of(symbol))
            hours = tick_hours(sessions) if sessions else None
        divisor = 1 if contract.exchange is Exchange.CZCE else max(1, int(contract.size or 1))
        listing = _Listing(contract, make_local_symbol(symbol, contract.exchange), hours, average_divisor=divisor)
        if previous is not None:  # the contract table was reloaded: the instrument's history stays
            listing.last = previous.last
        self._listings[symbol] = listing
        return listing

    def _second(self, trading_day: date, update_time: str) -> tuple[datetime, int] | None:
        """The aware datetime of a tick's whole second and its seconds of the day (memoised:
        the ticks of a moment share their second)."""
        clock = parse_clock(update_time or "", 0)
        second = None
        if clock is not None:
            moment = exchange_moment(trading_day, clock)
            second = (moment, seconds_of_day(clock))
        if len(self._seconds) >= _SECONDS_CACHE:
            self._seconds.clear()
        self._seconds[(trading_day, update_time)] = second
        return second
