"""The simulated counter's account ledger: money, margins, fees, frozen amounts and positions.

Pure bookkeeping of one futures account. The counter calls it under its own lock, one call at a
time; the ledger never blocks, sleeps, logs or touches CTP structs. Lots and position rows live in
positions.py; this module owns the money and the orders still pending at the exchange.

Money follows CTP's mark-to-market (盯市) accounting: a lot's basis is its open price on the day it
was opened and the settlement price afterwards, so close profit, position profit and margin of
yesterday's lots are all measured from the previous settlement, and settlement realises the day's
position profit into the next day's pre-balance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, NamedTuple

from backend.sim.instruments import InstrumentSpec
from backend.sim.positions import (
    BUY,
    CLOSE,
    CLOSE_OFFSETS,
    CLOSE_SHORT_ERROR,
    CLOSE_TODAY,
    CLOSE_YESTERDAY,
    LONG,
    OPEN,
    SELL,
    SHORT,
    SPLIT_SHORT_ERRORS,
    TODAY,
    YESTERDAY,
    Activity,
    Contract,
    DetailRow,
    GroupKey,
    Lot,
    PendingOrder,
    PositionRow,
    RowKey,
    build_rows,
    close_groups,
    close_leg,
    detail_rows,
    fee,
    position_side,
    side_sign,
)

__all__ = [
    "BUY", "SELL", "LONG", "SHORT", "OPEN", "CLOSE", "CLOSE_TODAY", "CLOSE_YESTERDAY",
    "ERR_FIELD", "ERR_FUNDS", "AccountFigures", "DetailRow", "FillResult", "Ledger", "PositionRow",
    "fee",
]  # fmt: skip

ERR_FIELD = 15  # order field error: non-positive volume, unknown offset
ERR_FUNDS = 31  # insufficient funds
STATE_VERSION = 1


# Value objects as NamedTuples: a backtest makes one per fill and per order check, and a tuple is built
# several times faster than a frozen dataclass (whose __init__ sets each field through object.__setattr__).
class FillResult(NamedTuple):
    close_profit: float
    commission: float
    closed_today: int
    closed_yesterday: int


class AccountFigures(NamedTuple):
    account_id: str
    pre_balance: float
    deposit: float
    withdraw: float
    close_profit: float
    commission: float
    position_profit: float
    margin: float
    frozen_margin: float
    frozen_commission: float
    balance: float
    available: float


class Ledger:
    """One account's books. See the module docstring for the accounting model."""

    def __init__(self, account_id: str, balance: float, trading_day: str = "") -> None:
        self.account_id = account_id
        self.trading_day = trading_day
        self.pre_balance = float(balance)
        self.deposit_total = 0.0
        self.withdraw_total = 0.0
        self.close_profit = 0.0  # today's, mark-to-market
        self.commission = 0.0  # today's
        self._contracts: dict[str, Contract] = {}
        self._pre_settlement: dict[str, float] = {}
        self._marks: dict[str, float] = {}
        self._lots: dict[RowKey, list[Lot]] = {}  # oldest first
        # Per symbol: (signed volume, signed basis x volume, margin) over its lots, so the account's
        # figures cost O(symbols), not O(lots): profit = size x (last x signed volume - signed cost).
        self._sums: dict[str, tuple[int, float, float]] = {}
        self._registered: dict[str, tuple[InstrumentSpec, Contract]] = {}
        self._orders: dict[str, PendingOrder] = {}
        self._activity: dict[GroupKey, Activity] = {}
        self._yd_snapshot: dict[RowKey, int] = {}

    # ----------------------------------------------------------------- instruments and prices
    def register(self, spec: InstrumentSpec) -> Contract:
        """Remember an instrument's size and margin ratios (latest spec wins). Called implicitly by
        every method that receives a spec; the first previous settlement is spec.base_price."""
        known = self._registered.get(spec.symbol)
        if known is not None and known[0] is spec:  # the same spec object: nothing can have changed
            return known[1]
        contract = Contract.from_spec(spec)
        if self._contracts.get(spec.symbol) != contract:
            self._sums.pop(spec.symbol, None)
        self._contracts[spec.symbol] = contract
        self._registered[spec.symbol] = (spec, contract)
        self._pre_settlement.setdefault(spec.symbol, spec.base_price)
        return contract

    def mark(self, symbol: str, last_price: float) -> None:
        """Store the latest price; position profit is measured against it."""
        self._marks[symbol] = last_price

    # ----------------------------------------------------------------------- money
    def deposit(self, amount: float) -> None:
        if amount < 0:
            raise ValueError("deposit must be non-negative")
        self.deposit_total += amount

    def withdraw(self, amount: float) -> int:
        """Take money out; ErrorID 31 (and no change) when it exceeds what is available."""
        if amount < 0:
            raise ValueError("withdraw must be non-negative")
        if amount > self.available:
            return ERR_FUNDS
        self.withdraw_total += amount
        return 0

    def _all_lots(self) -> list[Lot]:
        return [lot for held in self._lots.values() for lot in held]

    def _position_profit(self, prices: Mapping[str, float]) -> float:
        lots = self._all_lots()
        return sum((lot.profit(self._contracts[lot.symbol], prices.get(lot.symbol)) for lot in lots), 0.0)

    def _symbol_sums(self, symbol: str) -> tuple[int, float, float]:
        cached = self._sums.get(symbol)
        if cached is None:
            contract = self._contracts[symbol]
            lots = [lot for (held_symbol, _), held in self._lots.items() if held_symbol == symbol for lot in held]
            cached = self._sums[symbol] = (
                sum(side_sign(lot.posi_direction) * lot.volume for lot in lots),
                sum((side_sign(lot.posi_direction) * lot.basis * lot.volume for lot in lots), 0.0),
                sum((lot.margin(contract) for lot in lots), 0.0),
            )
        return cached

    def _add_lot_to_sums(self, lot: Lot) -> None:
        cached = self._sums.get(lot.symbol)
        if cached is not None:
            sign = side_sign(lot.posi_direction)
            self._sums[lot.symbol] = (
                cached[0] + sign * lot.volume,
                cached[1] + sign * lot.basis * lot.volume,
                cached[2] + lot.margin(self._contracts[lot.symbol]),
            )

    def _symbol_profit(self, symbol: str, signed_volume: int, signed_cost: float) -> float:
        last = self._marks.get(symbol)
        if last is None:
            return 0.0
        return (last * signed_volume - signed_cost) * self._contracts[symbol].size

    def _held_money(self) -> tuple[float, float]:
        """(margin, position profit) of the lots held; per-symbol sums are cached, so this stays cheap with
        many lots."""
        margin = position_profit = 0.0
        if self._lots:
            for symbol in {symbol for symbol, _ in self._lots}:
                signed_volume, signed_cost, symbol_margin = self._symbol_sums(symbol)
                margin += symbol_margin
                position_profit += self._symbol_profit(symbol, signed_volume, signed_cost)
        return margin, position_profit

    def _frozen_money(self) -> tuple[float, float]:
        """(frozen margin, frozen commission) of the pending orders."""
        if not self._orders:
            return 0.0, 0.0
        orders = self._orders.values()
        return sum((o.frozen_margin for o in orders), 0.0), sum((o.frozen_commission for o in orders), 0.0)

    def account(self) -> AccountFigures:
        margin, position_profit = self._held_money()
        frozen_margin, frozen_commission = self._frozen_money()
        balance = self._balance(position_profit)
        return AccountFigures(self.account_id, self.pre_balance, self.deposit_total, self.withdraw_total,
                              self.close_profit, self.commission, position_profit, margin, frozen_margin,
                              frozen_commission, balance, balance - margin - frozen_margin - frozen_commission)

    def _balance(self, position_profit: float) -> float:
        flows = self.deposit_total - self.withdraw_total
        return self.pre_balance + flows + self.close_profit + position_profit - self.commission

    @property
    def balance(self) -> float:
        return self.account().balance

    @property
    def available(self) -> float:
        """As account().available, without building the figures: every open order asks it."""
        margin, position_profit = self._held_money()
        frozen_margin, frozen_commission = self._frozen_money()
        return self._balance(position_profit) - margin - frozen_margin - frozen_commission

    # ----------------------------------------------------------------------- orders
    def _held(self, symbol: str, posi: str) -> dict[str, int]:
        """One side's lots per group (today's, yesterday's), in one pass over its lots."""
        held = {TODAY: 0, YESTERDAY: 0}
        for lot in self._lots.get((symbol, posi), ()):
            held[lot.group] += lot.volume
        return held

    def free_lots(self, symbol: str, posi_direction: str) -> dict[str, int]:
        """One side's lots per group not yet promised to pending close orders."""
        free = self._held(symbol, posi_direction)
        for o in self._orders.values():
            if o.reserved and o.symbol == symbol and o.posi_direction == posi_direction:
                for group, lots in o.reserved.items():
                    free[group] -= lots
        return free

    def closable(self, symbol: str, posi_direction: str, groups: tuple[str, ...] = (TODAY, YESTERDAY)) -> int:
        """Lots of one side in `groups` not yet promised to pending close orders."""
        free = self.free_lots(symbol, posi_direction)
        return sum(free[group] for group in groups)

    def check_order(self, spec: InstrumentSpec, direction: str, offset: str, price: float, volume: int) -> int:
        """The counter's own checks before an order goes to the exchange; a CTP ErrorID, 0 when ok."""
        self.register(spec)
        if volume <= 0 or direction not in (BUY, SELL) or (offset != OPEN and offset not in CLOSE_OFFSETS):
            return ERR_FIELD
        if offset == OPEN:
            needed = self._open_margin_per_lot(spec, direction, price) * volume
            needed += fee(spec.fees, "open", price, volume, spec.size)
            return ERR_FUNDS if needed > self.available else 0
        posi = position_side(direction, offset)
        closable = self.closable(spec.symbol, posi, close_groups(spec.exchange, offset))
        if volume <= closable:
            return 0
        return SPLIT_SHORT_ERRORS[offset] if spec.splits_today else CLOSE_SHORT_ERROR

    @staticmethod
    def _open_margin_per_lot(spec: InstrumentSpec, direction: str, price: float) -> float:
        ratio = spec.long_margin_ratio if direction == BUY else spec.short_margin_ratio
        return price * spec.size * ratio

    def freeze(
        self, order_key: str, spec: InstrumentSpec, direction: str, offset: str, price: float, volume: int
    ) -> None:
        """Freeze what an accepted order may need: margin + open fee, or the lots it will close + fee.

        Call check_order first: freezing a close the position cannot cover raises ValueError.
        """
        self.register(spec)
        if order_key in self._orders:
            raise ValueError(f"order {order_key!r} is already frozen")
        if volume <= 0:
            raise ValueError("volume must be positive")
        posi = position_side(direction, offset)
        order = PendingOrder(spec.symbol, direction, offset, posi, volume)
        if offset == OPEN:
            order.margin_per_lot = self._open_margin_per_lot(spec, direction, price)
            order.open_fee_per_lot = fee(spec.fees, "open", price, 1, spec.size)
        else:
            left = volume
            free = self.free_lots(spec.symbol, posi)
            for group in close_groups(spec.exchange, offset):
                take = min(max(0, free[group]), left)
                order.reserved[group] = take
                order.close_fee_per_lot[group] = fee(spec.fees, close_leg(group), price, 1, spec.size)
                left -= take
            if left:
                raise ValueError(f"close of {volume} {spec.symbol} exceeds the closable position")
        self._orders[order_key] = order

    def pending_keys(self) -> list[str]:
        """Keys of the orders that still hold frozen money or lots."""
        return list(self._orders)

    def frozen_volume(self, order_key: str) -> int:
        """Lots of an order still frozen (0 for unknown or finished orders)."""
        order = self._orders.get(order_key)
        return order.volume if order else 0

    def release(self, order_key: str, volume: int | None = None) -> int:
        """Unfreeze up to `volume` (default: all) remaining lots of an order (cancel, IOC remainder).

        Unknown or finished orders are a no-op, so a repeated cancel is harmless. Returns lots released.
        """
        order = self._orders.get(order_key)
        if order is None:
            return 0
        n = order.volume if volume is None else min(volume, order.volume)
        if n < 0:
            raise ValueError("volume must be non-negative")
        order.unfreeze(n)
        if order.volume == 0:
            del self._orders[order_key]
        return n

    def fill(
        self,
        order_key: str,
        spec: InstrumentSpec,
        direction: str,
        offset: str,
        price: float,
        volume: int,
        trading_day: str,
        trade_id: str = "",
    ) -> FillResult:
        """Apply a fill of a frozen order: unfreeze the filled part, then open a lot or close lots."""
        self.register(spec)
        order = self._orders.get(order_key)
        if order is None or order.volume < volume or volume <= 0:
            raise ValueError(f"fill of {volume} does not match frozen order {order_key!r}")
        if (order.symbol, order.direction, order.offset) != (spec.symbol, direction, offset):
            raise ValueError(f"fill does not match order {order_key!r}")
        order.unfreeze(volume)
        if order.volume == 0:
            del self._orders[order_key]
        self.trading_day = trading_day
        if offset == OPEN:
            return self._open(spec, order.posi_direction, price, volume, trading_day, trade_id)
        return self._close(spec, order.posi_direction, offset, price, volume)

    def _stats(self, symbol: str, posi: str, group: str) -> Activity:
        key = (symbol, posi, group)
        stats = self._activity.get(key)
        if stats is None:  # not setdefault(key, Activity()): that builds one on every fill
            stats = self._activity[key] = Activity()
        return stats

    def _open(
        self, spec: InstrumentSpec, posi: str, price: float, volume: int, trading_day: str, trade_id: str
    ) -> FillResult:
        lot = Lot(spec.symbol, posi, trading_day, price, volume, price, True, trade_id)
        self._lots.setdefault((spec.symbol, posi), []).append(lot)
        self._add_lot_to_sums(lot)
        commission = fee(spec.fees, "open", price, volume, spec.size)
        stats = self._stats(spec.symbol, posi, TODAY)
        stats.open_volume += volume
        stats.open_amount += price * volume * spec.size
        stats.commission += commission
        self.commission += commission
        return FillResult(0.0, commission, 0, 0)

    def _close(self, spec: InstrumentSpec, posi: str, offset: str, price: float, volume: int) -> FillResult:
        """Consume lots group by group (close_groups order), oldest first within a group.

        Off SHFE/INE the lots taken follow the rule at fill time, not the freeze's per-group
        reservation (only the total reservation is binding there), so fills of concurrent closes
        always take yesterday's lots first whatever order they were placed in."""
        key = (spec.symbol, posi)
        self._sums.pop(spec.symbol, None)
        groups = close_groups(spec.exchange, offset)
        held_lots = self._held(spec.symbol, posi)
        if sum(held_lots[group] for group in groups) < volume:
            raise ValueError(f"close of {volume} {spec.symbol} exceeds the position")
        held = self._lots[key]
        closed = {TODAY: 0, YESTERDAY: 0}
        total_profit = total_fee = 0.0
        left = volume
        for group in groups:
            profit = 0.0
            for lot in held:
                if left == 0:
                    break
                if lot.group != group or lot.volume == 0:
                    continue
                take = min(lot.volume, left)
                profit += (price - lot.basis) * take * spec.size * side_sign(posi)
                lot.volume -= take
                left -= take
                closed[group] += take
            if closed[group]:
                commission = fee(spec.fees, close_leg(group), price, closed[group], spec.size)
                stats = self._stats(spec.symbol, posi, group)
                stats.close_volume += closed[group]
                stats.close_amount += price * closed[group] * spec.size
                stats.commission += commission
                stats.close_profit += profit
                total_profit += profit
                total_fee += commission
        remaining = [lot for lot in held if lot.volume > 0]
        if remaining:
            self._lots[key] = remaining
        else:
            del self._lots[key]
            if not any(held_symbol == spec.symbol for held_symbol, _ in self._lots):
                self._sums[spec.symbol] = (0, 0.0, 0.0)  # nothing held: the sums are exactly nought
        self.close_profit += total_profit
        self.commission += total_fee
        return FillResult(total_profit, total_fee, closed[TODAY], closed[YESTERDAY])

    # ----------------------------------------------------------------------- reports
    def positions(self, trading_day: str) -> list[PositionRow]:
        reserved: dict[GroupKey, int] = {}
        for o in self._orders.values():
            for group, n in o.reserved.items():
                key = (o.symbol, o.posi_direction, group)
                reserved[key] = reserved.get(key, 0) + n
        return build_rows(
            trading_day,
            self._contracts,
            self._lots,
            self._activity,
            reserved,
            self._yd_snapshot,
            self._marks,
            self._pre_settlement,
        )

    def details(self) -> list[DetailRow]:
        return detail_rows(self._contracts, self._all_lots(), self._marks)

    # ----------------------------------------------------------------------- settlement
    def settle(self, settlement_prices: Mapping[str, float], new_trading_day: str) -> None:
        """Daily settlement: realise position profit at the settlement price, roll today into yesterday.

        A held symbol missing from `settlement_prices` settles at its last mark, else at its basis.
        Pending orders must be gone (the counter cancels them first): RuntimeError otherwise.
        """
        if self._orders:
            raise RuntimeError(f"settlement with pending orders: {sorted(self._orders)}")
        self._sums.clear()
        prices = dict(settlement_prices)
        for lot in self._all_lots():
            prices.setdefault(lot.symbol, self._marks.get(lot.symbol, lot.basis))
        self.pre_balance = self._balance(self._position_profit(prices))
        self.deposit_total = self.withdraw_total = 0.0
        self.close_profit = self.commission = 0.0
        for lot in self._all_lots():
            lot.basis = prices[lot.symbol]
            lot.today = False
        for symbol, price in prices.items():
            self._pre_settlement[symbol] = price
            self._marks[symbol] = price
        self._activity.clear()
        self._yd_snapshot = {key: sum(lot.volume for lot in held) for key, held in self._lots.items()}
        self.trading_day = new_trading_day

    # ----------------------------------------------------------------------- persistence
    def to_state(self) -> dict[str, Any]:
        """Plain JSON-serialisable data; Ledger.from_state(to_state()) reproduces the ledger exactly."""
        return {
            "version": STATE_VERSION,
            "account_id": self.account_id,
            "trading_day": self.trading_day,
            "pre_balance": self.pre_balance,
            "deposit": self.deposit_total,
            "withdraw": self.withdraw_total,
            "close_profit": self.close_profit,
            "commission": self.commission,
            "contracts": [asdict(c) for c in self._contracts.values()],
            "pre_settlement": dict(self._pre_settlement),
            "marks": dict(self._marks),
            "lots": [asdict(lot) for lot in self._all_lots()],
            "orders": {key: asdict(o) for key, o in self._orders.items()},
            "activity": [[*key, asdict(a)] for key, a in self._activity.items()],
            "yd_snapshot": [[*key, n] for key, n in self._yd_snapshot.items()],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Ledger:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported ledger state version {state.get('version')!r}")
        ledger = cls(state["account_id"], state["pre_balance"], state["trading_day"])
        ledger.deposit_total = state["deposit"]
        ledger.withdraw_total = state["withdraw"]
        ledger.close_profit = state["close_profit"]
        ledger.commission = state["commission"]
        ledger._contracts = {c["symbol"]: Contract(**c) for c in state["contracts"]}
        ledger._pre_settlement = dict(state["pre_settlement"])
        ledger._marks = dict(state["marks"])
        for raw in state["lots"]:
            lot = Lot(**raw)
            ledger._lots.setdefault((lot.symbol, lot.posi_direction), []).append(lot)
        ledger._orders = {
            key: PendingOrder(
                **{**o, "reserved": dict(o["reserved"]), "close_fee_per_lot": dict(o["close_fee_per_lot"])}
            )
            for key, o in state["orders"].items()
        }
        ledger._activity = {(s, p, g): Activity(**a) for s, p, g, a in state["activity"]}
        ledger._yd_snapshot = {(s, p): n for s, p, n in state["yd_snapshot"]}
        return ledger
