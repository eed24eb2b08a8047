"""CThostFtdcTraderApi / CThostFtdcMdApi and their Spi bases, shaped like openctp_ctp's.

A program written against openctp_ctp runs against the sim with only its import changed and a
`sim://` front address. Arguments are checked as strictly as the binding checks them.
"""

from __future__ import annotations

import os
from typing import Any

from backend.sim import wire
from backend.sim.ctp_spec import API_VERSION, MD_SPI_CALLBACKS, TRADER_SPI_CALLBACKS
from backend.sim.links import Link
from backend.sim.registry import parse_address, registry
from backend.sim.requests import QUERIES, TRADER_HANDLERS
from backend.sim.structs import struct_classes, to_dict
from lib.native import CallbackThread, NativeEvent, monotonic, start_new_thread

FLOW_FILES = ("DialogRsp.con", "QueryRsp.con", "TradingDay.con")

# Req* method -> the struct class it takes.
TRADER_REQUESTS: dict[str, str] = {
    "ReqAuthenticate": "CThostFtdcReqAuthenticateField",
    "ReqUserLogin": "CThostFtdcReqUserLoginField",
    "ReqUserLogout": "CThostFtdcUserLogoutField",
    "ReqSettlementInfoConfirm": "CThostFtdcSettlementInfoConfirmField",
    "ReqUserPasswordUpdate": "CThostFtdcUserPasswordUpdateField",
    "ReqOrderInsert": "CThostFtdcInputOrderField",
    "ReqOrderAction": "CThostFtdcInputOrderActionField",
    "ReqQrySettlementInfoConfirm": "CThostFtdcQrySettlementInfoConfirmField",
    "ReqQryInstrument": "CThostFtdcQryInstrumentField",
    "ReqQryExchange": "CThostFtdcQryExchangeField",
    "ReqQryProduct": "CThostFtdcQryProductField",
    "ReqQryDepthMarketData": "CThostFtdcQryDepthMarketDataField",
    "ReqQryTradingAccount": "CThostFtdcQryTradingAccountField",
    "ReqQryInvestor": "CThostFtdcQryInvestorField",
    "ReqQryTradingCode": "CThostFtdcQryTradingCodeField",
    "ReqQryInvestorPosition": "CThostFtdcQryInvestorPositionField",
    "ReqQryInvestorPositionDetail": "CThostFtdcQryInvestorPositionDetailField",
    "ReqQryOrder": "CThostFtdcQryOrderField",
    "ReqQryTrade": "CThostFtdcQryTradeField",
    "ReqQryInstrumentMarginRate": "CThostFtdcQryInstrumentMarginRateField",
    "ReqQryExchangeMarginRate": "CThostFtdcQryExchangeMarginRateField",
    "ReqQryInstrumentCommissionRate": "CThostFtdcQryInstrumentCommissionRateField",
    "ReqQryInstrumentOrderCommRate": "CThostFtdcQryInstrumentOrderCommRateField",
    "ReqQryOptionInstrTradeCost": "CThostFtdcQryOptionInstrTradeCostField",
    "ReqQryOptionInstrCommRate": "CThostFtdcQryOptionInstrCommRateField",
    "ReqQryMaxOrderVolume": "CThostFtdcQryMaxOrderVolumeField",
}
assert set(TRADER_REQUESTS) == set(TRADER_HANDLERS), "every Req* has a handler"
assert set(QUERIES) <= set(TRADER_REQUESTS)


def _type_error(owner: str, method: str, argument: int, expected: str) -> TypeError:
    return TypeError(f"in method '{owner}_{method}', argument {argument} of type '{expected}'")


