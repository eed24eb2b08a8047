"""The single owner of the account's state: contracts, ticks, orders, trades, positions, account.

Applies gateway events and answers questions; it never blocks and knows neither CTP nor the web.
Orders never move backwards; a fill is applied once however often the counter replays it;
positions come from the counter's snapshots and are kept current between them from fills.
"""

from __future__ import annotations

from dataclasses import replace

from backend.engine.constants import STATUS_RANK, Direction, Offset
from backend.engine.converter import lots_closed
from backend.engine.objects import AccountData, ContractData, OrderData, PositionData, TickData, TradeData

PositionKey = tuple[str, Direction]  # (local_symbol, position side)


class UnknownInstrument(KeyError):
    """No contract of that name (local_symbol, or a bare symbol that is ambiguous or unknown)."""


class UnknownOrder(KeyError):
    pass


def position_side(order_direction: Direction, offset: Offset) -> Direction:
    """The position an order or fill affects: opens add to their own side, closes take from the other."""
    if offset is Offset.OPEN:
        return order_direction
    return Direction.SHORT if order_direction is Direction.LONG else Direction.LONG


class Oms:
    def __init__(self) -> None:
        self.contracts: dict[str, ContractData] = {}
        self._by_symbol: dict[str, list[ContractData]] = {}
        self.ticks: dict[str, TickData] = {}
        # local_symbol -> open interest: the counter's figure for every instrument at login, then each tick's
        # (backend/engine/main_contract.py picks each product's main contract from it)
        self.open_interest: dict[str, float] = {}
        self.orders: dict[str, OrderData] = {}
        # The working orders, kept as orders change (the day's orders grow into thousands; the risk
        # check and every order update ask for the working ones): by order id, and by instrument.
        self._working: dict[str, OrderData] = {}
        self._working_by_symbol: dict[str, dict[str, OrderData]] = {}
        self.trades: dict[tuple[str, str, str], TradeData] = {}
        self._positions: dict[PositionKey, PositionData] = {}
        self._held: set[str] = set()  # local_symbols with a position entry: most ticks concern none
        self.account: AccountData | None = None  # the counter's figures, position_profit and balance marked
        self._counter_account: AccountData | None = None  # as the counter last answered
        self._positions_known = False  # a position snapshot came: the marks may be summed

    @property
    def positions(self) -> dict[PositionKey, PositionData]:
        return self._positions

    @property
    def positions_known(self) -> bool:
        """The counter answered a position query in this process: `positions` is the account's."""
        return self._positions_known

    @positions.setter
    def positions(self, positions: dict[PositionKey, PositionData]) -> None:
        self._positions = positions
        self._held = {local_symbol for local_symbol, _ in positions}

    # --- contracts and ticks ----------------------------------------------------------------
    def load_contracts(self, contracts: tuple[ContractData, ...]) -> None:
        self.contracts = {contract.local_symbol: contract for contract in contracts}
        by_symbol: dict[str, list[ContractData]] = {}
        for contract in contracts:
            by_symbol.setdefault(contract.symbol, []).append(contract)
        self._by_symbol = by_symbol

    def load_open_interest(self, pairs: tuple[tuple[str, float], ...]) -> None:
        """The counter's open interest of every instrument; a subscribed one's tick is newer and stays."""
        for local_symbol, interest in pairs:
            if local_symbol not in self.ticks:
                self.open_interest[local_symbol] = interest

    def contract(self, name: str) -> ContractData:
        """The contract of a local_symbol, or of a bare symbol where that is unambiguous."""
        found = self.contracts.get(name)
        if found is not None:
            return found
        candidates = self._by_symbol.get(name, [])
        if len(candidates) == 1:
            return candidates[0]
        raise UnknownInstrument(name)

    def on_tick(self, tick: TickData) -> list[PositionData]:
        """Remember the tick; returns the positions whose P&L it changed (the account is marked with them)."""
        self.ticks[tick.local_symbol] = tick
        if tick.open_interest:
            self.open_interest[tick.local_symbol] = tick.open_interest
        changed: list[PositionData] = []
        if tick.local_symbol not in self._held:
            return changed
        for direction in (Direction.LONG, Direction.SHORT):
            position = self.positions.get((tick.local_symbol, direction))
            if position is not None and position.volume and tick.last_price:
                profit = self._profit(position, tick.last_price)
                if profit != position.position_profit:
                    marked = replace(position, position_profit=profit)
                    self.positions[(tick.local_symbol, direction)] = marked
                    changed.append(marked)
        if changed:
            self._mark_account()
        return changed

    def _profit(self, position: PositionData, last: float) -> float:
        contract = self.contracts.get(position.local_symbol)
        size = contract.size if contract else 1
        sign = 1 if position.direction is Direction.LONG else -1
        return (last - position.price) * position.volume * size * sign

    # --- orders and trades --------------------------------------------------------------------
    def on_order(self, order: OrderData) -> OrderData | None:
        """Apply an order update; None when it is stale (it would move the order backwards)."""
        previous = self.orders.get(order.order_id)
        if previous is not None:
            if not previous.is_active and not order.is_active and previous.status != order.status:
                return None  # finished is final
            if STATUS_RANK[order.status] < STATUS_RANK[previous.status] or order.traded < previous.traded:
                return None
            if not previous.is_active and order == previous:
                return None
            order = replace(
                order,
                strategy=order.strategy or previous.strategy,
                time=order.time or previous.time,
                sys_id=order.sys_id or previous.sys_id,
            )
        self.orders[order.order_id] = order
        self._index_working(order)
        return order

    def _index_working(self, order: OrderData) -> None:
        """An order that finished never works again (STATUS_RANK), so the index follows the orders'
        own order: active_orders() lists them as the orders dict does."""
        if order.is_active:
            self._working[order.order_id] = order
            self._working_by_symbol.setdefault(order.local_symbol, {})[order.order_id] = order
        elif self._working.pop(order.order_id, None) is not None:
            on_symbol = self._working_by_symbol[order.local_symbol]
            del on_symbol[order.order_id]
            if not on_symbol:
                del self._working_by_symbol[order.local_symbol]

    def start_day(self) -> None:
        """A new trading day: the last day's orders and trades are history (the journal keeps them)."""
        self.orders = {}
        self.trades = {}
        self._working = {}
        self._working_by_symbol = {}

    def order(self, order_id: str) -> OrderData:
        try:
            return self.orders[order_id]
        except KeyError:
            raise UnknownOrder(order_id) from None

    def active_orders(self) -> list[OrderData]:
        return list(self._working.values())

    def working_count(self) -> int:
        return len(self._working)

    def working_on(self, local_symbol: str) -> list[OrderData]:
        """The working orders of one instrument, in the order active_orders() lists them."""
        on_symbol = self._working_by_symbol.get(local_symbol)
        return list(on_symbol.values()) if on_symbol else []

    def on_trade(self, trade: TradeData) -> TradeData | None:
        """Apply a fill once; None for a replayed one. Positions move with it until the next snapshot."""
        key = (trade.exchange.value, trade.trade_id, trade.direction.value)
        if key in self.trades:
            return None
        order = self.orders.get(trade.order_id)
        if order is not None and order.strategy and not trade.strategy:
            trade = replace(trade, strategy=order.strategy)
        self.trades[key] = trade
        self._apply_fill(trade)
        return trade

    def _apply_fill(self, trade: TradeData) -> None:
        side = position_side(trade.direction, trade.offset)
        key = (trade.local_symbol, side)
        position = self.positions.get(key) or PositionData(trade.symbol, trade.exchange, side)
        if trade.offset is Offset.OPEN:
            volume = position.volume + trade.volume
            price = (position.price * position.volume + trade.price * trade.volume) / volume
            position = replace(position, volume=volume, td_volume=position.td_volume + trade.volume, price=price)
        else:
            today, yesterday = lots_closed(trade.offset, trade.exchange, trade.volume, position.yd_volume)
            position = replace(
                position,
                volume=max(0, position.volume - trade.volume),
                td_volume=max(0, position.td_volume - today),
                yd_volume=max(0, position.yd_volume - yesterday),
            )
        tick = self.ticks.get(trade.local_symbol)
        if position.volume and tick is not None and tick.last_price:  # a new average price: a new mark
            position = replace(position, position_profit=self._profit(position, tick.last_price))
        self._positions[key] = position
        self._held.add(key[0])
        self._mark_account()

    # --- positions and account ----------------------------------------------------------------
    def on_positions(self, snapshot: tuple[PositionData, ...]) -> None:
        """A complete answer: what it does not mention is flat now."""
        marked = {}
        for position in snapshot:
            tick = self.ticks.get(position.local_symbol)
            if tick is not None and tick.last_price and position.volume:
                position = replace(position, position_profit=self._profit(position, tick.last_price))
            marked[(position.local_symbol, position.direction)] = position
        self.positions = marked
        self._positions_known = True
        self._mark_account()

    def position_list(self) -> list[PositionData]:
        """Open positions, with `frozen` from the working close orders we know of.

        Never the counter's own frozen figure: a snapshot taken while a close order was working keeps
        saying so after the order is filled or cancelled, until the next snapshot, and would refuse a
        close of lots that are free. The private stream (RESTART) and the journal give us every order
        of the account's trading day, so the working ones are all known here.
        """
        frozen = self._frozen_by_close_orders()
        return [
            replace(position, frozen=frozen.get(key, 0))
            for key, position in sorted(self.positions.items())
            if position.volume > 0
        ]

    def _frozen_by_close_orders(self) -> dict[PositionKey, int]:
        frozen: dict[PositionKey, int] = {}
        for order in self.active_orders():
            if order.offset is not Offset.OPEN:
                key = (order.local_symbol, position_side(order.direction, order.offset))
                frozen[key] = frozen.get(key, 0) + order.volume - order.traded
        return frozen

    def position(self, local_symbol: str, direction: Direction) -> PositionData:
        """One position as position_list() has it (flat if it has none), from its own contract's orders:
        every close order asks, and the whole list costs a millisecond with a few hundred positions."""
        local_symbol = self.contract(local_symbol).local_symbol  # a bare symbol names the same position
        position = self._positions.get((local_symbol, direction))
        if position is None or position.volume <= 0:
            return PositionData(*self._split(local_symbol), direction)
        frozen = sum(order.volume - order.traded for order in self.working_on(local_symbol)
                     if order.offset is not Offset.OPEN and position_side(order.direction, order.offset) is direction)
        return replace(position, frozen=frozen)

    def _split(self, local_symbol: str) -> tuple[str, object]:
        contract = self.contract(local_symbol)
        return contract.symbol, contract.exchange

    def on_account(self, account: AccountData) -> AccountData:
        """The counter's account, the authority on money; answers it as marked (what `account` holds)."""
        self._counter_account = account
        self._mark_account()
        return self.account  # type: ignore[return-value]

    def _mark_account(self) -> None:
        """The account with position_profit the sum of the positions' marks and balance moved by the same.

        The counter's balance holds its own position_profit; only the difference between the marks
        and that figure is added, so each counter answer resets the basis and nothing is counted
        twice. Before the first position snapshot the counter's figures stand as they are.
        """
        counter = self._counter_account
        if counter is None or not self._positions_known:
            self.account = counter
            return
        live = sum(position.position_profit for position in self._positions.values() if position.volume > 0)
        self.account = replace(counter, position_profit=live, balance=counter.balance + live - counter.position_profit)
