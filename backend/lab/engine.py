"""Bar mode: the user's Strategy, unchanged, against recorded bars, with the sim's Ledger as the account.

Runs in the calling process: only the child (child.py) or a test calls `run_backtest` directly; the
server, the CLI and sweeps go through child.run_in_child, so user code never runs in the server.

The strategy is hosted as a live worker hosts it (strategy_runtime/worker.py + dispatch.py): the same
callbacks get the same Record objects with API.md's field names, and its actions arrive as the same
commands (`strategy._send`), answered in-process here instead of over a pipe. How bar mode trades (also
in the README, "The strategy lab"):

* an order sent while handling bar N is matched against bar N+1: a buy limit fills if that bar's low
  reaches it, at the better of its price and the bar's open (a sell: the high, the better of price and
  open); at most floor(fill_share x the bar's volume) lots fill per bar (the rest keeps working);
  `slippage_ticks` worse, summed as `slippage`;
* the counter's checks come from the sim: Ledger.check_order refuses an open the money does not cover
  (资金不足) and a close over the closable lots; a price off the tick or outside the day's limits is
  refused as the sim's exchange refuses it; a bar locked at the limit (high == low == limit up) fills no
  buy, (== limit down) no sell;
* sell/cover split as the live ClosePosition does: on SHFE/INE today's lots first by CloseToday, then
  yesterday's by CloseYesterday; elsewhere one Close;
* trading days as the sim dates them (lib/trading_calendar.py: from 18:00 on, the next business day),
  so Friday's night bars belong to Monday; at each trading day's end working orders expire (cancelled,
  as the sim's day orders) and the Ledger settles at the day's last close (the sim's settlement price);
* on_realtime and on_tick are not called in bar mode; the account is marked at the close of the bar
  being handled when an order is sent or filled, and at each day's end (not per bar).
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_left
from collections.abc import Callable
from itertools import count
from types import MappingProxyType
from typing import Any

from backend.lab.clock import DAY_MS, HOUR_MS, MINUTE_SUFFIX, local_day, trading_day_of
from backend.lab.data import Bars
from backend.lab.report import BadInput, Cancelled, LabError, Report
from backend.lab.sides import Side
from backend.lab.spec import BacktestSpec
from backend.lab.stats import MAX_EQUITY_POINTS, compute_stats, daily_row
from backend.lab.terms import Terms, sim_terms, to_spec, with_symbol
from backend.lab.user_code import CODE_FILE, counter_message, load_strategy
from backend.sim.ledger import BUY, CLOSE, CLOSE_TODAY, CLOSE_YESTERDAY, LONG, OPEN, SELL, SHORT, Ledger
from backend.sim.positions import TODAY, YESTERDAY
from backend.strategy import Record, Strategy, iso, record
from lib.close_split import split_lots
from lib.price_grid import on_tick, to_tick

Feed = Callable[[], bool]  # appends the next bars to the run's Bars (Bars.extend); False when there are no more
MAX_WARMUP_BARS = 20_000  # as the live load_bars (strategy_runtime/manager.py)
MAX_LOGS = 1000
PROGRESS_STEPS = 200
SPLIT_EXCHANGES = frozenset({"SHFE", "INE"})
ACCOUNT_ID = "backtest"

_OFFSETS = {"open": OPEN, "close": CLOSE, "closetoday": CLOSE_TODAY, "closeyesterday": CLOSE_YESTERDAY}
_OFFSET_NAMES = {OPEN: "open", CLOSE: "close", CLOSE_TODAY: "closetoday", CLOSE_YESTERDAY: "closeyesterday"}
_SIDE = {"long": BUY, "short": SELL}
_SIDE_NAMES = {BUY: "long", SELL: "short"}


# A bar's Record and its dict are reused for the next bar when nothing but the loop holds them (the local
# name, self.bar and getrefcount's own argument: what the loop counts on an empty Record before it starts,
# so the figure follows the interpreter's way of counting): a strategy that kept neither cannot see the
# difference, and a million allocations, fills of the fixed fields and frees are saved, a quarter of the
# replay (CPython's zip reuses its result tuple the same way). Kept in a list, an attribute or a closure, or
# its dict taken with vars(), a bar is left alone and a new one made; so is one whose dict got a key added (a
# Record is read-only: only writing into its __dict__ changes one; Records take no weak references).


class BarEngine:
    """One bar-mode run: the strategy's host (its `_send`), the matcher, the Ledger, the day rolls."""

    def __init__(self, spec: BacktestSpec, bars: Bars, strategy: Strategy, feed: Feed | None = None,
                 expected: int | None = None) -> None:  # fmt: skip
        self.spec = spec
        self.bars = bars
        self.strategy = strategy
        self.feed = feed  # more bars while the run goes (the CLI streams its CSV to its child)
        self.expected = expected  # how many bars the feed will have brought: for progress and the equity's spacing
        self.name = str(getattr(strategy, "name", ""))
        self.local_symbol = spec.local_symbol
        terms = spec.terms or with_symbol(sim_terms(spec.local_symbol), spec.local_symbol)
        self.terms: Terms = terms
        self.ispec = to_spec(terms)
        self.symbol = self.ispec.symbol
        self.exchange = self.ispec.exchange
        self.size = terms.size
        self.tick = terms.pricetick
        self.worse = spec.slippage_ticks * terms.pricetick  # how much worse each fill is, in price
        self.splits = self.exchange in SPLIT_EXCHANGES
        self.close_pattern = spec.close_pattern
        self.ledger = Ledger(ACCOUNT_ID, spec.capital)
        self.first = 0 if spec.start_ms is None else bisect_left(bars.start_ms, spec.start_ms)
        self.end = len(bars) if spec.end_ms is None else bisect_left(bars.start_ms, spec.end_ms)
        self.day = ""
        self.pre_settlement = 0.0
        self.limit_up = math.inf
        self.limit_down = 0.0
        self.bar: Record = record({"close_price": 0.0, "datetime": ""})  # the bar being handled
        self.working: list[list] = []  # [order, side code, offset code] of accepted unfinished orders
        self.sides = {"long": Side(), "short": Side()}
        self.orders: list[dict[str, Any]] = []
        self.trades: list[dict[str, Any]] = []
        self.logs: list[dict[str, Any]] = []
        self.daily: list[dict[str, Any]] = []
        self.equity: list[list] = []
        self.next_ref = 0
        self.next_trade = 0
        self._day_sums = [0.0, 0.0, 0.0, 0]  # commission, slippage, turnover, fills of the current day
        self.peak = spec.capital
        self.balance_before = spec.capital

    # ------------------------------------------------------------------------- the strategy's host
    def send(self, command: dict[str, Any]) -> dict[str, Any] | None:
        """strategy._send: each command of backend/strategy.py, answered as the live server answers it."""
        kind = command.get("k")
        if kind == "order":
            return self._order(command)
        if kind == "cancel":
            return self._cancel(str(command.get("order_id")))
        if kind == "cancel_all":
            cancelled = [self._finish(entry, "cancelled", "已撤单") for entry in list(self.working)]
            return {"ok": True, "cancelled": len(cancelled)}
        if kind == "subscribe":
            name = str(command.get("local_symbol"))
            if name != self.local_symbol:
                return {"ok": False, "error": f"the backtest has bars of {self.local_symbol} only, not {name}"}
            return {"ok": True}
        if kind == "main_contract":
            return {"ok": True, "local_symbol": self.local_symbol}
        if kind == "load_bars":
            return self._load_bars(command)
        if kind == "log":
            if len(self.logs) < MAX_LOGS:
                self.logs.append({"time": self.bar.datetime, "level": command.get("level", "INFO"),
                                  "message": str(command.get("message", ""))[:2000]})  # fmt: skip
            return None
        return {"ok": False, "error": f"unknown command {kind!r}"}

    def _warmup_asked(self, command: dict[str, Any], interval: str, data: str) -> tuple[str, str, int] | dict[str, Any]:
        """A load_bars command's (local_symbol, interval, count), or the answer refusing it."""
        name = str(command.get("local_symbol", ""))
        count = int(command.get("count", 0))
        if not 1 <= count <= MAX_WARMUP_BARS:
            return {"ok": False, "error": f"count must be 1..{MAX_WARMUP_BARS}, got {count}"}
        if name != self.local_symbol:
            return {"ok": False, "error": f"the backtest has {data} of {self.local_symbol} only"}
        return name, str(command.get("interval") or interval), count

    def _load_bars(self, command: dict[str, Any]) -> dict[str, Any]:
        """The warm-up: the `count` bars before the backtest's start (as the store answers live)."""
        asked = self._warmup_asked(command, self.bars.interval, "bars")
        if isinstance(asked, dict):
            return asked
        name, interval, count = asked
        if interval != self.bars.interval:
            return {"ok": False, "error": f"the backtest has {self.bars.interval} bars, not {interval}"}
        bars, begin = self.bars, max(0, self.first - count)
        rows = [[bars.start_ms[i], bars.open[i], bars.high[i], bars.low[i], bars.close[i], int(bars.volume[i])]
                for i in range(begin, self.first)]  # fmt: skip
        return {"ok": True, "local_symbol": name, "interval": interval, "rows": rows}

    def _order(self, command: dict[str, Any]) -> dict[str, Any]:
        name = command.get("local_symbol")
        direction = _SIDE.get(command.get("direction"))  # type: ignore[arg-type]
        offset = _OFFSETS.get(command.get("offset"))  # type: ignore[arg-type]
        try:
            price, volume = float(command.get("price", 0.0)), int(command.get("volume", 0))
        except (TypeError, ValueError):
            return self._refuse(command, counter_message(15))
        if name != self.local_symbol:
            return self._refuse(command, f"the backtest trades {self.local_symbol} only, not {name}")
        if direction is None or offset is None or command.get("type", "limit") != "limit":
            return self._refuse(command, "the lab takes limit orders: direction long/short, offset open/close")
        if volume <= 0 or not math.isfinite(price) or price <= 0:
            return self._refuse(command, counter_message(15))
        self.ledger.mark(self.symbol, self.bar.close_price)
        if offset == OPEN:
            order = self._insert(direction, OPEN, price, volume)
            return {"ok": order["status"] != "rejected", "order": order}
        pieces = self._split_close(direction, offset, volume)
        if isinstance(pieces, str):
            return self._refuse(command, pieces)
        return {"ok": True, "orders": [self._insert(direction, piece, price, lots) for piece, lots in pieces]}

    def _split_close(self, direction: str, offset: str, volume: int) -> list[tuple[str, int]] | str:
        """As the live ClosePosition (engine/converter.split_close): on SHFE/INE the free lots in the spec's
        close pattern (the desk's CLOSE_PATTERN: today's by CloseToday first, or yesterday's by CloseYesterday
        first); elsewhere one Close."""
        if not self.splits:
            return [(CLOSE, volume)]
        if offset != CLOSE:
            return [(offset, volume)]
        posi = LONG if direction == SELL else SHORT
        free = self.ledger.free_lots(self.symbol, posi)
        today, yesterday = free[TODAY], free[YESTERDAY]
        if volume > today + yesterday:
            side = "long" if posi == LONG else "short"
            return f"close {volume} {self.local_symbol}: only {today + yesterday} of the {side} position are free"
        return [(CLOSE_TODAY if kind == TODAY else CLOSE_YESTERDAY, lots)
                for kind, lots in split_lots(volume, today, yesterday, self.close_pattern)]  # fmt: skip

    def _refuse(self, command: dict[str, Any], reason: str) -> dict[str, Any]:
        """Refused before the counter (as strategy_runtime/manager._refused_order): on_order hears it too."""
        data = {"order_id": "", "local_symbol": str(command.get("local_symbol", "")),
                "direction": command.get("direction"), "offset": command.get("offset"),
                "type": command.get("type", "limit"), "price": command.get("price"), "volume": command.get("volume"),
                "traded": 0, "status": "rejected", "status_msg": reason, "strategy": self.name}  # fmt: skip
        self.strategy.on_order(record(data))
        return {"ok": False, "error": reason}

    def _insert(self, direction: str, offset: str, price: float, volume: int) -> dict[str, Any]:
        """The counter's check (the sim's Ledger), the exchange's (tick, price limits), then working."""
        self.next_ref += 1
        order_id = f"1_1_{self.next_ref}"
        order = {"order_id": order_id, "local_order_id": str(self.next_ref), "symbol": self.symbol,
                 "exchange": self.exchange, "local_symbol": self.local_symbol, "direction": _SIDE_NAMES[direction],
                 "offset": _OFFSET_NAMES[offset], "type": "limit", "price": price, "volume": volume, "traded": 0,
                 "status": "nottraded", "status_msg": "未成交", "time": self.bar.datetime,
                 "strategy": self.name}  # fmt: skip
        self.orders.append(order)
        error = self.ledger.check_order(self.ispec, direction, offset, price, volume)
        reason = counter_message(error) if error else self._exchange_check(price)
        view = record(order)
        if reason:
            order["status"], order["status_msg"] = "rejected", reason
            view = record(order)
        else:
            self.ledger.freeze(order_id, self.ispec, direction, offset, price, volume)
            self.working.append([order, direction, offset])
            self.strategy.active_orders[order_id] = view
        self.strategy.on_order(view)
        return order.copy()

    def _exchange_check(self, price: float) -> str:
        """The sim exchange's refusals (sim/trading.py _exchange_check) that apply to a limit order here."""
        if not on_tick(price, self.tick):
            return "报单价格不是最小变动价位的整数倍"
        if price > self.limit_up + 1e-9:
            return "报单价格超过涨停板"
        if price < self.limit_down - 1e-9:
            return "报单价格跌破跌停板"
        return ""

    def _cancel(self, order_id: str) -> dict[str, Any]:
        for entry in self.working:
            if entry[0]["order_id"] == order_id:
                return {"ok": True, "order": self._finish(entry, "cancelled", "已撤单")}
        if any(order["order_id"] == order_id for order in self.orders):
            return {"ok": False, "error": "the order is already finished"}
        return {"ok": False, "error": "not an order of this strategy"}

    def _finish(self, entry: list, status: str, message: str) -> dict[str, Any]:
        """Cancel or expire a working order: its frozen money and lots go back, on_order hears it."""
        order = entry[0]
        self.working.remove(entry)
        self.ledger.release(order["order_id"])
        order["status"], order["status_msg"] = status, message
        self.strategy.active_orders.pop(order["order_id"], None)
        self.strategy.on_order(record(order))
        return dict(order)

    # ------------------------------------------------------------------------- matching (bar N+1)
    def match(self, i: int) -> None:
        """Working orders against bar i (they were sent while handling an earlier bar), oldest first."""
        bars = self.bars
        high, low, open_ = bars.high[i], bars.low[i], bars.open[i]
        cap = math.floor(self.spec.fill_share * bars.volume[i] + 1e-9)
        locked_up = high == low and high >= self.limit_up - 1e-9
        locked_down = high == low and low <= self.limit_down + 1e-9
        used = 0
        for entry in list(self.working):
            if used >= cap:
                break
            order = entry[0]
            if order["status"] == "cancelled":  # by a callback of an earlier fill on this bar
                continue
            price = order["price"]
            if entry[1] == BUY:
                if locked_up or low > price + 1e-9:
                    continue
                fill = min(price, open_)
            else:
                if locked_down or high < price - 1e-9:
                    continue
                fill = max(price, open_)
            lots = min(order["volume"] - order["traded"], cap - used)
            used += lots
            self._fill(entry, fill, lots, i)

    def _fill(self, entry: list, price: float, lots: int, i: int) -> None:
        order, direction, offset = entry
        slippage = 0.0
        if self.worse:
            slipped = min(price + self.worse, self.limit_up) if direction == BUY else max(price - self.worse,
                                                                                          self.limit_down)  # fmt: skip
            slipped = to_tick(slipped, self.tick)
            slippage = abs(slipped - price) * lots * self.size
            price = slipped
        self.next_trade += 1
        trade_id = str(self.next_trade)
        order_id = order["order_id"]
        ledger = self.ledger
        result = ledger.fill(order_id, self.ispec, direction, offset, price, lots, self.day, trade_id)
        traded = order["traded"] = order["traded"] + lots
        done = traded == order["volume"]
        if done:
            order["status"], order["status_msg"] = "alltraded", "全部成交"
            self.working.remove(entry)
        else:
            order["status"], order["status_msg"] = "parttraded", "部分成交"
        commission = result.commission
        sums = self._day_sums
        sums[0] += commission
        sums[1] += slippage
        sums[2] += price * lots * self.size
        sums[3] += 1
        trade = {"trade_id": trade_id, "order_id": order_id, "symbol": self.symbol, "exchange": self.exchange,
                 "local_symbol": self.local_symbol, "direction": order["direction"], "offset": order["offset"],
                 "price": price, "volume": lots, "time": self.bar.datetime, "strategy": self.name,
                 "commission": commission, "slippage": slippage, "trading_day": self.day}  # fmt: skip
        self.trades.append(trade)
        opening = offset == OPEN
        long_side = (direction == BUY) == opening
        side_name = "long" if long_side else "short"
        if opening:
            self.sides[side_name].open(price, lots)
        else:
            self.sides[side_name].close(price, result.closed_today, result.closed_yesterday, 1 if long_side else -1,
                                        self.size)  # fmt: skip
        strategy = self.strategy
        strategy.on_trade(record(trade))
        view = record(order)
        if done:
            strategy.active_orders.pop(order_id, None)
        else:
            strategy.active_orders[order_id] = view
        strategy.on_order(view)
        ledger.mark(self.symbol, self.bars.close[i])
        self._tell_position(side_name)
        self._tell_account()

    # ------------------------------------------------------------------------- state for the strategy
    def position(self, side_name: str) -> dict[str, Any]:
        """One side as API.md's Position (+ close_profit and strategy, as the live strategy book adds)."""
        side = self.sides[side_name]
        closing = SELL if side_name == "long" else BUY
        frozen = sum(entry[0]["volume"] - entry[0]["traded"] for entry in self.working
                     if entry[1] == closing and entry[2] != OPEN) if self.working else 0  # fmt: skip
        basis = side.yesterday * self.pre_settlement + side.today_cost
        ratio = self.terms.long_margin_ratio if side_name == "long" else self.terms.short_margin_ratio
        sign = 1 if side_name == "long" else -1
        mark = self.bar.close_price
        volume = side.volume
        return {"local_symbol": self.local_symbol, "symbol": self.symbol, "exchange": self.exchange,
                "direction": side_name, "volume": volume, "yd_volume": side.yesterday,
                "td_volume": volume - side.yesterday, "frozen": frozen, "available": max(0, volume - frozen),
                "price": side.open_cost / volume if volume else 0.0,
                "position_profit": (mark * volume - basis) * self.size * sign if volume else 0.0,
                "margin": basis * self.size * ratio, "close_profit": side.close_profit,
                "strategy": self.name}  # fmt: skip

    def _tell_position(self, side_name: str) -> None:
        position = record(self.position(side_name))
        self.strategy.positions[f"{self.local_symbol}.{side_name}"] = position
        self.strategy.on_position(position)

    def account(self) -> dict[str, Any]:
        figures = self.ledger.account()
        return {"accountid": ACCOUNT_ID, "balance": figures.balance, "available": figures.available,
                "margin": figures.margin, "frozen": figures.frozen_margin + figures.frozen_commission,
                "commission": figures.commission, "position_profit": figures.position_profit,
                "close_profit": figures.close_profit, "pre_balance": figures.pre_balance}  # fmt: skip

    def _tell_account(self) -> None:
        self.strategy.account = record(self.account())
        self.strategy.on_account(self.strategy.account)

    def contract(self) -> dict[str, Any]:
        terms = self.terms
        return {"local_symbol": self.local_symbol, "symbol": self.symbol, "exchange": self.exchange,
                "name": self.symbol, "product": "futures", "size": terms.size, "pricetick": terms.pricetick,
                "min_volume": 1, "max_volume": 1_000_000, "long_margin_ratio": terms.long_margin_ratio,
                "short_margin_ratio": terms.short_margin_ratio, "expire_date": None, "is_trading": True}  # fmt: skip

    # ------------------------------------------------------------------------- trading days
    def begin_day(self, day: str, pre_settlement: float) -> None:
        self.day = day
        self.ledger.trading_day = day
        self.pre_settlement = pre_settlement
        ratio = self.terms.limit_ratio
        if ratio > 0 and pre_settlement > 0:  # the sim's market.price_limits
            self.limit_up = to_tick(pre_settlement * (1 + ratio), self.tick, "floor")
            self.limit_down = max(to_tick(pre_settlement * (1 - ratio), self.tick, "ceil"), self.tick)
        else:
            self.limit_up, self.limit_down = math.inf, 0.0
        self._day_sums = [0.0, 0.0, 0.0, 0]

    def end_day(self, settlement: float, next_day: str) -> None:
        """The day's end as the sim's: working orders expire, the Ledger settles at the day's last price."""
        for entry in list(self.working):
            self._finish(entry, "cancelled", "已撤单")
        ledger = self.ledger
        ledger.mark(self.symbol, settlement)
        balance = ledger.account().balance
        self.peak = max(self.peak, balance)
        commission, slippage, turnover, count = self._day_sums
        self.daily.append(daily_row(self.day, settlement, balance - self.balance_before, commission, slippage,
                                    turnover, count, balance, balance - self.peak))  # fmt: skip
        self.balance_before = balance
        ledger.settle({self.symbol: settlement}, next_day)
        self.begin_day(next_day, settlement)
        for name, side in self.sides.items():
            side.settle()
            key = f"{self.local_symbol}.{name}"
            if key in self.strategy.positions:  # its lots are yesterday's now, at the settlement price
                self.strategy.positions[key] = record(self.position(name))
        self._tell_account()

    # ------------------------------------------------------------------------- the run
    def _prefetch(self) -> None:
        """With a feed: bars until the range's start is reached (what comes before it answers load_bars)."""
        bars, start = self.bars, self.spec.start_ms
        while (not len(bars) or (start is not None and bars.start_ms[-1] < start)) and self.feed and self.feed():
            pass
        self.first = 0 if start is None else bisect_left(bars.start_ms, start)
        self.end = len(bars) if self.spec.end_ms is None else bisect_left(bars.start_ms, self.spec.end_ms)

    def run(self, progress: Callable[[float], None] | None, cancelled: Callable[[], bool] | None) -> Report:
        strategy, bars = self.strategy, self.bars
        if self.feed is not None:
            self._prefetch()
        if self.first >= self.end:
            raise BadInput("no bars in the range to backtest")
        interval = getattr(strategy, "bar_interval", "1m")
        if interval != bars.interval:
            raise BadInput(f"the strategy takes {interval} bars (bar_interval), the data are {bars.interval} bars")
        strategy.contracts = MappingProxyType({self.local_symbol: record(self.contract())})
        strategy._send = self.send
        first_ms = bars.start_ms[self.first]
        before = self.first - 1
        pre = bars.close[before] if before >= 0 else bars.open[self.first]
        self.begin_day(trading_day_of(first_ms)[0], pre)
        self.bar = record({"close_price": pre, "datetime": iso(first_ms)})  # on_init: before the first bar
        strategy.account = record(self.account())
        strategy.on_init()
        last = self._loop(progress, cancelled)
        self.end_day(bars.close[last], self.day)  # the last day settles too (its row is the last daily row)
        strategy.on_stop()
        return self._report()

    def _loop(self, progress: Callable[[float], None] | None, cancelled: Callable[[], bool] | None) -> int:
        """The hot loop: locals only; a Record per bar unless the last can be reused (see above), a match only
        when orders work, no ledger marking."""
        bars = self.bars
        start_ms, opens, highs, lows, closes, volumes, interests = bars.columns()
        first, end = self.first, self.end
        on_bar = self.strategy.on_bar
        new = Record.__new__
        suffix = MINUTE_SUFFIX.get
        fields = {"local_symbol": self.local_symbol, "symbol": self.symbol, "exchange": self.exchange,
                  "interval": bars.interval, "datetime": "", "open_price": 0.0, "high_price": 0.0, "low_price": 0.0,
                  "close_price": 0.0, "volume": 0, "turnover": 0.0, "open_interest": 0.0}  # API.md's order
        width = len(fields)
        refs = sys.getrefcount
        before, bar = self.bar, new(Record)  # an empty probe: what the loop alone holds of a bar and its dict
        view = bar.__dict__
        self.bar = bar
        held_bar, held_view = refs(bar), refs(view)
        self.bar = before  # the probe is never a bar: its empty dict makes the first bar a new one
        working = self.working
        boundary = -1  # the next 18:00 (a trading day may start there)
        midnight = next_midnight = next_event = -1
        prefix = ""
        planned = max(1, (self.expected - first) if self.expected else end - first)
        every = max(1, planned // MAX_EQUITY_POINTS)
        sample_at = first
        report_every = max(1, planned // PROGRESS_STEPS)
        report_at = first + report_every
        i = lo = first
        while True:  # one pass without a feed; with one, a pass per piece of bars as they arrive
            piece = (start_ms[lo:end], opens[lo:end], highs[lo:end], lows[lo:end], closes[lo:end],
                     map(int, volumes[lo:end]), interests[lo:end])  # lots as int, converted in C  # fmt: skip
            for i, t, open_, high, low, close, volume, interest in zip(count(lo), *piece):  # noqa: B007
                if t >= next_event:  # an 18:00 (a trading day may start) or a midnight (the date changes) passed
                    if t >= boundary:
                        day, boundary = trading_day_of(t)
                        if day != self.day:
                            self.end_day(closes[i - 1], day)
                    if t >= next_midnight:
                        midnight = t - (t + 8 * HOUR_MS) % DAY_MS
                        next_midnight = midnight + DAY_MS
                        prefix = local_day(t).isoformat()
                    next_event = min(boundary, next_midnight)
                if refs(bar) > held_bar or refs(view) > held_view or len(view) != width:
                    bar = new(Record)  # the last one is kept (by the strategy) or was written into: a new one
                    view = bar.__dict__
                    view.update(fields)
                end_of_name = suffix(t - midnight)
                view["datetime"] = prefix + end_of_name if end_of_name else iso(t)
                view["open_price"] = open_
                view["high_price"] = high
                view["low_price"] = low
                view["close_price"] = close
                view["volume"] = volume
                view["open_interest"] = interest
                self.bar = bar
                if working:  # orders sent while handling an earlier bar meet this one before on_bar sees it
                    self.match(i)
                on_bar(bar)
                if i >= sample_at:
                    sample_at += every
                    self._sample(t, close)
                    if i >= report_at:
                        report_at += report_every
                        if cancelled is not None and cancelled():
                            raise Cancelled("cancelled")
                        if progress is not None:
                            progress(min(1.0, (i - first + 1) / planned))
            lo = end
            if end < len(start_ms) or not self.feed or not self.feed():  # the range's end, or no more bars
                return i
            end = len(start_ms) if self.spec.end_ms is None else bisect_left(start_ms, self.spec.end_ms, lo)

    def _sample(self, t: int, close: float) -> None:
        self.ledger.mark(self.symbol, close)
        self.equity.append([t, self.ledger.account().balance, 0.0])

    def _report(self) -> Report:
        stats = compute_stats(self.daily, self.trades, self.spec.capital, self.size)
        return Report(stats=stats, trades=self.trades, orders=[dict(order) for order in self.orders],
                      daily=self.daily, equity=_equity(self.equity, self.spec.capital), logs=self.logs)  # fmt: skip


def _equity(points: list[list], capital: float) -> list[list]:
    """[start_ms, balance, drawdown] with the drawdown from the running peak of the sampled balances."""
    peak, out = capital, []
    for t, balance, _ in points[:MAX_EQUITY_POINTS]:
        peak = max(peak, balance)
        out.append([t, balance, balance - peak])
    return out


def run_backtest(spec: BacktestSpec, data: Any, progress: Callable[[float], None] | None = None,
                 cancelled: Callable[[], bool] | None = None, feed: Feed | None = None,
                 expected: int | None = None) -> Report:  # fmt: skip
    """One backtest in this process; LabError for bad input or the user's error (their line, user_error).

    Bar mode may start on part of the bars: `feed()` appends more to `data` (False when there are no more),
    `expected` is how many there will be in all (for progress)."""
    if spec.mode == "tick":
        from backend.lab import tick_mode  # lab-ticks' module

        return tick_mode.run_tick_backtest(spec, data, progress, cancelled)  # type: ignore[attr-defined]
    if not isinstance(data, Bars):
        raise BadInput("bar mode needs bars")
    if data.local_symbol != spec.local_symbol:
        raise BadInput(f"the bars are of {data.local_symbol}, the backtest of {spec.local_symbol}")
    if spec.interval != data.interval:
        raise BadInput(f"the backtest asks for {spec.interval} bars, the data are {data.interval} bars")
    try:
        terms_known = spec.terms is not None or sim_terms(spec.local_symbol)
    except KeyError as error:
        raise BadInput(f"{error.args[0]}: give the contract's terms") from None
    del terms_known
    from backend.strategy_runtime.guards import user_error

    try:
        strategy = load_strategy(spec.code, spec.params)
        report = BarEngine(spec, data, strategy, feed, expected).run(progress, cancelled)
    except LabError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever the user's code raised ends the run, with their line
        raise LabError(user_error(error, CODE_FILE)) from error
    if progress is not None:
        progress(1.0)
    return report
