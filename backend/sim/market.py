"""The sim's market: a seeded random walk per instrument on its price tick, inside its band.

Quotes are mutable state owned by the exchange (used under its lock); what leaves the market is a
fresh dict of CThostFtdcDepthMarketDataField values per tick.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from backend.sim.instruments import InstrumentSpec
from lib.price_grid import on_tick, tick_decimals, to_tick

DBL_MAX = 1.7976931348623157e308
LEVELS = 5
LEVEL_RANGE = range(LEVELS)
__all__ = ["DBL_MAX", "LEVELS", "MarketSim", "Quote", "on_tick", "read_replay", "to_tick"]
MOVES = (-2, -1, -1, 0, 0, 0, 0, 1, 1, 2)  # ticks a snapshot's price moves, in tenths of probability


@dataclass
class Quote:
    """The market state of one instrument for the current trading day."""

    spec: InstrumentSpec
    pre_settlement: float
    pre_close: float
    pre_open_interest: float
    upper_limit: float
    lower_limit: float
    last_price: float = 0.0
    open_price: float = DBL_MAX
    high_price: float = DBL_MAX
    low_price: float = DBL_MAX
    volume: int = 0
    turnover: float = 0.0
    open_interest: float = 0.0
    bid_prices: list[float] = field(default_factory=lambda: [DBL_MAX] * LEVELS)
    bid_volumes: list[int] = field(default_factory=lambda: [0] * LEVELS)
    ask_prices: list[float] = field(default_factory=lambda: [DBL_MAX] * LEVELS)
    ask_volumes: list[int] = field(default_factory=lambda: [0] * LEVELS)
    updated: datetime | None = None
    # Cached per quote for the hot path: prices are walked in whole ticks.
    tick: float = 0.0
    decimals: int = 0
    lower_ticks: int = 0
    upper_ticks: int = 0
    template: dict | None = None  # the static part of this quote's DepthMarketData (rows.depth_row)

    def __post_init__(self) -> None:
        self.tick = self.spec.price_tick
        self.decimals = tick_decimals(self.tick)
        self.lower_ticks = round(self.lower_limit / self.tick)
        self.upper_ticks = round(self.upper_limit / self.tick)
        self._prices: dict[int, float] = {}
        self.ladders: dict[int, tuple[list[float], list[float], bool]] = {}

    def price_at(self, steps: int) -> float:
        """The price `steps` ticks above zero, exactly on the grid (memoised: the walk stays local)."""
        price = self._prices.get(steps)
        if price is None:
            price = self._prices[steps] = round(steps * self.tick, self.decimals)
        return price

    @property
    def traded(self) -> bool:
        return self.volume > 0

    def reference_price(self) -> float:
        return self.last_price if self.traded else self.pre_settlement


def price_limits(pre_settlement: float, spec: InstrumentSpec) -> tuple[float, float]:
    upper = to_tick(pre_settlement * (1 + spec.band), spec.price_tick, "floor")
    lower = to_tick(pre_settlement * (1 - spec.band), spec.price_tick, "ceil")
    return upper, max(lower, spec.price_tick)


def new_quote(spec: InstrumentSpec, pre_settlement: float, pre_close: float, pre_oi: float) -> Quote:
    upper, lower = price_limits(pre_settlement, spec)
    quote = Quote(spec, pre_settlement, pre_close, pre_oi, upper, lower, open_interest=pre_oi)
    return quote


class MarketSim:
    """Random walk plus a five-level book around the last price, for every instrument."""

    def __init__(self, specs: Iterable[InstrumentSpec], seed: int, state: dict | None = None) -> None:
        self.random = random.Random(seed)
        self._volume_patterns = [[1 + self.random.randrange(200) for _ in LEVEL_RANGE] for _ in range(256)]
        self.quotes: dict[str, Quote] = {}
        saved = (state or {}).get("quotes", {})
        for spec in specs:
            pre = saved.get(spec.symbol) or {}
            pre_settlement = pre.get("pre_settlement") or to_tick(spec.base_price, spec.price_tick)
            pre_oi = pre.get("pre_open_interest") or float(self.random.randint(1_000, 200_000))
            quote = new_quote(spec, pre_settlement, pre.get("pre_close") or pre_settlement, pre_oi)
            _restore_intraday(quote, pre.get("intraday"))
            self.quotes[spec.symbol] = quote

    # --- the walk -----------------------------------------------------------------------------
    def step(self, symbol: str, now: datetime) -> Quote:
        """Advance one instrument by one snapshot: a trade print, then a fresh book."""
        quote = self.quotes[symbol]
        rand = self.random.random
        steps = round(quote.reference_price() / quote.tick) + MOVES[int(rand() * 10)]
        steps = min(max(steps, quote.lower_ticks), quote.upper_ticks)
        self._print_trade(quote, quote.price_at(steps), 1 + int(rand() * 40))
        self._rebuild_book(quote)
        quote.updated = now
        return quote

    def _print_trade(self, quote: Quote, price: float, volume: int) -> None:
        if not quote.traded:
            quote.open_price = quote.high_price = quote.low_price = price
        quote.last_price = price
        if price > quote.high_price:
            quote.high_price = price
        if price < quote.low_price:
            quote.low_price = price
        quote.volume += volume
        quote.turnover += price * volume * quote.spec.size
        quote.open_interest = max(0.0, quote.open_interest + int(self.random.random() * 2 * volume) - volume)

    def _rebuild_book(self, quote: Quote) -> None:
        rand = self.random.random
        bid = round(quote.last_price / quote.tick) - (1 if rand() < 0.5 else 0)
        patterns = self._volume_patterns
        count = len(patterns)
        # Shared lists, never written in place: matching copies a side before consuming its volume.
        quote.bid_volumes = patterns[int(rand() * count)]
        quote.ask_volumes = patterns[int(rand() * count)]
        ladder = quote.ladders.get(bid)
        if ladder is None:
            ladder = quote.ladders[bid] = self._ladder(quote, bid)
        quote.bid_prices, quote.ask_prices = ladder[0], ladder[1]
        if ladder[2]:  # a level outside the price band shows no volume
            quote.bid_volumes, quote.ask_volumes = quote.bid_volumes[:], quote.ask_volumes[:]
            for level in LEVEL_RANGE:
                if quote.bid_prices[level] == DBL_MAX:
                    quote.bid_volumes[level] = 0
                if quote.ask_prices[level] == DBL_MAX:
                    quote.ask_volumes[level] = 0

    @staticmethod
    def _ladder(quote: Quote, bid: int) -> tuple[list[float], list[float], bool]:
        """Five bid and five ask prices around a bid step, DBL_MAX outside the band (memoised)."""
        lower, upper = quote.lower_ticks, quote.upper_ticks
        bids = [quote.price_at(bid - level) if bid - level >= lower else DBL_MAX for level in LEVEL_RANGE]
        asks = [quote.price_at(bid + 1 + level) if bid + 1 + level <= upper else DBL_MAX for level in LEVEL_RANGE]
        return bids, asks, DBL_MAX in bids or DBL_MAX in asks

    def set_price(self, symbol: str, price: float, now: datetime, volume: int = 1) -> Quote:
        """Move an instrument to a given price (tests and demos steer the market with this)."""
        quote = self.quotes[symbol]
        price = min(max(to_tick(price, quote.spec.price_tick), quote.lower_limit), quote.upper_limit)
        self._print_trade(quote, price, volume)
        self._rebuild_book(quote)
        quote.updated = now
        return quote

    def apply_row(self, symbol: str, row: dict[str, str], now: datetime) -> Quote:
        """Replay: take a recorded snapshot's values as the market state."""
        quote = self.quotes[symbol]
        number = _number_reader(row)
        last = number("LastPrice", quote.last_price)
        volume = int(number("Volume", quote.volume))
        if not quote.traded and last:
            quote.open_price = quote.high_price = quote.low_price = last
        quote.last_price = last
        quote.volume = max(volume, quote.volume)
        quote.turnover = number("Turnover", quote.turnover)
        quote.open_interest = number("OpenInterest", quote.open_interest)
        quote.high_price = max(number("HighestPrice", quote.high_price if quote.traded else last), last)
        quote.low_price = min(number("LowestPrice", quote.low_price if quote.traded else last), last)
        quote.bid_prices = [number(f"BidPrice{level + 1}", DBL_MAX) for level in LEVEL_RANGE]
        quote.bid_volumes = [int(number(f"BidVolume{level + 1}", 0)) for level in LEVEL_RANGE]
        quote.ask_prices = [number(f"AskPrice{level + 1}", DBL_MAX) for level in LEVEL_RANGE]
        quote.ask_volumes = [int(number(f"AskVolume{level + 1}", 0)) for level in LEVEL_RANGE]
        if quote.bid_prices[0] == DBL_MAX and quote.ask_prices[0] == DBL_MAX and last:
            self._rebuild_book(quote)
        quote.updated = now
        return quote

    # --- the day ------------------------------------------------------------------------------
    def settlement_prices(self) -> dict[str, float]:
        """Settle at the last price (the reference price when nothing traded)."""
        return {symbol: quote.reference_price() for symbol, quote in self.quotes.items()}

    def roll_day(self, settlement: dict[str, float]) -> None:
        for symbol, quote in list(self.quotes.items()):
            self.quotes[symbol] = new_quote(
                quote.spec, settlement[symbol], quote.reference_price(), quote.open_interest
            )

    def to_state(self) -> dict:
        return {
            "quotes": {
                symbol: {
                    "pre_settlement": quote.pre_settlement,
                    "pre_close": quote.pre_close,
                    "pre_open_interest": quote.pre_open_interest,
                    "intraday": _intraday(quote),
                }
                for symbol, quote in self.quotes.items()
            }
        }


