"""The lab's CSV parse (backend/lab/data.py): its fast paths give exactly what the row-by-row path gives.

The row-by-row path is the reference: a CSV with a quoted field goes to it whole (the csv module), so each
case here is read twice, as it is and with its first cell quoted, and both must give the same bars or the
same refusal with the same line. Cases where the fast path must doubt (what JSON reads but float() does
not, or the other way round) are checked so too, and some with their outcome spelt out.
"""

from __future__ import annotations

import random

import pytest

from backend.lab import data
from backend.lab.data import Bars, bars_from_csv, csv_chunks

HEADER = "datetime,open,high,low,close,volume,open_interest"
SYMBOL = "rb2605.SHFE"


def vendor_lines(count: int = 40, start_hour: int = 21) -> list[str]:
    """Minute bars as vendors write them: the datetime first at a fixed width, whole numbers."""
    lines = []
    for n in range(count):
        day, minute = divmod(start_hour * 60 + n * 7, 24 * 60)
        hour, minute = divmod(minute, 60)
        price = 3600 + n % 5
        lines.append(f"2014-01-{day + 1:02d} {hour:02d}:{minute:02d}:00,{price},{price + 3},{price - 1},"
                     f"{price + 2},{316 + n},{1500000 + n}")  # fmt: skip
    return lines


def outcome(text: str, rows: int = 0) -> Bars | str:
    """The bars of `text` (in pieces of `rows` lines, joined), or the refusal's message."""
    try:
        _, pieces = csv_chunks(text, SYMBOL, "1m", rows=rows)
        parts = list(pieces)
    except ValueError as error:
        return f"ValueError: {error}"
    whole = data.empty_bars(SYMBOL, "1m")
    for part in parts:
        whole.extend(part)
    return whole


def slow(text: str) -> str:
    """The same CSV with its first data cell quoted: read by the csv module and _row_by_row only."""
    header, _, body = text.partition("\n")
    cell, comma, rest = body.partition(",")
    return f'{header}\n"{cell}"{comma}{rest}'


def csv_of(lines: list[str], header: str = HEADER) -> str:
    return header + "\n" + "\n".join(lines) + "\n"


def test_vendor_lines_take_the_fast_path_and_give_the_row_by_row_bars(monkeypatch: pytest.MonkeyPatch):
    text = csv_of(vendor_lines(40))
    reference = outcome(slow(text))
    assert isinstance(reference, Bars) and len(reference) == 40
    assert reference.start_ms[0] == 1388581200000  # 2014-01-01 21:00 +08:00
    assert list(reference.open_interest[:2]) == [1500000.0, 1500001.0]

    def refuse(*args: object) -> None:
        raise AssertionError("one JSON parse should have read these lines")

    monkeypatch.setattr(data, "_row_by_row", refuse)
    monkeypatch.setattr(data, "_plain_columns", refuse)  # the cell-by-cell path (any column order) neither
    for rows in (0, 1, 7, 40, 100):
        assert outcome(text, rows) == reference  # all seven columns, piece by piece or at once


@pytest.mark.parametrize(
    "line",
    [
        "2014-01-01 21:10:00,3600.5,3603.25,3599.125,3602,316,1500000",  # decimals
        "2014-01-01T21:10:00,3600,3603,3600,3602,316,1500000",  # a T between date and time
        "2014-01-01 21:10:00,1e3,2E3,1e3,1.5e3,3e2,0",  # exponents
        "2014-01-01 21:10:00,3600,3603,3600,3602,12345678901234567891,0",  # more digits than a double keeps
        "2014-01-01 21:10:00,3600,3603,3600,3602,-0,-0.0",
        "2014-01-01 21:10:00, 3600 ,3603,3600,3602,316,1500000",  # spaces around a number
    ],
)
def test_numbers_json_reads_come_out_as_float_reads_them(line: str):
    text = csv_of(vendor_lines(2) + [line] + vendor_lines(2, start_hour=22))
    fast = outcome(text)
    assert isinstance(fast, Bars) and len(fast) == 5
    assert fast == outcome(slow(text))


