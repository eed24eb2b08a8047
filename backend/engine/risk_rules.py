"""Pre-trade risk rules: each a small pure function of (what is asked, the counters, the limits).

A rule answers None (go on) or the refusal a trader reads: the rule's name and the figures. Order
rules get an OrderCheck, cancel rules a CancelCheck: plain snapshots the risk engine builds from the
OMS and its counters, so every rule is tested without a server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from backend.engine.constants import Direction, Offset, OrderType
from backend.engine.exchange_lines import (
    BUSY_SECOND,
    HFT_PER_DAY,
    HFT_PER_SECOND,
    REPORTING_BUSY_SECONDS,
    AbnormalTradingLines,
)

SELF_TRADE_MODES = ("refuse", "cancel_resting", "off")


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The account's limits; 0 turns a count limit off. Defaults keep a desk well inside every line."""

    enabled: bool = True
    orders_per_second: int = 20  # orders + cancels a second, the whole account
    strategy_orders_per_second: int = 10  # ... one strategy
    orders_per_day: int = 10_000  # orders + cancels a trading day (the high-frequency line is 20,000)
    max_order_volume: int = 100  # lots in one order (never above the contract's own maximum)
    max_working_orders: int = 50
    max_position_per_contract: int = 100  # lots per side, working opens included
    max_position_per_product: int = 200  # lots per side and net, over the product's contracts
    cancel_margin: int = 10  # cancels (and large cancels: a tenth of it) refused this far below the exchange's line
    warn_share: float = 0.8  # a warning once a count reaches this share of its line
    self_trade: str = "refuse"  # refuse | cancel_resting | off
    enforce_reporting_line: bool = False  # refuse what would make the day's 10th busy second
    enforce_hft_line: bool = True  # refuse what would reach 300 a second or 20,000 a day
    daily_loss_limit: float = 0.0  # money: no new opening orders once the day's loss reaches it (0: off)
    kill_on_loss: bool = False  # ... and trip the kill switch

    def __post_init__(self) -> None:
        if self.self_trade not in SELF_TRADE_MODES:
            raise ValueError(f"self_trade must be one of {', '.join(SELF_TRADE_MODES)}, not {self.self_trade!r}")
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"{item.name} must be 0 or more, not {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return {item.name: getattr(self, item.name) for item in fields(self)}

    def updated(self, changes: dict[str, Any]) -> RiskLimits:
        unknown = sorted(set(changes) - {item.name for item in fields(self)})
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown risk limit")
        return replace(self, **changes)


STRATEGY_OVERRIDES = ("strategy_orders_per_second", "max_order_volume", "max_working_orders",
                      "max_position_per_contract", "max_position_per_product")  # fmt: skip


@dataclass(slots=True)  # not frozen: made for every order, and a frozen init costs a setattr per field
class OrderCheck:
    """What an order rule may look at."""

    local_symbol: str
    product: str  # the product's key: exchange and product id ("SHFE.rb")
    direction: Direction
    offset: Offset
    type: OrderType
    price: float
    volume: int
    strategy: str | None
    contract_max_volume: int
    actions_this_second: int  # orders + cancels already sent in the last second, the whole account
    strategy_actions_this_second: int
    actions_today: int
    busy_seconds_today: int
    working_orders: int
    held: dict[Direction, int] = field(default_factory=dict)  # this contract, per side, working opens included
    product_held: dict[Direction, int] = field(default_factory=dict)  # the product, the same way
    crossing_own: tuple[str, ...] = ()  # ids of our working orders on the other side this order would trade with
    day_loss: float = 0.0  # the balance at the day's start minus the balance now (positive: a loss)
    killed: str = ""  # why the kill switch is on ("" when armed)


@dataclass(slots=True)  # not frozen: made for every order, and a frozen init costs a setattr per field
class CancelCheck:
    """What a cancel rule may look at."""

    local_symbol: str
    lots: int  # what the cancel takes off the book
    order_type: OrderType
    contract_max_volume: int
    actions_this_second: int
    strategy_actions_this_second: int
    actions_today: int
    busy_seconds_today: int
    cancels_today: int  # this contract
    large_cancels_today: int  # this contract
    lines: AbnormalTradingLines


Rule = Callable[[Any, RiskLimits], str | None]


# --- order rules -----------------------------------------------------------------------------------------
def kill_switch(check: OrderCheck, limits: RiskLimits) -> str | None:
    if check.killed:
        return f"kill switch: on ({check.killed}); no new orders until it is re-armed (DELETE /kill)"
    return None


def order_rate(check: OrderCheck | CancelCheck, limits: RiskLimits) -> str | None:
    line = limits.orders_per_second
    if line and check.actions_this_second + 1 > line:
        return f"order rate: {check.actions_this_second} orders and cancels in the last second, the limit is {line}"
    return None


def strategy_order_rate(check: OrderCheck | CancelCheck, limits: RiskLimits) -> str | None:
    line = limits.strategy_orders_per_second
    if line and check.strategy_actions_this_second + 1 > line:
        return (f"strategy order rate: {check.strategy_actions_this_second} orders and cancels in the last second, "
                f"the limit is {line} a strategy")  # fmt: skip
    return None


def orders_per_day(check: OrderCheck | CancelCheck, limits: RiskLimits) -> str | None:
    line = limits.orders_per_day
    if line and check.actions_today + 1 > line:
        return f"orders per day: {check.actions_today} orders and cancels today, the limit is {line}"
    return None


