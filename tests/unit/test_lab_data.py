"""The lab's inputs: bars from CSV and their binary file, contract terms from the sim's table or the user."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.lab.data import Bars, bars_from_csv, csv_chunks
from backend.lab.spec import BacktestSpec
from backend.lab.terms import sim_terms, terms_from, to_spec

CSV = """datetime,open,high,low,close,volume,open_interest
2026-01-05 09:00,3500,3502,3499,3501,120,1000
2026-01-05T09:01:00+08:00,3501,3503,3500,3502,80,1001
1767575040000,3502,3502,3498,3499,60,1002
"""


def test_csv_bars_take_iso_or_epoch_ms_in_exchange_time_and_survive_the_binary_file(tmp_path: Path):
    bars = bars_from_csv(CSV, "rb2605.SHFE", "1m")
    assert list(bars.start_ms) == [1767574800000, 1767574860000, 1767575040000]  # 09:00 +08:00 = 01:00 UTC
    assert list(bars.close) == [3501.0, 3502.0, 3499.0] and list(bars.open_interest) == [1000.0, 1001.0, 1002.0]
    path = tmp_path / "bars.bin"
    bars.to_file(path)
    again = Bars.from_file(path)
    assert again == bars and (again.local_symbol, again.interval) == ("rb2605.SHFE", "1m")
    part = bars.slice(1767574860000, 1767575040000)
    assert list(part.start_ms) == [1767574860000] and list(part.volume) == [80.0]


def test_plain_iso_and_epoch_ms_columns_read_alike():
    iso = "datetime,open,high,low,close,volume\n2026-01-05 09:00:00,1,2,1,2,3\n2026-01-05T21:01,2,2,1,1,4\n"
    epoch = "datetime,open,high,low,close,volume\n1767574800000,1,2,1,2,3\n1767618060000,2,2,1,1,4\n"
    assert bars_from_csv(iso, "rb2605.SHFE", "1m") == bars_from_csv(epoch, "rb2605.SHFE", "1m")
    assert list(bars_from_csv(iso, "rb2605.SHFE", "1m").open_interest) == [0.0, 0.0]
    daily = "date,open,high,low,close,volume\n2026-01-05,1,2,1,2,3\n2026-01-06,2,2,1,1,4\n"
    with pytest.raises(ValueError, match="one datetime column"):  # date and time columns: the import's, not ours
        bars_from_csv(daily, "rb2605.SHFE", "1d")
    daily = daily.replace("date,", "datetime,")
    assert list(bars_from_csv(daily, "rb2605.SHFE", "1d").start_ms) == [1767542400000, 1767628800000]


def test_csv_in_pieces_is_the_whole_and_order_is_checked_across_pieces():
    lines = [f"{1767574800000 + n * 60_000},{3500 + n},{3502 + n},{3499 + n},{3501 + n},{n + 1}" for n in range(7)]
    text = "datetime,open,high,low,close,volume\n" + "\n".join(lines) + "\n"
    count, pieces = csv_chunks(text, "rb2605.SHFE", "1m", rows=3)
    parts = list(pieces)
    assert count == 7 and [len(part) for part in parts] == [3, 3, 1]
    whole = bars_from_csv(text, "rb2605.SHFE", "1m")
    joined = parts[0]
    for part in parts[1:]:
        joined.extend(part)
    assert joined == whole and len(whole) == 7
    swapped = "\n".join(lines[:3] + [lines[1]] + lines[4:])  # line 5 (the 4th bar) repeats an earlier time
    with pytest.raises(ValueError, match="line 5: bars must be in time order"):
        list(csv_chunks("datetime,open,high,low,close,volume\n" + swapped, "rb2605.SHFE", "1m", rows=3)[1])


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("datetime,open,high,low,close\n2026-01-05 09:00,1,1,1,1\n", "missing column volume"),
        ("datetime,open,high,low,close,volume\n2026-01-05 09:00,1,1,1,x,3\n", "line 2"),
        ("datetime,open,high,low,close,volume\n2026-01-05 09:00,1,0.5,1,1,3\n", "line 2: prices"),
        ("datetime,open,high,low,close,volume\n2026-01-05 09:01,1,1,1,1,3\n2026-01-05 09:00,1,1,1,1,3\n",
         "line 3: bars must be in time order"),
        ("when,open,high,low,close,volume\n", "unknown column"),
    ],
)
def test_bad_csv_is_refused_with_the_line(text: str, said: str):
    with pytest.raises(ValueError, match=said):
        bars_from_csv(text, "rb2605.SHFE", "1m")


def test_sim_terms_come_from_the_product_table_for_any_month():
    terms = sim_terms("rb2612.SHFE")
    assert (terms.size, terms.pricetick, terms.long_margin_ratio, terms.limit_ratio) == (10, 1.0, 0.07, 0.07)
    assert (terms.open_rate, terms.close_today_rate) == (0.0001, 0.0001)
    cu = sim_terms("cu2607.SHFE")  # fees by money with a dearer close-today rate
    assert (cu.close_rate, cu.close_today_rate) == (0.00005, 0.0001)
    spec = to_spec(cu)
    assert (spec.symbol, spec.exchange, spec.size, spec.fees.close_today_by_money) == ("cu2607", "SHFE", 5, 0.0001)
    with pytest.raises(KeyError):
        sim_terms("zz2605.SHFE")


def test_user_terms_override_the_base_and_bad_ones_name_the_field():
    base = sim_terms("rb2605.SHFE")
    mine = terms_from({"size": 20, "close_today_per_lot": 3}, base)
    assert (mine.size, mine.close_today_per_lot, mine.pricetick) == (20, 3.0, 1.0)
    with pytest.raises(ValueError, match="terms.size"):
        terms_from({"size": 0}, base)
    with pytest.raises(ValueError, match="terms.margin: not a contract term"):
        terms_from({"margin": 0.1}, base)
    with pytest.raises(ValueError, match="terms.close_per_lot: missing"):
        terms_from({"local_symbol": "x1.DCE", "exchange": "DCE"}, None)
    with pytest.raises(ValueError, match="terms.open_rate: expected a number"):
        terms_from({"open_rate": "0.1"}, base)


def test_a_spec_goes_to_json_and_back_and_refuses_bad_knobs():
    spec = BacktestSpec(code="x", local_symbol="rb2605.SHFE", params={"fast": 3}, terms=sim_terms("rb2605.SHFE"),
                        fill_share=0.5, slippage_ticks=1)  # fmt: skip
    assert BacktestSpec.from_json(spec.to_json()) == spec
    with pytest.raises(ValueError, match="fill_share"):
        BacktestSpec(code="x", local_symbol="rb2605.SHFE", fill_share=0)
    with pytest.raises(ValueError, match="mode"):
        BacktestSpec(code="x", local_symbol="rb2605.SHFE", mode="ticks")
