"""The risk engine: the one component every order and cancel passes before the counter sees it.

It owns its counters (what the exchanges and the programmatic-trading rules count: orders and cancels
per second and per day, cancels, large cancels and self-trades per contract), keeps them in the store
so a restart does not forget them, and starts them again at the trading-day roll. The rules are pure
functions (risk_rules.py); this builds what they look at from the OMS, runs them, counts what was
sent and what the counter confirmed, warns before a line and holds the kill switch.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backend.engine.constants import Direction, Exchange, Offset, OrderType, Status
from backend.engine.exchange_lines import (
    BUSY_SECOND,
    HFT_PER_DAY,
    HFT_PER_SECOND,
    REPORTING_BUSY_SECONDS,
    AbnormalTradingLines,
    lines_of,
)
from backend.engine.objects import ContractData, OrderData, OrderRequest, TradeData, split_local_symbol
from backend.engine.oms import Oms, position_side
from backend.engine.risk import OrderRefused
from backend.engine.risk_rules import (
    CANCEL_RULES,
    ORDER_RULES,
    STRATEGY_OVERRIDES,
    CancelCheck,
    OrderCheck,
    RiskLimits,
    first_refusal,
)

COUNTERS_KEY = "risk_counters"  # the store's values: the day's counters, ...
KILL_KEY = "risk_kill"  # ... why the kill switch is on ("" armed), ...
LIMITS_KEY = "risk_limits"  # ... and the limits PUT /risk set (over the configuration's)


class RiskRefused(OrderRefused):
    """Refused by a risk rule; the message names the rule and the figures."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "risk")


@dataclass
class ContractCounts:
    cancels: int = 0
    large_cancels: int = 0
    self_trades: int = 0


@dataclass
class DayCounters:
    """What one trading day has counted so far (stored; the per-second windows are not)."""

    day: str = ""
    actions: int = 0  # orders + cancels sent
    busy_seconds: int = 0  # seconds with BUSY_SECOND or more actions
    peak_second: int = 0  # the most actions in one second
    contracts: dict[str, ContractCounts] = field(default_factory=dict)
    # cancels asked for and not yet answered (order id -> [local_symbol, lots]): the cancel rules count them
    # (a burst must not pass a line before the confirmations arrive) and a restart must not forget them
    cancelling: dict[str, list[Any]] = field(default_factory=dict)

    def of(self, local_symbol: str) -> ContractCounts:
        return self.contracts.setdefault(local_symbol, ContractCounts())

    def to_json(self) -> str:
        return json.dumps({"day": self.day, "actions": self.actions, "busy_seconds": self.busy_seconds,
                           "peak_second": self.peak_second,
                           "contracts": {name: [c.cancels, c.large_cancels, c.self_trades]
                                         for name, c in sorted(self.contracts.items())},
                           "cancelling": self.cancelling})  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> DayCounters:
        data = json.loads(text)
        contracts = {name: ContractCounts(*counts) for name, counts in data.get("contracts", {}).items()}
        return cls(
            data["day"],
            data["actions"],
            data["busy_seconds"],
            data.get("peak_second", 0),
            contracts,
            data.get("cancelling", {}),
        )


class _Window:
    """Actions in the last second (a sliding window) and the busy seconds they made."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()
        self._fresh: deque[float] = deque()  # those of the window after the busy second counted last
        self._busy_until = float("-inf")  # the end of the last busy second counted

    def count(self, now: float) -> int:
        for times in (self._times, self._fresh):
            while times and now - times[0] >= 1.0:
                times.popleft()
        return len(self._times)

    def add(self, now: float) -> int:
        self._times.append(now)
        if now >= self._busy_until:
            self._fresh.append(now)
        return self.count(now)

    def new_busy_second(self) -> bool:
        """BUSY_SECOND actions within the last second, none of them in the busy second counted before: a
        second is busy once however many more it holds (a steady 10 a second is one a second, not ten).
        Asked right after add(): every action then in the window is before the new busy second's end."""
        if len(self._fresh) < BUSY_SECOND:
            return False
        self._busy_until = self._fresh[0] + 1.0
        self._fresh.clear()
        return True


Notify = Callable[[dict[str, Any]], None]