def high_frequency_line(check: OrderCheck | CancelCheck, limits: RiskLimits) -> str | None:
    if not limits.enforce_hft_line:
        return None
    if check.actions_this_second + 1 >= HFT_PER_SECOND:
        return f"high-frequency line: {HFT_PER_SECOND} orders and cancels in one second make high-frequency trading"
    if check.actions_today + 1 >= HFT_PER_DAY:
        return f"high-frequency line: {HFT_PER_DAY:,} orders and cancels in one day make high-frequency trading"
    return None


def reporting_line(check: OrderCheck | CancelCheck, limits: RiskLimits) -> str | None:
    """The day's 10th second with 10 or more orders+cancels would oblige the account to report."""
    if not limits.enforce_reporting_line:
        return None
    makes_busy = check.actions_this_second + 1 == BUSY_SECOND
    if makes_busy and check.busy_seconds_today + 1 >= REPORTING_BUSY_SECONDS:
        return (f"reporting line: this would make the day's {REPORTING_BUSY_SECONDS}th second with {BUSY_SECOND} "
                f"or more orders and cancels")  # fmt: skip
    return None


def order_volume(check: OrderCheck, limits: RiskLimits) -> str | None:
    line = min(limits.max_order_volume or check.contract_max_volume, check.contract_max_volume)
    if check.volume > line:
        return f"order volume: {check.volume} lots, at most {line} in one order of {check.local_symbol}"
    return None


def working_orders(check: OrderCheck, limits: RiskLimits) -> str | None:
    line = limits.max_working_orders
    if line and check.working_orders + 1 > line:
        return f"working orders: {check.working_orders} working, the limit is {line}"
    return None


def position_per_contract(check: OrderCheck, limits: RiskLimits) -> str | None:
    line = limits.max_position_per_contract
    if not line or check.offset is not Offset.OPEN:
        return None
    held = check.held.get(check.direction, 0)
    if held + check.volume > line:
        return (f"position per contract: {held} {check.direction.value} lots of {check.local_symbol} held or "
                f"working, {check.volume} more would pass the limit of {line}")  # fmt: skip
    return None


def position_per_product(check: OrderCheck, limits: RiskLimits) -> str | None:
    line = limits.max_position_per_product
    if not line or check.offset is not Offset.OPEN:
        return None
    own = check.product_held.get(check.direction, 0) + check.volume
    other = check.product_held.get(Direction.SHORT if check.direction is Direction.LONG else Direction.LONG, 0)
    if own > line:
        return (f"position per product: {own} {check.direction.value} lots of {check.product} with this order, "
                f"the limit is {line}")  # fmt: skip
    net = own - other
    if abs(net) > line and abs(net) > abs(net - check.volume):  # past the line and further from flat
        return (f"net position per product: {net:+d} lots of {check.product} with this order, "
                f"the limit is {line}")  # fmt: skip
    return None


def self_trade(check: OrderCheck, limits: RiskLimits) -> str | None:
    if limits.self_trade != "refuse" or not check.crossing_own:
        return None
    return (f"self-trade: it would trade with the account's own working order {', '.join(check.crossing_own)} "
            f"on the other side (the exchange counts self-trades)")  # fmt: skip


def daily_loss(check: OrderCheck, limits: RiskLimits) -> str | None:
    line = limits.daily_loss_limit
    if not line or check.offset is not Offset.OPEN or check.day_loss < line:
        return None
    return f"daily loss: {check.day_loss:,.2f} lost today, the limit is {line:,.2f}; only closing orders are accepted"


ORDER_RULES: tuple[Rule, ...] = (kill_switch, order_volume, working_orders, position_per_contract,
                                 position_per_product, self_trade, daily_loss, order_rate, strategy_order_rate,
                                 orders_per_day, high_frequency_line, reporting_line)  # fmt: skip


# --- cancel rules ----------------------------------------------------------------------------------------
def cancels_per_contract(check: CancelCheck, limits: RiskLimits) -> str | None:
    if check.order_type in (OrderType.FAK, OrderType.FOK):
        return None
    stop = check.lines.cancels - limits.cancel_margin
    if check.cancels_today + 1 > stop:
        return (f"cancels per contract: {check.cancels_today} cancels of {check.local_symbol} today; the exchange's "
                f"line is {check.lines.cancels}, refused from {stop}")  # fmt: skip
    return None


def large_cancels_per_contract(check: CancelCheck, limits: RiskLimits) -> str | None:
    if check.order_type in (OrderType.FAK, OrderType.FOK) or not check.lines.is_large(check.lots,
                                                                                       check.contract_max_volume):
        return None
    stop = check.lines.large_cancels - max(1, limits.cancel_margin // 10)
    if check.large_cancels_today + 1 > stop:
        return (f"large cancels per contract: {check.large_cancels_today} large cancels of {check.local_symbol} "
                f"today; the exchange's line is {check.lines.large_cancels}, refused from {stop}")  # fmt: skip
    return None


CANCEL_RULES: tuple[Rule, ...] = (cancels_per_contract, large_cancels_per_contract, order_rate, strategy_order_rate,
                                  orders_per_day, high_frequency_line, reporting_line)  # fmt: skip


def first_refusal(rules: tuple[Rule, ...], check: Any, limits: RiskLimits) -> str | None:
    """The first rule that refuses; with the limits off only the kill switch still refuses."""
    for rule in rules if limits.enabled else tuple(rule for rule in rules if rule is kill_switch):
        refusal = rule(check, limits)
        if refusal is not None:
            return refusal
    return None
