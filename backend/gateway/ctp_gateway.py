"""One gateway for every CTP-shaped counter: backend.sim, openctp_ctp or openctp_tts.

The binding is chosen at connect time; the real ones only after the locale pre-flight, so a
missing locale is a clear error instead of an aborted process. Flow files go under the data
directory, one prefix per (interface, broker, user, api), the directory created first (the real
library crashes otherwise).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from backend.engine.constants import ConnectionState
from backend.engine.events import ConnectionChanged, ContractsLoaded
from backend.engine.objects import CancelRequest, OrderRequest
from backend.gateway.base import EventSink, Gateway, LoginSettings
from backend.gateway.md_session import MdSession
from backend.gateway.td_session import TdSession
from backend.gateway.ticks import parse_day
from lib.ctp_preflight import load_binding
from lib.native import monotonic, sleep, start_new_thread

STORM_REPORT_EVERY = 10.0  # seconds between reports while a front keeps dropping connections
STORM_THRESHOLD = 50  # disconnects without a connect that mean "this front drops everything"
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 30.0
# Interfaces whose API objects survive Release() and re-creation during a storm. openctp_tts's
# market-data API aborts the process (a mutex assertion) on the second cycle: there the library's
# own retry goes on, filtered, and nothing is released until logout.
RECREATE_SAFE = frozenset({"sim", "ctp"})
SESSION_FILTER_SETTINGS = ("auto", "on", "off")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def load_modules(interface: str) -> tuple[Any, Any]:
    """(tdapi, mdapi) of the chosen counter."""
    if interface == "sim":
        from backend.sim import mdapi, tdapi

        return tdapi, mdapi
    return load_binding(interface)


def flow_prefix(flow_dir: Path, interface: str, broker: str, user: str, api: str) -> str:
    """A file-name prefix (not a directory) whose directory exists; names are never paths."""
    directory = flow_dir / _SAFE.sub("_", interface) / _SAFE.sub("_", f"{broker or 'nobroker'}_{user}")
    directory.mkdir(parents=True, exist_ok=True)
    return str(directory / f"{api}_")


class StormFilter:
    """Passes connection changes on, but a front that drops every connection is reported, not echoed.

    CTP reconnects by itself with no back-off: against a front that accepts and drops connections it
    fires OnFrontDisconnected hundreds of times a second (TTS flaps OnFrontConnected with it). Until a
    login succeeds again, only the first disconnect and one summary per interval go on, and after
    STORM_THRESHOLD drops the gateway backs off.
    """

    RECOVERED = (ConnectionState.AUTHENTICATED, ConnectionState.LOGGED_IN, ConnectionState.READY)

    def __init__(self, sink: EventSink, clock: Callable[[], float], on_storm: Callable[[str], None]) -> None:
        self._sink = sink
        self._clock = clock
        self._on_storm = on_storm
        self._last_report: dict[str, float] = {}
        self._streak: dict[str, int] = {}  # api -> disconnects since the last successful login

    def __call__(self, event: Any) -> None:
        if isinstance(event, ConnectionChanged):
            event = self._filter(event)
            if event is None:
                return
        self._sink(event)

    def _filter(self, event: ConnectionChanged) -> ConnectionChanged | None:
        api = event.api
        if event.state in self.RECOVERED:
            self._streak.pop(api, None)
            self._last_report.pop(api, None)
            return event
        streak = self._streak.get(api, 0)
        if event.state is ConnectionState.CONNECTED:
            return event if streak <= 1 or event.error_id else None  # flapping: not news
        if event.state is not ConnectionState.DISCONNECTED:
            return event
        streak = self._streak[api] = streak + 1
        if streak == STORM_THRESHOLD:
            self._on_storm(api)
        now = self._clock()
        last = self._last_report.get(api)
        if last is not None and now - last < STORM_REPORT_EVERY:
            return None
        self._last_report[api] = now
        if streak > 1:
            return ConnectionChanged(api, event.state, reason=event.reason,
                                     error_msg=f"front unreachable: {streak} disconnects without a login")  # fmt: skip
        return event

    def reset(self, api: str) -> None:
        self._streak.pop(api, None)


def session_filter_on(setting: str, interface: str) -> bool:
    """Whether ticks outside their instrument's sessions are dropped (CTP.md §5).

    "on" / "off" as configured; "auto" (the default): on for real counters (ctp, tts), whose fronts
    push stale snapshots out of hours, and off for the sim, whose default 7x24 mode ticks at any
    hour on purpose (in its "sessions" mode it only ticks in session anyway).
    """
    setting = (setting or "auto").strip().lower()
    if setting not in SESSION_FILTER_SETTINGS:
        raise ValueError(f"tick session filter must be one of {', '.join(SESSION_FILTER_SETTINGS)}, not {setting!r}")
    return setting == "on" or (setting == "auto" and interface != "sim")


class CtpGateway(Gateway):
    def __init__(
        self,
        sink: EventSink,
        flow_dir: Path,
        query_interval: float = 1.0,
        session_filter: str = "auto",
        tick_sink: EventSink | None = None,
    ) -> None:
        self.sink = StormFilter(self._route, monotonic, self._back_off)
        self._engine_sink = sink
        self._tick_sink = tick_sink or sink  # ticks may take their own way (the bridge's put_latest)
        self.flow_dir = flow_dir
        self.query_interval = query_interval
        self.session_filter = session_filter
        self.td: TdSession | None = None
        self.md: MdSession | None = None
        self.settings: LoginSettings | None = None
        self._modules: tuple[Any, Any] = (None, None)
        self._filter_on = False
        self._delays: dict[str, float] = {}
        self._closed = False

    def connect(self, settings: LoginSettings) -> None:
        filter_on = session_filter_on(self.session_filter, settings.interface)  # a bad setting fails here
        self._modules = load_modules(settings.interface)
        self.settings = settings
        self._filter_on = filter_on
        self.td = self._new_td()
        self.md = self._new_md()
        self.td.start()
        self.md.start()

    def _prefix(self, api: str) -> str:
        settings = self.settings
        assert settings is not None
        return flow_prefix(self.flow_dir, settings.interface, settings.brokerid, settings.userid, api)

    def _new_td(self) -> TdSession:
        assert self.settings is not None
        return TdSession(self._modules[0], self.sink, self.settings, self._prefix("td"), self.query_interval)

    def _new_md(self) -> MdSession:
        assert self.settings is not None
        session = MdSession(self._modules[1], self.sink, self.settings, self._prefix("md"), self._tick_sink)
        session.cleaner.set_session_filter(self._filter_on)
        return session

    def _back_off(self, api: str) -> None:
        """The front drops every connection and CTP retries without pause: release the API, wait, retry.

        Runs the release on a thread of its own: never on the callback thread that noticed the storm.
        """
        if self.settings is None or self.settings.interface not in RECREATE_SAFE:
            self._engine_sink(ConnectionChanged(api, ConnectionState.DISCONNECTED, reason=4097,
                                                error_msg="front unreachable; the library keeps retrying"))  # fmt: skip
            return
        delay = self._delays.get(api, BACKOFF_FIRST)
        self._delays[api] = min(delay * 2, BACKOFF_MAX)
        self._engine_sink(ConnectionChanged(api, ConnectionState.DISCONNECTED, reason=4097,
                                            error_msg=f"front unreachable; retrying in {delay:g}s"))  # fmt: skip
        start_new_thread(self._restart, (api, delay))

    def _restart(self, api: str, delay: float) -> None:
        old = self.td if api == "td" else self.md
        if old is None or self._closed:
            return
        old.close()
        sleep(delay)
        if self._closed:
            return
        self.sink.reset(api)
        if api == "td":
            fresh_td = self._new_td()
            fresh_td.adopt(old)  # type: ignore[arg-type]
            self.td = fresh_td
            fresh_td.start()
        else:
            fresh_md = self._new_md()
            fresh_md.adopt(old)  # type: ignore[arg-type]
            self.md = fresh_md
            fresh_md.start()

    def _route(self, event: Any) -> None:
        """Keep the market-data side's tick cleaner in step with the trader side, then pass on."""
        if self.md is not None:
            if isinstance(event, ContractsLoaded):
                self.md.cleaner.contracts = {contract.symbol: contract for contract in event.contracts}
            elif isinstance(event, ConnectionChanged) and event.api == "td" and event.trading_day:
                day = parse_day(event.trading_day)
                current = self.md.cleaner.trading_day
                if day is not None and (current is None or day > current):  # the trading day never goes back
                    self.md.cleaner.trading_day = day
        self._engine_sink(event)

    def close(self) -> None:
        self._closed = True
        for session in (self.td, self.md):
            if session is not None:
                session.close()
        self.td = self.md = None

    def _trader(self) -> TdSession:
        if self.td is None:
            raise RuntimeError("not connected")
        return self.td

    def subscribe(self, symbols: Iterable[str]) -> None:
        if self.md is not None:
            self.md.subscribe(symbols)

    def unsubscribe(self, symbols: Iterable[str]) -> None:
        if self.md is not None:
            self.md.unsubscribe(symbols)

    def reserve_order_id(self) -> str:
        return self._trader().reserve_order_id()

    def send_order(self, request: OrderRequest, order_id: str | None = None) -> str:
        return self._trader().send_order(request, order_id)

    def cancel_order(self, request: CancelRequest) -> None:
        self._trader().cancel_order(request)

    def query_account(self) -> None:
        self._trader().query_account()

    def query_position(self) -> None:
        self._trader().query_position()

    def reload_contracts(self) -> None:
        self._trader().query_instruments()
