"""A raw CTP client for tests: drives any openctp_ctp-shaped module and records every callback.

Callbacks arrive on the API's own thread; `wait_for` blocks the test on a condition with a timeout
(never a sleep). Works against backend.sim and, unchanged, against openctp_ctp.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT = 5.0


@dataclass
class Call:
    """One recorded callback: its name, copied arguments and the thread it arrived on."""

    name: str
    args: tuple[Any, ...]
    thread: int
    data: dict[str, Any] | None = None  # the first struct argument, copied
    info: dict[str, Any] | None = None  # the RspInfo argument, copied

    @property
    def error_id(self) -> int:
        return int(self.info["ErrorID"]) if self.info else 0

    @property
    def is_last(self) -> bool:
        return bool(self.args[-1]) if self.args and isinstance(self.args[-1], bool) else True


def _copy(struct: Any) -> dict[str, Any] | None:
    if struct is None:
        return None
    return {name: getattr(struct, name) for name in dir(struct) if name[:1].isupper()}


class Recorder:
    """Keeps every callback in arrival order and wakes waiters."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._condition = threading.Condition()

    def record(self, name: str, args: tuple[Any, ...]) -> None:
        data = info = None
        structs = [a for a in args if hasattr(a, "__dict__") and type(a).__name__.startswith("CThostFtdc")]
        for struct in structs:
            if type(struct).__name__ == "CThostFtdcRspInfoField":
                info = _copy(struct)
            elif data is None:
                data = _copy(struct)
        call = Call(name, args, threading.get_ident(), data, info)
        with self._condition:
            self.calls.append(call)
            self._condition.notify_all()

    def named(self, name: str) -> list[Call]:
        with self._condition:
            return [call for call in self.calls if call.name == name]

    def wait_for(
        self,
        name: str,
        predicate: Callable[[Call], bool] = lambda call: True,
        timeout: float = DEFAULT_TIMEOUT,
        start: int = 0,
    ) -> Call:
        """The first call named `name` at index >= start satisfying predicate; AssertionError on timeout."""
        found: list[Call] = []

        def ready() -> bool:
            found[:] = [c for c in self.calls[start:] if c.name == name and predicate(c)]
            return bool(found)

        with self._condition:
            if not self._condition.wait_for(ready, timeout):
                seen = [c.name for c in self.calls[-20:]]
                raise AssertionError(f"no {name} within {timeout}s; last callbacks: {seen}")
            return found[0]

    def wait_until(
        self, condition: Callable[[list[Call]], bool], timeout: float = DEFAULT_TIMEOUT, what: str = "condition"
    ) -> None:
        """Block until `condition(calls)` holds (e.g. a count of callbacks); AssertionError on timeout."""
        with self._condition:
            if not self._condition.wait_for(lambda: condition(self.calls), timeout):
                seen = [c.name for c in self.calls[-20:]]
                raise AssertionError(f"{what} not met within {timeout}s; last callbacks: {seen}")

    def mark(self) -> int:
        with self._condition:
            return len(self.calls)


def recording_spi(base: type) -> type:
    """A Spi subclass of `base` whose every callback is recorded."""
    callbacks = [name for name in dir(base) if name.startswith("On")]

    def make(name: str):
        def callback(self: Any, *args: Any) -> None:
            self.recorder.record(name, args)
            hook = self.hooks.get(name)
            if hook is not None:
                hook(*args)

        return callback

    namespace = {name: make(name) for name in callbacks}
    namespace["__init__"] = lambda self: (setattr(self, "recorder", Recorder()), setattr(self, "hooks", {}))[0]
    return type(f"Recording{base.__name__}", (base,), namespace)


class _Client:
    """What both clients share: the recorder, request ids, release."""

    api: Any
    spi: Any
    request_id: int

    @property
    def recorder(self) -> Recorder:
        return self.spi.recorder

    def next_id(self) -> int:
        self.request_id += 1
        return self.request_id

    def close(self) -> None:
        if self.api is not None:
            self.api.Release()
            self.api = None