_INTRADAY = ("last_price", "open_price", "high_price", "low_price", "volume", "turnover", "open_interest",
             "bid_prices", "bid_volumes", "ask_prices", "ask_volumes")  # fmt: skip


def _intraday(quote: Quote) -> dict | None:
    """Today's trading of an instrument, so a restarted sim goes on from where it stopped."""
    if not quote.traded:
        return None
    return {name: getattr(quote, name) for name in _INTRADAY}


def _restore_intraday(quote: Quote, saved: dict | None) -> None:
    for name, value in (saved or {}).items():
        if name in _INTRADAY:
            setattr(quote, name, list(value) if isinstance(value, list) else value)


def _number_reader(row: dict[str, str]):
    def number(name: str, default: float) -> float:
        text = (row.get(name) or "").strip()
        if not text:
            return default
        value = float(text)
        return DBL_MAX if value > 1e300 else value

    return number


def read_replay(path: str | Path) -> Iterator[dict[str, str]]:
    """Rows of a recorded tick CSV whose header uses DepthMarketData field names.

    Required columns: InstrumentID, UpdateTime; optional: UpdateMillisec, LastPrice, Volume,
    Turnover, OpenInterest, HighestPrice, LowestPrice, BidPrice1..5, BidVolume1..5, AskPrice1..5,
    AskVolume1..5. Rows are played in file order.
    """
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"InstrumentID", "UpdateTime"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: replay CSV lacks columns {', '.join(sorted(missing))}")
        yield from reader
