"""Tick mode: the user's Strategy, unchanged, against the ticks the desk recorded, matched as the sim matches.

The account, the strategy's host, the close splitting and the day's end are bar mode's (engine.BarEngine:
the sim's Ledger, the same answers to the strategy's commands). What tick mode changes is the market:

* each recorded tick is one snapshot of the sim's market, taken in the order the sim takes it
  (exchange._publish): the account is marked at its last price, then working orders rest against its
  book (sim/trading.resting_fill: an order the book now crosses fills at its own price, as many lots as
  the crossing levels show), then the strategy's on_tick gets the tick as a live worker gets it
  (a Record of TickData.to_dict(): the same names and values);
* an order the strategy sends meets the current tick's book at once, as an order reaching the sim meets
  its current quote (sim/trading.incoming_fills: level by level at the book's prices, best first, up to
  its limit); volume taken by earlier fills of the same tick is gone for later orders, as in the sim;
* the exchange's checks are the sim's (sim/trading.price_problem) against the tick's own limit prices;
* bars come from the ticks through the engine's own BarRoom, as live: the minute's bar is finished by the
  first tick of a later minute (on_tick of that tick first, then on_bar), or once the tick clock is
  the grace past its end; the bar still forming at the end of the data is not delivered (live, a
  strategy stopped with the desk does not get it either);
* on_realtime is called once per second of tick time (live: once per second of wall time);
* trading days are the ticks' own (TickData.trading_day); at a day's change working orders expire and the
  Ledger settles at the day's last price, as the sim settles.

Where live and tick mode can differ (docs/recording.md): a resting order filled by tick N is reported to
the strategy before on_tick(N) here; live, the fill and the tick reach the desk on two threads of the
counter's API and either may come first. Live, the sim's quote may move between the tick a strategy acts on
and its order's arrival (the market ticks on while the order travels); tick mode has no such latency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from backend.engine.chart import BarRoom
from backend.engine.objects import BarData, TickData
from backend.lab.engine import BarEngine, Cancelled
from backend.lab.report import LabError, Report
from backend.lab.spec import BacktestSpec
from backend.lab.stats import MAX_EQUITY_POINTS
from backend.lab.terms import sim_terms
from backend.lab.ticks import Ticks
from backend.lab.user_code import CODE_FILE, load_strategy
from backend.sim.market import DBL_MAX
from backend.sim.trading import incoming_fills, price_problem, resting_fill
from backend.strategy import record

BAR_GRACE = 1.5  # seconds: the engine's EngineConfig.bar_grace (a bar is closed by the clock this long after its end)
REALTIME_MS = 1000
PROGRESS_STEPS = 200
LEVELS = range(1, 6)


@dataclass(slots=True)
class TickBook:
    """One tick's five-level book, as the sim's matching reads a quote (sim/trading.Book); fills take volume."""

    bid_prices: tuple[float, ...]
    bid_volumes: list[int]
    ask_prices: tuple[float, ...]
    ask_volumes: list[int]
    traded: bool

    @classmethod
    def of(cls, tick: TickData) -> TickBook:
        """An empty level (price 0 on the desk: CTP's DBL_MAX) is DBL_MAX again, where the walk stops."""
        values = tick.__getattribute__
        return cls(tuple(values(f"bid_price_{n}") or DBL_MAX for n in LEVELS),
                   [values(f"bid_volume_{n}") for n in LEVELS],
                   tuple(values(f"ask_price_{n}") or DBL_MAX for n in LEVELS),
                   [values(f"ask_volume_{n}") for n in LEVELS], tick.volume > 0)  # fmt: skip


class _TickClock:
    """What BarEngine reads of its data for a fill and the range: each tick's time and last price."""

    def __init__(self, ticks: Ticks, interval: str) -> None:
        self.local_symbol = ticks.local_symbol
        self.interval = interval
        self.start_ms = ticks.columns["datetime"]
        self.close = ticks.columns["last_price"]

    def __len__(self) -> int:
        return len(self.start_ms)


class TickEngine(BarEngine):
    """One tick-mode run: bar mode's host and account, the sim's matching against each tick's book."""

    def __init__(self, spec: BacktestSpec, ticks: Ticks, strategy: Any) -> None:
        # The sim's rules fill: no share of volume, no slippage knob (both are bar mode's).
        super().__init__(replace(spec, fill_share=1.0, slippage_ticks=0.0), _TickClock(ticks, spec.interval), strategy)
        self.ticks = ticks
        self.index = -1
        self.current: TickData | None = None  # the tick being handled
        self._book: TickBook | None = None  # its book, made when an order first needs it (fills take from it)
        self.tick_limits = (0.0, 0.0)  # the current tick's limit up and down (0: the tick has none)
        self.room = BarRoom(self._bars_finished, BAR_GRACE)
        self.warmup: list[BarData] | None = None

    # ------------------------------------------------------------------------- the sim's rules
    def _exchange_check(self, price: float) -> str:
        upper, lower = self.tick_limits
        if not upper:
            return super()._exchange_check(price)
        return price_problem(price, self.tick, upper, lower)

    def _insert(self, direction: str, offset: str, price: float, volume: int) -> dict[str, Any]:
        """Accepted as bar mode accepts it, then matched at once against the current book (sim: _match_incoming)."""
        order = super()._insert(direction, offset, price, volume)
        entry = next((item for item in self.working if item[0]["order_id"] == order["order_id"]), None)
        if entry is None or self.current is None:
            return order
        for fill_price, lots in incoming_fills(self.book(), direction, price, volume, 1):
            self._fill(entry, fill_price, lots, self.index)
        return dict(entry[0])

    def match(self, i: int) -> None:
        """Working orders against a new snapshot (sim: match_resting): a crossed order fills at its own price."""
        book = self.book()
        for entry in list(self.working):
            order = entry[0]
            lots = resting_fill(book, entry[1], order["price"], order["volume"] - order["traded"])
            if lots:
                self._fill(entry, order["price"], lots, i)

    def book(self) -> TickBook:
        """The current tick's book as matching has left it so far."""
        if self._book is None:
            assert self.current is not None
            self._book = TickBook.of(self.current)
        return self._book

    # ------------------------------------------------------------------------- bars for on_bar
    def _bars_finished(self, bars: list[BarData]) -> None:
        interval = self.strategy.bar_interval
        for bar in bars:
            if bar.interval.value == interval:
                self.strategy.on_bar(record(bar.to_dict()))

    def _load_bars(self, command: dict[str, Any]) -> dict[str, Any]:
        """The warm-up: bars the engine's own builder makes of the ticks before the range (the latest `count`)."""
        asked = self._warmup_asked(command, self.strategy.bar_interval, "ticks")
        if isinstance(asked, dict):
            return asked
        name, interval, count = asked
        if self.warmup is None:
            made: list[BarData] = []
            room = BarRoom(made.extend, BAR_GRACE)
            for index in range(self.first):
                room.update_tick(self.ticks.tick(index))
            self.warmup = made  # the bar forming at the range's start is not finished yet: left out
        rows = [bar.to_row() for bar in self.warmup if bar.interval.value == interval][-count:]
        return {"ok": True, "local_symbol": name, "interval": interval, "rows": rows}

    # ------------------------------------------------------------------------- the run
    def run(self, progress: Callable[[float], None] | None, cancelled: Callable[[], bool] | None) -> Report:
        strategy, ticks = self.strategy, self.ticks
        if self.first >= self.end:
            raise LabError("no ticks in the range to backtest")
        columns = ticks.columns
        strategy.contracts = MappingProxyType({self.local_symbol: record(self.contract())})
        strategy._send = self.send
        first = self.first
        pre = columns["pre_settlement_price"][first] or columns["last_price"][first]
        self.begin_day(str(columns["trading_day"][first]), pre)
        opening = ticks.tick(first)  # on_init: before the first tick, at its price
        self.bar = record({"close_price": opening.last_price, "datetime": opening.datetime.isoformat()})
        strategy.account = record(self.account())
        strategy.on_init()
        last = self._loop(progress, cancelled)
        self.end_day(last, self.day)  # the last day settles too (its row is the last daily row)
        strategy.on_stop()
        return self._report()

    def _loop(self, progress: Callable[[float], None] | None, cancelled: Callable[[], bool] | None) -> float:
        """Every tick of the range; answers the last one's price (the last day's settlement)."""
        strategy, ticks, room = self.strategy, self.ticks, self.room
        days, stamps = ticks.columns["trading_day"], ticks.columns["datetime"]
        first, end = self.first, self.end
        every = max(1, (end - first) // MAX_EQUITY_POINTS)
        report_every = max(1, (end - first) // PROGRESS_STEPS)
        realtime_at = stamps[first] + REALTIME_MS
        last_price = self.bar.close_price
        for i in range(first, end):
            tick = ticks.tick(i)
            day = str(days[i])
            if day != self.day:
                self.end_day(last_price, day)  # settled at the day's last price, as the sim settles
            t = stamps[i]
            room.close_due(tick.datetime)  # the engine's bar timer, on the ticks' clock
            if t >= realtime_at:
                realtime_at = t - (t - realtime_at) % REALTIME_MS + REALTIME_MS
                strategy.on_realtime()
            self._snapshot(i, tick)
            view = record(tick.to_dict())
            strategy.ticks[self.local_symbol] = view
            strategy.on_tick(view)
            room.update_tick(tick)
            last_price = tick.last_price
            if (i - first) % every == 0:
                self._sample(t, tick.last_price)
            if (i - first + 1) % report_every == 0:
                if cancelled is not None and cancelled():
                    raise Cancelled("cancelled")
                if progress is not None:
                    progress((i - first + 1) / (end - first))
        return last_price

    def _snapshot(self, i: int, tick: TickData) -> None:
        """A new snapshot as the sim publishes one: mark the account, then match what rests on the book."""
        self.index = i
        self.bar = record({"close_price": tick.last_price, "datetime": tick.datetime.isoformat()})
        self.current, self._book = tick, None
        self.tick_limits = (tick.limit_up, tick.limit_down)
        self.ledger.mark(self.symbol, tick.last_price)
        if self.working:
            self.match(i)


def load_ticks(path: str | Path) -> Ticks:
    """A tick-mode job's data file (Ticks.to_file), for the child process."""
    return Ticks.from_file(path)


def run_tick_backtest(spec: BacktestSpec, data: Any, progress: Callable[[float], None] | None = None,
                      cancelled: Callable[[], bool] | None = None) -> Report:  # fmt: skip
    """One tick-mode backtest in this process (engine.run_backtest sends mode "tick" here)."""
    if not isinstance(data, Ticks):
        raise LabError("tick mode needs recorded ticks")
    if data.local_symbol != spec.local_symbol:
        raise LabError(f"the ticks are of {data.local_symbol}, the backtest of {spec.local_symbol}")
    if spec.terms is None:
        try:
            sim_terms(spec.local_symbol)
        except KeyError as error:
            raise LabError(f"{error.args[0]}: give the contract's terms") from None
    from backend.strategy_runtime.guards import user_error

    try:
        strategy = load_strategy(spec.code, spec.params)
        if getattr(strategy, "bar_interval", "1m") != spec.interval:
            spec = replace(spec, interval=strategy.bar_interval)
        return TickEngine(spec, data, strategy).run(progress, cancelled)
    except LabError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever the user's code raised ends the run, with their line
        raise LabError(user_error(error, CODE_FILE)) from error


