"""What the lab's sweep tests run: synthetic 1-minute bars (a seeded random walk on the price tick, in the day
session of SHFE's rb: 09:00-10:15, 10:30-11:30, 13:30-15:00 Asia/Shanghai, weekdays only), the shipped
double_ma strategy, and a troubled copy of it."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from backend.lab.data import Bars, make_bars

DOUBLE_MA = (Path(__file__).resolve().parents[1] / "strategies" / "double_ma.py").read_text()
# double_ma, except that fast=4 raises at its first bar and fast=6 never ends its warm-up
RAISES = "        if self.params['fast'] == 4:\n            raise ValueError('four is unlucky')\n"
HANGS = "        while self.params['fast'] == 6:\n            pass\n"
TROUBLED = DOUBLE_MA.replace("    def on_bar(self, bar):\n", "    def on_bar(self, bar):\n" + RAISES).replace(
    "    def on_init(self):\n", "    def on_init(self):\n" + HANGS)
SHANGHAI = timezone(timedelta(hours=8))
SESSIONS = ((time(9, 0), time(10, 15)), (time(10, 30), time(11, 30)), (time(13, 30), time(15, 0)))
FIRST_DAY = date(2025, 3, 3)  # a Monday with no exchange holiday for the next weeks


def session_minutes(count: int, first_day: date = FIRST_DAY) -> list[int]:
    """The start (epoch ms) of `count` consecutive day-session minutes from `first_day` on."""
    starts: list[int] = []
    day = first_day
    while len(starts) < count:
        if day.weekday() < 5:
            for opens, closes in SESSIONS:
                moment = datetime.combine(day, opens, SHANGHAI)
                end = datetime.combine(day, closes, SHANGHAI)
                while moment < end and len(starts) < count:
                    starts.append(int(moment.timestamp() * 1000))
                    moment += timedelta(minutes=1)
        day += timedelta(days=1)
    return starts


def random_walk_bars(count: int, local_symbol: str = "rb2601.SHFE", seed: int = 18, start_price: float = 3500.0,
                     tick: float = 1.0) -> Bars:  # fmt: skip
    """`count` bars whose closes walk by -3..3 ticks a minute, with highs and lows a few ticks out."""
    chance = random.Random(seed)
    rows = []
    price = start_price
    for start_ms in session_minutes(count):
        opened = price
        price = max(tick * 10, price + tick * chance.randint(-3, 3))
        high = max(opened, price) + tick * chance.randint(0, 2)
        low = min(opened, price) - tick * chance.randint(0, 2)
        rows.append((start_ms, opened, high, low, price, float(chance.randint(50, 500)), 10_000.0))
    return make_bars(local_symbol, "1m", rows)
