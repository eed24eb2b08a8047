"""Bar mode: the user's Strategy, unchanged, against recorded bars, with the sim's Ledger as the account.

Runs in the calling process: only the child (child.py) or a test calls `run_backtest` directly; the
server, the CLI and sweeps go through child.run_in_child, so user code never runs in the server.

The strategy is hosted as a live worker hosts it (strategy_runtime/worker.py + dispatch.py): the same
callbacks get the same Record objects with API.md's field names, and its actions arrive as the same
commands (`strategy._send`), answered in-process here instead of over a pipe. What differs from live,
and why, is in docs/lab.md ("Bar mode"):

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

import linecache
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from backend.lab.data import Bars
from backend.lab.report import LabError, Report
from backend.lab.spec import BacktestSpec
from backend.lab.stats import MAX_EQUITY_POINTS, compute_stats, daily_row
from backend.lab.terms import Terms, sim_terms, to_spec, with_symbol
from backend.sim.ledger import BUY, CLOSE, CLOSE_TODAY, CLOSE_YESTERDAY, LONG, OPEN, SELL, SHORT, Ledger
from backend.sim.positions import TODAY, YESTERDAY
from backend.sim.wire import ERROR_MESSAGES
from backend.strategy import Record, Strategy, record
from backend.strategy_runtime.params import ParamsError, check_params, declared_params
from lib.price_grid import on_tick, to_tick

SHANGHAI = timezone(timedelta(hours=8))
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
NIGHT_START_MS = 18 * HOUR_MS  # lib.trading_calendar.NIGHT_START: from 18:00 on, the next trading day
CODE_FILE = "<strategy backtest>"  # what user_error keeps frames of
MAX_WARMUP_BARS = 20_000  # as the live load_bars (strategy_runtime/manager.py)
MAX_LOGS = 1000
PROGRESS_STEPS = 200
SPLIT_EXCHANGES = frozenset({"SHFE", "INE"})
ACCOUNT_ID = "backtest"

_OFFSETS = {"open": OPEN, "close": CLOSE, "closetoday": CLOSE_TODAY, "closeyesterday": CLOSE_YESTERDAY}
_OFFSET_NAMES = {OPEN: "open", CLOSE: "close", CLOSE_TODAY: "closetoday", CLOSE_YESTERDAY: "closeyesterday"}
_SIDE = {"long": BUY, "short": SELL}
_SIDE_NAMES = {BUY: "long", SELL: "short"}


class Cancelled(LabError):
    """The run was cancelled from outside (cancelled() answered True)."""


def _suffixes() -> list[str]:
    """The time part of an ISO start for every minute of the day: on_bar's `datetime` without a strftime."""
    return [f"T{minute // 60:02d}:{minute % 60:02d}:00+08:00" for minute in range(1440)]


_MINUTE_SUFFIX = _suffixes()


def local_day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).date()


def trading_day_of(ms: int) -> tuple[str, int]:
    """(the trading day YYYYMMDD, the epoch ms of the next 18:00 exchange time, until which it holds).

    backend.sim.calendar.trading_day_for's rule: from 18:00 on the next business day, before it the
    calendar day when a business day, else the next one. The answer is constant from one 18:00 to the
    next, so the loop recomputes it once a day, not once a bar."""
    local = ms + 8 * HOUR_MS
    midnight = local - local % DAY_MS
    day = datetime.fromtimestamp(midnight / 1000, UTC).date()
    evening = local % DAY_MS >= NIGHT_START_MS
    if evening or day.weekday() >= 5:
        day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
    boundary = midnight + NIGHT_START_MS + (DAY_MS if evening else 0)
    return day.strftime("%Y%m%d"), boundary - 8 * HOUR_MS


