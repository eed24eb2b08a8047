"""The trader session: login sequence, paced queries, orders, cancels (CTP.md §2-3).

Callback methods run on the CTP library's native thread: they copy what they need into plain
objects and hand them to the sink (the bridge). They never touch engine state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from backend.engine.constants import ConnectionState, Exchange, Status
from backend.engine.events import (
    CancelRejected,
    ConnectionChanged,
    ContractsLoaded,
    OpenInterestLoaded,
    PositionsSnapshot,
    QueryFailed,
)
from backend.engine.objects import CancelRequest, ContractData, OrderData, OrderRequest, make_local_symbol
from backend.gateway import convert
from backend.gateway.base import LoginSettings
from backend.gateway.mapping import DIRECTION_ENGINE2CTP, OFFSET_ENGINE2CTP, ORDER_TYPE_ENGINE2CTP
from backend.gateway.query_pump import Query, QueryPump
from lib.native import allocate_lock, sleep

log = logging.getLogger(__name__)
STOP_RETRYING = {3: "invalid credentials", 63: "client not authorised"}


class TdSession:
    def __init__(self, module: Any, sink: Callable[[Any], None], settings: LoginSettings,
                 flow_prefix: str, query_interval: float) -> None:  # fmt: skip
        self.module = module
        self.sink = sink
        self.settings = settings
        self.pump = QueryPump(query_interval)
        self.api = module.CThostFtdcTraderApi.CreateFtdcTraderApi(flow_prefix)
        self.spi = _make_spi(module.CThostFtdcTraderSpi, self)
        self.front_id = 0
        self.session_id = 0
        self.trading_day = ""
        self.stopped = False
        self.ready = False
        self._ref_lock = allocate_lock()
        self._order_ref = 0
        self._request_id = 0
        self.contracts: dict[str, ContractData] = {}
        self._loading: list[ContractData] = []
        self._open_interest: list[tuple[str, float]] = []
        self._positions = convert.PositionAggregator()
        self._sys_ids: dict[tuple[str, str], str] = {}  # (ExchangeID, OrderSysID) -> order_id
        self._raw_sys_ids: dict[str, str] = {}  # order_id -> OrderSysID as the counter sent it
        self._orphan_trades: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._rejected: set[str] = set()
        self.strategies: dict[str, str | None] = {}  # order_id -> strategy, set by send_order

    def start(self) -> None:
        self.api.RegisterSpi(self.spi)
        self.api.SubscribePrivateTopic(self.module.THOST_TERT_RESTART)  # replay the day after each login
        self.api.SubscribePublicTopic(self.module.THOST_TERT_QUICK)
        self.api.RegisterFront(self.settings.td_address)
        self.api.Init()
        self._state(ConnectionState.CONNECTING)

    def close(self) -> None:
        self.stopped = True
        self.pump.stop()
        release(self.api, self.module, self.front_id != 0)

    def adopt(self, old: TdSession) -> None:
        """Carry what a recreated session must remember: the instrument table and order bookkeeping."""
        self.contracts = old.contracts
        self.strategies = old.strategies
        self._sys_ids = old._sys_ids
        self._raw_sys_ids = old._raw_sys_ids

    # --- helpers --------------------------------------------------------------------------
    def _state(self, state: ConnectionState, **details: Any) -> None:
        """Report a step; the trading day only once this login has told it (a reconnect after the
        settlement would otherwise repeat the previous login's day until the new login answers)."""
        day = self.trading_day if state in (ConnectionState.LOGGED_IN, ConnectionState.READY) else ""
        self.sink(ConnectionChanged("td", state, trading_day=day, front_id=self.front_id,
                                    session_id=self.session_id, **details))  # fmt: skip

    def _next_request(self) -> int:
        self._request_id += 1
        return self._request_id

    def _struct(self, name: str, **values: Any) -> Any:
        struct = getattr(self.module, name)()
        for key, value in values.items():
            setattr(struct, key, value)
        return struct

    def _query(self, method: str, struct_name: str, **values: Any) -> None:
        def send(request_id: int) -> int:
            field = self._struct(
                struct_name, BrokerID=self.settings.brokerid, InvestorID=self.settings.userid, **values
            )
            return getattr(self.api, method)(field, request_id)

        self.pump.submit(Query(method, send))

    def _exchange_of(self, symbol: str, exchange_id: str) -> Exchange | None:
        contract = self.contracts.get(symbol)
        if contract is not None:
            return contract.exchange
        return convert.exchange_from_ctp(exchange_id)

    # --- commands (event loop) -------------------------------------------------------------
    def reserve_order_id(self) -> str:
        with self._ref_lock:  # OrderRef strictly increasing within the session
            self._order_ref += 1
            ref = self._order_ref
        return convert.order_id(self.front_id, self.session_id, str(ref))

    def send_order(self, request: OrderRequest, order_id: str | None = None) -> str:
        price_type, time_condition, volume_condition = ORDER_TYPE_ENGINE2CTP[request.type]
        order_id = order_id or self.reserve_order_id()
        front, session, ref = order_id.split("_")
        self.strategies[order_id] = request.strategy
        if (int(front), int(session)) != (self.front_id, self.session_id):
            self._reject(order_id, request, "not sent: the counter session changed before it went out")
            return order_id
        field = self._struct(
            "CThostFtdcInputOrderField", BrokerID=self.settings.brokerid, InvestorID=self.settings.userid,
            UserID=self.settings.userid, InstrumentID=request.symbol, ExchangeID=request.exchange.value,
            OrderRef=str(ref), Direction=DIRECTION_ENGINE2CTP[request.direction],
            CombOffsetFlag=OFFSET_ENGINE2CTP[request.offset], CombHedgeFlag="1", OrderPriceType=price_type,
            LimitPrice=float(request.price), VolumeTotalOriginal=int(request.volume), TimeCondition=time_condition,
            VolumeCondition=volume_condition, MinVolume=1, ContingentCondition="1", ForceCloseReason="0",
            IsAutoSuspend=0, UserForceClose=0,
        )  # fmt: skip
        result = self.api.ReqOrderInsert(field, self._next_request())
        if result != 0:
            self._reject(order_id, request, f"not sent: the counter refused the request ({result})")
        return order_id

    def _reject(self, order_id: str, request: OrderRequest, reason: str) -> None:
        order = OrderData(order_id, request.symbol, request.exchange, request.direction, request.offset,
                          request.type, request.price, request.volume, strategy=request.strategy)  # fmt: skip
        self.sink(_replace_status(order, Status.REJECTED, reason))

    def cancel_order(self, request: CancelRequest) -> None:
        front, session, ref = request.order_id.split("_")
        values: dict[str, Any] = {"BrokerID": self.settings.brokerid, "InvestorID": self.settings.userid,
                                  "UserID": self.settings.userid, "ActionFlag": "0",
                                  "InstrumentID": request.symbol, "ExchangeID": request.exchange.value}  # fmt: skip
        raw_sys_id = self._raw_sys_ids.get(request.order_id, "")
        if raw_sys_id.strip():
            values["OrderSysID"] = raw_sys_id  # sent back verbatim, padding included
        else:
            values.update(FrontID=int(front), SessionID=int(session), OrderRef=ref)
        result = self.api.ReqOrderAction(
            self._struct("CThostFtdcInputOrderActionField", **values), self._next_request()
        )
        if result != 0:
            self.sink(CancelRejected(request.order_id, result, f"cancel not sent ({result})"))

    def query_instruments(self) -> None:
        self._query("ReqQryInstrument", "CThostFtdcQryInstrumentField")

    def query_open_interest(self) -> None:
        """Every instrument's depth snapshot, for its open interest: the main contract of each product is
        the one with the most (a live counter answers an empty InstrumentID with the whole market)."""
        self._open_interest = []
        self._query("ReqQryDepthMarketData", "CThostFtdcQryDepthMarketDataField")

    def query_account(self) -> None:
        self._query("ReqQryTradingAccount", "CThostFtdcQryTradingAccountField")

    def query_position(self) -> None:
        self._positions = convert.PositionAggregator()
        self._query("ReqQryInvestorPosition", "CThostFtdcQryInvestorPositionField")

    # --- callbacks (native thread) ---------------------------------------------------------
    def OnFrontConnected(self) -> None:  # noqa: N802
        self._state(ConnectionState.CONNECTED)
        if self.stopped:
            return
        if self.settings.auth_code:
            settings = self.settings
            field = self._struct("CThostFtdcReqAuthenticateField", BrokerID=settings.brokerid, UserID=settings.userid,
                                 AppID=settings.appid, AuthCode=settings.auth_code,
                                 UserProductInfo=settings.product_info)  # fmt: skip
            self.api.ReqAuthenticate(field, self._next_request())
        else:
            self._login()

    def _login(self) -> None:
        field = self._struct("CThostFtdcReqUserLoginField", BrokerID=self.settings.brokerid,
                             UserID=self.settings.userid, Password=self.settings.password,
                             UserProductInfo=self.settings.product_info)  # fmt: skip
        self.api.ReqUserLogin(field, self._next_request())

    def OnFrontDisconnected(self, reason: int) -> None:  # noqa: N802
        self.ready = False
        self.pump.clear()
        self._state(ConnectionState.DISCONNECTED, reason=reason)

    def OnRspAuthenticate(self, data: Any, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
        error_id, message = _error(info)
        if error_id:
            self._failed("authenticate", error_id, message)
            return
        self._state(ConnectionState.AUTHENTICATED)
        self._login()

    def OnRspUserLogin(self, data: Any, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
        error_id, message = _error(info)
        if error_id:
            self._failed("login", error_id, message)
            return
        self.front_id, self.session_id = int(data.FrontID), int(data.SessionID)
        self.trading_day = data.TradingDay
        with self._ref_lock:
            self._order_ref = max(int((data.MaxOrderRef or "0").strip() or 0), 0)
        self._state(ConnectionState.LOGGED_IN)
        field = self._struct("CThostFtdcSettlementInfoConfirmField", BrokerID=self.settings.brokerid,
                             InvestorID=self.settings.userid)  # fmt: skip
        self.api.ReqSettlementInfoConfirm(field, self._next_request())

    def _failed(self, step: str, error_id: int, message: str) -> None:
        final = error_id in STOP_RETRYING
        if final:
            self.stopped = True
        state = ConnectionState.FAILED if final else ConnectionState.CONNECTED
        self._state(state, error_id=error_id, error_msg=f"{step} failed: {message}")

    def OnRspSettlementInfoConfirm(self, data: Any, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
        error_id, message = _error(info)
        if error_id:
            self._failed("settlement confirmation", error_id, message)
            return
        if not self.contracts:
            self.query_instruments()
        self.query_account()
        self.query_position()
        self.query_open_interest()  # after the position query: READY does not wait for it

    def OnRspQryInstrument(self, data: Any, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
        if data is not None:
            contract = convert.contract_from(data)
            if contract is not None:
                self._loading.append(contract)
        if last:
            loaded, self._loading = tuple(self._loading), []
            self.contracts = {contract.symbol: contract for contract in loaded}
            self.sink(ContractsLoaded(loaded))
            self._answered(info, "ReqQryInstrument")

    def OnRspQryDepthMarketData(self, data: Any, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
        if data is not None:
            symbol = str(data.InstrumentID).strip("\x00 ")
            exchange = self._exchange_of(symbol, str(getattr(data, "ExchangeID", "")).strip("\x00 "))
            interest = float(data.OpenInterest or 0.0)
            if exchange is not None and symbol and 0.0 <= interest < 1e15:  # DBL_MAX: no figure
                self._open_interest.append((make_local_symbol(symbol, exchange), interest))
        if last:
            loaded, self._open_interest = tuple(self._open_interest), []
            if loaded:
                self.sink(OpenInterestLoaded(loaded))
            self._answered(info, "ReqQryDepthMarketData")

    def OnRspQryTradingAccount(self, data: Any, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
        if data is not None:
            self.sink(convert.account_from(data))
        if last:
            self._answered(info, "ReqQryTradingAccount")

    def OnRspQryInvestorPosition(self, data: Any, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
        if data is not None:
            self._positions.add(convert.copy_fields(data, convert.POSITION_NAMES))
        if last:
            error_id, _ = _error(info)
            if not error_id:
                sizes = {symbol: contract.size for symbol, contract in self.contracts.items()}
                self.sink(PositionsSnapshot(self._positions.result(sizes)))
                if not self.ready:
                    self.ready = True
                    self._state(ConnectionState.READY)
            self._positions = convert.PositionAggregator()
            self._answered(info, "ReqQryInvestorPosition")

    def _answered(self, info: Any, query: str) -> None:
        error_id, message = _error(info)
        if error_id and error_id != 90:
            self.sink(QueryFailed(query, error_id, message))
        self.pump.answered(error_id)

    def OnRtnOrder(self, data: Any) -> None:  # noqa: N802
        values = convert.copy_fields(data, convert.ORDER_NAMES)
        exchange = self._exchange_of(values["InstrumentID"], values["ExchangeID"])
        if exchange is None:
            return
        order = convert.order_from(values, exchange)
        order = _with_strategy(order, self.strategies.get(order.order_id))
        if order.sys_id:
            key = (values["ExchangeID"], order.sys_id)
            self._sys_ids[key] = order.order_id
            self._raw_sys_ids[order.order_id] = data.OrderSysID
        self.sink(order)
        for trade in self._orphan_trades.pop((values["ExchangeID"], order.sys_id), []) if order.sys_id else []:
            self._emit_trade(trade, order.order_id)

    def OnRtnTrade(self, data: Any) -> None:  # noqa: N802
        values = convert.copy_fields(data, convert.TRADE_NAMES)
        key = (values["ExchangeID"], values["OrderSysID"].strip())
        order = self._sys_ids.get(key)
        if order is None:  # the order's accepted OnRtnOrder has not arrived yet: hold the fill
            self._orphan_trades.setdefault(key, []).append(values)
            return
        self._emit_trade(values, order)

    def _emit_trade(self, values: dict[str, Any], order: str) -> None:
        exchange = self._exchange_of(values["InstrumentID"], values["ExchangeID"])
        if exchange is not None:
            trade = convert.trade_from(values, exchange, order)
            self.sink(_trade_with_strategy(trade, self.strategies.get(order)))

    def OnRspOrderInsert(self, data: Any, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
        self._insert_rejected(data, info)

    def OnErrRtnOrderInsert(self, data: Any, info: Any) -> None:  # noqa: N802
        self._insert_rejected(data, info)

    def _insert_rejected(self, data: Any, info: Any) -> None:
        if data is None:
            return
        order_id = convert.order_id(self.front_id, self.session_id, data.OrderRef)
        if order_id in self._rejected:  # CTP reports a counter reject twice
            return
        self._rejected.add(order_id)
        error_id, message = _error(info)
        exchange = self._exchange_of(data.InstrumentID, data.ExchangeID) or Exchange.OTHER
        values = {"FrontID": self.front_id, "SessionID": self.session_id, "OrderRef": data.OrderRef,
                  "InstrumentID": data.InstrumentID, "ExchangeID": data.ExchangeID, "Direction": data.Direction,
                  "CombOffsetFlag": data.CombOffsetFlag, "OrderPriceType": data.OrderPriceType,
                  "TimeCondition": data.TimeCondition, "VolumeCondition": data.VolumeCondition,
                  "LimitPrice": data.LimitPrice, "VolumeTotalOriginal": data.VolumeTotalOriginal, "VolumeTraded": 0,
                  "OrderStatus": "5", "OrderSubmitStatus": "4", "StatusMsg": message, "OrderSysID": "",
                  "InsertDate": "", "InsertTime": "", "OrderLocalID": ""}  # fmt: skip
        order = convert.order_from(values, exchange, self.strategies.get(order_id))
        self.sink(_replace_status(order, Status.REJECTED, message, error_id))

    def OnRspOrderAction(self, data: Any, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
        self._cancel_rejected(data, info)

    def OnErrRtnOrderAction(self, data: Any, info: Any) -> None:  # noqa: N802
        self._cancel_rejected(data, info)

    def _cancel_rejected(self, data: Any, info: Any) -> None:
        error_id, message = _error(info)
        if data is None or not error_id:
            return
        if data.OrderSysID.strip():
            order_id = self._sys_ids.get((data.ExchangeID, data.OrderSysID.strip()), "")
        else:
            order_id = convert.order_id(data.FrontID, data.SessionID, data.OrderRef or "0")
        self.sink(CancelRejected(order_id, error_id, message))

    def OnRspError(self, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
        error_id, message = _error(info)
        log.warning("CTP error %s: %s", error_id, message)


_PARKED: list[Any] = []  # API objects detached but never released (see release)


def release(api: Any, module: Any, logged_in: bool) -> None:
    """Detach the Spi, let a callback in flight finish, then Release.

    openctp_tts crashes the process (SIGSEGV, or a mutex assertion) when Release() meets its API
    flapping against a front that drops every connection, even with the Spi detached. An API of
    openctp_tts that never logged in is therefore detached and parked, not released: a leaked
    API object is better than a lost server.
    """
    api.RegisterSpi(None)
    if module.__name__.startswith("openctp_tts") and not logged_in:
        _PARKED.append(api)
        return
    sleep(0.05)
    api.Release()


def _error(info: Any) -> tuple[int, str]:
    if info is None:
        return 0, ""
    return int(info.ErrorID), str(info.ErrorMsg)


def _replace_status(order: OrderData, status: Status, message: str, error_id: int = 0) -> OrderData:
    from dataclasses import replace

    return replace(order, status=status, status_msg=message, error_id=error_id)


def _with_strategy(order: OrderData, strategy: str | None) -> OrderData:
    from dataclasses import replace

    return replace(order, strategy=strategy) if strategy else order


def _trade_with_strategy(trade: Any, strategy: str | None) -> Any:
    from dataclasses import replace

    return replace(trade, strategy=strategy) if strategy else trade


def _make_spi(base: type, handler: Any) -> Any:
    """A Spi subclass of the binding's own base whose callbacks forward to `handler`."""
    names = [name for name in dir(handler) if name.startswith("On")]

    def forward(name: str):
        method = getattr(handler, name)
        return lambda self, *args: method(*args)

    cls = type(f"Gateway{base.__name__}", (base,), {name: forward(name) for name in names})
    return cls()
