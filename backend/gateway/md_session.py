"""The market-data session: login, (re-)subscription of every remembered symbol, tick cleaning."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from backend.engine.constants import ConnectionState
from backend.engine.events import ConnectionChanged
from backend.gateway.base import LoginSettings
from backend.gateway.td_session import _make_spi, release
from backend.gateway.ticks import TickCleaner, parse_day
from lib.native import allocate_lock

BATCH = 500  # subscribe in moderate batches


class MdSession:
    def __init__(
        self,
        module: Any,
        sink: Callable[[Any], None],
        settings: LoginSettings,
        flow_prefix: str,
        tick_sink: Callable[[Any], None] | None = None,
    ) -> None:
        self.module = module
        self.sink = sink
        self.tick_sink = tick_sink or sink  # ticks may skip the connection-event filters: they need none
        self.settings = settings
        self.api = module.CThostFtdcMdApi.CreateFtdcMdApi(flow_prefix)

        self.spi = _make_spi(module.CThostFtdcMdSpi, self)
        self.cleaner = TickCleaner()
        self.logged_in = False
        self._lock = allocate_lock()
        self._symbols: set[str] = set()  # remembered across reconnects
        self._request_id = 0

    def start(self) -> None:
        self.api.RegisterSpi(self.spi)
        self.api.RegisterFront(self.settings.md_address)
        self.api.Init()
        self.sink(ConnectionChanged("md", ConnectionState.CONNECTING))

    def close(self) -> None:
        release(self.api, self.module, self.logged_in)

    def adopt(self, old: MdSession) -> None:
        """Carry the remembered subscriptions and the tick cleaner's state into a recreated session."""
        self._symbols = set(old._symbols)
        self.cleaner = old.cleaner

    def subscribe(self, symbols: Iterable[str]) -> None:
        with self._lock:
            new = sorted(set(symbols) - self._symbols)
            self._symbols.update(new)
        if self.logged_in:
            self._send(new, self.api.SubscribeMarketData)

    def unsubscribe(self, symbols: Iterable[str]) -> None:
        with self._lock:
            gone = sorted(set(symbols) & self._symbols)
            self._symbols.difference_update(gone)
        if self.logged_in:
            self._send(gone, self.api.UnSubscribeMarketData)

    @staticmethod
    def _send(symbols: list[str], call: Callable[[list[bytes], int], int]) -> None:
        for start in range(0, len(symbols), BATCH):
            batch = [symbol.encode() for symbol in symbols[start : start + BATCH]]
            call(batch, len(batch))  # the binding wants a list of bytes and a count

    # --- callbacks (native thread) ---------------------------------------------------------
    def OnFrontConnected(self) -> None:  # noqa: N802
        self.sink(ConnectionChanged("md", ConnectionState.CONNECTED))
        field = self.module.CThostFtdcReqUserLoginField()
        field.BrokerID = self.settings.brokerid
        field.UserID = self.settings.userid
        field.Password = self.settings.password
        self._request_id += 1
        self.api.ReqUserLogin(field, self._request_id)

    def OnFrontDisconnected(self, reason: int) -> None:  # noqa: N802
        self.logged_in = False
        self.sink(ConnectionChanged("md", ConnectionState.DISCONNECTED, reason=reason))

    def OnRspUserLogin(self, data: Any, info: Any, request_id: int, last: bool) -> None:  # noqa: N802
        error_id = int(info.ErrorID) if info is not None else 0
        if error_id:
            message = str(info.ErrorMsg)
            self.sink(ConnectionChanged("md", ConnectionState.CONNECTED, error_id=error_id, error_msg=message))
            return
        self.logged_in = True
        day = parse_day(data.TradingDay) if data is not None else None
        if day is not None and self.cleaner.trading_day is None:
            self.cleaner.trading_day = day
        self.sink(ConnectionChanged("md", ConnectionState.READY, trading_day=data.TradingDay if data else ""))
        with self._lock:
            remembered = sorted(self._symbols)
        self._send(remembered, self.api.SubscribeMarketData)  # a new session knows no subscriptions

    def OnRtnDepthMarketData(self, data: Any) -> None:  # noqa: N802
        if data is None:
            return
        tick = self.cleaner.clean(data)  # reads the struct's fields inside the callback, copies none
        if tick is not None:
            self.tick_sink(tick)
