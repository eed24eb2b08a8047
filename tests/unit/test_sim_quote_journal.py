"""The sim's quote journal keeps to its share of the clock's CPU (a big market's entries spread out)."""

from __future__ import annotations

import time
from types import SimpleNamespace

from backend.sim.exchange import QUOTES_EVERY, QUOTES_SHARE, SimExchange


def _burning(cpu_seconds: float) -> SimpleNamespace:
    def journal_quotes() -> None:
        began = time.thread_time()
        while time.thread_time() - began < cpu_seconds:
            pass

    return SimpleNamespace(journal_quotes=journal_quotes)


def test_a_cheap_entry_keeps_the_one_second_pace() -> None:
    assert SimExchange._journal_quotes_timed(_burning(0.0)) == QUOTES_EVERY


def test_an_expensive_entry_waits_until_it_is_its_share_of_the_time() -> None:
    """The full market's entry cost ~0.13 s of CPU each second: an eighth of the process, every second."""
    cost = 0.06
    wait = SimExchange._journal_quotes_timed(_burning(cost))
    assert wait >= cost / QUOTES_SHARE  # 3 s: the entry is at most 2 % of the clock's time
    assert wait > QUOTES_EVERY