def _check_int(owner: str, method: str, argument: int, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(owner, method, argument, "int")


class _ApiBase:
    _owner = ""
    _kind = ""

    def __init__(self, flow_path: str) -> None:
        directory = os.path.dirname(flow_path)
        if directory and not os.path.isdir(directory):
            # The real library segfaults here; the sim refuses loudly instead.
            raise RuntimeError(f"flow directory {directory!r} does not exist (the real CTP library would crash)")
        for name in FLOW_FILES:
            with open(f"{flow_path}{name}", "a", encoding="utf-8"):
                pass
        self._flow_path = flow_path
        self._spi: Any = None
        self._fronts: list[str] = []
        self._resume = wire.TERT_RESTART
        self._thread: CallbackThread | None = None
        self._links: list[Link] = []
        self._dead: _DeadFront | None = None
        self._released = NativeEvent()

    @staticmethod
    def GetApiVersion() -> str:  # noqa: N802 - CTP's name
        return API_VERSION

    def RegisterSpi(self, spi: Any) -> None:  # noqa: N802
        self._spi = spi

    def RegisterFront(self, address: str) -> None:  # noqa: N802
        if not isinstance(address, str):
            raise _type_error(self._owner, "RegisterFront", 2, "char *")
        self._fronts.append(address)

    def RegisterNameServer(self, address: str) -> None:  # noqa: N802
        self.RegisterFront(address)

    def Init(self) -> None:  # noqa: N802
        if self._thread is not None:
            return
        self._thread = CallbackThread(f"{self._owner}-callbacks")
        names = [parse_address(address) for address in self._fronts]
        sims = [name for name in names if name is not None]
        if not sims:
            # No front the sim serves: like an unreachable address, disconnects without end.
            self._dead = _DeadFront(self._thread, self)
            return
        exchange = registry.exchange(sims[0])
        link = Link(exchange, self, self._kind, self._thread, self._resume, self._flow_path)
        self._links.append(link)
        exchange.attach(link)

    def Join(self) -> int:  # noqa: N802
        self._released.wait()
        return 0

    def Release(self) -> None:  # noqa: N802
        if self._thread is not None and self._thread.on_thread():
            raise RuntimeError("Release() called from inside a callback: the real library deadlocks")
        for link in self._links:
            link.exchange.detach(link)
        self._links.clear()
        if self._dead is not None:
            self._dead.stop()
        if self._thread is not None:
            self._thread.stop()
        self._spi = None
        self._released.set()

    def GetTradingDay(self) -> str:  # noqa: N802
        for link in self._links:
            if link.logged_in:
                return link.exchange.trading_day
        return ""

    def _link(self) -> Link | None:
        return self._links[0] if self._links else None

    def _request(self, method: str, struct_name: str, field: Any, request_id: Any) -> int:
        if not isinstance(field, struct_classes(self._kind)[struct_name]):
            raise _type_error(self._owner, method, 2, f"{struct_name} *")
        _check_int(self._owner, method, 3, request_id)
        link = self._link()
        if link is None:
            return -1
        return link.exchange.handle(link, method, to_dict(field), request_id)


class _DeadFront:
    """OnFrontDisconnected(4097) at the library's reconnect pace, until released."""

    def __init__(self, thread: CallbackThread, api: _ApiBase, rate: float = 800.0) -> None:
        self._stopped = NativeEvent()
        self._thread = thread
        self._api = api
        self._interval = 1.0 / rate
        start_new_thread(self._run, ())

    def _run(self) -> None:
        next_at = monotonic()
        while not self._stopped.wait(max(0.0, next_at - monotonic())):
            next_at += self._interval
            spi = self._api._spi
            if spi is not None:
                self._thread.post(spi.OnFrontDisconnected, 4097)

    def stop(self) -> None:
        self._stopped.set()


class CThostFtdcTraderApi(_ApiBase):
    _owner = "CThostFtdcTraderApi"
    _kind = "td"

    @staticmethod
    def CreateFtdcTraderApi(pszFlowPath: str = "", bIsProductionMode: bool = True) -> CThostFtdcTraderApi:  # noqa: N802
        return CThostFtdcTraderApi(pszFlowPath)

    def SubscribePrivateTopic(self, nResumeType: int) -> None:  # noqa: N802
        _check_int(self._owner, "SubscribePrivateTopic", 2, nResumeType)
        self._resume = nResumeType

    def SubscribePublicTopic(self, nResumeType: int) -> None:  # noqa: N802
        _check_int(self._owner, "SubscribePublicTopic", 2, nResumeType)


def _make_request(method: str, struct_name: str):
    def request(self: CThostFtdcTraderApi, field: Any, nRequestID: int) -> int:  # noqa: N803
        return self._request(method, struct_name, field, nRequestID)

    request.__name__ = method
    request.__doc__ = f"{method}({struct_name}, nRequestID) -> 0 | -1 | -2 | -3"
    return request


for _method, _struct in TRADER_REQUESTS.items():
    setattr(CThostFtdcTraderApi, _method, _make_request(_method, _struct))


class CThostFtdcMdApi(_ApiBase):
    _owner = "CThostFtdcMdApi"
    _kind = "md"

    @staticmethod
    def CreateFtdcMdApi(pszFlowPath: str = "", bIsUsingUdp: bool = False, bIsMulticast: bool = False,  # noqa: N802
                        bIsProductionMode: bool = True) -> CThostFtdcMdApi:  # fmt: skip
        return CThostFtdcMdApi(pszFlowPath)

    def ReqUserLogin(self, field: Any, nRequestID: int) -> int:  # noqa: N802, N803
        return self._request("ReqUserLogin", "CThostFtdcReqUserLoginField", field, nRequestID)

    def ReqUserLogout(self, field: Any, nRequestID: int) -> int:  # noqa: N802, N803
        return self._request("ReqUserLogout", "CThostFtdcUserLogoutField", field, nRequestID)

    def SubscribeMarketData(self, ppInstrumentID: Any, nCount: int) -> int:  # noqa: N802, N803
        return self._market_data("SubscribeMarketData", ppInstrumentID, nCount, True)

    def UnSubscribeMarketData(self, ppInstrumentID: Any, nCount: int) -> int:  # noqa: N802, N803
        return self._market_data("UnSubscribeMarketData", ppInstrumentID, nCount, False)

    def _market_data(self, method: str, symbols: Any, count: Any, subscribe_on: bool) -> int:
        # The binding wants a list of bytes and a count: a tuple or str items raise TypeError.
        if not isinstance(symbols, list) or not all(isinstance(item, bytes) for item in symbols):
            raise _type_error(self._owner, method, 2, "char *[]")
        _check_int(self._owner, method, 3, count)
        link = self._link()
        if link is None:
            return -1
        names = [item.decode("ascii", "replace") for item in symbols[: max(0, count)]]
        return link.exchange.market_data(link, names, subscribe_on)


def _noop(self: Any, *args: Any) -> None:
    return None


class CThostFtdcTraderSpi:
    """Subclass and override the callbacks you need; the rest do nothing."""


class CThostFtdcMdSpi:
    """Subclass and override the callbacks you need; the rest do nothing."""


for _name in TRADER_SPI_CALLBACKS:
    setattr(CThostFtdcTraderSpi, _name, _noop)
for _name in MD_SPI_CALLBACKS:
    setattr(CThostFtdcMdSpi, _name, _noop)
