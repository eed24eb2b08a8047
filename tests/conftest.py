"""Shared fixtures. Each block belongs to one group of tests; add yours in a block of its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.trader_sim import TraderSim, new_sim


# --- simulated counter, trader side (tests/integration/test_sim_*.py) ---------------------------------
@pytest.fixture
def trader_sim_factory(tmp_path: Path) -> Iterator[Callable[..., TraderSim]]:
    """Make sims (configure(name, **settings)); all are stopped and shut down after the test."""
    made: list[TraderSim] = []

    def make(name: str | None = None, **settings: Any) -> TraderSim:
        sim = new_sim(tmp_path, name, **settings)
        made.append(sim)
        return sim

    yield make
    for sim in reversed(made):
        sim.stop()


@pytest.fixture
def trader_sim(trader_sim_factory: Callable[..., TraderSim]) -> TraderSim:
    """A sim with the test defaults (unlimited queries, no random walk, fixed clock)."""
    return trader_sim_factory()


@pytest.fixture
def trader(trader_sim: TraderSim) -> Any:
    """A client logged in to `trader_sim` with settlement confirmed."""
    return trader_sim.ready_client()