@dataclass
class TraderClient(_Client):
    """A trader API with a recording Spi, and helpers for the steps of a CTP session."""

    tdapi: Any
    flow_prefix: str
    front: str = "sim://"
    broker_id: str = "9999"
    userid: str = "demo"
    password: str = "demo"
    resume: int | None = None
    api: Any = None
    spi: Any = None
    request_id: int = 0
    order_ref: int = 0
    session: dict[str, Any] = field(default_factory=dict)

    def start(self) -> TraderClient:
        self.api = self.tdapi.CThostFtdcTraderApi.CreateFtdcTraderApi(self.flow_prefix)
        self.spi = recording_spi(self.tdapi.CThostFtdcTraderSpi)()
        self.api.RegisterSpi(self.spi)
        self.api.RegisterFront(self.front)
        resume = self.tdapi.THOST_TERT_QUICK if self.resume is None else self.resume
        self.api.SubscribePrivateTopic(resume)
        self.api.SubscribePublicTopic(self.tdapi.THOST_TERT_QUICK)
        self.api.Init()
        return self

    def struct(self, name: str, **values: Any) -> Any:
        struct = getattr(self.tdapi, name)()
        for key, value in values.items():
            setattr(struct, key, value)
        return struct

    def login(self, password: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Call:
        """Wait for the front, log in, and return the OnRspUserLogin call."""
        mark = self.recorder.mark()
        self.recorder.wait_for("OnFrontConnected", timeout=timeout, start=0)
        field_ = self.struct("CThostFtdcReqUserLoginField", BrokerID=self.broker_id, UserID=self.userid,
                             Password=self.password if password is None else password)  # fmt: skip
        assert self.api.ReqUserLogin(field_, self.next_id()) == 0
        call = self.recorder.wait_for("OnRspUserLogin", timeout=timeout, start=mark)
        if call.error_id == 0 and call.data:
            self.session = call.data
            self.order_ref = int(call.data["MaxOrderRef"] or 0)
        return call

    def confirm(self) -> Call:
        mark = self.recorder.mark()
        field_ = self.struct("CThostFtdcSettlementInfoConfirmField", BrokerID=self.broker_id, InvestorID=self.userid)
        assert self.api.ReqSettlementInfoConfirm(field_, self.next_id()) == 0
        return self.recorder.wait_for("OnRspSettlementInfoConfirm", start=mark)

    def ready(self) -> TraderClient:
        """Start, log in and confirm settlement: what every trading test needs first."""
        if self.api is None:
            self.start()
        login = self.login()
        assert login.error_id == 0, login.info
        assert self.confirm().error_id == 0
        return self

    def query(self, method: str, struct_name: str, callback: str, **values: Any) -> list[Call]:
        """Send one query (retrying -3 flow control) and return its answers up to bIsLast."""
        mark = self.recorder.mark()
        request_id = self.next_id()
        result = getattr(self.api, method)(self.struct(struct_name, **values), request_id)
        assert result == 0, f"{method} returned {result}"
        self.recorder.wait_for(callback, lambda c: c.args[-2] == request_id and c.is_last, start=mark)
        return [c for c in self.recorder.named(callback) if c.args[-2] == request_id]

    def order(
        self,
        symbol: str,
        exchange: str,
        direction: str,
        offset: str,
        price: float,
        volume: int,
        price_type: str = "2",
        time_condition: str = "3",
        volume_condition: str = "1",
        ref: int | None = None,
    ) -> str:
        """Send ReqOrderInsert; returns the OrderRef used (as sent, without padding)."""
        if ref is None:
            self.order_ref += 1
            ref = self.order_ref
        field_ = self.struct(
            "CThostFtdcInputOrderField", BrokerID=self.broker_id, InvestorID=self.userid, UserID=self.userid,
            InstrumentID=symbol, ExchangeID=exchange, OrderRef=str(ref), Direction=direction,
            CombOffsetFlag=offset, CombHedgeFlag="1", OrderPriceType=price_type, LimitPrice=float(price),
            VolumeTotalOriginal=volume, TimeCondition=time_condition, VolumeCondition=volume_condition,
            MinVolume=1, ContingentCondition="1", ForceCloseReason="0", IsAutoSuspend=0,
        )  # fmt: skip
        assert self.api.ReqOrderInsert(field_, self.next_id()) == 0
        return str(ref)

    def order_updates(self, ref: str) -> list[dict[str, Any]]:
        return [c.data for c in self.recorder.named("OnRtnOrder") if c.data and c.data["OrderRef"].strip() == ref]

    def wait_order(self, ref: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = DEFAULT_TIMEOUT):
        call = self.recorder.wait_for(
            "OnRtnOrder", lambda c: c.data["OrderRef"].strip() == ref and predicate(c.data), timeout=timeout
        )
        return call.data

    def cancel(self, ref: str | None = None, sys_id: str | None = None, exchange: str = "", symbol: str = "") -> None:
        values: dict[str, Any] = {"BrokerID": self.broker_id, "InvestorID": self.userid, "UserID": self.userid,
                                  "ActionFlag": "0", "ExchangeID": exchange, "InstrumentID": symbol}  # fmt: skip
        if sys_id is not None:
            values["OrderSysID"] = sys_id
        else:
            values.update(FrontID=self.session["FrontID"], SessionID=self.session["SessionID"], OrderRef=ref or "")
        assert self.api.ReqOrderAction(self.struct("CThostFtdcInputOrderActionField", **values), self.next_id()) == 0


@dataclass
class MdClient(_Client):
    """A market-data API with a recording Spi, and helpers for login and subscriptions."""

    mdapi: Any
    flow_prefix: str
    front: str = "sim://"
    broker_id: str = "9999"
    userid: str = "demo"
    password: str = "demo"
    api: Any = None
    spi: Any = None
    request_id: int = 0

    def start(self) -> MdClient:
        self.api = self.mdapi.CThostFtdcMdApi.CreateFtdcMdApi(self.flow_prefix)
        self.spi = recording_spi(self.mdapi.CThostFtdcMdSpi)()
        self.api.RegisterSpi(self.spi)
        self.api.RegisterFront(self.front)
        self.api.Init()
        return self

    def login(self, timeout: float = DEFAULT_TIMEOUT, since: int = 0) -> Call:
        """Wait for OnFrontConnected (recorded at index >= since), log in, return the OnRspUserLogin call."""
        self.recorder.wait_for("OnFrontConnected", timeout=timeout, start=since)
        mark = self.recorder.mark()
        field_ = self.mdapi.CThostFtdcReqUserLoginField()
        field_.BrokerID, field_.UserID, field_.Password = self.broker_id, self.userid, self.password
        assert self.api.ReqUserLogin(field_, self.next_id()) == 0
        return self.recorder.wait_for("OnRspUserLogin", timeout=timeout, start=mark)

    def subscribe(self, symbols: list[str], count: int | None = None) -> int:
        return self.api.SubscribeMarketData([s.encode() for s in symbols], len(symbols) if count is None else count)

    def unsubscribe(self, symbols: list[str], count: int | None = None) -> int:
        return self.api.UnSubscribeMarketData([s.encode() for s in symbols], len(symbols) if count is None else count)

    def ticks(self, symbol: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """Copied OnRtnDepthMarketData structs recorded at index >= since (of one symbol if given)."""
        calls = self.recorder.calls[since:]
        return [c.data for c in calls if c.name == "OnRtnDepthMarketData" and c.data is not None
                and (symbol is None or c.data["InstrumentID"] == symbol)]  # fmt: skip

    def wait_tick(
        self,
        symbol: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda data: True,
        timeout: float = DEFAULT_TIMEOUT,
        since: int = 0,
    ) -> dict[str, Any]:
        """The first tick of `symbol` at index >= since satisfying predicate; AssertionError on timeout."""
        call = self.recorder.wait_for(
            "OnRtnDepthMarketData",
            lambda c: c.data["InstrumentID"] == symbol and predicate(c.data),
            timeout=timeout,
            start=since,
        )
        return call.data
