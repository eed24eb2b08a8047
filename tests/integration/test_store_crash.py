"""Every write the SQLite store acknowledged survives a kill -9 of the process that made it.

A child process writes in a loop and prints one line after each call returns; the test reads
acknowledgements off its stdout, SIGKILLs it mid-stream, reopens the file and looks for each one.
Two rounds: the second child opens the file the first one was killed over (WAL recovery) and is
killed in turn.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from pathlib import Path

from backend.engine.constants import Interval
from model.sqlite_store import SqliteStore
from tests.integration.crash_child import killed_after

DAY = "20260105"
ACKS_PER_ROUND = 400
KINDS = ("order", "trade", "bar", "code", "config", "log")
WRITER = r"""
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from backend.engine.constants import Exchange, Interval
from backend.engine.objects import BarData
from model.sqlite_store import SqliteStore

DAY, KINDS = "20260105", ("order", "trade", "bar", "code", "config", "log")
store = SqliteStore(Path(sys.argv[1]))
number = int(sys.argv[2])
start = datetime(2026, 1, 5, 1, 0, tzinfo=timezone.utc)
print("ready", flush=True)
while True:
    kind = KINDS[number % len(KINDS)]
    if kind == "order":
        store.save_order(DAY, {"order_id": f"o{number}", "status": "nottraded", "status_msg": "未成交"})
    elif kind == "trade":
        store.save_trade(DAY, {"trade_id": f"t{number}", "exchange": "SHFE", "direction": "long", "volume": 1})
    elif kind == "bar":
        moment = start + timedelta(minutes=number)
        store.save_bars([BarData("rb2601", Exchange.SHFE, Interval.MINUTE, moment, 1.0, 2.0, 0.5, 1.5, number)])
    elif kind == "code":
        store.save_strategy_code(f"s{number % 4}", f"# 第{number}版", float(number))
    elif kind == "config":
        store.save_config({"last": number})
    else:
        store.append_logs([{"message": f"log {number}"}])
    print(kind, number, flush=True)
    number += 1
"""


def _acknowledgements(process: subprocess.Popen[bytes], count: int, timeout: float) -> list[tuple[str, int]]:
    """Read "kind number" lines until `count` arrive; fail with the child's stderr if it stops first."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    buffer, lines = b"", []
    while len(lines) < count:
        remaining = deadline - time.monotonic()
        readable, _, _ = select.select([process.stdout], [], [], max(remaining, 0))
        chunk = os.read(process.stdout.fileno(), 65536) if readable else b""
        if not chunk:
            process.kill()
            _, stderr = process.communicate(timeout=10)
            raise AssertionError(f"writer stopped after {len(lines)} acknowledgements:\n{stderr.decode()}")
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        lines.extend(line.decode() for line in complete)
    assert lines[0] == "ready"
    return [(kind, int(number)) for kind, number in (line.split() for line in lines[1:count])]


def _kill_after(path: Path, first: int) -> list[tuple[str, int]]:
    """Run a writer numbering from `first`, SIGKILL it right after ACKS_PER_ROUND acknowledgements."""
    return killed_after(WRITER, [str(path), str(first)],
                        lambda process: _acknowledgements(process, ACKS_PER_ROUND + 1, timeout=120), text=False)


def _assert_all_there(store: SqliteStore, acknowledged: list[tuple[str, int]]) -> None:
    numbers = {kind: [number for seen, number in acknowledged if seen == kind] for kind in KINDS}
    orders = {row["order_id"] for row in store.load_orders(DAY)}
    assert {f"o{number}" for number in numbers["order"]} <= orders
    trades = {row["trade_id"] for row in store.load_trades(DAY)}
    assert {f"t{number}" for number in numbers["trade"]} <= trades
    bars = {row[5] for row in store.load_bars("rb2601.SHFE", Interval.MINUTE, None, None, 100_000)}
    assert set(numbers["bar"]) <= bars
    for number in numbers["code"]:  # a later, unacknowledged save may have replaced it: never an older one
        assert store.get_strategy(f"s{number % 4}").updated_at >= number
    assert store.load_config().get("last", -1) >= max(numbers["config"], default=-1)
    logs = {record["message"] for record in store.recent_logs(100_000)}
    assert {f"log {number}" for number in numbers["log"]} <= logs


def test_every_acknowledged_write_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "data" / "ctpdesk.sqlite3"
    everything: list[tuple[str, int]] = []
    for first in (0, 600_000):  # multiples of len(KINDS): each round starts with an order
        acknowledged = _kill_after(path, first)
        assert len(acknowledged) == ACKS_PER_ROUND and acknowledged[0] == (KINDS[0], first)
        everything += acknowledged
        store = SqliteStore(path)
        try:
            _assert_all_there(store, everything)
            last_kind, last_number = acknowledged[-1]
            _assert_all_there(store, [(last_kind, last_number)])  # the last acknowledgement, read on its own
        finally:
            store.close()
