"""The contract every gateway keeps with the engine."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from backend.engine.objects import CancelRequest, OrderRequest

EventSink = Callable[[Any], None]


@dataclass(frozen=True)
class LoginSettings:
    """What /login hands the gateway: the account and where its counter is."""

    userid: str
    password: str
    brokerid: str = ""
    appid: str = ""
    auth_code: str = ""
    td_address: str = ""
    md_address: str = ""
    interface: str = "sim"  # sim | ctp | tts
    product_info: str = ""


class Gateway(ABC):
    """Connects the engine to one counter.

    Contract:
    * Never blocks: every method returns at once; outcomes arrive later as events.
    * Thread-safe: methods may be called from the event loop while callbacks run on native threads.
    * Publishes plain immutable objects (engine objects and engine.events types) through the sink it
      was given, in the order the counter produced them, and never mutates one after publishing.
    * Reconnects by itself after a disconnect, logs in again, re-subscribes every remembered
      symbol, and stops retrying only when retrying cannot help (bad credentials, unauthorised app).
    """

    @abstractmethod
    def connect(self, settings: LoginSettings) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def subscribe(self, symbols: Iterable[str]) -> None: ...

    @abstractmethod
    def unsubscribe(self, symbols: Iterable[str]) -> None: ...

    @abstractmethod
    def reserve_order_id(self) -> str:
        """The order_id the next order of this session will carry, taken now so that the caller can
        journal the order before it leaves (a kill -9 just after sending then loses nothing)."""

    @abstractmethod
    def send_order(self, request: OrderRequest, order_id: str | None = None) -> str:
        """Send an order (under `order_id` when reserved); returns its order_id at once. The caller
        records the order as submitting; everything after (acceptance, rejects, fills) arrives as events."""

    @abstractmethod
    def cancel_order(self, request: CancelRequest) -> None: ...

    @abstractmethod
    def query_account(self) -> None: ...

    @abstractmethod
    def query_position(self) -> None: ...

    @abstractmethod
    def reload_contracts(self) -> None:
        """Ask the counter for the instrument list again (ContractsLoaded follows)."""
