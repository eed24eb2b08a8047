"""lib.slot_builder: the fast constructors of the tick path make exactly what the real constructors make."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pytest

from backend.engine.constants import Exchange
from backend.engine.objects import SHANGHAI, TickData, new_tick
from backend.sim.rows import DEPTH_CLASS, DEPTH_ORDER
from backend.sim.structs import positional
from lib.slot_builder import slot_builder


@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int = 2


def test_a_built_frozen_dataclass_equals_the_constructed_one_and_stays_frozen() -> None:
    built = slot_builder(Point)(1, 5)
    assert type(built) is Point and built == Point(1, 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.x = 3  # type: ignore[misc]


def test_new_tick_equals_tickdata() -> None:
    values = [float(n) for n in range(1, 33)]
    moment = datetime(2026, 11, 24, 9, 0, 1, 500_000, tzinfo=SHANGHAI)
    made = TickData("rb2601", Exchange.SHFE, moment, date(2026, 11, 24), "螺纹", *values)
    built = new_tick("rb2601", Exchange.SHFE, moment, date(2026, 11, 24), "螺纹", *values, "rb2601.SHFE")
    assert type(built) is TickData and built == made and built.local_symbol == made.local_symbol


def test_a_positional_struct_has_the_named_fields_and_the_defaults_of_the_rest() -> None:
    builder = positional(DEPTH_CLASS, ("InstrumentID", "LastPrice"))
    struct = builder("rb2601", 3100.0)
    assert type(struct) is DEPTH_CLASS
    expected = DEPTH_CLASS()
    expected.InstrumentID, expected.LastPrice = "rb2601", 3100.0
    assert all(getattr(struct, name) == getattr(expected, name) for name in DEPTH_CLASS._DEFAULTS)
    with pytest.raises(TypeError):
        struct.Volume = 1.5  # the struct's own setters still validate
    assert len(DEPTH_ORDER) == len(DEPTH_CLASS._DEFAULTS)


@pytest.mark.parametrize("names", [("x", "x"), ("x", "z"), ("x",)])
def test_names_must_cover_the_slots_once(names: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="slots"):
        slot_builder(Point, names)