# (the third data line's replacement, what the row-by-row path says of it: bars or the refusal)
DOUBTS = [
    ("2014-01-01 21:14:00,3600,3603,3600,3602,true,1500000", "line 4: could not convert string to float: 'true'"),
    ("2014-01-01 21:14:00,3600,3603,3600,3602,316,false", "line 4: could not convert string to float: 'false'"),
    ("2014-01-01 21:14:00,3600,3603,3600,null,316,1500000", "line 4: could not convert string to float: 'null'"),
    ("2014-01-01 21:14:00,3600,3603,3600,3602,[],1500000", "line 4: could not convert string to float: '[]'"),
    ("2014-01-01 21:14:00,3600,3603,3600,3602,{},1500000", "line 4: could not convert string to float: '{}'"),
    ("2014-01-01 21:14:00,3600,3603,3600,3602,NaN,1500000", "line 4: a price or volume is not a finite number"),
    ("2014-01-01 21:14:00,3600,Infinity,3600,3602,316,0", "line 4: a price or volume is not a finite number"),
    ("2014-01-01 21:14:00,3600,3603,-Infinity,3602,316,0", "line 4: a price or volume is not a finite number"),
    ("2014-01-01 21:14:00,3600,3603,3600,3602,1e400,0", "line 4: a price or volume is not a finite number"),
    ("2014-01-01 21:14:00,3600,3603,3600,3602," + "9" * 400 + ",0", "line 4: a price or volume is not a finite number"),
    ("2014-01-01 21:14:00,3600,3603,3600,3602,,1500000", "line 4: could not convert string to float: ''"),
    ("2014-01-01 21:14:00,3600,3603,3600,3602,316,", "line 4: could not convert string to float: ''"),
    ("2014-01-01 21:14:00,3600,3603,3600,3602", "line 4: list index out of range"),  # ragged: short
    ("2014-01-01 21:14:00,3600,3603,3600,3602,316,0,7", None),  # ragged: an extra field is not read
    ("2014-01-01 21:14:00,3600,3603,3600,3602,07,+5", None),  # float() takes what JSON does not
    ("2014-01-01 21:14:00,3600,3603,3600,3602,1_000,.5", None),
    ("2014-01-01 21:14:00,3600,3603,3600,3602,0x10,0", "line 4: could not convert string to float: '0x10'"),
    ("2014-01-01 21:14,3600,3603,3600,3602,316,0", None),  # the datetime's width varies
    ("2014-01-01 21:14:00+08:00,3600,3603,3600,3602,316,0", None),  # a zone
    ("2014-01-01 21:14:00+00:00,3600,3603,3600,3602,316,0", "line 5: bars must be in time order without repeats"),
    ("1388582040000,3600,3603,3600,3602,316,0", None),  # epoch ms amid ISO datetimes
    ("2014-01-01 21:07:00,3600,3603,3600,3602,316,0", "line 4: bars must be in time order without repeats"),
    ("2014-01-01 21:06:00,3600,3603,3600,3602,316,0", "line 4: bars must be in time order without repeats"),
    ("2014-01-01 21:14:00,3600,3603,3601,3602,316,0", "line 4: prices must be positive with low <= open"),
    ("2014-01-01 21:14:00,3600,3601,3600,3602,316,0", "line 4: prices must be positive with low <= open"),
    ("2014-01-01 21:14:00,3,3,0,3,316,0", "line 4: prices must be positive with low <= open"),
    ("2014-02-30 21:14:00,3600,3603,3600,3602,316,0", "line 4: datetime '2014-02-30 21:14:00' is neither"),
    ("2014-01-01 25:14:00,3600,3603,3600,3602,316,0", "line 4: datetime '2014-01-01 25:14:00' is neither"),
    ("2014-01-01x21:14:00,3600,3603,3600,3602,316,0", None),  # fromisoformat takes any one separator
    ("", None),  # a blank line is skipped
]


@pytest.mark.parametrize(("line", "said"), DOUBTS)
def test_what_the_fast_path_doubts_is_read_as_row_by_row(line: str, said: str | None):
    lines = vendor_lines(6)
    lines[2] = line
    text = csv_of(lines)
    reference = outcome(slow(text))
    if said is None:
        assert isinstance(reference, Bars) and len(reference) == 6 - (line == "")
    else:
        assert isinstance(reference, str) and reference.startswith(f"ValueError: {said}")
    for rows in (0, 2, 3):  # the line in the first piece, or the first line of a piece
        assert outcome(text, rows) == reference


def test_columns_in_another_order_and_without_open_interest_read_alike():
    lines = vendor_lines(12)
    moved = [",".join([*cells[1:6], cells[0]]) for cells in (line.split(",") for line in lines)]
    text = csv_of(moved, "open,high,low,close,volume,datetime")
    fast = outcome(text, rows=5)
    assert isinstance(fast, Bars) and fast == outcome(slow(text))
    assert fast.start_ms == outcome(csv_of(lines)).start_ms and set(fast.open_interest) == {0.0}
    short = csv_of([line.rpartition(",")[0] for line in lines], HEADER.rpartition(",")[0])
    assert outcome(short, rows=5) == outcome(slow(short)) == fast


