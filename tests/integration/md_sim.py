"""A simulated counter plus raw CTP market-data clients for the sim's market-data tests.

Every sim gets a unique name and, unless a test asks otherwise, a clock of its own (`SimClock`):
running in real time from a Wednesday in the day session, so dates and sessions are known, no
automatic day roll can happen mid-test, and UpdateMillisec still varies.
"""

from __future__ import annotations

import itertools
import os
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from backend.sim import configure, control, mdapi, shutdown, tdapi
from backend.sim.calendar import SHANGHAI
from backend.sim.instruments import InstrumentSpec
from lib.native import monotonic
from tests.ctpclient import MdClient, TraderClient

# The week the tests live in: Tuesday 2025-11-25 .. Monday 2025-12-01.
TUE, WED, THU, FRI, SAT, MON = "20251125", "20251126", "20251127", "20251128", "20251129", "20251201"
_names = itertools.count()


def at(day: str, hhmm: str, second: int = 0) -> datetime:
    """An aware Asia/Shanghai moment on a YYYYMMDD day."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    return datetime(int(day[:4]), int(day[4:6]), int(day[6:]), hour, minute, second, tzinfo=SHANGHAI)


class SimClock:
    """An injectable sim clock: frozen at a moment, or running in real time from it. Tests move it."""

    def __init__(self, moment: datetime, running: bool = True) -> None:
        self.running = running
        self.set(moment)

    def set(self, moment: datetime) -> None:
        self._base, self._since = moment, monotonic()

    def now(self) -> datetime:
        if not self.running:
            return self._base
        return self._base + timedelta(seconds=monotonic() - self._since)


class MdSim:
    """Named sims and the clients connected to them; `close` releases the clients and shuts the sims."""

    def __init__(self, flow_dir: Path) -> None:
        self.flow_dir = flow_dir
        self.names: list[str] = []
        self.clients: list[Any] = []

    def sim(self, clock: SimClock | None = None, **settings: Any) -> str:
        """Configure a new sim; returns its name (front `sim://<name>`)."""
        name = f"md-{os.getpid()}-{next(_names)}"
        clock = clock or SimClock(at(WED, "10:00"))
        configure(name, clock=clock.now, **settings)
        self.names.append(name)
        return name

    def _prefix(self, kind: str) -> str:
        prefix = self.flow_dir / f"{kind}{len(self.clients)}" / f"{kind}_"
        prefix.parent.mkdir(parents=True, exist_ok=True)
        return str(prefix)

    def md(self, name: str, front: str | None = None, start: bool = True) -> MdClient:
        client = MdClient(mdapi, self._prefix("md"), front=front or f"sim://{name}")
        self.clients.append(client)
        return client.start() if start else client

    def logged_in_md(self, name: str) -> MdClient:
        client = self.md(name)
        login = client.login()
        assert login.error_id == 0, login.info
        return client

    def trader(self, name: str) -> TraderClient:
        client = TraderClient(tdapi, self._prefix("td"), front=f"sim://{name}")
        self.clients.append(client)
        return client.ready()

    def close(self) -> None:
        for client in reversed(self.clients):
            client.close()
        self.clients.clear()
        for name in self.names:
            shutdown(name)
        self.names.clear()


def nearest(name: str, product: str) -> InstrumentSpec:
    """The nearest listed futures contract of a product in sim `name`."""
    specs = [s for s in control(name).specs.values() if s.product == product and not s.is_option]
    return min(specs, key=lambda spec: spec.expire_date)


# One liquid product per exchange, with ticks of different shapes (0.5, 0.1, 0.2, 5, 10, 1).
PRODUCTS = {"SHFE": "cu", "INE": "sc", "DCE": "i", "CZCE": "MA", "CFFEX": "IF", "GFEX": "si"}


def one_per_exchange(name: str) -> dict[str, InstrumentSpec]:
    return {exchange: nearest(name, product) for exchange, product in PRODUCTS.items()}


def on_tick(price: float, tick: float) -> bool:
    return abs(price / tick - round(price / tick)) < 1e-6


def quiet_for(client: MdClient, symbol: str, seconds: float, since: int) -> list[dict[str, Any]]:
    """Wait `seconds` (on an Event, not a sleep) and return the ticks of `symbol` recorded since `since`."""
    threading.Event().wait(seconds)
    return client.ticks(symbol, since)