class RiskEngine:
    def __init__(self, limits: RiskLimits, values: Any, notify: Notify, clock: Callable[[], float] = time.monotonic):
        """`values` is the store's value part (get_value/set_value): counters, kill switch and limits live there."""
        self.values = values
        self.notify = notify  # refusals, warnings and the kill switch, as events for the bus and the log
        self.clock = clock
        self.limits = limits
        self.strategy_limits: dict[str, dict[str, Any]] = {}
        self._load_limits()
        self.counters = self._load(COUNTERS_KEY, DayCounters.from_json, DayCounters())
        self.killed: str = self._load(KILL_KEY, str, "")
        self._account = _Window()
        self._strategies: dict[str, _Window] = {}
        self._trade_sides: dict[tuple[str, str], Direction] = {}  # (exchange, trade_id) -> the side first seen
        self._warned: set[tuple[str, str]] = set()
        self._products: tuple[Any, int, dict[str, tuple[str, ...]]] = (None, 0, {})  # see _product_names
        self.dirty = False  # counters changed since last saved (the engine saves them off the loop)

    # --- limits ----------------------------------------------------------------------------------------
    def limits_for(self, strategy: str | None) -> RiskLimits:
        overrides = self.strategy_limits.get(strategy or "", {})
        return self.limits.updated(overrides) if overrides else self.limits

    def set_limits(self, changes: dict[str, Any], strategies: dict[str, dict[str, Any]] | None = None) -> None:
        """Validate and apply (ValueError: nothing changed), then store."""
        limits = self.limits.updated(changes)
        overrides = dict(self.strategy_limits) if strategies is None else {}
        for name, values in (strategies or {}).items():
            unknown = sorted(set(values) - set(STRATEGY_OVERRIDES))
            if unknown:
                raise ValueError(f"{unknown[0]}: not a per-strategy limit ({', '.join(STRATEGY_OVERRIDES)})")
            limits.updated(values)  # validates the values
            if values:
                overrides[name] = dict(values)
        self.limits, self.strategy_limits = limits, overrides
        self.values.set_value(LIMITS_KEY, json.dumps({"limits": limits.to_dict(), "strategies": overrides}))

    def _load_limits(self) -> None:
        stored = self._load(LIMITS_KEY, json.loads, None)
        if stored:
            self.limits = self.limits.updated(stored.get("limits", {}))
            self.strategy_limits = stored.get("strategies", {})

    def _load(self, key: str, parse: Callable[[str], Any], default: Any) -> Any:
        try:
            text = self.values.get_value(key)
        except LookupError:
            return default
        return parse(text) if text else default

    # --- orders ----------------------------------------------------------------------------------------
    def check_order(self, request: OrderRequest, contract: ContractData, oms: Oms) -> list[str]:
        """Raise RiskRefused, or answer the ids of our own working orders to cancel first (self-trade
        prevention in cancel_resting mode; [] otherwise)."""
        limits = self.limits_for(request.strategy)
        check = self._order_check(request, contract, oms)
        refusal = first_refusal(ORDER_RULES, check, limits)
        if refusal is not None:
            self._refuse(refusal, contract.local_symbol, request.strategy)
        if limits.enabled and limits.self_trade == "cancel_resting":
            return list(check.crossing_own)
        return []

    def sent(self, strategy: str | None) -> None:
        """An order or a cancel went to the counter: it counts, whatever comes of it."""
        now = self.clock()
        in_second = self._account.add(now)
        if strategy:
            self._strategies.setdefault(strategy, _Window()).add(now)
        counters = self.counters
        counters.actions += 1
        counters.peak_second = max(counters.peak_second, in_second)
        if self._account.new_busy_second():
            counters.busy_seconds += 1
            self._warn_share("busy seconds", "", counters.busy_seconds, REPORTING_BUSY_SECONDS)
        self._warn_share("orders per day", "", counters.actions, self.limits.orders_per_day or HFT_PER_DAY)
        self.dirty = True

    def _order_check(self, request: OrderRequest, contract: ContractData, oms: Oms) -> OrderCheck:
        """What the rules look at, from the OMS's indexes: the cost follows the contract's and its
        product's book, not the day's orders or the whole account (bench/risk.py)."""
        now = self.clock()
        name = contract.local_symbol
        product = _product_key(contract)
        opening = request.offset is Offset.OPEN  # the position and loss rules look at opening orders only
        held, product_held = _held(oms, name, self._product_names(oms, product)) if opening else ({}, {})
        return OrderCheck(
            local_symbol=name, product=product, direction=request.direction, offset=request.offset,
            type=request.type, price=request.price, volume=request.volume, strategy=request.strategy,
            contract_max_volume=contract.max_volume, actions_this_second=self._account.count(now),
            strategy_actions_this_second=self._strategy_count(request.strategy, now),
            actions_today=self.counters.actions, busy_seconds_today=self.counters.busy_seconds,
            working_orders=oms.working_count(),
            held=held, product_held=product_held,
            crossing_own=tuple(o.order_id for o in oms.working_on(name) if _crosses(request, o)),
            day_loss=_day_loss(oms) if opening else 0.0, killed=self.killed,
        )  # fmt: skip

    def _product_names(self, oms: Oms, product: str) -> tuple[str, ...]:
        """The local_symbols of a product's contracts (made again when the OMS's contracts change)."""
        contracts = oms.contracts
        seen, size, names = self._products
        if seen is not contracts or size != len(contracts):
            grouped: dict[str, list[str]] = {}
            for local_symbol, each in contracts.items():
                grouped.setdefault(_product_key(each), []).append(local_symbol)
            names = {key: tuple(values) for key, values in grouped.items()}
            self._products = (contracts, len(contracts), names)
        return names.get(product, ())

    def _strategy_count(self, strategy: str | None, now: float) -> int:
        window = self._strategies.get(strategy or "")
        return window.count(now) if window is not None else 0

    # --- cancels ---------------------------------------------------------------------------------------
    def check_cancel(self, order: OrderData, contract: ContractData | None, strategy: str | None) -> None:
        now = self.clock()
        counts = self.counters.of(order.local_symbol)
        lines, max_volume = lines_of(order.exchange), contract.max_volume if contract else 0
        pending = [lots for order_id, (name, lots) in self.counters.cancelling.items()
                   if name == order.local_symbol and order_id != order.order_id]  # fmt: skip
        check = CancelCheck(
            local_symbol=order.local_symbol, lots=order.volume - order.traded, order_type=order.type,
            contract_max_volume=max_volume, actions_this_second=self._account.count(now),
            strategy_actions_this_second=self._strategy_count(strategy, now), actions_today=self.counters.actions,
            busy_seconds_today=self.counters.busy_seconds, cancels_today=counts.cancels + len(pending),
            large_cancels_today=counts.large_cancels + sum(lines.is_large(lots, max_volume) for lots in pending),
            lines=lines,
        )  # fmt: skip
        refusal = first_refusal(CANCEL_RULES, check, self.limits_for(strategy))
        if refusal is not None:
            self._refuse(refusal, order.local_symbol, strategy)

    def cancelling(self, order: OrderData) -> None:
        """A cancel went to the counter; FAK/FOK cancels never count, so they are not waited for."""
        if order.type not in (OrderType.FAK, OrderType.FOK):
            self.counters.cancelling[order.order_id] = [order.local_symbol, order.volume - order.traded]
        self.sent(order.strategy)

    # --- what the counter reports ---------------------------------------------------------------------------
    def on_order(self, order: OrderData, contract: ContractData | None) -> None:
        """A cancel we asked for and the counter confirmed counts as the exchange counts it."""
        if order.is_active or order.order_id not in self.counters.cancelling:
            return
        del self.counters.cancelling[order.order_id]  # answered: cancelled, or filled before the cancel arrived
        self.dirty = True
        if order.status is not Status.CANCELLED:
            return
        lines = lines_of(order.exchange)
        counts = self.counters.of(order.local_symbol)
        counts.cancels += 1
        self._warn_share("cancels", order.local_symbol, counts.cancels, lines.cancels)
        if lines.is_large(order.volume - order.traded, contract.max_volume if contract else 0):
            counts.large_cancels += 1
            self._warn_share("large cancels", order.local_symbol, counts.large_cancels, lines.large_cancels)
        self.dirty = True

    def on_trade(self, trade: TradeData) -> None:
        """Both sides of one trade are the account's: a self-trade (the sim and the exchanges give both
        fills the same TradeID)."""
        key = (trade.exchange.value, trade.trade_id)
        seen = self._trade_sides.setdefault(key, trade.direction)
        if seen is trade.direction:
            return
        counts = self.counters.of(trade.local_symbol)
        counts.self_trades += 1
        self._warn_share("self-trades", trade.local_symbol, counts.self_trades, lines_of(trade.exchange).self_trades)
        self.dirty = True

    def start_day(self, day: str) -> None:
        if day != self.counters.day:
            self.counters = DayCounters(day)
            self._trade_sides.clear()
            self._warned.clear()
            self.dirty = True

    # --- the kill switch -----------------------------------------------------------------------------
    def kill(self, reason: str) -> None:
        self.killed = reason or "by hand"
        self.values.set_value(KILL_KEY, self.killed)
        self.notify({"kind": "kill", "rule": "kill switch", "message": f"kill switch on: {self.killed}"})

    def rearm(self) -> None:
        self.killed = ""
        self.values.set_value(KILL_KEY, "")
        self.notify({"kind": "rearm", "rule": "kill switch", "message": "kill switch re-armed: orders accepted"})

    def loss_tripped(self, oms: Oms) -> bool:
        """The daily loss limit was reached and it is to trip the kill switch."""
        limits = self.limits
        return bool(limits.enabled and limits.kill_on_loss and limits.daily_loss_limit and not self.killed
                    and _day_loss(oms) >= limits.daily_loss_limit)  # fmt: skip

    # --- what GET /risk shows --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        now = self.clock()
        counters, limits = self.counters, self.limits
        lines = [
            _line("orders and cancels in the last second", self._account.count(now), limits.orders_per_second),
            _line("orders and cancels today", counters.actions, limits.orders_per_day),
            _line("seconds with 10 or more orders and cancels today (reporting line)", counters.busy_seconds,
                  REPORTING_BUSY_SECONDS),
            _line("most orders and cancels in one second today (high-frequency line)", counters.peak_second,
                  HFT_PER_SECOND),
            _line("orders and cancels today (high-frequency line)", counters.actions, HFT_PER_DAY),
        ]  # fmt: skip
        for name, counts in sorted(counters.contracts.items()):
            exchange_lines = lines_of_symbol(name)
            lines += [_line(f"{name} cancels", counts.cancels, exchange_lines.cancels),
                      _line(f"{name} large cancels", counts.large_cancels, exchange_lines.large_cancels),
                      _line(f"{name} self-trades", counts.self_trades, exchange_lines.self_trades)]  # fmt: skip
        return {"limits": limits.to_dict(), "strategies": self.strategy_limits, "trading_day": counters.day,
                "killed": self.killed, "counters": lines,
                "warnings": [line for line in lines if line["share"] >= limits.warn_share]}  # fmt: skip

    # --- plumbing --------------------------------------------------------------------------------------
    def saved_state(self) -> str:
        self.dirty = False
        return self.counters.to_json()

    def _refuse(self, message: str, local_symbol: str, strategy: str | None) -> None:
        self.notify({"kind": "refused", "rule": message.split(":", 1)[0], "message": message,
                     "local_symbol": local_symbol, "strategy": strategy or ""})  # fmt: skip
        raise RiskRefused(message)

    def _warn_share(self, what: str, local_symbol: str, count: int, line: int) -> None:
        """Once per count and day: a warning when a count reaches warn_share of its line."""
        if not line or count < self.limits.warn_share * line or (what, local_symbol) in self._warned:
            return
        self._warned.add((what, local_symbol))
        where = f" of {local_symbol}" if local_symbol else ""
        self.notify({"kind": "warning", "rule": what, "local_symbol": local_symbol,
                     "message": f"{what}{where}: {count} today, the line is {line}"})  # fmt: skip


