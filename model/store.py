"""The persistence interface: what the engine, auth and views may ask of a store, and nothing more."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend.engine.constants import Interval
    from backend.engine.objects import BarData
    from model.shapes import BarRow


class StoreError(Exception):
    """The store could not do what was asked (driver failure, closed store, unreadable schema)."""


class NotFound(StoreError, LookupError):
    """An unknown key was looked up; raised instead of returning None."""


class StoreUnavailable(StoreError):
    """The database server cannot be reached; the message names the host, never the password."""


@dataclass(frozen=True, slots=True)
class StrategyRecord:
    name: str
    text: str
    updated_at: float
    status: str = "stopped"
    error: str = ""
    started_at: float | None = None


@dataclass(frozen=True, slots=True)
class LabRunRecord:
    """One lab run (a backtest or a sweep, issue 18): its state and request in `summary`, its report in `result`.

    Kept apart so the list of runs reads the small part only: a report holds every trade and order.
    """

    run_id: str
    kind: str  # "backtest" | "optimise"
    created_at: float  # epoch seconds
    summary: dict[str, Any]  # JSON: status, progress, error, the request, headline statistics
    result: dict[str, Any] | None = None  # JSON: the whole report; None until finished, and in listings


class Store(ABC):
    """Persistence for one ctpdesk server: bars, configuration, access, strategies, journal, logs.

    The contract every backend keeps (tests/unit/test_store_contract.py checks it against each):

    * Thread-safe: any method may be called from any thread (native OS threads such as the store
      writer and gevent's threadpool included); each call is atomic with respect to the others.
      A multi-row write either commits whole (SQLite) or, on MongoDB, may be cut short by a failure;
      every multi-row write is an idempotent upsert, so calling it again is always safe.
    * Nothing blocks for long: a call does a bounded amount of I/O (milliseconds). It still blocks
      the calling OS thread, so code on the gevent loop hands writes to the store writer.
    * Durable: when a write returns, it is committed and survives a kill -9 of this process.
    * Unknown lookups raise `NotFound`, never return None; range reads of nothing return [].
    * Driver exceptions never leak: callers catch `StoreError` (nothing outside model/ imports a
      driver). Invalid arguments raise ValueError/TypeError before anything is written.
    * Returned values are fresh copies; mutating them never changes what is stored.
    * Stored dicts (config, orders, trades, logs) are JSON: they come back as JSON would return
      them (tuples become lists, keys become strings).
    """

    # --- bars -----------------------------------------------------------------------------------
    @abstractmethod
    def save_bars(self, bars: Iterable[BarData]) -> int:
        """Upsert bars by (local_symbol, interval, start); return how many distinct keys were written.

        A bar saved twice (a reconnect, a restart, the timer closing a bar the next tick would also
        close) replaces the earlier one; within one call the last bar of a key wins. Bar datetimes
        must be timezone-aware (ValueError otherwise): a naive one would shift by the host's zone.
        """

    @abstractmethod
    def load_bars(
        self, local_symbol: str, interval: Interval | str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[list[Any]]:
        """Return rows [ts_ms, open, high, low, close, volume], ascending, start/end inclusive.

        None leaves that end open. When more than `limit` bars are in range, the latest `limit` are
        returned (still ascending): a chart wants the most recent history. `limit` must be positive.
        """

    @abstractmethod
    def load_bar(self, local_symbol: str, interval: Interval | str, start_ms: int) -> BarRow | None:
        """The whole stored bar of one key (turnover and open interest included), None when there is none."""

    @abstractmethod
    def bar_count(self, local_symbol: str, interval: Interval | str) -> int:
        """Count the stored bars of one symbol and interval (0 when none)."""

    # --- recorded ticks (the lab's tick mode) ----------------------------------------------------
    @abstractmethod
    def save_tick_chunk(self, local_symbol: str, first_ms: int, last_ms: int, count: int, data: bytes) -> None:
        """Append one packed chunk of an instrument's ticks (backend/engine/tick_codec.py), first..last ms.

        Chunks are kept in the order they were saved: that is the order the ticks arrived in.
        """

    @abstractmethod
    def load_tick_chunks(self, local_symbol: str, start_ms: int | None, end_ms: int | None) -> list[bytes]:
        """The chunks of an instrument holding ticks in [start_ms, end_ms] (None: open), in saved order.

        A chunk is returned whole: it may hold ticks outside the range too (the caller cuts).
        """

    @abstractmethod
    def tick_summary(self) -> list[dict[str, Any]]:
        """Per instrument with recorded ticks: {local_symbol, count, first_ms, last_ms, bytes}, sorted."""

    @abstractmethod
    def load_recording(self) -> list[str]:
        """The local_symbols whose ticks are recorded (the recording switch), sorted."""

    @abstractmethod
    def set_recording(self, local_symbol: str, on: bool) -> None:
        """Switch recording of one instrument on or off; switching to the state it is in changes nothing."""

    # --- configuration --------------------------------------------------------------------------
    @abstractmethod
    def load_config(self) -> dict[str, Any]:
        """Return the stored configuration overrides; an empty dict when none were saved."""

    @abstractmethod
    def save_config(self, values: dict[str, Any]) -> None:
        """Replace the stored configuration with `values` (JSON-serialisable; TypeError otherwise)."""

    # --- small values ---------------------------------------------------------------------------
    @abstractmethod
    def get_value(self, key: str) -> str:
        """Return the value stored under `key` (the access-code hash, the JWT secret's fingerprint...).

        Raises NotFound when nothing was set.
        """

    @abstractmethod
    def set_value(self, key: str, value: str) -> None:
        """Store `value` under `key`, replacing any earlier value."""

    # --- revoked tokens -------------------------------------------------------------------------
    @abstractmethod
    def revoke_token(self, jti: str, expires_at: float) -> None:
        """Remember that the token `jti` is revoked until it expires (epoch seconds)."""

    @abstractmethod
    def is_revoked(self, jti: str) -> bool:
        """Tell whether `jti` was revoked one by one (the watermark is checked by the caller)."""

    @abstractmethod
    def revoke_all_before(self, moment: float) -> None:
        """Revoke every token issued before `moment` (epoch seconds): logout everywhere.

        The watermark only moves forward: an older `moment` never un-revokes anything.
        """

    @abstractmethod
    def revoked_before(self) -> float:
        """Return the watermark: tokens issued (iat) before it are revoked. 0.0 when never set."""

    @abstractmethod
    def purge_expired_tokens(self, now: float) -> int:
        """Forget revocations whose token expired at or before `now`; return how many.

        Pass `now` minus any leeway the token verifier allows, or a revoked token could come back
        to life inside the leeway.
        """

    # --- strategies -----------------------------------------------------------------------------
    @abstractmethod
    def save_strategy_code(self, name: str, text: str, updated_at: float) -> None:
        """Create the strategy, or replace its code; status, error and started_at are kept."""

    @abstractmethod
    def get_strategy(self, name: str) -> StrategyRecord:
        """Return one strategy; raises NotFound."""

    @abstractmethod
    def list_strategies(self) -> list[StrategyRecord]:
        """Return every strategy, sorted by name."""

    @abstractmethod
    def set_strategy_state(self, name: str, status: str, error: str, started_at: float | None) -> None:
        """Record a strategy's run state; raises NotFound when there is no such strategy."""

    @abstractmethod
    def delete_strategy(self, name: str) -> None:
        """Delete a strategy; raises NotFound when there is no such strategy."""

    # --- the order/trade journal ----------------------------------------------------------------
    @abstractmethod
    def save_order(self, trading_day: str, order: dict[str, Any]) -> None:
        """Upsert an order (OrderData.to_dict() plus any extra keys) by (trading_day, order_id).

        The whole dict is kept and replaces the earlier one; its position in load_orders stays that
        of its first save. The store does not judge progress: the engine never saves a stale status.
        """

    @abstractmethod
    def load_orders(self, trading_day: str) -> list[dict[str, Any]]:
        """Return the day's orders in first-saved order."""

    @abstractmethod
    def save_trade(self, trading_day: str, trade: dict[str, Any]) -> bool:
        """Journal a fill keyed by (trading_day, exchange, trade_id, direction); return True if new.

        Returns False and changes nothing when the fill is already journaled (a RESTART replay).
        Direction is part of the key because a self-trade fills both sides under one trade_id.
        """

    @abstractmethod
    def load_trades(self, trading_day: str) -> list[dict[str, Any]]:
        """Return the day's fills in first-saved order."""

    # --- subscriptions --------------------------------------------------------------------------
    @abstractmethod
    def load_subscriptions(self) -> list[str]:
        """Return the subscribed local_symbols, sorted."""

    @abstractmethod
    def add_subscriptions(self, local_symbols: Iterable[str]) -> None:
        """Add local_symbols; those already there are left alone. A bare str is refused (TypeError)."""

    @abstractmethod
    def remove_subscriptions(self, local_symbols: Iterable[str]) -> None:
        """Remove local_symbols; those not there are ignored. A bare str is refused (TypeError)."""

    # --- logs -----------------------------------------------------------------------------------
    @abstractmethod
    def append_logs(self, records: Iterable[dict[str, Any]]) -> None:
        """Append log records (LogData.to_dict() dicts).

        The store keeps at most `max_logs` records plus a slack of 10% (trimming is amortised).
        """

    @abstractmethod
    def recent_logs(self, limit: int) -> list[dict[str, Any]]:
        """Return the latest `limit` records, oldest first. `limit` must be positive."""

    # --- lab runs (issue 18) ---------------------------------------------------------------------
    @abstractmethod
    def load_bar_rows(
        self, local_symbol: str, interval: Interval | str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[BarRow]:
        """Whole stored bars (turnover and open interest included) from `start_ms` on, ascending, start/end
        inclusive, at most `limit`: the earliest ones, so a long range is read page by page (the next page
        starts at the last start_ms + 1). A backtest reads its range this way."""

    @abstractmethod
    def save_lab_run(
        self, run_id: str, kind: str, created_at: float, summary: dict[str, Any], result: dict[str, Any] | None
    ) -> None:
        """Create or update a lab run by `run_id`; summary replaces the stored one, a None result keeps it."""

    @abstractmethod
    def get_lab_run(self, run_id: str) -> LabRunRecord:
        """One run with its result; raises NotFound."""

    @abstractmethod
    def list_lab_runs(self, kind: str | None, limit: int) -> list[LabRunRecord]:
        """The latest `limit` runs (of `kind`, or all), newest first, without their results."""

    @abstractmethod
    def delete_lab_run(self, run_id: str) -> None:
        """Forget a run and its result; raises NotFound when there is no such run."""

    # --- lifetime -------------------------------------------------------------------------------
    @abstractmethod
    def close(self) -> None:
        """Release the connection; calling it again does nothing. Later calls raise StoreError."""
