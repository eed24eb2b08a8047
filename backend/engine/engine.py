"""The main engine: one account's truth, its commands, and what it tells its listeners.

It runs on the gevent loop. Gateway events arrive through the bridge and are applied by one
consumer in order; commands come from views and strategies; every change is published on the bus
and journaled through the store writer, off the loop.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

import gevent
from gevent.event import AsyncResult, Event
from gevent.lock import Semaphore

from backend.bridge import CONFLATE_AT, Bridge
from backend.engine import events
from backend.engine.bus import EventBus
from backend.engine.chart import BarRoom, save_over_stored
from backend.engine.commands import CancelAll, CancelOrder, ClosePosition, Command, SendOrder
from backend.engine.constants import ConnectionState, Direction, Offset, Status
from backend.engine.converter import ClosePositionError, check_close, close_order_side, split_close
from backend.engine.objects import (
    SHANGHAI,
    AccountData,
    CancelRequest,
    ContractData,
    LogData,
    OrderData,
    OrderRequest,
    SharedData,
    TickData,
    TradeData,
    order_from_dict,
    trade_from_dict,
)
from backend.engine.oms import Oms, UnknownOrder, position_side
from backend.engine.risk import OrderRefused, check_order
from backend.engine.risk_engine import COUNTERS_KEY, RiskEngine
from backend.engine.risk_rules import RiskLimits
from backend.engine.slippage import SIDES as SLIPPAGE_SIDES
from backend.engine.slippage import slippage_side, slipped_price
from backend.engine.tick_recorder import TickRecorder
from backend.engine.writer import StoreWriter
from backend.gateway.base import Gateway, LoginSettings
from lib.price_grid import to_tick
from model.protocols import EngineStore
from model.store import NotFound, StoreError

log = logging.getLogger(__name__)
LOG_HISTORY = 200
MERGE_REPORT_EVERY = 60.0  # seconds: at most one warning a minute about merged ticks
REFRESH_AFTER_FILL = 0.5  # seconds between a fill (or order change) and the account / position queries it prompts
TRADING_DAY_KEY = "trading_day"  # the store's value: the last trading day a login reported
LOG_FLUSH_EVERY = 0.5  # seconds between two batches of log rows to the store
LOG_BACKLOG = 10_000  # log rows waiting for the store at most; older ones are dropped (and counted) past it


class LoginFailed(RuntimeError):
    def __init__(self, error_id: int, message: str) -> None:
        super().__init__(message)
        self.error_id = error_id


class NotConnected(RuntimeError):
    """No counter session (503)."""


class OrderFinished(RuntimeError):
    """The order is already filled, cancelled or rejected (409)."""


class CancelFailed(RuntimeError):
    def __init__(self, error_id: int, message: str) -> None:
        super().__init__(message)
        self.error_id = error_id


@dataclass
class EngineConfig:
    """The runtime settings the engine obeys (PUT /config changes them at once)."""

    flow_dir: Path
    query_interval: float = 1.0
    refresh_interval: float = 5.0
    close_pattern: str = "today"
    slippage: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SLIPPAGE_SIDES, 0.0))  # price ticks
    bar_grace: float = 1.5
    tick_session_filter: str = "auto"  # auto | on | off: drop ticks outside sessions (gateway.session_filter_on)
    tick_merge_backlog: int = CONFLATE_AT  # waiting items from which ticks merge per instrument (0: never)
    shared_func: bool = False  # SHARED_FUNC: publish the intraday series (events.SHARED) at each minute's end
    risk_limits: RiskLimits = field(default_factory=RiskLimits)  # the configuration's; PUT /risk stores changes
    # issue 17, live P&L: positions and the account marked by ticks go out at most once per this many
    # seconds (TICK_PUSH_INTERVAL), not once per tick per position
    mark_interval: float = 0.25


Sink = Callable[[Any], None]
GatewayFactory = Callable[[Sink, Sink, "EngineConfig"], Gateway]  # (events, ticks, config)


def _ctp_gateway(sink: Sink, tick_sink: Sink, config: EngineConfig) -> Gateway:
    from backend.gateway.ctp_gateway import CtpGateway

    return CtpGateway(sink, config.flow_dir, config.query_interval, config.tick_session_filter, tick_sink)


class MainEngine:
    def __init__(self, store: EngineStore, config: EngineConfig,
                 gateway_factory: GatewayFactory = _ctp_gateway) -> None:  # fmt: skip
        self.store = store
        self.config = config
        self.bus = EventBus()
        self.oms = Oms()
        self.writer = StoreWriter()
        self.recorder = TickRecorder(store)  # issue 18: the recorded instruments' ticks, on its own writer
        self.risk = RiskEngine(config.risk_limits, store, self._risk_event)
        self.bars = BarRoom(self._bar_finished, config.bar_grace, self._minute_ended)
        self.logs: deque[LogData] = deque(maxlen=LOG_HISTORY)
        self._log_rows: deque[dict[str, Any]] = deque()  # waiting for the store, written in batches
        self._log_rows_dropped = 0
        self._log_batch_waiting = False  # a batch of log rows is in the writer's queue (cleared on its thread)
        self.states: dict[str, events.ConnectionChanged] = {}
        self.gateway: Gateway | None = None
        self.login: LoginSettings | None = None
        self.trading_day = _stored_trading_day(store)  # never goes back, across restarts too
        self._journal_day = ""  # the day whose journal the OMS holds
        self._gateway_factory = gateway_factory
        self._bridge = Bridge(self._apply, "engine-bridge", attrgetter("local_symbol"), config.tick_merge_backlog)
        self._merged_reported = 0  # the bridge's merged ticks already logged
        self._login_waiter: AsyncResult | None = None
        self._order_waiters: dict[str, AsyncResult] = {}
        self._cancel_waiters: dict[str, AsyncResult] = {}
        self._subscriptions: set[str] = set(store.load_subscriptions())
        self._tick_arrived: dict[str, float] = {}  # local_symbol -> when its latest tick arrived (monotonic)
        self._send_turn = Semaphore()  # one order between taking its OrderRef and handing it to the counter
        self._refresh_soon = Event()  # a fill or an order change since the last refresh: ask the counter soon
        self._marked = False  # ticks moved the positions' P&L since the last publication of the marks
        self._timers = [gevent.spawn(timer) for timer in (self._bar_timer, self._refresh_timer, self._store_timer,
                                                          self._mark_timer)]  # fmt: skip

    # --- lifecycle --------------------------------------------------------------------------
    def connect(self, login: LoginSettings, timeout: float) -> None:
        """Connect and wait for the whole login sequence (TD ready and MD logged in), or fail."""
        if self.gateway is not None:
            raise RuntimeError("already connected")
        gateway = self._gateway_factory(self._bridge.put, self._bridge.put_latest, self.config)
        self._login_waiter = AsyncResult()
        self.gateway, self.login = gateway, login
        try:
            gateway.connect(login)
            error = self._login_waiter.get(timeout=timeout)
        except gevent.Timeout:
            error = LoginFailed(0, f"the counter did not complete the login within {timeout:g}s")
        except Exception as failure:  # the binding could not be loaded, a bad address...
            error = LoginFailed(-1, str(failure))
        finally:
            self._login_waiter = None
        if error is not None:
            self.disconnect()
            raise error
        self.log(f"logged in as {login.userid} on {login.interface}; trading day {self.trading_day}")

    def disconnect(self) -> None:
        gateway, self.gateway = self.gateway, None
        if gateway is not None:
            gevent.get_hub().threadpool.apply(gateway.close)  # Release() joins native threads
        self.states.clear()
        self.bus.publish(events.STATUS, self.status())

    def close(self) -> None:
        self.disconnect()
        for timer in self._timers:
            timer.kill()
        self._flush_bars()
        self._bridge.close()
        self._submit_log_rows()
        self._save_risk_counters()
        self.recorder.close()
        self.writer.close()

    @property
    def connected(self) -> bool:
        td = self.states.get("td")
        return self.gateway is not None and td is not None and td.state is ConnectionState.READY

    def status(self) -> dict[str, Any]:
        def state(api: str) -> dict[str, Any]:
            change = self.states.get(api)
            if change is None:
                return {"state": ConnectionState.DISCONNECTED.value, "reason": 0, "error_id": 0, "error_msg": ""}
            return {"state": change.state.value, "reason": change.reason, "error_id": change.error_id,
                    "error_msg": change.error_msg}  # fmt: skip

        return {
            "interface": self.login.interface if self.login and self.gateway else "",
            "userid": self.login.userid if self.login and self.gateway else "",
            "td": state("td"),
            "md": state("md"),
            "trading_day": self.trading_day,
            "subscribed": len(self._subscriptions),
        }

    # --- gateway events (the bridge's one consumer) -----------------------------------------
    def _apply(self, event: Any) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(self, event)

    def _on_state(self, change: events.ConnectionChanged) -> None:
        previous = self.states.get(change.api)
        self.states[change.api] = change
        if change.api == "td" and change.trading_day and change.state in _LOGGED_IN:
            self._enter_trading_day(change.trading_day)
        if previous is None or previous.state != change.state or change.error_id:
            detail = f" (reason {change.reason:#x})" if change.reason else ""
            detail += f" error {change.error_id}: {change.error_msg}" if change.error_id else ""
            self.log(f"{change.api} {change.state.value}{detail}", "WARNING" if change.error_id else "INFO", "gateway")
        self._resolve_login(change)
        self.bus.publish(events.STATUS, self.status())

    def _resolve_login(self, change: events.ConnectionChanged) -> None:
        waiter = self._login_waiter
        if waiter is None or waiter.ready():
            return
        if change.error_id or change.state is ConnectionState.FAILED:
            waiter.set(LoginFailed(change.error_id, change.error_msg or f"{change.api} {change.state.value}"))
            return
        td, md = self.states.get("td"), self.states.get("md")
        if td and md and td.state is ConnectionState.READY and md.state is ConnectionState.READY:
            waiter.set(None)

    def _enter_trading_day(self, trading_day: str) -> None:
        """Take the day a login reported: forward only, the day's journal loaded once.

        The journal is reloaded so the counter's replay is recognised, not applied twice. On a new
        day the previous day's orders and trades leave the OMS (the counter cancelled what was
        working at its settlement), as they would be absent after a restart: the OMS holds one
        trading day, the current one, whether or not the server restarted in between.
        """
        previous = self.trading_day
        if trading_day < previous:
            self.log(f"the counter reported trading day {trading_day}, before {previous}: kept {previous}", "WARNING")
            return
        self.risk.start_day(trading_day)
        if trading_day != self._journal_day:
            if self._journal_day:
                self.oms.start_day()
            self._load_journal(trading_day)
            self._journal_day = trading_day
        if trading_day != previous:
            self.trading_day = trading_day
            self.writer.submit(self.store.set_value, TRADING_DAY_KEY, trading_day)
            self.bus.publish(events.TRADING_DAY, events.TradingDayChanged(previous, trading_day))
            self.bus.publish(events.ACTIVE_ORDER, self.oms.active_orders())

    def _load_journal(self, trading_day: str) -> None:
        orders = gevent.get_hub().threadpool.apply(self.store.load_orders, (trading_day,))
        trades = gevent.get_hub().threadpool.apply(self.store.load_trades, (trading_day,))
        for stored in orders:
            self.oms.on_order(order_from_dict(stored))
        for stored in trades:
            self.oms.trades.setdefault(
                (stored["exchange"], stored["trade_id"], stored["direction"]), trade_from_dict(stored)
            )

    def _on_contracts(self, loaded: events.ContractsLoaded) -> None:
        self.oms.load_contracts(loaded.contracts)
        self.bus.publish(events.CONTRACT, sorted(self.oms.contracts))
        known = [name for name in self._subscriptions if name in self.oms.contracts]
        if known and self.gateway is not None:
            self.gateway.subscribe(self.oms.contracts[name].symbol for name in known)
        # an instrument switched to recording before a login (no contracts to check it against then)
        unsubscribed = [name for name in self.recorder.recorded if name in self.oms.contracts and name not in known]
        if unsubscribed:
            self.subscribe(unsubscribed)

    def _on_open_interest(self, loaded: events.OpenInterestLoaded) -> None:
        self.oms.load_open_interest(loaded.open_interest)

    def _on_tick(self, tick: TickData) -> None:
        self._tick_arrived[tick.local_symbol] = time.monotonic()
        if self.oms.on_tick(tick):
            self._marked = True  # published by _mark_timer: at most once per mark_interval
        self.bus.publish(events.TICK, tick)
        self.bars.update_tick(tick)
        self.recorder.add(tick)

    def _on_order(self, order: OrderData, journaled: bool = False) -> None:
        applied = self.oms.on_order(order)
        if applied is None:
            return
        if not journaled:
            self.writer.submit(self.store.save_order, self.trading_day, dict(applied.to_dict(), sys_id=applied.sys_id))
        self.risk.on_order(applied, self.oms.contracts.get(applied.local_symbol))
        self.bus.publish(events.ORDER, applied)
        self.bus.publish(events.ACTIVE_ORDER, self.oms.active_orders())
        self._refresh_soon.set()
        waiter = self._order_waiters.get(applied.order_id)
        if waiter is not None and applied.status is not Status.SUBMITTING:
            waiter.set(applied)
        cancel = self._cancel_waiters.get(applied.order_id)
        if cancel is not None and not applied.is_active:
            cancel.set(applied)
        if applied.status is Status.REJECTED:
            self.log(f"order {applied.order_id} {applied.local_symbol} rejected: {applied.status_msg}", "WARNING")

    def _on_trade(self, trade: TradeData) -> None:
        applied = self.oms.on_trade(trade)
        if applied is None:
            return
        self.writer.submit(self.store.save_trade, self.trading_day, applied.to_dict())
        self.risk.on_trade(applied)
        self.bus.publish(events.TRADE, applied)
        self._publish_marks()
        self._refresh_soon.set()

    def _on_positions(self, snapshot: events.PositionsSnapshot) -> None:
        self.oms.on_positions(snapshot.positions)
        self._publish_marks()

    def _on_account(self, account: Any) -> None:
        self.bus.publish(events.ACCOUNT, self.oms.on_account(account))
        if self.risk.loss_tripped(self.oms):  # on at once (no second trip); the cancels off this greenlet
            self.risk.kill(f"the daily loss limit of {self.risk.limits.daily_loss_limit:,.2f} was reached")
            gevent.spawn(self._wind_down, False)

    def _on_cancel_rejected(self, rejected: events.CancelRejected) -> None:
        waiter = self._cancel_waiters.get(rejected.order_id)
        if waiter is not None:
            waiter.set(CancelFailed(rejected.error_id, rejected.error_msg))
        self.log(f"cancel {rejected.order_id} refused {rejected.error_id}: {rejected.error_msg}", "WARNING")
        self.bus.publish(events.CANCEL_REJECTED, rejected)

    def _on_query_failed(self, failed: events.QueryFailed) -> None:
        self.log(f"{failed.query} failed {failed.error_id}: {failed.error_msg}", "WARNING", "gateway")

    _handlers: dict[type, Callable[[MainEngine, Any], None]] = {
        events.ConnectionChanged: _on_state,
        events.ContractsLoaded: _on_contracts,
        events.OpenInterestLoaded: _on_open_interest,
        TickData: _on_tick,
        OrderData: _on_order,
        TradeData: _on_trade,
        events.PositionsSnapshot: _on_positions,
        AccountData: _on_account,
        events.CancelRejected: _on_cancel_rejected,
        events.QueryFailed: _on_query_failed,
    }

    # --- market data --------------------------------------------------------------------------
    def subscribe(self, names: Iterable[str]) -> list[str]:
        """Subscribe instruments (local_symbols or unambiguous symbols); UnknownInstrument if any is unknown."""
        contracts = [self.oms.contract(name) for name in names]
        local = [contract.local_symbol for contract in contracts]
        new = [name for name in local if name not in self._subscriptions]
        self._subscriptions.update(local)
        if new:
            self.writer.submit(self.store.add_subscriptions, new)
        if self.gateway is not None:
            self.gateway.subscribe(contract.symbol for contract in contracts)
        return local

    def unsubscribe(self, names: Iterable[str]) -> list[str]:
        contracts = [self.oms.contract(name) for name in names]
        local = [contract.local_symbol for contract in contracts]
        self._subscriptions.difference_update(local)
        self.writer.submit(self.store.remove_subscriptions, local)
        if self.gateway is not None:
            self.gateway.unsubscribe(contract.symbol for contract in contracts)
        return local

    @property
    def subscriptions(self) -> list[str]:
        return sorted(self._subscriptions)

    # --- trading ------------------------------------------------------------------------------
    def _require_gateway(self) -> Gateway:
        if self.gateway is None or not self.connected:
            raise NotConnected("the counter is not connected or not logged in")
        return self.gateway

    def require_connected(self) -> None:
        """NotConnected (503) unless a counter session is ready for orders."""
        self._require_gateway()

    def execute(self, command: Command) -> Any:
        """Carry out one command (commands.py): the single entry for every order and cancel."""
        return self._commands[type(command)](self, command)

    def send_order(self, request: OrderRequest, wait: float = 0.0) -> OrderData:
        return self.execute(SendOrder(request, wait))

    def cancel_order(self, order_id: str, wait: float = 0.0) -> OrderData:
        return self.execute(CancelOrder(order_id, wait))

    def cancel_all(self, strategy: str | None = None) -> list[str]:
        return self.execute(CancelAll(strategy))

    def close_position(self, local_symbol: str, direction: Direction, volume: int | None = None,
                       price: float | None = None, strategy: str | None = None) -> list[OrderData]:  # fmt: skip
        return self.execute(ClosePosition(local_symbol, direction, volume, price, strategy))

    def _send(self, command: SendOrder) -> OrderData:
        """Check locally, journal, send, and (with wait) return once the counter has answered.

        The order is in the store, with the strategy that sent it, before it leaves: after a kill -9
        at any moment the counter's replay of its fills finds whose they are. Sends take turns so
        that OrderRefs reach the counter in the order they were taken.
        """
        request, wait = command.request, command.wait
        gateway = self._require_gateway()
        contract = self.oms.contract(request.local_symbol)
        self._check(request, contract)
        if request.price and contract.pricetick:
            request = replace(request, price=to_tick(request.price, contract.pricetick))
        if not command.forced:
            for resting in self.risk.check_order(request, contract, self.oms):  # self-trade: cancel_resting
                self._cancel(CancelOrder(resting, wait=2.0, forced=True))
        with self._send_turn:
            order_id = gateway.reserve_order_id()
            submitted = OrderData(order_id, request.symbol, request.exchange, request.direction, request.offset,
                                  request.type, request.price, request.volume, time=datetime.now(SHANGHAI),
                                  strategy=request.strategy)  # fmt: skip
            self._journal_before_sending(submitted)
            gateway.send_order(request, order_id)
            self.risk.sent(request.strategy)
        self._on_order(submitted, journaled=True)  # known at once; the counter's answers follow through the bridge
        if wait <= 0:
            return self.oms.order(order_id)
        waiter = self._order_waiters.setdefault(order_id, AsyncResult())
        try:
            return waiter.get(timeout=wait)
        except gevent.Timeout:
            return self.oms.order(order_id)
        finally:
            self._order_waiters.pop(order_id, None)

    def _check(self, request: OrderRequest, contract: ContractData) -> None:
        """The local checks every order passes, whoever sends it; the converter rules on closes."""
        if request.offset is not Offset.OPEN and request.volume > 0:
            position = self.oms.position(contract.local_symbol, position_side(request.direction, request.offset))
            try:
                check_close(request, position, self.oms.active_orders())
            except ClosePositionError as error:
                raise OrderRefused(str(error), "volume") from None
        check_order(request, contract, self.oms.ticks.get(contract.local_symbol))

    def _journal_before_sending(self, order: OrderData) -> None:
        """Write the order to the store (off the loop) and wait for it; refuse it if that fails."""
        row = dict(order.to_dict(), sys_id=order.sys_id)
        try:
            gevent.get_hub().threadpool.apply(self.store.save_order, (self.trading_day, row))
        except StoreError as error:
            raise OrderRefused(f"not sent: the order journal could not record it ({error})") from None

    def _cancel(self, command: CancelOrder) -> OrderData:
        gateway = self._require_gateway()
        order = self.oms.order(command.order_id)
        if command.strategy is not None and order.strategy != command.strategy:
            raise UnknownOrder(command.order_id)  # a strategy knows no other orders than its own
        if not order.is_active:
            raise OrderFinished(f"order {order.order_id} is already {order.status.value}")
        if not command.forced:
            self.risk.check_cancel(order, self.oms.contracts.get(order.local_symbol), order.strategy)
        waiter = self._cancel_waiters.setdefault(order.order_id, AsyncResult())
        gateway.cancel_order(CancelRequest(order.order_id, order.symbol, order.exchange, order.sys_id))
        self.risk.cancelling(order)
        if command.wait <= 0:
            self._cancel_waiters.pop(order.order_id, None)
            return order
        try:
            outcome = waiter.get(timeout=command.wait)
        except gevent.Timeout:
            return self.oms.order(order.order_id)
        finally:
            self._cancel_waiters.pop(order.order_id, None)
        if isinstance(outcome, CancelFailed):
            raise outcome
        return outcome

    def _cancel_all(self, command: CancelAll) -> list[str]:
        targets = [o for o in self.oms.active_orders() if command.strategy is None or o.strategy == command.strategy]
        for order in targets:
            self._cancel(CancelOrder(order.order_id))
        return [order.order_id for order in targets]

    def _close(self, command: ClosePosition) -> list[OrderData]:
        """Close a position (its own side), splitting close-today/yesterday where the exchange needs it."""
        self._require_gateway()
        contract = self.oms.contract(command.local_symbol)
        position = self.oms.position(contract.local_symbol, command.direction)
        side = close_order_side(command.direction)
        price = command.price
        if price is None:
            price = self._aggressive_price(contract.local_symbol, side, contract.pricetick)
        volume = command.volume if command.volume is not None else position.available
        offset = Offset.CLOSE if command.offset is Offset.OPEN else command.offset
        request = OrderRequest(contract.symbol, contract.exchange, side, offset, command.type, price,
                               volume, command.strategy)  # fmt: skip
        if request.volume <= 0:
            raise OrderRefused(f"no {command.direction.value} position in {contract.local_symbol} to close", "volume")
        pending = [order for order in self.oms.active_orders() if order.local_symbol == contract.local_symbol]
        try:
            pieces = split_close(request, position, pending, self.config.close_pattern)
        except ClosePositionError as error:
            raise OrderRefused(str(error), "volume") from None
        return [self._send(SendOrder(piece, command.wait, command.forced)) for piece in pieces]

    _commands: dict[type, Callable[[MainEngine, Any], Any]] = {
        SendOrder: _send,
        ClosePosition: _close,
        CancelOrder: _cancel,
        CancelAll: _cancel_all,
    }

    # --- the kill switch ----------------------------------------------------------------------------
    def kill(self, reason: str, close_positions: bool = False, wait: float = 5.0) -> dict[str, Any]:
        """Refuse new orders, cancel every working order and, if asked, close every position at
        marketable limit prices (split by today's and yesterday's lots). Strategies hear of it
        (events.RISK, kind "kill") and are stopped by their manager."""
        self.risk.kill(reason)
        return self._wind_down(close_positions, wait)

    def _wind_down(self, close_positions: bool, wait: float = 5.0) -> dict[str, Any]:
        """The kill switch's work once it is on: cancel everything working, close if asked."""
        working = [order.order_id for order in self.oms.active_orders()]
        if self.connected:
            gevent.joinall([gevent.spawn(self._cancel, CancelOrder(order_id, wait, forced=True))
                            for order_id in working], timeout=wait + 1)  # fmt: skip
        closed: list[dict[str, Any]] = []
        problems: list[str] = []
        if close_positions and self.connected:
            for position in self.oms.position_list():
                try:
                    closing = self._close(ClosePosition(position.local_symbol, position.direction, forced=True))
                    closed += [order.to_dict() for order in closing]
                except Exception as error:  # noqa: BLE001 - one position's trouble must not stop the others
                    problems.append(f"{position.local_symbol} {position.direction.value}: {error}")
        still = [order_id for order_id in working if self.oms.order(order_id).is_active]
        return {"killed": self.risk.killed, "cancelled": [o for o in working if o not in still],
                "still_working": still, "closing_orders": closed, "problems": problems}  # fmt: skip

    def rearm(self) -> None:
        self.risk.rearm()

    def _risk_event(self, payload: dict[str, Any]) -> None:
        level = "INFO" if payload["kind"] == "rearm" else "WARNING"
        self.log(f"risk: {payload['message']}", level, payload.get("strategy") or "risk")
        self.bus.publish(events.RISK, payload)

    def _aggressive_price(self, local_symbol: str, side: Direction, price_tick: float) -> float:
        """The best opposite price, moved by the configured slippage (in ticks)."""
        tick = self.oms.ticks.get(local_symbol)
        if tick is None or not (tick.ask_price_1 if side is Direction.LONG else tick.bid_price_1):
            raise OrderRefused(f"no market price for {local_symbol} yet: give a price", "price")
        best = tick.ask_price_1 if side is Direction.LONG else tick.bid_price_1
        ticks = self.config.slippage.get(slippage_side(side, Offset.CLOSE), 0.0)
        return slipped_price(best, side, ticks, price_tick, tick)

    # --- bars, logs, timers ---------------------------------------------------------------------
    def _bar_finished(self, bars: list[Any]) -> None:
        for bar in bars:
            self.bus.publish(events.BAR, bar)
        partial = [bar for bar in bars if self.bars.began_before_record(bar)]
        self.writer.submit(save_over_stored, self.store, list(bars), partial)

    def _minute_ended(self, minute: datetime) -> None:
        """With SHARED_FUNC on, a point of the intraday series for every subscribed instrument that
        ticked since `minute` began: an instrument without a new tick (a closed market) has no point."""
        if not self.config.shared_func:
            return
        # Whether it ticked is judged by when its ticks arrived, not by their stamps: the exchanges'
        # dating (a DCE night tick carries the previous business day) need not be today's
        # date on the wall clock (the 7x24 sim ticks on a Saturday evening, dated Friday).
        began = time.monotonic() - (datetime.now(SHANGHAI) - minute).total_seconds()
        for name in sorted(self._subscriptions):
            tick = self.oms.ticks.get(name)
            if tick is not None and self._tick_arrived.get(name, float("-inf")) >= began:
                self.bus.publish(events.SHARED, SharedData.of(tick))

    def _flush_bars(self) -> None:
        self.bars.close_due(datetime.now(SHANGHAI), force=True)

    def _bar_timer(self) -> None:
        checked = time.monotonic()
        while True:
            gevent.sleep(0.5)
            self.bars.close_due(datetime.now(SHANGHAI))
            if time.monotonic() - checked >= MERGE_REPORT_EVERY:
                checked = time.monotonic()
                self._report_merged()

    def _report_merged(self) -> None:
        """Say so when market data outran the engine and ticks were merged (bridge.put_latest)."""
        merged = self._bridge.merged
        if merged > self._merged_reported:
            self.log(f"market data came faster than the engine could apply it: {merged - self._merged_reported:,} "
                     f"ticks were merged into a newer one of their instrument (bars stay whole; strategies and "
                     f"the display saw fewer ticks)", "WARNING")  # fmt: skip
            self._merged_reported = merged

    def _refresh_timer(self) -> None:
        """Account and positions from the counter every refresh_interval, and soon after a fill.

        Margin, fees and available are the counter's figures: after a fill (or an order that froze or
        released money) a trader should see them within a second, not at the next period. The pause
        after a trigger lets a burst of fills finish and spaces the queries (the pump also keeps at
        most one of each waiting).
        """
        while True:
            if self._refresh_soon.wait(timeout=max(1.0, self.config.refresh_interval)):
                gevent.sleep(REFRESH_AFTER_FILL)
            self._refresh_soon.clear()
            if self.gateway is not None and self.connected:
                self.gateway.query_account()
                self.gateway.query_position()
                self._publish_marks()

    def _mark_timer(self) -> None:
        """Positions and the account as the ticks mark them, out at most once per mark_interval.

        The OMS marks them on each tick of a held instrument (so REST reads are always current); the
        bus hears of it here, bounded: with many positions and fast ticks one message per interval,
        never one per tick per position.
        """
        while True:
            gevent.sleep(max(0.05, self.config.mark_interval))
            if self._marked:
                self._marked = False
                self._publish_marks()

    def _publish_marks(self) -> None:
        """Positions and the account marked with them, together: a page never shows a position's P&L that
        its account's position_profit does not hold yet (a fill moves both at once)."""
        self.bus.publish(events.POSITION, self.oms.position_list())
        if self.oms.account is not None:
            self.bus.publish(events.ACCOUNT, self.oms.account)

    def log(self, message: str, level: str = "INFO", owner: str = "engine") -> None:
        record = LogData(message, level, owner)
        self.logs.append(record)
        log.log(logging.getLevelName(level) if isinstance(logging.getLevelName(level), int) else logging.INFO, message)
        if len(self._log_rows) >= LOG_BACKLOG:
            self._log_rows.popleft()
            self._log_rows_dropped += 1
        self._log_rows.append(record.to_dict())
        self.bus.publish(events.LOG, record)

    def _save_risk_counters(self) -> None:
        if self.risk.dirty:
            self.writer.submit(self.store.set_value, COUNTERS_KEY, self.risk.saved_state())

    def _store_timer(self) -> None:
        """What goes to the store in batches, off the order path: log rows and the risk counters."""
        while True:
            gevent.sleep(LOG_FLUSH_EVERY)
            if not self._log_batch_waiting:
                self._submit_log_rows()
            self._save_risk_counters()
            self.recorder.close_due()

    def _submit_log_rows(self) -> None:
        """Hand the waiting log rows to the writer as one batch, one batch at a time.

        Orders, trades and bars share the writer's queue: with log rows one per submit, a strategy
        printing in a loop put thousands of rows ahead of the next order. One batch at most waits
        there, so a journal write waits for one insert at worst, whatever the volume of logs.
        """
        if self._log_rows_dropped:
            note = LogData(f"{self._log_rows_dropped:,} log lines were not stored: logs came faster than the store "
                           f"took them", "WARNING")  # fmt: skip
            self._log_rows.append(note.to_dict())
            self._log_rows_dropped = 0
        if not self._log_rows:
            return
        batch = list(self._log_rows)
        self._log_rows.clear()
        self._log_batch_waiting = True
        self.writer.submit(self._write_log_rows, batch)

    def _write_log_rows(self, batch: list[dict[str, Any]]) -> None:
        """On the writer's thread."""
        try:
            self.store.append_logs(batch)
        finally:
            self._log_batch_waiting = False


_LOGGED_IN = frozenset({ConnectionState.LOGGED_IN, ConnectionState.READY})


def _stored_trading_day(store: Any) -> str:
    try:
        return store.get_value(TRADING_DAY_KEY)
    except NotFound:
        return ""
