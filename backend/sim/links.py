"""One API object's connection to a sim front: its session and the way answers reach its thread."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backend.sim import wire
from backend.sim.native import CallbackThread
from backend.sim.structs import struct_classes

if TYPE_CHECKING:
    from backend.sim.exchange import SimExchange


class Link:
    """The session state a front keeps for one connected API object (trader "td" or market "md")."""

    front_id = 1

    def __init__(self, exchange: SimExchange, api: Any, kind: str, thread: CallbackThread, resume: int) -> None:
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
        self.delivered = 0  # private-flow messages delivered (RESUME continues after these)
        self.reset_session(0, connected=False)

    def reset_session(self, session_id: int, connected: bool = True) -> None:
        self.connected = connected
        self.session_id = session_id
        self.userid = ""
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
        delay = self.exchange.settings.response_delay
        if delay > 0:
            self.exchange.schedule(delay, self.thread.post, self._call, callback, args)
        else:
            self.thread.post(self._call, callback, args)

    def post_last(self, callback: str, *args: Any) -> None:
        """Queue the last answer of a query; the query stops being outstanding once it is delivered."""
        delay = self.exchange.settings.response_delay
        if delay > 0:
            self.exchange.schedule(delay, self.thread.post, self._call_last, callback, args)
        else:
            self.thread.post(self._call_last, callback, args)

    def _call(self, callback: str, args: tuple) -> None:
        spi = self.api._spi
        if spi is not None:
            getattr(spi, callback)(*args)

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