def lines_of_symbol(local_symbol: str) -> AbnormalTradingLines:
    exchange = split_local_symbol(local_symbol)[1]
    try:
        return lines_of(Exchange(exchange))
    except ValueError:
        return lines_of(Exchange.OTHER)


def _line(what: str, count: int, line: int) -> dict[str, Any]:
    return {"what": what, "count": count, "line": line, "share": round(count / line, 3) if line else 0.0}


_SIDES = (Direction.LONG, Direction.SHORT)


def _held(oms: Oms, local_symbol: str, product: tuple[str, ...]) -> tuple[dict[Direction, int], dict[Direction, int]]:
    """Lots per side, held and in working opening orders: of the contract, and over its product's
    contracts (`product`, which names the contract too)."""
    held = {Direction.LONG: 0, Direction.SHORT: 0}
    product_held = {Direction.LONG: 0, Direction.SHORT: 0}
    positions = oms.positions
    for name in product or (local_symbol,):
        lots = {Direction.LONG: 0, Direction.SHORT: 0}
        for side in _SIDES:
            position = positions.get((name, side))
            if position is not None:
                lots[side] += position.volume
        for order in oms.working_on(name):
            if order.offset is Offset.OPEN:
                lots[position_side(order.direction, order.offset)] += order.volume - order.traded
        if name == local_symbol:
            held = lots
        if product:
            product_held[Direction.LONG] += lots[Direction.LONG]
            product_held[Direction.SHORT] += lots[Direction.SHORT]
    return held, product_held


def _product_key(contract: ContractData) -> str:
    """A product's key: exchange and product id ("SHFE.rb")."""
    return f"{contract.exchange.value}.{contract.product_id or contract.symbol.rstrip('0123456789')}"


def _crosses(request: OrderRequest, resting: OrderData) -> bool:
    """Would `request` trade with our own working order `resting` (of the same contract)?"""
    if resting.direction is request.direction:
        return False
    if request.type is OrderType.MARKET or resting.type is OrderType.MARKET:
        return True
    if request.direction is Direction.LONG:
        return request.price >= resting.price
    return request.price <= resting.price


def _day_loss(oms: Oms) -> float:
    account = oms.account
    if account is None or not account.pre_balance:
        return 0.0
    return account.pre_balance - account.balance
