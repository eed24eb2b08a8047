"""lib/price_grid.py: the one rounding to the price tick, which the sim's instrument table uses too."""

from __future__ import annotations

import pytest

from backend.sim import instruments
from lib.price_grid import on_tick, to_tick


@pytest.mark.parametrize(
    ("price", "tick", "mode", "expected"),
    [
        (0.1 + 0.2, 0.1, "round", 0.3),  # no binary residue
        (3120.37, 0.2, "round", 3120.4),
        (3120.37, 0.2, "floor", 3120.2),
        (3120.37, 0.2, "ceil", 3120.4),
        (3120.4000000001, 0.2, "ceil", 3120.4),  # float noise above a level is not a tick more
        (78156.0, 10, "round", 78160.0),
        (2.0035, 0.002, "round", 2.004),
    ],
)
def test_to_tick_snaps_to_the_grid(price: float, tick: float, mode: str, expected: float) -> None:
    snapped = to_tick(price, tick, mode)
    assert snapped == expected and on_tick(snapped, tick)


def test_a_whole_tick_given_as_an_int_still_gives_a_float() -> None:
    """The sim's product table writes whole ticks as ints; its prices serialise as floats all the same."""
    assert repr(to_tick(78156, 10)) == "78160.0"


def test_the_sim_rounds_its_prices_with_the_shared_grid() -> None:
    assert instruments.to_tick is to_tick
