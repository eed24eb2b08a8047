"""A backtest request made ready to run (backend/lab/plans.py): the terms in force and the bars of a range.

Terms: the live contract's size, tick and margins over the sim table's (whose fees stay: CTP's contract query
has none), the user's over both, and an instrument neither knows only with complete terms of the user's.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from backend.engine.constants import Exchange, Interval, Product
from backend.engine.objects import SHANGHAI, BarData, ContractData
from backend.lab.plans import PlanError, base_terms, headline, load_bars, run_terms
from backend.lab.terms import sim_terms
from model.sqlite_store import SqliteStore

START = datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI)
START_MS = int(START.timestamp() * 1000)
FULL_TERMS = {"size": 7, "pricetick": 0.5, "long_margin_ratio": 0.1, "short_margin_ratio": 0.12, "open_rate": 0.0001,
              "open_per_lot": 0.0, "close_rate": 0.0001, "close_per_lot": 0.0, "close_today_rate": 0.0003,
              "close_today_per_lot": 0.0}  # fmt: skip


def contract(symbol: str, exchange: Exchange, **figures: float) -> ContractData:
    values = {"size": 5, "pricetick": 2.0, "long_margin_ratio": 0.2, "short_margin_ratio": 0.25, **figures}
    return ContractData(symbol, exchange, symbol, Product.FUTURES, **values)  # type: ignore[arg-type]


def test_the_live_contract_sets_size_tick_and_margins_and_the_sim_table_the_fees():
    table = sim_terms("rb2605.SHFE")
    terms = base_terms("rb2605.SHFE", contract("rb2605", Exchange.SHFE))
    assert terms == replace(table, size=5, pricetick=2.0, long_margin_ratio=0.2, short_margin_ratio=0.25)
    assert (terms.size, terms.pricetick) != (table.size, table.pricetick)  # the case is one that tells them apart


def test_a_ratio_the_front_leaves_at_zero_keeps_the_tables():
    table = sim_terms("rb2605.SHFE")
    terms = base_terms("rb2605.SHFE", contract("rb2605", Exchange.SHFE, long_margin_ratio=0.0))
    assert terms is not None and terms.long_margin_ratio == table.long_margin_ratio


def test_a_contract_the_table_does_not_know_has_its_own_figures_and_no_fees():
    terms = base_terms("zz2605.SHFE", contract("zz2605", Exchange.SHFE))
    assert terms is not None and (terms.size, terms.pricetick, terms.exchange) == (5, 2.0, "SHFE")
    assert (terms.open_rate, terms.close_per_lot, terms.close_today_rate) == (0.0, 0.0, 0.0)


def test_the_users_terms_go_over_the_base():
    terms = run_terms("rb2605.SHFE", contract("rb2605", Exchange.SHFE), {"open_per_lot": 3.0, "size": 20})
    assert (terms.open_per_lot, terms.size, terms.pricetick) == (3.0, 20, 2.0)


def test_an_instrument_nobody_knows_needs_the_users_terms_in_full():
    with pytest.raises(PlanError, match="local_symbol: unknown instrument zz2605.SHFE"):
        run_terms("zz2605.SHFE", None, {})
    with pytest.raises(PlanError, match="terms.close_today_per_lot: missing"):
        run_terms("zz2605.SHFE", None, {key: FULL_TERMS[key] for key in FULL_TERMS if key != "close_today_per_lot"})
    terms = run_terms("zz2605.SHFE", None, FULL_TERMS)
    assert (terms.local_symbol, terms.exchange, terms.size, terms.limit_ratio) == ("zz2605.SHFE", "SHFE", 7, 0.0)


def test_headline_keeps_the_listed_figures_only():
    assert headline({"net_pnl": 1.0, "sharpe_ratio": 2.0, "turnover": 3.0}) == {"sharpe_ratio": 2.0, "net_pnl": 1.0}


def _bar(minute: int) -> BarData:
    moment = START + timedelta(minutes=minute)
    return BarData("rb2605", Exchange.SHFE, Interval.MINUTE, moment, 3500.0, 3502.0, 3499.0, 3501.0, 10, 1e5,
                   100.0 + minute)  # fmt: skip


def test_bars_of_a_range_come_with_the_warm_up_before_it_read_page_by_page(tmp_path: Path, monkeypatch):
    store = SqliteStore(tmp_path / "bars.sqlite3")
    try:
        store.save_bars([_bar(minute) for minute in range(30)])
        monkeypatch.setattr("backend.lab.plans.PAGE", 4)  # several pages
        monkeypatch.setattr("backend.lab.plans.MAX_WARMUP_BARS", 5)
        bars = load_bars(store, "rb2605.SHFE", Interval.MINUTE, START_MS + 20 * 60_000, START_MS + 27 * 60_000)
        assert list(bars.start_ms) == [START_MS + minute * 60_000 for minute in range(15, 28)]
        assert list(bars.open_interest) == [100.0 + minute for minute in range(15, 28)]
        assert (bars.local_symbol, bars.interval) == ("rb2605.SHFE", "1m")
        with pytest.raises(PlanError, match="start: no 1m bars of rb2605.SHFE stored in this range"):
            load_bars(store, "rb2605.SHFE", Interval.MINUTE, START_MS + 31 * 60_000, None)
        monkeypatch.setattr("backend.lab.plans.MAX_RUN_BARS", 10)
        with pytest.raises(PlanError, match="start: the range holds more than 10 1m bars"):
            load_bars(store, "rb2605.SHFE", Interval.MINUTE, None, None)
    finally:
        store.close()
