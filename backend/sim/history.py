"""The sim's past: 1-minute bars of the last trading days of an instrument, ending at its current price.

A real counter serves no history; a chart opened on a fresh desk, or a strategy warming its
indicators, still wants some. So the sim keeps a consistent past for every instrument: a seeded walk
over the minutes of its sessions (night sessions included, as lib/sessions says), generated
*backwards* from an end time and price, so the last bar's close is exactly the price the market
stands at and the recorded bars that follow continue it.

Pure: no clock, no I/O, no shared random state. The same seed, symbol, sessions, end time and end
price give the same bars, whatever else ran before (the generator has its own random.Random). It is
cheap enough to run per instrument on demand (20 days of a night-session product: ~11,000 minutes,
a few tens of milliseconds), never for the whole market at start.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, NamedTuple

from backend.sim.calendar import SHANGHAI, trading_day_for
from lib.price_grid import tick_decimals
from lib.trading_calendar import calendar_date, previous_business_day

if TYPE_CHECKING:
    from backend.sim.exchange import SimExchange

HISTORY_DAYS = 20  # full trading days before the one the end falls in (that one is partial)
DAILY_MOVE = 0.012  # a typical day's move as a fraction of the price: sets the minute's spread
ONE_MINUTE = timedelta(minutes=1)


class MinuteBar(NamedTuple):
    """One generated minute: its start (exchange time, aware) and the trading day it belongs to."""

    start: datetime
    trading_day: date
    open: float
    high: float
    low: float
    close: float
    volume: int
    turnover: float
    open_interest: float


def _clock(hhmm: str) -> time:
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


def day_minutes(sessions: Iterable[tuple[str, str]], trading_day: date) -> list[datetime]:
    """The starts of every minute of one trading day's sessions, in time order (the night first)."""
    minutes: list[datetime] = []
    for begin_text, end_text in sessions:
        begin, finish = _clock(begin_text), _clock(end_text)
        first = datetime.combine(calendar_date(trading_day, begin), begin, tzinfo=SHANGHAI)
        last = datetime.combine(first.date() + timedelta(days=1) if finish <= begin else first.date(), finish,
                                tzinfo=SHANGHAI)  # fmt: skip
        count = int((last - first) / ONE_MINUTE)
        minutes.extend(first + index * ONE_MINUTE for index in range(count))
    minutes.sort()
    return minutes


def history_minutes(
    sessions: tuple[tuple[str, str], ...], end: datetime, days: int = HISTORY_DAYS
) -> list[tuple[datetime, date]]:
    """(minute start, trading day) of every session minute finished by `end`: the trading day `end`
    falls in (as far as it went) and the `days` full trading days before it, oldest first."""
    end = end.astimezone(SHANGHAI)
    if not sessions:
        raise ValueError("an instrument without sessions has no history")
    trading_days = [trading_day_for(end)]
    for _ in range(days):
        trading_days.append(previous_business_day(trading_days[-1]))
    found: list[tuple[datetime, date]] = []
    for day in reversed(trading_days):
        found.extend((minute, day) for minute in day_minutes(sessions, day) if minute + ONE_MINUTE <= end)
    return found


def generate(
    symbol: str,
    sessions: tuple[tuple[str, str], ...],
    price_tick: float,
    end_price: float,
    end: datetime,
    *,
    seed: int,
    days: int = HISTORY_DAYS,
    size: int = 1,
    end_open_interest: float = 0.0,
) -> list[MinuteBar]:
    """The 1-minute bars of `symbol` before `end`, oldest first, the last close exactly `end_price`.

    Walked backwards from the end: each bar's open is its close minus a random move (in whole
    ticks, scaled so a day moves about DAILY_MOVE of the price), the bar before closes at that open,
    highs and lows reach a little beyond. Prices stay on the tick grid and above a fifth of the end
    price (a move that would go below is reflected).
    """
    if price_tick <= 0 or end_price <= 0:
        raise ValueError(f"{symbol}: price tick and end price must be positive")
    minutes = history_minutes(sessions, end, days)
    rng = random.Random(f"{seed}:{symbol}")  # a str seed hashes the same in every process
    decimals = tick_decimals(price_tick)
    end_ticks = max(1, round(end_price / price_tick))
    per_day = max(1, len(day_minutes(sessions, trading_day_for(end))))
    sigma = max(0.6, end_ticks * DAILY_MOVE / math.sqrt(per_day))
    floor_ticks = max(1, end_ticks // 5)
    close, interest = end_ticks, max(float(end_open_interest), 0.0) or float(1_000 + rng.randrange(100_000))
    bars: list[MinuteBar] = []
    for start, trading_day in reversed(minutes):
        move = round(rng.gauss(0.0, sigma))
        opening = close - move
        if opening < floor_ticks:
            opening = close + abs(move)
        high = max(opening, close) + int(abs(rng.gauss(0.0, sigma / 2)))
        low = max(1, min(opening, close) - int(abs(rng.gauss(0.0, sigma / 2))))
        volume = 1 + int(rng.expovariate(1 / 150))
        average = (opening + close) / 2 * price_tick
        bars.append(MinuteBar(start, trading_day, round(opening * price_tick, decimals),
                              round(high * price_tick, decimals), round(low * price_tick, decimals),
                              round(close * price_tick, decimals), volume, round(average * volume * size, 2),
                              interest))  # fmt: skip
        interest = max(0.0, interest - rng.randint(-volume, volume))
        close = opening
    bars.reverse()
    return bars


def exchange_history(exchange: SimExchange, symbol: str, end: datetime, days: int = HISTORY_DAYS,
                     end_price: float | None = None) -> list[MinuteBar]:  # fmt: skip
    """The past of one of a running sim's instruments, ending at `end` at `end_price` (default: the
    price its market stands at now), seeded by the sim's seed, from its listing on (a contract
    listed a week ago has a week). KeyError for an unknown symbol."""
    with exchange.lock:
        spec = exchange.specs[symbol]
        quote = exchange.market.quotes[symbol]
        price = quote.reference_price() if end_price is None else end_price
        interest = quote.open_interest
    bars = generate(symbol, spec.sessions, spec.price_tick, price, end, seed=exchange.settings.seed, days=days,
                    size=spec.size, end_open_interest=interest)  # fmt: skip
    listed = _listing(spec.open_date)
    return bars if listed is None else [bar for bar in bars if bar.trading_day >= listed]


def _listing(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except (TypeError, ValueError):
        return None
