"""What each consumer needs of a store: narrow, structural slices of model.store.Store.

A consumer is typed with the slice it uses, so it says at a glance which part of the database it
touches, and a test can hand it anything with those methods. Each method here is Store's, with
Store's signature and contract (its docstrings there); SqliteStore and MongoStore satisfy every
slice (tests/unit/test_store_contract.py checks the signatures against both).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from backend.engine.constants import Interval
    from backend.engine.objects import BarData
    from model.shapes import BarRow
    from model.store import LabRunRecord, StrategyRecord


# --- parts ------------------------------------------------------------------------------------------
class JournalStore(Protocol):
    """The order/trade journal: written as things happen, reloaded after a restart."""

    def save_order(self, trading_day: str, order: dict[str, Any]) -> None: ...

    def load_orders(self, trading_day: str) -> list[dict[str, Any]]: ...

    def save_trade(self, trading_day: str, trade: dict[str, Any]) -> bool: ...

    def load_trades(self, trading_day: str) -> list[dict[str, Any]]: ...


class BarStore(Protocol):
    """Where finished bars go."""

    def save_bars(self, bars: Iterable[BarData]) -> int: ...

    def load_bar(self, local_symbol: str, interval: Interval | str, start_ms: int) -> BarRow | None: ...


class SubscriptionStore(Protocol):
    def load_subscriptions(self) -> list[str]: ...

    def add_subscriptions(self, local_symbols: Iterable[str]) -> None: ...

    def remove_subscriptions(self, local_symbols: Iterable[str]) -> None: ...


class LogStore(Protocol):
    def append_logs(self, records: Iterable[dict[str, Any]]) -> None: ...


class ValueStore(Protocol):
    """Small named values: the access code's hash, the saved login."""

    def get_value(self, key: str) -> str: ...

    def set_value(self, key: str, value: str) -> None: ...


class TickStore(Protocol):
    """Recorded ticks, packed in chunks, and the per-instrument recording switch."""

    def save_tick_chunk(self, local_symbol: str, first_ms: int, last_ms: int, count: int, data: bytes) -> None: ...

    def load_tick_chunks(self, local_symbol: str, start_ms: int | None, end_ms: int | None) -> list[bytes]: ...

    def tick_summary(self) -> list[dict[str, Any]]: ...

    def load_recording(self) -> list[str]: ...

    def set_recording(self, local_symbol: str, on: bool) -> None: ...


# --- consumers --------------------------------------------------------------------------------------
class EngineStore(JournalStore, BarStore, SubscriptionStore, LogStore, ValueStore, TickStore, Protocol):
    """What the main engine writes and reloads: journal, bars, subscriptions, logs, the trading day, recorded ticks."""


class StrategyStore(ValueStore, Protocol):
    """The strategy manager's part: strategy code and run state, books (values) and the day's fills."""

    def load_trades(self, trading_day: str) -> list[dict[str, Any]]: ...

    def save_strategy_code(self, name: str, text: str, updated_at: float) -> None: ...

    def get_strategy(self, name: str) -> StrategyRecord: ...

    def list_strategies(self) -> list[StrategyRecord]: ...

    def set_strategy_state(self, name: str, status: str, error: str, started_at: float | None) -> None: ...

    def delete_strategy(self, name: str) -> None: ...


class TokenStore(Protocol):
    """Revoked JWTs: one by one and the logout watermark."""

    def revoke_token(self, jti: str, expires_at: float) -> None: ...

    def is_revoked(self, jti: str) -> bool: ...

    def revoke_all_before(self, moment: float) -> None: ...

    def revoked_before(self) -> float: ...


class ConfigStore(Protocol):
    """The runtime configuration PUT /config saves and a start reads back."""

    def load_config(self) -> dict[str, Any]: ...

    def save_config(self, values: dict[str, Any]) -> None: ...


class LabStore(Protocol):
    """The lab's part (issue 18): the bars a backtest replays and the runs with their reports."""

    def load_bar_rows(
        self, local_symbol: str, interval: Interval | str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[BarRow]: ...

    def save_lab_run(
        self, run_id: str, kind: str, created_at: float, summary: dict[str, Any], result: dict[str, Any] | None
    ) -> None: ...

    def get_lab_run(self, run_id: str) -> LabRunRecord: ...

    def list_lab_runs(self, kind: str | None, limit: int) -> list[LabRunRecord]: ...

    def delete_lab_run(self, run_id: str) -> None: ...
