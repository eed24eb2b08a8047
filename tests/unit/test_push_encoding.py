"""The push's tick encoding (orjson) writes exactly what TickData.to_dict says, in strict JSON."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from backend.engine.constants import Exchange
from backend.engine.objects import TickData, new_tick
from views.push import _encoded

SHANGHAI = timezone(timedelta(hours=8))


def _refuse_constant(name: str) -> None:
    raise ValueError(f"not strict JSON: {name}")


def strict(text: str) -> dict:
    return json.loads(text, parse_constant=_refuse_constant)


def tick(**fields) -> TickData:
    base = TickData(symbol="rb2605", exchange=Exchange.SHFE, datetime=datetime(2026, 12, 4, 21, 0, 0, 500000, SHANGHAI),
                    trading_day=date(2026, 12, 7), name="螺纹钢2605", last_price=3169.0, volume=123,
                    turnover=1.2e7, open_interest=1_234_567.0, bid_price_1=3168.0, ask_price_1=3170.0,
                    bid_volume_1=5, ask_volume_1=7, average_price=3168.75)  # fmt: skip
    return replace(base, **fields)


@pytest.mark.parametrize("fields", [
    {},
    {"datetime": datetime(2026, 12, 5, 9, 0, 0, 0, SHANGHAI)},  # whole second: no fraction, as isoformat
    {"symbol": "SR605", "exchange": Exchange.CZCE, "name": "白糖605"},
    {"symbol": "IF2612", "exchange": Exchange.CFFEX, "last_price": 3987.2, "turnover": 1.168848772e12},
    {"last_price": 0.1 + 0.2, "average_price": 1e-7, "turnover": 1e16},  # shortest round-trip floats
    {"name": 'quote " and \\ back\nslash'},
])  # fmt: skip
def test_encoded_is_to_dict(fields: dict) -> None:
    value = tick(**fields)
    decoded = strict(_encoded(value))
    assert decoded == value.to_dict()
    assert list(decoded) == list(value.to_dict())  # same field order as every other tick message


def test_slot_built_tick_encodes_like_to_dict() -> None:
    """The gateway builds ticks with new_tick (slots set directly, local_symbol included)."""
    made = tick()
    built = new_tick(*(getattr(made, name) for name in made.__dataclass_fields__))
    assert strict(_encoded(built)) == made.to_dict()


def test_non_finite_numbers_never_break_a_browser_parse() -> None:
    """JSON.parse refuses NaN and Infinity: json.dumps wrote them; a tick message must stay parseable."""
    text = _encoded(tick(last_price=math.nan, high_price=math.inf))
    decoded = strict(text)
    assert decoded["last_price"] is None and decoded["high_price"] is None
