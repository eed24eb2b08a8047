"""One API object's connection to a sim front: its session and the way answers reach its thread."""

from __future__ import annotations

import json
import traceback
from typing import TYPE_CHECKING, Any

from backend.sim import wire
from backend.sim.structs import struct_classes
from lib.native import CallbackThread

if TYPE_CHECKING:
    from backend.sim.exchange import SimExchange


PRIVATE_FLOW = "Private.con"


class Link:
    """The session state a front keeps for one connected API object (trader "td" or market "md")."""

    front_id = 1

    def __init__(
        self, exchange: SimExchange, api: Any, kind: str, thread: CallbackThread, resume: int, flow_path: str = ""
    ) -> None:
        self.exchange = exchange
        self.api = api
        self.kind = kind
        self.structs = struct_classes(kind)  # md and td structs differ slightly, as in the binding
        self.thread = thread
        self.resume = resume
        self.connected = False
        self.storming = False
        self.session_id = 0
        self.subscriptions: set[str] = set()
        self.flow_file = f"{flow_path}{PRIVATE_FLOW}" if kind == "td" else ""
        self.delivered = self._read_flow()  # private-flow messages delivered (RESUME continues after these)
        self._ticks_runner = self._call_ticks  # one bound method: post_tick recognises its entries by identity
        self.reset_session(0, connected=False)

    def _read_flow(self) -> int:
        """RESUME continues from the flow file a previous API object on this prefix left behind."""
        try:
            with open(self.flow_file, encoding="utf-8") as handle:
                saved = json.load(handle)
        except (OSError, ValueError):
            return 0
        return int(saved.get("delivered", 0)) if saved.get("trading_day") == self.exchange.trading_day else 0

    def save_flow(self) -> None:
        if not self.flow_file:
            return
        with open(self.flow_file, "w", encoding="utf-8") as handle:
            json.dump({"trading_day": self.exchange.trading_day, "delivered": self.delivered}, handle)

    def reset_session(self, session_id: int, connected: bool = True) -> None:
        self.connected = connected
        self.session_id = session_id
        self.userid = ""
        self.broker_id = ""  # the logged-in account's broker: what answers name, whatever a request says
        self.logged_in = False
        self.authenticated = False
        self.last_order_ref = 0
        self.product_info = ""
        self.outstanding = 0
        self.last_query = -1e18
        self.not_ready_left = 0

    # --- delivery -----------------------------------------------------------------------------
    def post(self, callback: str, *args: Any) -> None:
        """Queue one Spi callback on the API object's own thread (after the slow-answer delay)."""
        self._send(self._call, callback, args)

    def post_last(self, callback: str, *args: Any) -> None:
        """Queue the last answer of a query; the query stops being outstanding once it is delivered."""
        self._send(self._call_last, callback, args)

    def _send(self, runner: Any, callback: str, args: tuple) -> None:
        exchange = self.exchange
        delay = exchange.settings.response_delay
        if delay > 0:
            exchange.schedule(delay, self.thread.post, runner, callback, args)
        elif exchange.batch is not None:
            exchange.batch.setdefault(self, []).append((runner, callback, args))
        else:
            self.thread.post(runner, callback, args)

    def post_tick(self, struct: Any) -> None:
        """Queue OnRtnDepthMarketData: inside a batch, consecutive ticks share one entry.

        One list of structs instead of a (runner, callback, args) entry per tick: at full-market
        rates every object that lives until the hand-off counts towards the cyclic GC's collections.
        """
        exchange = self.exchange
        batch = exchange.batch
        if batch is None or exchange.settings.response_delay > 0:
            self._send(self._call, "OnRtnDepthMarketData", (struct,))
            return
        items = batch.get(self)
        if items is None:
            batch[self] = [(self._ticks_runner, "OnRtnDepthMarketData", [struct])]
            return
        last = items[-1]
        if last[0] is self._ticks_runner:
            last[2].append(struct)
        else:
            items.append((self._ticks_runner, "OnRtnDepthMarketData", [struct]))

    def deliver(self, items: list[tuple[Any, str, tuple]]) -> None:
        """Run a batch of callbacks in order (one hand-off for all a request or a market slot made)."""
        spi = self.api._spi
        call = self._call
        for runner, callback, args in items:
            try:
                if runner is call:  # the common case, without a second method call per callback
                    if spi is not None:
                        getattr(spi, callback)(*args)
                else:
                    runner(callback, args)
            except Exception:  # noqa: BLE001 - like the binding: print, swallow, go on with the next
                traceback.print_exc()

    def _call(self, callback: str, args: tuple) -> None:
        spi = self.api._spi
        if spi is not None:
            getattr(spi, callback)(*args)

    def _call_ticks(self, callback: str, structs: list[Any]) -> None:
        for struct in structs:
            spi = self.api._spi  # read per tick: RegisterSpi(None) stops the rest of a run at once
            if spi is None:
                return
            try:
                getattr(spi, callback)(struct)
            except Exception:  # noqa: BLE001 - like the binding: print, swallow, go on with the next
                traceback.print_exc()

    def _call_last(self, callback: str, args: tuple) -> None:
        with self.exchange.lock:
            self.outstanding = max(0, self.outstanding - 1)
        self._call(callback, args)

    def respond(
        self,
        callback: str,
        struct_name: str | None,
        values: dict[str, Any] | None,
        info: dict[str, Any] | None,
        request_id: int,
        is_last: bool,
        last_of_query: bool = False,
    ) -> None:
        data = self.make(struct_name, values) if struct_name and values is not None else None
        rsp = self.structs["CThostFtdcRspInfoField"]._make(info) if info is not None else None
        (self.post_last if last_of_query else self.post)(callback, data, rsp, request_id, is_last)

    def respond_error(self, callback: str, struct_name: str, values: dict[str, Any], info: dict[str, Any]) -> None:
        self.post(callback, self.make(struct_name, values), self.structs["CThostFtdcRspInfoField"]._make(info))

    def make(self, struct_name: str, values: dict[str, Any]) -> Any:
        """A struct from values, keeping only the struct's own fields (like copying into CTP memory)."""
        names = wire.STRUCT_FIELDS[struct_name]
        return self.structs[struct_name]._make({k: v for k, v in values.items() if k in names})
