"""Where `sim://name` front addresses resolve: the sim's stand-in for a network.

A process may host several simulated counters, each named; `sim://` is the one named "". Each is
configured before its first API object connects, and lives until `shutdown`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lib.native import RLock

if TYPE_CHECKING:
    from backend.sim.exchange import SimExchange

SCHEME = "sim://"


@dataclass(frozen=True)
class SimAccount:
    """An investor account held by the sim (like a SimNow registration)."""

    userid: str
    password: str
    balance: float = 1_000_000.0


@dataclass(frozen=True)
class SimSettings:
    """How one simulated counter behaves. Every field has a default: `sim://` works unconfigured."""

    name: str = ""
    data_dir: str | None = None  # None: state kept in memory only
    accounts: tuple[SimAccount, ...] = (SimAccount("demo", "demo"),)
    broker_id: str = ""  # empty: any BrokerID is accepted
    app_id: str = ""  # with auth_code: ReqAuthenticate must succeed before ReqUserLogin
    auth_code: str = ""
    mode: str = "7x24"  # 7x24 | sessions | replay
    market: str = "builtin"  # builtin | full
    full_market_size: int = 5000
    tick_rate: float = 2.0  # snapshots a second per instrument
    seed: int = 20260101
    replay_csv: str = ""
    replay_speed: float = 1.0  # 1 = the recorded pace; 0 = as fast as possible
    replay_loop: bool = True
    query_rate: float = 1.0  # queries a second per session; 0 = unlimited
    max_outstanding_queries: int = 1
    query_not_ready: int = 0  # answer this many queries after each login with ErrorID 90
    reconnect_delay: float = 1.0  # seconds an API waits before reconnecting after a drop
    unreachable_rate: float = 800.0  # OnFrontDisconnected(4097) a second while unreachable
    response_delay: float = 0.0  # seconds added before every answer ("slow answers")
    trade_before_order: float = 0.5  # chance OnRtnTrade arrives before its OnRtnOrder
    tick_exchange_id: bool = False  # many real fronts leave ExchangeID empty in ticks
    auto_settle: bool = True  # settle when the clock's trading day changes
    close_only: tuple[str, ...] = ()  # instruments open only for closing (ErrorID 29)
    clock: Callable[[], datetime] | None = field(default=None, compare=False)

    def replace(self, **changes: Any) -> SimSettings:
        return replace(self, **changes)


class _Registry:
    def __init__(self) -> None:
        self._lock = RLock()
        self._settings: dict[str, SimSettings] = {}
        self._exchanges: dict[str, SimExchange] = {}

    def configure(self, name: str = "", **options: Any) -> SimSettings:
        with self._lock:
            if name in self._exchanges:
                raise RuntimeError(f"sim {name!r} is running; shut it down before reconfiguring")
            settings = SimSettings(name=name, **options)
            self._settings[name] = settings
            return settings

    def exchange(self, name: str = "") -> SimExchange:
        from backend.sim.exchange import SimExchange

        with self._lock:
            if name not in self._exchanges:
                self._exchanges[name] = SimExchange(self._settings.get(name) or SimSettings(name=name))
            return self._exchanges[name]

    def running(self, name: str = "") -> SimExchange | None:
        with self._lock:
            return self._exchanges.get(name)

    def shutdown(self, name: str | None = None) -> None:
        with self._lock:
            names = list(self._exchanges) if name is None else [name]
            for each in names:
                exchange = self._exchanges.pop(each, None)
                if exchange is not None:
                    exchange.close()
            if name is None:
                self._settings.clear()
            else:
                self._settings.pop(name, None)


registry = _Registry()
configure = registry.configure
shutdown = registry.shutdown


def control(name: str = "") -> SimExchange:
    """The running sim behind `sim://name`, for tests and demos (faults, prices, settlement)."""
    return registry.exchange(name)


def parse_address(address: str) -> str | None:
    """The sim name of a `sim://name` address, or None for anything else."""
    if not address.startswith(SCHEME):
        return None
    return address[len(SCHEME) :].strip("/")
