"""One investor account as the sim's counter holds it: books, orders and the day's private flow."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from backend.sim import wire
from backend.sim.instruments import InstrumentSpec
from backend.sim.ledger import Ledger


@dataclass
class SimOrder:
    """An order of the day; `fields` are its CThostFtdcOrderField values as last reported."""

    key: str  # "{FrontID}_{SessionID}_{OrderRef}"
    userid: str
    spec: InstrumentSpec
    fields: dict[str, Any]

    @property
    def direction(self) -> str:
        return self.fields["Direction"]

    @property
    def offset(self) -> str:
        return self.fields["CombOffsetFlag"][:1]

    @property
    def remaining(self) -> int:
        return int(self.fields["VolumeTotal"])

    @property
    def active(self) -> bool:
        return self.fields["OrderStatus"] not in wire.TERMINAL_STATUSES and (
            self.fields["OrderSubmitStatus"] != wire.OSS_INSERT_REJECTED
        )

    @property
    def limit_price(self) -> float:
        return float(self.fields["LimitPrice"])

    @property
    def is_market(self) -> bool:
        return self.fields["OrderPriceType"] == wire.OPT_ANY_PRICE


PASSWORD_ROUNDS = 20_000  # PBKDF2-SHA256: a few ms a login, and a copied journal is no list of passwords


def hash_password(password: str, salt: str | None = None) -> str:
    """`pbkdf2$<rounds>$<salt>$<hex>`: what the sim writes down instead of a password."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), PASSWORD_ROUNDS).hex()
    return f"pbkdf2${PASSWORD_ROUNDS}${salt}${digest}"


def password_matches(stored: str, candidate: object) -> bool:
    """Compare a candidate with a stored hash (constant time); a journal written before hashing kept it in clear."""
    if not isinstance(candidate, str):
        return False
    kind, _, rest = stored.partition("$")
    if kind != "pbkdf2":
        return hmac.compare_digest(stored.encode(), candidate.encode())
    rounds, salt, digest = rest.split("$")
    again = hashlib.pbkdf2_hmac("sha256", candidate.encode(), salt.encode(), int(rounds)).hex()
    return hmac.compare_digest(again, digest)


@dataclass
class AccountBook:
    userid: str
    password_hash: str  # hash_password's form; never the password itself (the snapshot and journal hold this)
    ledger: Ledger
    confirmed_day: str = ""
    max_order_ref: int = 0
    orders: dict[str, SimOrder] = field(default_factory=dict)
    by_sys_id: dict[tuple[str, str], str] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    # The day's private flow in order: ("order" | "trade", fields). RESTART replays all of it.
    stream: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def record(self, kind: str, fields: dict[str, Any], spec: InstrumentSpec | None = None) -> None:
        """Apply one private-flow message (live or replayed from the journal); keeps `fields` as given."""
        snapshot = fields
        self.stream.append((kind, snapshot))
        if kind == "trade":
            self.trades.append(snapshot)
            return
        key = order_key(snapshot["FrontID"], snapshot["SessionID"], snapshot["OrderRef"])
        self.max_order_ref = max(self.max_order_ref, int(str(snapshot["OrderRef"]).strip() or 0))
        existing = self.orders.get(key)
        if existing is None:
            assert spec is not None, "a new order needs its instrument"
            self.orders[key] = SimOrder(key, self.userid, spec, snapshot)
        else:
            existing.fields = snapshot
        if snapshot.get("OrderSysID", "").strip():
            self.by_sys_id[(snapshot["ExchangeID"], snapshot["OrderSysID"].strip())] = key

    def active_orders(self, symbol: str | None = None) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.active and (symbol is None or o.spec.symbol == symbol)]

    def new_day(self) -> None:
        self.orders.clear()
        self.by_sys_id.clear()
        self.trades.clear()
        self.stream.clear()
        self.max_order_ref = 0


def order_key(front_id: int, session_id: int, order_ref: str | int) -> str:
    return f"{int(front_id)}_{int(session_id)}_{int(str(order_ref).strip())}"
