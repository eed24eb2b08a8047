"""A strategy's book (backend/strategy_runtime/positions.py): capped to the account and stored mid-day,
a restart's replay of the day's journal adds only the fills it does not hold yet (issue 17)."""

from __future__ import annotations

import json
from datetime import datetime

from backend.engine.constants import Direction, Exchange, Offset
from backend.engine.objects import SHANGHAI, TradeData
from backend.strategy_runtime.positions import StrategyBook

M = "m2605.DCE"
T0 = datetime(2026, 12, 4, 9, 1, tzinfo=SHANGHAI)


def fill(trade_id: str, direction: Direction, offset: Offset, volume: int, price: float = 3000.0) -> TradeData:
    return TradeData(trade_id, "1_1_1", "m2605", Exchange.DCE, direction, offset, price, volume, T0, "s")


def restarted(book: StrategyBook, journal: list[TradeData]) -> StrategyBook:
    """What the manager does at start-up: the stored state, then the day's journaled fills."""
    again = StrategyBook.from_state(book.name, json.loads(json.dumps(book.state())))
    for trade in journal:
        again.add(trade)
    return again


def test_a_capped_book_stored_mid_day_is_not_refilled_by_the_days_journal() -> None:
    journal = [fill("t1", Direction.LONG, Offset.OPEN, 2, 3000.0)]
    book = StrategyBook("s", "20261204")
    for trade in journal:
        book.add(trade)
    assert book.cap(M, Direction.LONG, 1) is True  # the account holds one lot only
    assert book.held() == [(M, Direction.LONG, 1)]
    assert book.positions()[0]["price"] == 3000.0  # the same average
    journal.append(fill("t2", Direction.LONG, Offset.OPEN, 1, 3010.0))  # after the reconcile
    book.add(journal[-1])
    assert restarted(book, journal).held() == book.held() == [(M, Direction.LONG, 2)]


def test_a_fill_is_added_once_and_a_new_day_forgets_the_old_days_keys() -> None:
    book = StrategyBook("s", "20261204")
    book.add(fill("t1", Direction.SHORT, Offset.OPEN, 2))
    book.add(fill("t1", Direction.SHORT, Offset.OPEN, 2))  # replayed
    assert book.volume(M, Direction.SHORT) == 2
    book.roll("20261207")
    assert book.state()["seen"] == [] and book.day == "20261207"
    assert book.cap(M, Direction.SHORT, 5) is False  # never raises lots
    book.add(fill("t1", Direction.LONG, Offset.CLOSE, 1))  # another day's fill of the same id
    assert book.volume(M, Direction.SHORT) == 1


def test_a_state_stored_before_the_keys_existed_loads() -> None:
    book = StrategyBook.from_state("s", {"day": "20261204", "sides": [[M, "long", 1, 3000.0, 0.0]]})
    assert book.held() == [(M, Direction.LONG, 1)]
