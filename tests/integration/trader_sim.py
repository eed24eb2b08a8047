"""A simulated counter plus raw CTP trader clients for the sim's trader tests (fixtures in tests/conftest.py).

Every sim gets a unique name, a fixed clock (a Tuesday in the day session, so no automatic day roll
can happen mid-test), no random walk (prices move only through `set_price`) and unlimited queries
unless a test asks otherwise.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from backend.sim import configure, control, shutdown, tdapi
from backend.sim.calendar import SHANGHAI
from backend.sim.exchange import SimExchange
from backend.sim.instruments import builtin_instruments
from tests.ctpclient import Call, TraderClient

FIXED_NOW = datetime(2025, 11, 4, 10, 0, tzinfo=SHANGHAI)  # Tuesday 10:00, trading day 20251104
DEFAULTS: dict[str, Any] = {
    "query_rate": 0.0,
    "tick_rate": 0.0,
    "reconnect_delay": 0.05,
    "clock": lambda: FIXED_NOW,
}
_names = itertools.count()

# OrderStatus progress: unknown < queueing < part traded < any terminal status.
STATUS_RANK = {"a": 0, "3": 1, "1": 2, "0": 3, "5": 3, "2": 3, "4": 3}
TERMINAL = frozenset("0524")


def builtin_contract(product: str) -> tuple[str, str]:
    """(InstrumentID, ExchangeID) of a product's nearest contract in the builtin table on FIXED_NOW,
    for settings that name instruments before the sim exists (close_only)."""
    spec = min((s for s in builtin_instruments(FIXED_NOW.date()) if s.product == product), key=lambda s: s.expire_date)
    return spec.symbol, spec.exchange


@dataclass
class TraderSim:
    """One named sim and the clients connected to it; `stop` closes them and shuts the sim down."""

    name: str
    flow_dir: Path
    settings: dict[str, Any]
    clients: list[TraderClient] = field(default_factory=list)
    running: bool = False

    def start(self) -> TraderSim:
        configure(self.name, **self.settings)
        self.running = True
        return self

    @property
    def front(self) -> str:
        return f"sim://{self.name}"

    @property
    def control(self) -> SimExchange:
        return control(self.name)

    def client(self, **options: Any) -> TraderClient:
        """A started (not yet logged-in) client with a flow prefix of its own."""
        prefix = self.flow_dir / f"c{len(self.clients)}" / "td_"
        prefix.parent.mkdir(parents=True, exist_ok=True)
        client = TraderClient(tdapi, str(prefix), front=self.front, **options)
        self.clients.append(client)
        return client.start()

    def ready_client(self, **options: Any) -> TraderClient:
        return self.client(**options).ready()

    def contract(self, product: str) -> tuple[str, str]:
        """(InstrumentID, ExchangeID) of the nearest listed contract of a product."""
        spec = min((s for s in self.control.specs.values() if s.product == product), key=lambda s: s.expire_date)
        return spec.symbol, spec.exchange

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()
        if self.running:
            shutdown(self.name)
            self.running = False


def new_sim(base_dir: Path, name: str | None = None, **settings: Any) -> TraderSim:
    name = name or f"trader-{os.getpid()}-{next(_names)}"
    flow_dir = base_dir / f"flow-{name}-{next(_names)}"
    flow_dir.mkdir(parents=True)
    return TraderSim(name, flow_dir, {**DEFAULTS, **settings}).start()


# --- session helpers --------------------------------------------------------------------------------
def relogin(client: TraderClient, since: int, confirm: bool = True) -> Call:
    """After a drop (recorded from index `since`): wait for the new OnFrontConnected, log in, confirm."""
    client.recorder.wait_for("OnFrontConnected", start=since)
    login = client.login()
    assert login.error_id == 0, login.info
    if confirm:
        assert client.confirm().error_id == 0
    return login


def order_id(data: dict[str, Any]) -> str:
    """The identity a client gives an order: FrontID_SessionID_OrderRef (SessionID may be negative)."""
    return f"{data['FrontID']}_{data['SessionID']}_{data['OrderRef'].strip()}"


def assert_statuses_monotonic(calls: list[Call]) -> dict[str, list[str]]:
    """No order's OrderStatus moves back in STATUS_RANK, no terminal status changes, VolumeTraded
    never decreases. Returns each order's status sequence."""
    sequences: dict[str, list[str]] = {}
    traded: dict[str, int] = {}
    for call in calls:
        if call.name != "OnRtnOrder" or call.data is None:
            continue
        key, status = order_id(call.data), call.data["OrderStatus"]
        seen = sequences.setdefault(key, [])
        if seen:
            assert STATUS_RANK[status] >= STATUS_RANK[seen[-1]], f"{key}: {seen} then {status}"
            assert seen[-1] not in TERMINAL or status == seen[-1], f"{key}: {seen} then {status}"
        assert call.data["VolumeTraded"] >= traded.get(key, 0), f"{key}: VolumeTraded went down"
        traded[key] = call.data["VolumeTraded"]
        seen.append(status)
    return sequences


def barrier(client: TraderClient) -> None:
    """Every callback the counter queued before now has been delivered (one thread, in order)."""
    client.query("ReqQryInvestor", "CThostFtdcQryInvestorField", "OnRspQryInvestor")


def account(client: TraderClient) -> dict[str, Any]:
    (call,) = client.query("ReqQryTradingAccount", "CThostFtdcQryTradingAccountField", "OnRspQryTradingAccount")
    assert call.data is not None
    return call.data


def positions(client: TraderClient, symbol: str = "") -> list[dict[str, Any]]:
    calls = client.query("ReqQryInvestorPosition", "CThostFtdcQryInvestorPositionField", "OnRspQryInvestorPosition",
                         InstrumentID=symbol)  # fmt: skip
    return [call.data for call in calls if call.data is not None]


def commission_rates(client: TraderClient, symbol: str) -> dict[str, Any]:
    (call,) = client.query("ReqQryInstrumentCommissionRate", "CThostFtdcQryInstrumentCommissionRateField",
                           "OnRspQryInstrumentCommissionRate", InstrumentID=symbol)  # fmt: skip
    assert call.data is not None
    return call.data


def fee(rates: dict[str, Any], leg: str, price: float, volume: int, size: int) -> float:
    """Commission of one leg ("Open", "Close", "CloseToday") from a commission-rate row."""
    return price * volume * size * rates[f"{leg}RatioByMoney"] + volume * rates[f"{leg}RatioByVolume"]


def client_quote(client: TraderClient, symbol: str) -> Any:
    """The sim's live book of `symbol` on the client's front (read it right after set_price)."""
    return control(client.front.removeprefix("sim://")).market.quotes[symbol]


def fill_order(client: TraderClient, symbol: str, exchange: str, direction: str, offset: str,
               volume: int = 1) -> dict[str, Any]:  # fmt: skip
    """Send a limit order reaching the fifth level of the opposite side; wait until it is all traded."""
    quote = client_quote(client, symbol)
    price = quote.ask_prices[4] if direction == "0" else quote.bid_prices[4]
    ref = client.order(symbol, exchange, direction, offset, price, volume)
    final = client.wait_order(ref, lambda data: data["OrderStatus"] in TERMINAL)
    assert final["OrderStatus"] == "0", final["StatusMsg"]
    return final
