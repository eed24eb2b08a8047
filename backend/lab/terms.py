"""A contract's trading terms as the counter applies them: the sim's table, the live contract, or the user's.

Why a type of its own rather than the sim's InstrumentSpec: a user who backtests gives a handful of
numbers (multiplier, tick, fee and margin rates, the price limit), not a listing with sessions and
delivery dates. `to_spec` turns them into the InstrumentSpec the sim's Ledger takes, so the money is
computed by the counter's own code.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from datetime import date
from typing import Any

from backend.sim.instruments import PRODUCTS, FeeRates, InstrumentSpec
from lib.sessions import product_of, sessions_for


@dataclass(frozen=True)
class Terms:
    """A contract's trading terms; fees by money (share of turnover) and by volume (yuan a lot)."""

    local_symbol: str
    exchange: str
    size: int
    pricetick: float
    long_margin_ratio: float
    short_margin_ratio: float
    open_rate: float
    open_per_lot: float
    close_rate: float
    close_per_lot: float
    close_today_rate: float
    close_today_per_lot: float
    limit_ratio: float = 0.0  # price limit as a share of the previous settlement; 0: no limits

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _split(local_symbol: str) -> tuple[str, str]:
    symbol, dot, exchange = str(local_symbol).rpartition(".")
    if not dot or not symbol or not exchange:
        raise KeyError(f"{local_symbol!r} is not a local_symbol such as rb2605.SHFE")
    return symbol, exchange


def sim_terms(local_symbol: str) -> Terms:
    """The terms of the sim's product table for any month of a listed product (KeyError if unknown)."""
    symbol, exchange = _split(local_symbol)
    product = product_of(symbol)
    for row in PRODUCTS:
        if row.product == product and row.exchange == exchange:
            fees = row.fees
            return Terms(local_symbol=f"{symbol}.{exchange}", exchange=exchange, size=row.size,
                         pricetick=float(row.tick), long_margin_ratio=row.margin, short_margin_ratio=row.margin,
                         open_rate=fees.open_by_money, open_per_lot=fees.open_by_volume,
                         close_rate=fees.close_by_money, close_per_lot=fees.close_by_volume,
                         close_today_rate=fees.close_today_by_money, close_today_per_lot=fees.close_today_by_volume,
                         limit_ratio=row.band)  # fmt: skip
    raise KeyError(f"the sim's contract table has no product {product!r} on {exchange}")


_NUMBERS = {f.name for f in fields(Terms)} - {"local_symbol", "exchange"}
_RATIOS = ("long_margin_ratio", "short_margin_ratio", "limit_ratio")


def terms_from(mapping: dict[str, Any], base: Terms | None) -> Terms:
    """User-given terms over `base` (all fields needed without one); ValueError naming the bad field."""
    if not isinstance(mapping, dict):
        raise ValueError("terms: an object of contract terms")
    known = {f.name for f in fields(Terms)}
    unknown = sorted(set(mapping) - known)
    if unknown:
        raise ValueError(f"terms.{unknown[0]}: not a contract term (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = asdict(base) if base is not None else {}
    for key, value in mapping.items():
        if key in _NUMBERS:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"terms.{key}: expected a number, got {value!r}")
            if value < 0:
                raise ValueError(f"terms.{key}: must not be negative, got {value}")
        elif not isinstance(value, str) or not value:
            raise ValueError(f"terms.{key}: expected a non-empty string, got {value!r}")
        values[key] = value
    missing = sorted(known - set(values) - {"limit_ratio"})
    if missing:
        raise ValueError(f"terms.{missing[0]}: missing (no base terms to take it from)")
    if values["size"] != int(values["size"]) or values["size"] < 1:
        raise ValueError(f"terms.size: a whole number >= 1, got {values['size']}")
    if values["pricetick"] <= 0:
        raise ValueError("terms.pricetick: must be positive")
    for key in _RATIOS:
        if values.get(key, 0.0) >= 1:
            raise ValueError(f"terms.{key}: a share below 1, got {values[key]}")
    values["size"] = int(values["size"])
    values = {key: (float(value) if key in _NUMBERS and key != "size" else value) for key, value in values.items()}
    terms = Terms(**values)
    _split(terms.local_symbol)
    return terms


def with_symbol(terms: Terms, local_symbol: str) -> Terms:
    """The same terms for another month of the product (the sim's table is per product)."""
    _, exchange = _split(local_symbol)
    return replace(terms, local_symbol=local_symbol, exchange=exchange)


def to_spec(terms: Terms) -> InstrumentSpec:
    """What the sim's Ledger needs: size, margins, fees, exchange (today/yesterday lots), the band."""
    symbol, exchange = _split(terms.local_symbol)
    product = product_of(symbol)
    fees = FeeRates(open_by_money=terms.open_rate, open_by_volume=terms.open_per_lot,
                    close_by_money=terms.close_rate, close_by_volume=terms.close_per_lot,
                    close_today_by_money=terms.close_today_rate,
                    close_today_by_volume=terms.close_today_per_lot)  # fmt: skip
    today = date.today().strftime("%Y%m%d")
    return InstrumentSpec(symbol=symbol, exchange=exchange, product=product, name=symbol, size=terms.size,
                          price_tick=terms.pricetick, long_margin_ratio=terms.long_margin_ratio,
                          short_margin_ratio=terms.short_margin_ratio, fees=fees,
                          sessions=sessions_for(product) or (), band=terms.limit_ratio, base_price=0.0,
                          delivery_year=0, delivery_month=0, create_date=today, open_date=today,
                          expire_date="", start_deliv_date="", end_deliv_date="",
                          max_limit_volume=1_000_000)  # fmt: skip
