"""The sim's market: a seeded random walk per instrument on its price tick, inside its band.

Quotes are mutable state owned by the exchange (used under its lock); what leaves the market is a
fresh CThostFtdcDepthMarketDataField per tick (rows.depth_struct).

The walk runs for every tick of the whole market (tens of thousands a second), so it is built for
speed: one random number per snapshot picks a precomputed draw (price move, trade volume, open
interest change, book side and level volumes); prices in whole ticks and books (a "ladder" of five
bid and five ask prices around a bid step) are memoised per tick size, shared by every instrument
walking the same levels. Everything memoised is an immutable tuple of numbers: the cyclic GC stops
visiting those, which matters at this allocation rate.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from backend.sim.instruments import InstrumentSpec
from lib.price_grid import on_tick, tick_decimals, to_tick

DBL_MAX = 1.7976931348623157e308
LEVELS = 5
LEVEL_RANGE = range(LEVELS)
__all__ = ["DBL_MAX", "LEVELS", "MarketSim", "Quote", "on_tick", "read_replay", "to_tick"]
MOVES = (-2, -1, -1, 0, 0, 0, 0, 1, 1, 2)  # ticks a snapshot's price moves, in tenths of probability
DRAWS = 8192  # precomputed random draws per market (a power of two: picked by one random() each)
VOLUME_PATTERNS = 256  # shared five-level volume patterns of the simulated books
GRID_LIMIT = 1 << 16  # memoised prices / ladders per tick size before the memo starts again (bounded)
EDGE_LIMIT = 64  # memoised ladders at the edges of one quote's band
CATCH_UP_EXACT = 16  # the last snapshots of a lazy catch-up walked one by one (the rest in one jump)


class Ladder(NamedTuple):
    """Five bid and five ask prices around a bid step (DBL_MAX outside the band)."""

    bids: tuple[float, ...]
    asks: tuple[float, ...]
    clipped: bool  # a level lies outside the band: its volume must show 0


class Draw(NamedTuple):
    """Everything random about one snapshot, precomputed."""

    move: int  # ticks the price moves
    volume: int  # lots traded
    oi_change: int  # open interest change
    bid_below: int  # 1: the bid sits one tick below the last price, 0: at it
    bids: tuple[int, ...]  # the five levels' volumes (shared patterns)
    asks: tuple[int, ...]


class PriceGrid:
    """Prices and books in whole ticks of one tick size, shared by every quote with that tick.

    A product's months and option strikes walk over the same levels, so sharing the memo means a
    new level's book is made once for all of them, not once per instrument. Ladders that reach
    outside a quote's band are that quote's own (Quote.ladder).
    """

    def __init__(self, tick: float) -> None:
        self.tick = tick
        self.decimals = tick_decimals(tick)
        self.prices: dict[int, float] = {}
        self.ladders: dict[int, Ladder] = {}

    def price_at(self, steps: int) -> float:
        """The price `steps` ticks above zero, exactly on the grid (memoised: the walk stays local)."""
        price = self.prices.get(steps)
        if price is None:
            if len(self.prices) >= GRID_LIMIT:
                self.prices.clear()
            price = self.prices[steps] = round(steps * self.tick, self.decimals)
        return price

    def ladder(self, bid: int, lower: int = -(2**62), upper: int = 2**62) -> Ladder:
        """Five bids down from a bid step and five asks above it; DBL_MAX outside [lower, upper]."""
        tick, decimals = self.tick, self.decimals
        prices = tuple([round(s * tick, decimals) if lower <= s <= upper else DBL_MAX
                        for s in range(bid - LEVELS + 1, bid + LEVELS + 1)])  # fmt: skip
        return Ladder(prices[LEVELS - 1 :: -1], prices[LEVELS:], DBL_MAX in prices)

    def shared_ladder(self, bid: int) -> Ladder:
        ladder = self.ladders.get(bid)
        if ladder is None:
            if len(self.ladders) >= GRID_LIMIT:
                self.ladders.clear()
            ladder = self.ladders[bid] = self.ladder(bid)
        return ladder


@dataclass(eq=False)
class Quote:
    """The market state of one instrument for the current trading day.

    The book's sequences are shared tuples (ladders, volume patterns), never written in place:
    matching (trading.walk_book) takes volume from a copy.
    """

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
    bid_prices: Sequence[float] = (DBL_MAX,) * LEVELS
    bid_volumes: Sequence[int] = (0,) * LEVELS
    ask_prices: Sequence[float] = (DBL_MAX,) * LEVELS
    ask_volumes: Sequence[int] = (0,) * LEVELS
    updated: datetime | None = None
    # Cached per quote for the hot path: prices are walked in whole ticks.
    tick: float = 0.0
    decimals: int = 0
    lower_ticks: int = 0
    upper_ticks: int = 0
    steps: int = 0  # the reference price in ticks
    exchange: str = ""
    size: int = 1  # the contract multiplier
    czce: bool = False  # CZCE's AveragePrice excludes the multiplier
    template: tuple | None = None  # the static fields of this quote's DepthMarketData (rows.depth_struct)
    template_exchange_id: bool = False  # whether the template carries ExchangeID
    grid: PriceGrid | None = field(default=None, repr=False)  # shared per tick size (MarketSim.grid)
    ladders: dict[int, Ladder] = field(default_factory=dict, repr=False)  # the shared ladders (grid's)
    edge_ladders: dict[int, Ladder] = field(default_factory=dict, repr=False)  # clipped by this band
    inner_low: int = 0  # bid steps whose whole ladder lies inside the band: inner_low..inner_high
    inner_high: int = 0
    walked_at: float = 0.0  # monotonic seconds the lazy walk has reached (MarketSim.catch_up)

    def __post_init__(self) -> None:
        self.tick = self.spec.price_tick
        if self.grid is None:
            self.grid = PriceGrid(self.tick)
        self.decimals = self.grid.decimals
        self.ladders = self.grid.ladders
        self.lower_ticks = round(self.lower_limit / self.tick)
        self.upper_ticks = round(self.upper_limit / self.tick)
        self.inner_low, self.inner_high = self.lower_ticks + LEVELS - 1, self.upper_ticks - LEVELS
        self.steps = round(self.reference_price() / self.tick)
        self.exchange, self.size = self.spec.exchange, self.spec.size
        self.czce = self.exchange == "CZCE"

    def price_at(self, steps: int) -> float:
        """The price `steps` ticks above zero, exactly on the grid."""
        return self.grid.price_at(steps)  # type: ignore[union-attr]

    def ladder(self, bid: int) -> Ladder:
        """The book's prices around a bid step: shared inside the band, the quote's own at its edges."""
        grid = self.grid
        assert grid is not None
        if self.inner_low <= bid <= self.inner_high:
            return self.ladders.get(bid) or grid.shared_ladder(bid)
        ladder = self.edge_ladders.get(bid)
        if ladder is None:
            if len(self.edge_ladders) >= EDGE_LIMIT:
                self.edge_ladders.clear()
            ladder = self.edge_ladders[bid] = grid.ladder(bid, self.lower_ticks, self.upper_ticks)
        return ladder

    @property
    def traded(self) -> bool:
        return self.volume > 0

    def reference_price(self) -> float:
        return self.last_price if self.traded else self.pre_settlement


def price_limits(pre_settlement: float, spec: InstrumentSpec) -> tuple[float, float]:
    upper = to_tick(pre_settlement * (1 + spec.band), spec.price_tick, "floor")
    lower = to_tick(pre_settlement * (1 - spec.band), spec.price_tick, "ceil")
    return upper, max(lower, spec.price_tick)


def new_quote(
    spec: InstrumentSpec, pre_settlement: float, pre_close: float, pre_oi: float, grid: PriceGrid | None = None
) -> Quote:
    upper, lower = price_limits(pre_settlement, spec)
    return Quote(spec, pre_settlement, pre_close, pre_oi, upper, lower, open_interest=pre_oi, grid=grid)


class MarketSim:
    """Random walk plus a five-level book around the last price, for every instrument."""

    def __init__(self, specs: Iterable[InstrumentSpec], seed: int, state: dict | None = None) -> None:
        self.random = random.Random(seed)
        rand = self.random.random
        self._patterns = [tuple(1 + self.random.randrange(200) for _ in LEVEL_RANGE) for _ in range(VOLUME_PATTERNS)]
        self.quotes: dict[str, Quote] = {}
        # The previous trading day's final quotes, kept at the day roll: what a front shows until the next opening.
        self.closed: dict[str, Quote] = {}
        self._grids: dict[float, PriceGrid] = {}
        saved = (state or {}).get("quotes", {})
        closed = (state or {}).get("closed", {})
        for spec in specs:
            pre = saved.get(spec.symbol) or {}
            pre_settlement = pre.get("pre_settlement") or to_tick(spec.base_price, spec.price_tick)
            pre_oi = pre.get("pre_open_interest") or float(self.random.randint(1_000, 200_000))
            quote = new_quote(spec, pre_settlement, pre.get("pre_close") or pre_settlement, pre_oi, self.grid(spec))
            _restore_intraday(quote, pre.get("intraday"))
            self.quotes[spec.symbol] = quote
            before = closed.get(spec.symbol)
            if before:
                self.closed[spec.symbol] = _quote_of(spec, before, self.grid(spec))
        self._draws = [self._draw(rand) for _ in range(DRAWS)]
        self._random = rand
        # A jump over many snapshots takes the sums' moments from the very draws the walk uses.
        moves = [draw.move for draw in self._draws]
        self._move_sd = math.sqrt(sum(m * m for m in moves) / DRAWS - (sum(moves) / DRAWS) ** 2)
        self._move_mean = sum(moves) / DRAWS
        self._volume_mean = sum(draw.volume for draw in self._draws) / DRAWS
        changes = [draw.oi_change for draw in self._draws]
        self._oi_mean = sum(changes) / DRAWS
        self._oi_sd = math.sqrt(sum(c * c for c in changes) / DRAWS - self._oi_mean**2)
        self.touched: set[str] = set()  # caught up or moved since the journal last saw them

    def grid(self, spec: InstrumentSpec) -> PriceGrid:
        grid = self._grids.get(spec.price_tick)
        if grid is None:
            grid = self._grids[spec.price_tick] = PriceGrid(spec.price_tick)
        return grid

    def _draw(self, rand: Any) -> Draw:
        volume = 1 + int(rand() * 40)
        patterns = self._patterns
        return Draw(MOVES[int(rand() * 10)], volume, int(rand() * 2 * volume) - volume, 1 if rand() < 0.5 else 0,
                    patterns[int(rand() * VOLUME_PATTERNS)], patterns[int(rand() * VOLUME_PATTERNS)])  # fmt: skip

    # --- the walk -----------------------------------------------------------------------------
    def step(self, symbol: str, now: datetime, quote: Quote | None = None) -> Quote:
        """Advance one instrument by one snapshot: a trade print, then a fresh book (of `quote` if given)."""
        if quote is None:
            quote = self.quotes[symbol]
        draw = self._draws[int(self._random() * DRAWS)]
        steps = quote.steps + draw.move
        if steps < quote.lower_ticks:
            steps = quote.lower_ticks
        elif steps > quote.upper_ticks:
            steps = quote.upper_ticks
        grid = quote.grid
        price = grid.prices.get(steps) or grid.price_at(steps)  # type: ignore[union-attr]
        # The trade print (as _print_trade, inlined: this runs for every tick of the market).
        volume = draw.volume
        if quote.volume <= 0:
            quote.open_price = quote.high_price = quote.low_price = price
        elif price > quote.high_price:
            quote.high_price = price
        elif price < quote.low_price:
            quote.low_price = price
        quote.last_price = price
        quote.steps = steps
        quote.volume += volume
        quote.turnover += price * volume * quote.size
        interest = quote.open_interest + draw.oi_change
        quote.open_interest = interest if interest > 0.0 else 0.0
        self._set_book(quote, steps - draw.bid_below, draw.bids, draw.asks)
        quote.updated = now
        return quote

    def catch_up(self, symbol: str, rate: float, mono: float, now: datetime, quote: Quote | None = None) -> Quote:
        """Advance an instrument nobody steps to `mono`, as if it had been stepped `rate` times a second.

        Only what is looked at pays for the walk: a query, a subscription or an order. A long gap is
        one jump whose price move, volume and open interest change have the summed draws' mean and
        spread, then the last CATCH_UP_EXACT snapshots are walked one by one, so the book, the last
        moves and the day's figures are the walk's own. A quote that never traded gets at least one
        snapshot, so every instrument of a live market has a price and a book when first seen.
        `quote` walks another quote of the instrument than today's (the previous day's close).
        """
        if quote is None:
            quote = self.quotes[symbol]
        due = int((mono - quote.walked_at) * rate) if rate > 0 else 0
        if due <= 0 and quote.traded:
            return quote
        if due > 0:
            quote.walked_at += due / rate
        due = max(due, 1)
        if due > CATCH_UP_EXACT:
            self._jump(quote, due - CATCH_UP_EXACT)
            due = CATCH_UP_EXACT
        for _ in range(due):
            self.step(symbol, now, quote)
        self.touched.add(symbol)
        return quote

    def _jump(self, quote: Quote, count: int) -> None:
        """`count` snapshots at once: a normal approximation of their summed moves, volume and interest.

        The price is kept in the band at the end only; the day's high and low take the jump's ends.
        """
        gauss = self.random.gauss
        steps = quote.steps + round(count * self._move_mean + gauss(0.0, self._move_sd * math.sqrt(count)))
        steps = min(max(steps, quote.lower_ticks), quote.upper_ticks)
        start = quote.last_price if quote.traded else None
        price = quote.price_at(steps)
        volume = max(count, round(count * self._volume_mean))
        low, high = (price, price) if start is None else (min(start, price), max(start, price))
        if quote.traded:
            quote.high_price, quote.low_price = max(quote.high_price, high), min(quote.low_price, low)
        else:
            quote.open_price = start if start is not None else price
            quote.high_price, quote.low_price = high, low
        quote.turnover += (price if start is None else (start + price) / 2) * volume * quote.size
        quote.volume += volume
        interest = quote.open_interest + round(count * self._oi_mean + gauss(0.0, math.sqrt(count) * self._oi_sd))
        quote.open_interest = float(max(0, interest))
        quote.last_price, quote.steps = price, steps

    def _print_trade(self, quote: Quote, price: float, volume: int) -> None:
        if not quote.traded:
            quote.open_price = quote.high_price = quote.low_price = price
        quote.last_price = price
        quote.steps = round(price / quote.tick)
        if price > quote.high_price:
            quote.high_price = price
        if price < quote.low_price:
            quote.low_price = price
        quote.volume += volume
        quote.turnover += price * volume * quote.spec.size
        quote.open_interest = max(0.0, quote.open_interest + int(self.random.random() * 2 * volume) - volume)

    def _rebuild_book(self, quote: Quote) -> None:
        rand = self.random.random
        patterns = self._patterns
        bid = quote.steps - (1 if rand() < 0.5 else 0)
        self._set_book(quote, bid, patterns[int(rand() * VOLUME_PATTERNS)], patterns[int(rand() * VOLUME_PATTERNS)])

    @staticmethod
    def _set_book(quote: Quote, bid: int, bids: tuple[int, ...], asks: tuple[int, ...]) -> None:
        ladder = (quote.inner_low <= bid <= quote.inner_high and quote.ladders.get(bid)) or quote.ladder(bid)
        quote.bid_prices = ladder.bids
        quote.ask_prices = ladder.asks
        if ladder.clipped:  # a level outside the price band shows no volume
            bids = tuple(0 if p == DBL_MAX else v for p, v in zip(ladder.bids, bids, strict=True))
            asks = tuple(0 if p == DBL_MAX else v for p, v in zip(ladder.asks, asks, strict=True))
        quote.bid_volumes = bids
        quote.ask_volumes = asks

    def set_price(self, symbol: str, price: float, now: datetime, volume: int = 1) -> Quote:
        """Move an instrument to a given price (tests and demos steer the market with this)."""
        quote = self.quotes[symbol]
        price = min(max(to_tick(price, quote.spec.price_tick), quote.lower_limit), quote.upper_limit)
        self._print_trade(quote, price, volume)
        self._rebuild_book(quote)
        quote.updated = now
        self.touched.add(symbol)
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
        if last:
            quote.steps = round(last / quote.tick)
        quote.volume = max(volume, quote.volume)
        quote.turnover = number("Turnover", quote.turnover)
        quote.open_interest = number("OpenInterest", quote.open_interest)
        quote.high_price = max(number("HighestPrice", quote.high_price if quote.traded else last), last)
        quote.low_price = min(number("LowestPrice", quote.low_price if quote.traded else last), last)
        quote.bid_prices = tuple(number(f"BidPrice{level + 1}", DBL_MAX) for level in LEVEL_RANGE)
        quote.bid_volumes = tuple(int(number(f"BidVolume{level + 1}", 0)) for level in LEVEL_RANGE)
        quote.ask_prices = tuple(number(f"AskPrice{level + 1}", DBL_MAX) for level in LEVEL_RANGE)
        quote.ask_volumes = tuple(int(number(f"AskVolume{level + 1}", 0)) for level in LEVEL_RANGE)
        if quote.bid_prices[0] == DBL_MAX and quote.ask_prices[0] == DBL_MAX and last:
            self._rebuild_book(quote)
        quote.updated = now
        return quote

    # --- the day ------------------------------------------------------------------------------
    def settlement_prices(self) -> dict[str, float]:
        """Settle at the last price (the reference price when nothing traded)."""
        return {symbol: quote.reference_price() for symbol, quote in self.quotes.items()}

    def start_walk(self, mono: float) -> None:
        """Every lazy walk starts at `mono` (the sim's start): a restart resumes, it does not catch up."""
        for quote in self.quotes.values():
            quote.walked_at = mono

    def roll_day(self, settlement: dict[str, float]) -> None:
        """Start the next trading day's quotes; the ended day's stay in `closed` (shown until the next opening)."""
        self.closed = dict(self.quotes)
        for symbol, quote in list(self.quotes.items()):
            fresh = self.quotes[symbol] = new_quote(
                quote.spec, settlement[symbol], quote.reference_price(), quote.open_interest, quote.grid
            )
            fresh.walked_at = quote.walked_at

    def intraday_of(self, symbols: Iterable[str]) -> dict[str, dict]:
        """The day's figures of the given instruments that traded (a journal entry's payload)."""
        quotes = self.quotes
        found = {}
        for symbol in symbols:
            quote = quotes.get(symbol)
            if quote is not None and quote.traded:
                found[symbol] = _intraday(quote)
        return found

    def restore_intraday(self, saved: dict[str, dict]) -> None:
        """Take journaled figures back (a restart after a crash): the walk resumes from them."""
        for symbol, values in saved.items():
            quote = self.quotes.get(symbol)
            if quote is not None:
                _restore_intraday(quote, values)

    def to_state(self) -> dict:
        return {
            "quotes": {symbol: _quote_state(quote) for symbol, quote in self.quotes.items()},
            "closed": {symbol: _quote_state(quote) for symbol, quote in self.closed.items() if quote.traded},
        }


def _quote_state(quote: Quote) -> dict:
    return {
        "pre_settlement": quote.pre_settlement,
        "pre_close": quote.pre_close,
        "pre_open_interest": quote.pre_open_interest,
        "intraday": _intraday(quote),
    }


def _quote_of(spec: InstrumentSpec, saved: dict, grid: PriceGrid) -> Quote:
    quote = new_quote(spec, saved["pre_settlement"], saved["pre_close"], saved["pre_open_interest"], grid)
    _restore_intraday(quote, saved.get("intraday"))
    return quote


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
            setattr(quote, name, tuple(value) if isinstance(value, list) else value)
    quote.steps = round(quote.reference_price() / quote.tick)


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