def test_lines_split_a_block_at_a_time_are_the_lines(monkeypatch: pytest.MonkeyPatch):
    text = csv_of(vendor_lines(30))
    whole = outcome(text)
    for block in (1, 13, 50, 1000):  # blocks that end inside a line, on one, or hold everything
        monkeypatch.setattr(data, "_BLOCK", block, raising=False)
        for rows in (1, 4, 30, 31):
            _, pieces = csv_chunks(text, SYMBOL, "1m", rows=rows)
            sizes = [len(piece) for piece in pieces]
            assert sizes == [rows] * (30 // rows) + ([30 % rows] if 30 % rows else [])
            assert outcome(text, rows) == whole


@pytest.mark.parametrize(
    ("body", "count", "bars"),
    [
        ("", 0, 0),
        ("\n\n", 0, 0),
        ("2014-01-01 21:00:00,1,1,1,1,1,1\r\n2014-01-01 21:01:00,1,1,1,1,1,1\r\n\r\n", 2, 2),
        ("2014-01-01 21:00:00,1,1,1,1,1,1\n\n2014-01-01 21:01:00,1,1,1,1,1,1\n", 3, 2),
        ("2014-01-01 21:00:00,1,1,1,1,1,1", 1, 1),
    ],
)
def test_the_count_of_data_lines_and_the_bars_of_odd_bodies(body: str, count: int, bars: int):
    text = HEADER + ("\r\n" if "\r" in body else "\n") + body
    found, pieces = csv_chunks(text, SYMBOL, "1m", rows=1)
    assert found == count and sum(len(piece) for piece in pieces) == bars
    assert len(bars_from_csv(text, SYMBOL, "1m")) == bars


def test_a_whitespace_body_is_no_lines_for_the_count_and_refused_as_before():
    found, pieces = csv_chunks(HEADER + "\n \n", SYMBOL, "1m")
    assert found == 0
    with pytest.raises(ValueError, match="line 2: "):
        list(pieces)


@pytest.mark.parametrize("suffix", ["+08:00", "+00:00", ".500"])
def test_fixed_width_datetimes_of_other_forms_read_as_row_by_row(suffix: str):
    lines = [line.replace(",", suffix + ",", 1) for line in vendor_lines(8)]  # every line: one width, one form
    text = csv_of(lines)
    fast = outcome(text, rows=3)
    assert isinstance(fast, Bars) and len(fast) == 8 and fast == outcome(slow(text))


TOKENS = ["true", "false", "null", "NaN", "-Infinity", "[]", "07", "+5", "1_000", ".5", "1e3", "1e400", "", " 5",
          "0x10", "-0", "1.", "\t5", "0", "-1", "3600.25", "9" * 30, "[1]", "n", "3,6", " "]  # fmt: skip
FORMS = ["2014-01-01 21:{:02d}:00", "2014-01-01T21:{:02d}:00", "2014-01-01 21:{:02d}", "2014-01-01 21:{:02d}+08:00"]


def mutated_csv(chance: random.Random) -> str:
    """A small CSV of vendor lines with a few random faults: bad cells, ragged or blank lines, out of order
    times, other datetime forms, other column orders."""
    names = HEADER.split(",")[: chance.choice([6, 7])]
    chance.shuffle(names) if chance.random() < 0.2 else None
    form = FORMS[0] if chance.random() < 0.6 else chance.choice(FORMS)
    rows = []
    for n in range(chance.randint(1, 12)):
        price = 3600 + chance.randint(-3, 3)
        cells = {"datetime": form.format(n * 3 + chance.choice([0, 0, 0, 1, -3])), "open": price, "close": price,
                 "high": price + chance.randint(-1, 3), "low": price - chance.randint(0, 3),
                 "volume": chance.randint(0, 500), "open_interest": chance.randint(0, 10**6)}  # fmt: skip
        rows.append([str(cells[name]) for name in names])
    for _ in range(chance.choice([0, 1, 2])):
        row = chance.choice(rows)
        row[chance.randrange(len(row))] = chance.choice(TOKENS)
    lines = [",".join(row) for row in rows]
    if chance.random() < 0.1:
        lines.insert(chance.randint(1, len(lines)), chance.choice(["", " "]))
    if chance.random() < 0.1:
        at = chance.randrange(len(lines))
        lines[at] = lines[at] + ",7" if chance.random() < 0.5 else lines[at].rpartition(",")[0]
    return ",".join(names) + "\n" + "\n".join(lines) + "\n"


def test_random_faults_are_read_as_row_by_row_reads_them(monkeypatch: pytest.MonkeyPatch):
    chance = random.Random(20261205)
    for _ in range(300):
        text = mutated_csv(chance)
        monkeypatch.setattr(data, "_BLOCK", chance.choice([1, 17, 1 << 20]), raising=False)
        reference = outcome(slow(text))
        assert outcome(text) == reference, text
        for rows in (1, 4):  # in pieces, a repeat across pieces is found after the later piece's own faults
            piecewise = outcome(text, rows)
            assert piecewise == reference if isinstance(reference, Bars) else isinstance(piecewise, str), text


@pytest.mark.parametrize("cell", ["123456789012345678901234567890", "900000000000000"])
def test_epoch_ms_beyond_the_year_9999_is_refused_with_its_line(cell: str):
    """Epoch ms a datetime cannot hold: a ValueError naming the line (it was an OverflowError, or taken as it
    was and failing later in the backtest)."""
    text = csv_of(["1700000000000,1,2,1,1,1", f"{cell},1,2,1,1,1"], header="datetime,open,high,low,close,volume")
    refused = f"ValueError: line 3: datetime {cell!r} is beyond the year 9999 in epoch ms"
    assert outcome(text) == outcome(slow(text)) == refused
