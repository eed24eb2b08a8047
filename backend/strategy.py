"""The base class of user strategies, in the spirit of ctpbee: `from backend.strategy import Strategy`.

A strategy runs in a worker process of its own (backend/strategy_runtime/worker.py): callbacks get
plain read-only objects with the field names of shared/API.md (`tick.ask_price_1`, `bar.close_price`),
and actions become commands the server checks and sends through the engine, like any order.

    class DoubleMa(Strategy):
        instruments = ["rb2601.SHFE"]
        bar_interval = "1m"

        def on_bar(self, bar):
            if ...:
                self.buy(bar.close_price, 1, bar)

    ext = DoubleMa("double_ma")
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from types import MappingProxyType, SimpleNamespace
from typing import Any

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")  # fixed +08:00: no DST since 1991
Sender = Callable[[dict[str, Any]], dict[str, Any] | None]


class Record(SimpleNamespace):
    """A read-only view of one tick, bar, order, trade, position or account.

    A value, without weak references (`__slots__ = ()`): whoever wants one keeps a reference, which the
    lab counts on (backend/lab/engine.py reuses a bar nobody kept)."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("strategy inputs are read-only")


def record(data: dict[str, Any]) -> Record:
    view = Record()
    view.__dict__.update(data)
    return view


def _local_symbol(origin: Any) -> str:
    if isinstance(origin, str):
        return origin
    name = getattr(origin, "local_symbol", None)
    if not name:
        raise ValueError("origin must be a local_symbol or have one (a tick, a bar, a contract)")
    return str(name)


def iso(epoch_ms: int) -> str:
    """A bar's start as on_bar's bars carry it: ISO 8601 in exchange time."""
    return datetime.fromtimestamp(epoch_ms / 1000, SHANGHAI).isoformat()


class Strategy:
    """Override the callbacks you need; call the actions from them."""

    instruments: list[str] = []  # local_symbols this strategy trades and receives events of
    bar_interval: str = "1m"  # the bars on_bar receives: 1m, 5m, 15m, 30m, 1h or 1d
    # Its parameters as a literal dict (the server reads the defaults from the source). A start may override
    # them (PUT /strategy {..., "params": {...}}: declared keys, the defaults' types); self.params is the
    # merged dict from on_init on.
    params: dict[str, Any] = {}

    def __init__(self, name: str) -> None:
        self.name = name
        self._send: Sender | None = None
        self.positions: dict[str, Record] = {}  # "local_symbol.direction" -> position (from its own trades)
        self.active_orders: dict[str, Record] = {}
        self.account: Record | None = None
        self.contracts: MappingProxyType[str, Record] = MappingProxyType({})
        self.ticks: dict[str, Record] = {}

    # --- callbacks ------------------------------------------------------------------------------
    def on_init(self) -> None: ...

    def on_tick(self, tick: Record) -> None: ...

    def on_bar(self, bar: Record) -> None: ...

    def on_order(self, order: Record) -> None: ...

    def on_trade(self, trade: Record) -> None: ...

    def on_position(self, position: Record) -> None: ...

    def on_account(self, account: Record) -> None: ...

    def on_realtime(self) -> None:
        """Called about once a second."""

    def on_stop(self) -> None: ...

    # --- actions --------------------------------------------------------------------------------
    def buy(self, price: float, volume: int, origin: Any) -> dict[str, Any] | None:
        """Open long."""
        return self._order("long", "open", price, volume, origin)

    def short(self, price: float, volume: int, origin: Any) -> dict[str, Any] | None:
        """Open short."""
        return self._order("short", "open", price, volume, origin)

    def sell(self, price: float, volume: int, origin: Any) -> dict[str, Any] | None:
        """Close long (the server splits close-today/yesterday where the exchange needs it)."""
        return self._order("short", "close", price, volume, origin)

    def cover(self, price: float, volume: int, origin: Any) -> dict[str, Any] | None:
        """Close short."""
        return self._order("long", "close", price, volume, origin)

    def cancel(self, order_id: str) -> dict[str, Any] | None:
        return self._command({"k": "cancel", "order_id": order_id})

    def cancel_all(self) -> dict[str, Any] | None:
        return self._command({"k": "cancel_all"})

    def subscribe(self, origin: Any) -> dict[str, Any] | None:
        """Receive (and trade) one more instrument from now on."""
        name = _local_symbol(origin)
        if name not in self.instruments:
            self.instruments = [*self.instruments, name]
        return self._command({"k": "subscribe", "local_symbol": name})

    def load_bars(self, origin: Any, interval: str | None = None, count: int = 500) -> list[Record]:
        """The latest `count` finished bars of an instrument (default interval: bar_interval), oldest first,
        as on_bar gets them: to warm indicators up in on_init. From the desk's store: the bars it recorded
        and imported, and on the sim its generated past (20 trading days of 1-minute bars). Raises
        RuntimeError with the server's reason when it refuses (a bad interval or count)."""
        name = _local_symbol(origin)
        reply = self._command({"k": "load_bars", "local_symbol": name, "interval": interval or self.bar_interval,
                               "count": int(count)})  # fmt: skip
        if not reply or not reply.get("ok"):
            raise RuntimeError(f"load_bars({name}): {(reply or {}).get('error', 'no answer')}")
        symbol, _, exchange = name.rpartition(".")
        return [record({"local_symbol": name, "symbol": symbol, "exchange": exchange, "interval": reply["interval"],
                        "datetime": iso(row[0]), "open_price": row[1], "high_price": row[2], "low_price": row[3],
                        "close_price": row[4], "volume": row[5]}) for row in reply["rows"]]  # fmt: skip

    def main_contract(self, product: str) -> str:
        """The local_symbol of a product's main contract (主力: the listed month with the most open interest,
        as the counter reports it now), e.g. main_contract("rb") -> "rb2605.SHFE". Raises LookupError when
        the product has none (unknown, or no open interest yet)."""
        reply = self._command({"k": "main_contract", "product": str(product)})
        if not reply or not reply.get("ok"):
            raise LookupError((reply or {}).get("error", "no answer"))
        return str(reply["local_symbol"])

    def nearest(self, product: str, exchange: str) -> str:
        """The local_symbol of the first-expiring listed contract of a product (e.g. "m", "DCE")."""
        listed = [c for c in self.contracts.values()
                  if c.exchange == exchange and c.symbol.rstrip("0123456789") == product]  # fmt: skip
        if not listed:
            raise LookupError(f"the counter lists no {product} contract on {exchange}")
        return min(listed, key=lambda c: (c.expire_date or "", c.symbol)).local_symbol

    def info(self, message: str) -> None:
        self._log("INFO", message)

    def warning(self, message: str) -> None:
        self._log("WARNING", message)

    def error(self, message: str) -> None:
        self._log("ERROR", message)

    # --- plumbing -------------------------------------------------------------------------------
    def _order(self, direction: str, offset: str, price: float, volume: int, origin: Any) -> dict[str, Any] | None:
        command = {"k": "order", "local_symbol": _local_symbol(origin), "direction": direction,
                   "offset": offset, "type": "limit", "price": float(price), "volume": int(volume)}  # fmt: skip
        return self._command(command)

    def _command(self, command: dict[str, Any]) -> dict[str, Any] | None:
        if self._send is None:
            raise RuntimeError("actions are only possible once the strategy runs (from on_init on)")
        return self._send(command)

    def _log(self, level: str, message: str) -> None:
        if self._send is not None:
            self._send({"k": "log", "level": level, "message": str(message)[:2000], "noreply": True})