def load_strategy(code: str, overrides: dict[str, Any]) -> Strategy:
    """Compile the user's code as the worker does (their file's lines in tracebacks), params merged and checked."""
    try:
        checked = check_params(declared_params(code), overrides or {})
    except ParamsError as error:
        raise LabError(str(error)) from None
    linecache.cache[CODE_FILE] = (len(code), None, code.splitlines(True), CODE_FILE)
    namespace: dict[str, Any] = {"__name__": "strategy"}
    exec(compile(code, CODE_FILE, "exec"), namespace)  # noqa: S102 - the point: the user's strategy
    strategy = namespace.get("ext")
    if not isinstance(strategy, Strategy):
        raise TypeError('the code must define `ext = YourStrategy("name")`, an instance of Strategy')
    strategy.params = {**(strategy.params or {}), **checked}
    return strategy


class BarEngine:
    """One bar-mode run: the strategy's host (its `_send`), the matcher, the Ledger, the day rolls."""

    def __init__(self, spec: BacktestSpec, bars: Bars, strategy: Strategy) -> None:
        self.spec = spec
        self.bars = bars
        self.strategy = strategy
        self.local_symbol = spec.local_symbol
        terms = spec.terms or with_symbol(sim_terms(spec.local_symbol), spec.local_symbol)
        self.terms: Terms = terms
        self.ispec = to_spec(terms)
        self.symbol = self.ispec.symbol
        self.exchange = self.ispec.exchange
        self.size = terms.size
        self.tick = terms.pricetick
        self.splits = self.exchange in SPLIT_EXCHANGES
        self.ledger = Ledger(ACCOUNT_ID, spec.capital)
        self.first = 0 if spec.start_ms is None else _first_at(bars, spec.start_ms)
        self.end = len(bars) if spec.end_ms is None else _first_at(bars, spec.end_ms)
        self.day = ""
        self.day_boundary = -1  # epoch ms from which the trading day must be recomputed
        self.pre_settlement = 0.0
        self.limit_up = math.inf
        self.limit_down = 0.0
        self.mark_price = 0.0  # the close of the bar being handled: what orders and fills mark the account at
        self.bar_ms = 0
        self.working: list[dict[str, Any]] = []  # accepted orders not yet finished, oldest first
        self.orders: list[dict[str, Any]] = []
        self.trades: list[dict[str, Any]] = []
        self.logs: list[dict[str, Any]] = []
        self.daily: list[dict[str, Any]] = []
        self.equity: list[list] = []
        self.next_ref = 0
        self.next_trade = 0
        self.bar_used = 0  # lots filled on the current bar (the fill_share cap is per bar)
        self.day_last_close = 0.0
        self._day_sums = [0.0, 0.0, 0.0, 0]  # commission, slippage, turnover, trades of the current day
        self.slippage_total = 0.0
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
            cancelled = [self._finish(order, "cancelled", "已撤单") for order in list(self.working)]
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
                self.logs.append({"time": self.bar_ms, "level": command.get("level", "INFO"),
                                  "message": str(command.get("message", ""))[:2000]})  # fmt: skip
            return None
        return {"ok": False, "error": f"unknown command {kind!r}"}

    def _load_bars(self, command: dict[str, Any]) -> dict[str, Any]:
        """The warm-up: the `count` bars before the backtest's start (as the store answers live)."""
        name = str(command.get("local_symbol", ""))
        interval = str(command.get("interval") or self.bars.interval)
        count = int(command.get("count", 0))
        if not 1 <= count <= MAX_WARMUP_BARS:
            return {"ok": False, "error": f"count must be 1..{MAX_WARMUP_BARS}, got {count}"}
        if name != self.local_symbol:
            return {"ok": False, "error": f"the backtest has bars of {self.local_symbol} only"}
        if interval != self.bars.interval:
            return {"ok": False, "error": f"the backtest has {self.bars.interval} bars, not {interval}"}
        bars, begin = self.bars, max(0, self.first - count)
        rows = [[bars.start_ms[i], bars.open[i], bars.high[i], bars.low[i], bars.close[i], int(bars.volume[i])]
                for i in range(begin, self.first)]  # fmt: skip
        return {"ok": True, "local_symbol": name, "interval": interval, "rows": rows}

    def _order(self, command: dict[str, Any]) -> dict[str, Any]:
        name = str(command.get("local_symbol", ""))
        direction = _SIDE.get(str(command.get("direction")))
        offset = _OFFSETS.get(str(command.get("offset")))
        price, volume = float(command.get("price", 0.0)), int(command.get("volume", 0))
        if name != self.local_symbol:
            return self._refuse(command, f"the backtest trades {self.local_symbol} only, not {name}")
        if direction is None or offset is None or command.get("type", "limit") != "limit":
            return self._refuse(command, "the lab takes limit orders: direction long/short, offset open/close")
        if volume <= 0 or not math.isfinite(price) or price <= 0:
            return self._refuse(command, ERROR_MESSAGES[15])
        self.ledger.mark(self.symbol, self.mark_price)
        if offset == OPEN:
            order = self._insert(direction, OPEN, price, volume)
            return {"ok": order["status"] != "rejected", "order": order}
        pieces = self._split_close(direction, offset, volume)
        if isinstance(pieces, str):
            return self._refuse(command, pieces)
        return {"ok": True, "orders": [self._insert(direction, piece, price, lots) for piece, lots in pieces]}

    def _split_close(self, direction: str, offset: str, volume: int) -> list[tuple[str, int]] | str:
        """As the live ClosePosition (engine/converter.split_close with CLOSE_PATTERN "today"): on SHFE/INE
        today's free lots by CloseToday first, then yesterday's by CloseYesterday; elsewhere one Close."""
        posi = LONG if direction == SELL else SHORT
        ledger = self.ledger
        if not self.splits:
            return [(CLOSE, volume)]
        if offset != CLOSE:
            return [(offset, volume)]
        today = ledger.closable(self.symbol, posi, (TODAY,))
        yesterday = ledger.closable(self.symbol, posi, (YESTERDAY,))
        if volume > today + yesterday:
            side = "long" if posi == LONG else "short"
            return f"close {volume} {self.local_symbol}: only {today + yesterday} of the {side} position are free"
        take = min(volume, today)
        pieces = [(CLOSE_TODAY, take)] if take else []
        if volume - take:
            pieces.append((CLOSE_YESTERDAY, volume - take))
        return pieces

    def _refuse(self, command: dict[str, Any], reason: str) -> dict[str, Any]:
        """Refused before the counter (as strategy_runtime/manager._refused_order): on_order hears it too."""
        data = {"order_id": "", "local_symbol": str(command.get("local_symbol", "")),
                "direction": command.get("direction"), "offset": command.get("offset"),
                "type": command.get("type", "limit"), "price": command.get("price"), "volume": command.get("volume"),
                "traded": 0, "status": "rejected", "status_msg": reason, "strategy": self.strategy.name}  # fmt: skip
        self.strategy.on_order(record(data))
        return {"ok": False, "error": reason}

    def _insert(self, direction: str, offset: str, price: float, volume: int) -> dict[str, Any]:
        """The counter's check (the sim's Ledger), the exchange's (tick, price limits), then working."""
        self.next_ref += 1
        order = {"order_id": f"1_1_{self.next_ref}", "local_order_id": str(self.next_ref), "symbol": self.symbol,
                 "exchange": self.exchange, "local_symbol": self.local_symbol, "direction": _SIDE_NAMES[direction],
                 "offset": _OFFSET_NAMES[offset], "type": "limit", "price": price, "volume": volume, "traded": 0,
                 "status": "nottraded", "status_msg": "未成交", "time": _iso(self.bar_ms),
                 "strategy": self.strategy.name}  # fmt: skip
        self.orders.append(order)
        error = self.ledger.check_order(self.ispec, direction, offset, price, volume)
        reason = ERROR_MESSAGES.get(error, f"CTP:错误{error}") if error else self._exchange_check(price)
        if reason:
            order["status"], order["status_msg"] = "rejected", reason
        else:
            self.ledger.freeze(order["order_id"], self.ispec, direction, offset, price, volume)
            order["_d"], order["_o"] = direction, offset
            self.working.append(order)
        view = _public(order)
        if not reason:
            self.strategy.active_orders[order["order_id"]] = view
        self.strategy.on_order(view)
        return _plain(order)

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
        for order in self.working:
            if order["order_id"] == order_id:
                return {"ok": True, "order": self._finish(order, "cancelled", "已撤单")}
        if any(order["order_id"] == order_id for order in self.orders):
            return {"ok": False, "error": "the order is already finished"}
        return {"ok": False, "error": "not an order of this strategy"}

    def _finish(self, order: dict[str, Any], status: str, message: str) -> dict[str, Any]:
        """Cancel or expire a working order: its frozen money and lots go back, on_order hears it."""
        self.working.remove(order)
        self.ledger.release(order["order_id"])
        order["status"], order["status_msg"] = status, message
        self.strategy.active_orders.pop(order["order_id"], None)
        self.strategy.on_order(_public(order))
        return _plain(order)

    # ------------------------------------------------------------------------- matching (bar N+1)
    def match(self, i: int) -> None:
        """Working orders against bar i (they were sent while handling an earlier bar)."""
        bars = self.bars
        high, low, open_ = bars.high[i], bars.low[i], bars.open[i]
        cap = math.floor(self.spec.fill_share * bars.volume[i] + 1e-9)
        limit_up, limit_down = self.limit_up, self.limit_down
        locked_up = high == low and high >= limit_up - 1e-9
        locked_down = high == low and low <= limit_down + 1e-9
        used = 0
        for order in list(self.working):
            if used >= cap:
                break
            price = order["price"]
            if order["_d"] == BUY:
                if locked_up or low > price + 1e-9:
                    continue
                fill = min(price, open_)
            else:
                if locked_down or high < price - 1e-9:
                    continue
                fill = max(price, open_)
            lots = min(order["volume"] - order["traded"], cap - used)
            used += lots
            self._fill(order, fill, lots, i)

    def _fill(self, order: dict[str, Any], price: float, lots: int, i: int) -> None:
        direction = order["_d"]
        worse = self.spec.slippage_ticks * self.tick
        if worse:
            slipped = min(price + worse, self.limit_up) if direction == BUY else max(price - worse, self.limit_down)
            slipped = to_tick(slipped, self.tick)
            slippage = abs(slipped - price) * lots * self.size
            price = slipped
        else:
            slippage = 0.0
        self.next_trade += 1
        trade_id = str(self.next_trade)
        key = order["order_id"]
        result = self.ledger.fill(key, self.ispec, direction, order["_o"], price, lots, self.day, trade_id)
        order["traded"] += lots
        done = order["traded"] == order["volume"]
        order["status"], order["status_msg"] = ("alltraded", "全部成交") if done else ("parttraded", "部分成交")
        if done:
            self.working.remove(order)
        sums = self._day_sums
        sums[0] += result.commission
        sums[1] += slippage
        sums[2] += price * lots * self.size
        sums[3] += 1
        self.slippage_total += slippage
        trade = {"trade_id": trade_id, "order_id": order["order_id"], "symbol": self.symbol, "exchange": self.exchange,
                 "local_symbol": self.local_symbol, "direction": order["direction"], "offset": order["offset"],
                 "price": price, "volume": lots, "time": _iso(self.bars.start_ms[i]),
                 "strategy": self.strategy.name, "commission": result.commission, "slippage": slippage,
                 "trading_day": self.day}  # fmt: skip
        self.trades.append(trade)
        strategy = self.strategy
        strategy.on_trade(record(trade))
        view = _public(order)
        if done:
            strategy.active_orders.pop(order["order_id"], None)
        else:
            strategy.active_orders[order["order_id"]] = view
        strategy.on_order(view)
        self.ledger.mark(self.symbol, self.bars.close[i])
        side = "long" if (direction == BUY) == (order["_o"] == OPEN) else "short"
        position = record(self.position(side))
        strategy.positions[f"{self.local_symbol}.{side}"] = position
        strategy.on_position(position)
        self._tell_account()

    # ------------------------------------------------------------------------- state for the strategy
    def position(self, side: str) -> dict[str, Any]:
        """One side as API.md's Position (+ close_profit and strategy, as the strategy's own book adds)."""
        posi = LONG if side == "long" else SHORT
        rows = [row for row in self.ledger.positions(self.day) if row.posi_direction == posi]
        volume = sum(row.position for row in rows)
        today = sum(row.today_position for row in rows) if not self.splits else sum(
            row.position for row in rows if row.position_date == "1")
        frozen = sum(row.long_frozen + row.short_frozen for row in rows)
        open_cost = sum(row.open_cost for row in rows)
        return {"local_symbol": self.local_symbol, "symbol": self.symbol, "exchange": self.exchange,
                "direction": side, "volume": volume, "yd_volume": volume - today, "td_volume": today,
                "frozen": frozen, "available": max(0, volume - frozen),
                "price": open_cost / (volume * self.size) if volume else 0.0,
                "position_profit": sum(row.position_profit for row in rows),
                "margin": sum(row.use_margin for row in rows),
                "close_profit": sum(row.close_profit for row in rows), "strategy": self.strategy.name}  # fmt: skip

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

    def end_day(self, next_day: str) -> None:
        """The day's end as the sim's: working orders expire, the Ledger settles at the day's last price."""
        for order in list(self.working):
            self._finish(order, "cancelled", "已撤单")
        settlement = self.day_last_close
        self.ledger.mark(self.symbol, settlement)
        figures = self.ledger.account()
        balance = figures.balance
        self.peak = max(self.peak, balance)
        commission, slippage, turnover, count = self._day_sums
        self.daily.append(daily_row(self.day, settlement, balance - self.balance_before, commission, slippage,
                                    turnover, count, balance, balance - self.peak))  # fmt: skip
        self.balance_before = balance
        self.ledger.settle({self.symbol: settlement}, next_day)
        self.begin_day(next_day, settlement)
        if self.strategy.positions:
            for side in ("long", "short"):
                key = f"{self.local_symbol}.{side}"
                if key in self.strategy.positions:
                    self.strategy.positions[key] = record(self.position(side))
        self._tell_account()

    # ------------------------------------------------------------------------- the run
    def run(self, progress: Callable[[float], None] | None, cancelled: Callable[[], bool] | None) -> Report:
        strategy, bars = self.strategy, self.bars
        if self.first >= self.end:
            raise LabError("no bars in the range to backtest")
        interval = getattr(strategy, "bar_interval", "1m")
        if interval != bars.interval:
            raise LabError(f"the strategy takes {interval} bars (bar_interval), the data are {bars.interval} bars")
        strategy.contracts = MappingProxyType({self.local_symbol: record(self.contract())})
        strategy._send = self.send
        first_ms = bars.start_ms[self.first]
        day, self.day_boundary = trading_day_of(first_ms)
        before = self.first - 1
        pre = bars.close[before] if before >= 0 else bars.open[self.first]
        self.begin_day(day, pre)
        self.mark_price = pre
        self.bar_ms = first_ms
        self.strategy.account = record(self.account())
        strategy.on_init()
        self._loop(progress, cancelled)
        self.end_day(self.day)  # the last day settles too (its row is the last daily row)
        strategy.on_stop()
        return self._report()

    def _loop(self, progress: Callable[[float], None] | None, cancelled: Callable[[], bool] | None) -> None:
        """The hot loop: locals only; per bar one Record, a match only when orders work, no ledger marking."""
        bars = self.bars
        start_ms, opens, highs, lows, closes, volumes, interests = bars.columns()
        first, end = self.first, self.end
        on_bar = self.strategy.on_bar
        new, suffixes = Record.__new__, _MINUTE_SUFFIX
        fields = {"local_symbol": self.local_symbol, "symbol": self.symbol, "exchange": self.exchange,
                  "interval": bars.interval, "turnover": 0.0}  # fmt: skip
        working = self.working
        boundary = -1  # the next 18:00 (a trading day may start there)
        midnight, next_midnight, prefix = -1, -1, ""
        every = max(1, (end - first) // MAX_EQUITY_POINTS)
        sample_at = first
        report_every = max(1, (end - first) // PROGRESS_STEPS)
        report_at = first + report_every
        for i in range(first, end):
            t = start_ms[i]
            if t >= boundary:
                day, boundary = trading_day_of(t)
                if day != self.day:
                    self.end_day(day)
            if t >= next_midnight:
                midnight = t - (t + 8 * HOUR_MS) % DAY_MS
                next_midnight = midnight + DAY_MS
                prefix = local_day(t).isoformat()
            close = closes[i]
            self.mark_price = close
            self.bar_ms = t
            if working:
                self.bar_used = 0
                self.match(i)
            bar = new(Record)
            view = bar.__dict__
            view.update(fields)
            offset = t - midnight
            view["datetime"] = prefix + suffixes[offset // 60_000] if offset % 60_000 == 0 else _iso(t)
            view["open_price"] = opens[i]
            view["high_price"] = highs[i]
            view["low_price"] = lows[i]
            view["close_price"] = close
            view["volume"] = int(volumes[i])
            view["open_interest"] = interests[i]
            on_bar(bar)
            self.day_last_close = close
            if i >= sample_at:
                sample_at += every
                self._sample(t, close)
            if i >= report_at:
                report_at += report_every
                if cancelled is not None and cancelled():
                    raise Cancelled("cancelled")
                if progress is not None:
                    progress((i - first + 1) / (end - first))

    def _sample(self, t: int, close: float) -> None:
        self.ledger.mark(self.symbol, close)
        self.equity.append([t, self.ledger.account().balance, 0.0])

    def _report(self) -> Report:
        stats = compute_stats(self.daily, self.trades, self.spec.capital, self.size)
        orders = [_plain(order) for order in self.orders]
        return Report(stats=stats, trades=self.trades, orders=orders, daily=self.daily,
                      equity=_equity(self.equity, self.spec.capital), logs=self.logs)  # fmt: skip


def _equity(points: list[list], capital: float) -> list[list]:
    """[start_ms, balance, drawdown] with the drawdown from the running peak of the sampled balances."""
    peak, out = capital, []
    for t, balance, _ in points[:MAX_EQUITY_POINTS]:
        peak = max(peak, balance)
        out.append([t, balance, balance - peak])
    return out


def _first_at(bars: Bars, ms: int) -> int:
    from bisect import bisect_left

    return bisect_left(bars.start_ms, ms)


def _plain(order: dict[str, Any]) -> dict[str, Any]:
    """An order as API.md has it: without the engine's own keys (its side and offset codes)."""
    return {key: value for key, value in order.items() if not key.startswith("_")}


def _public(order: dict[str, Any]) -> Record:
    """An order as the strategy's callbacks get it: a read-only Record of its API.md fields."""
    return record(_plain(order))


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, SHANGHAI).isoformat()


def run_backtest(spec: BacktestSpec, data: Any, progress: Callable[[float], None] | None = None,
                 cancelled: Callable[[], bool] | None = None) -> Report:  # fmt: skip
    """One backtest in this process; LabError for bad input or the user's error (their line, user_error)."""
    if spec.mode == "tick":
        from backend.lab import tick_mode  # lab-ticks' module

        return tick_mode.run_tick_backtest(spec, data, progress, cancelled)  # type: ignore[attr-defined]
    if not isinstance(data, Bars):
        raise LabError("bar mode needs bars")
    if data.local_symbol != spec.local_symbol:
        raise LabError(f"the bars are of {data.local_symbol}, the backtest of {spec.local_symbol}")
    if spec.interval != data.interval:
        raise LabError(f"the backtest asks for {spec.interval} bars, the data are {data.interval} bars")
    try:
        terms_known = spec.terms is not None or sim_terms(spec.local_symbol)
    except KeyError as error:
        raise LabError(f"{error.args[0]}: give the contract's terms") from None
    del terms_known
    from backend.strategy_runtime.worker import user_error

    try:
        strategy = load_strategy(spec.code, spec.params)
        engine = BarEngine(spec, data, strategy)
        return engine.run(progress, cancelled)
    except LabError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever the user's code raised ends the run, with their line
        raise LabError(user_error(error, CODE_FILE)) from error
