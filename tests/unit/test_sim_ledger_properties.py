"""Property tests of the simulated counter's ledger: random order flows keep the books consistent.

A state machine places orders (random side and offset; only those check_order accepts are frozen),
fills them partly at random prices, releases remainders, marks prices and now and then settles the
day. After every step the money must be conserved and the positions must match the fills.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from backend.sim.instruments import FeeRates, InstrumentSpec
from backend.sim.ledger import BUY, CLOSE, CLOSE_TODAY, CLOSE_YESTERDAY, LONG, OPEN, SELL, SHORT, Ledger
from tests.unit.test_sim_ledger import make_spec

SPECS: tuple[InstrumentSpec, ...] = (
    make_spec("rb2601", "SHFE", size=10, fees=FeeRates(1e-4, 0.0, 1e-4, 0.0, 3e-4, 0.0), base_price=3500.0),
    make_spec("m2605", "DCE", size=10, fees=FeeRates(0.0, 1.5, 0.0, 1.5, 0.0, 0.75), base_price=3000.0),
    make_spec(
        "MA601",
        "CZCE",
        size=10,
        long_ratio=0.08,
        short_ratio=0.09,
        fees=FeeRates(5e-5, 1.0, 5e-5, 1.0, 0.0, 6.0),
        base_price=2500.0,
    ),
)
BY_SYMBOL = {spec.symbol: spec for spec in SPECS}
START = 2_000_000.0
CLOSE_ERRORS = {30, 50, 51}


def price_of(spec: InstrumentSpec, ticks: int) -> float:
    return spec.base_price + ticks * spec.price_tick


def close_enough(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


class LedgerMachine(RuleBasedStateMachine):
    """Drives one Ledger like the counter would and keeps an independent tally of what it did."""

    @initialize()
    def start(self) -> None:
        self.ledger = Ledger("acc", START, "20250102")
        self.day = 20250102
        self.realised = START  # start + close profits - fees + profit realised at settlements
        self.volumes: Counter[tuple[str, str]] = Counter()  # opening minus closing fills
        self.pending: dict[str, tuple[InstrumentSpec, str, str]] = {}
        self.remaining: dict[str, int] = {}
        self.snapshot: dict[tuple[str, str], int] = {}
        self.next_key = 0

    @property
    def trading_day(self) -> str:
        return str(self.day)

    @rule(
        data=st.data(),
        spec=st.sampled_from(SPECS),
        direction=st.sampled_from([BUY, SELL]),
        ticks=st.integers(-50, 50),
        volume=st.integers(1, 8),
    )
    def open(self, data: st.DataObject, spec: InstrumentSpec, direction: str, ticks: int, volume: int) -> None:
        self._place(data, spec, direction, OPEN, price_of(spec, ticks), volume)

    @rule(
        data=st.data(),
        offset=st.sampled_from([CLOSE, CLOSE_TODAY, CLOSE_YESTERDAY]),
        ticks=st.integers(-50, 50),
    )
    def close(self, data: st.DataObject, offset: str, ticks: int) -> None:
        held = sorted(key for key, n in self.volumes.items() if n)
        symbol, side = data.draw(st.sampled_from(held or [(SPECS[0].symbol, LONG)]), label="position")
        volume = data.draw(st.integers(1, self.volumes[(symbol, side)] + 1), label="volume")  # may overshoot
        spec = BY_SYMBOL[symbol]
        self._place(data, spec, SELL if side == LONG else BUY, offset, price_of(spec, ticks), volume)

    def _place(
        self,
        data: st.DataObject,
        spec: InstrumentSpec,
        direction: str,
        offset: str,
        price: float,
        volume: int,
    ) -> None:
        error = self.ledger.check_order(spec, direction, offset, price, volume)
        if error:
            assert error in (CLOSE_ERRORS if offset != OPEN else {31})
            return
        key = f"o{self.next_key}"
        self.next_key += 1
        self.ledger.freeze(key, spec, direction, offset, price, volume)
        self.pending[key] = (spec, direction, offset)
        self.remaining[key] = volume
        now = data.draw(st.integers(0, volume), label="filled at once")
        if now:
            self._fill(key, now, price)

    @precondition(lambda self: self.pending)
    @rule(data=st.data(), ticks=st.integers(-60, 60))
    def fill(self, data: st.DataObject, ticks: int) -> None:
        key = data.draw(st.sampled_from(sorted(self.pending)))
        spec = self.pending[key][0]
        self._fill(key, data.draw(st.integers(1, self.remaining[key])), price_of(spec, ticks))

    def _fill(self, key: str, volume: int, price: float) -> None:
        spec, direction, offset = self.pending[key]
        result = self.ledger.fill(key, spec, direction, offset, price, volume, self.trading_day)
        assert result.commission >= 0
        self.realised += result.close_profit - result.commission
        side = (LONG if direction == BUY else SHORT) if offset == OPEN else (SHORT if direction == BUY else LONG)
        if offset == OPEN:
            assert result.closed_today == result.closed_yesterday == result.close_profit == 0
            self.volumes[(spec.symbol, side)] += volume
        else:
            assert result.closed_today + result.closed_yesterday == volume
            self.volumes[(spec.symbol, side)] -= volume
        self._consume(key, volume)

    @precondition(lambda self: self.pending)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.pending)))
        volume = data.draw(st.integers(1, self.remaining[key]))
        assert self.ledger.release(key, volume) == volume
        self._consume(key, volume)

    def _consume(self, key: str, volume: int) -> None:
        self.remaining[key] -= volume
        assert self.ledger.frozen_volume(key) == self.remaining[key]
        if self.remaining[key] == 0:
            del self.pending[key], self.remaining[key]

    @rule(spec=st.sampled_from(SPECS), ticks=st.integers(-80, 80))
    def mark(self, spec: InstrumentSpec, ticks: int) -> None:
        self.ledger.mark(spec.symbol, price_of(spec, ticks))

    @rule(
        now=st.integers(0, 5),  # settle on one draw in six: days should see some trading
        ticks=st.lists(st.integers(-80, 80), min_size=len(SPECS), max_size=len(SPECS)),
    )
    def settle(self, now: int, ticks: list[int]) -> None:
        if now:
            return
        for key in list(self.pending):  # the counter cancels what is left before settling
            self.ledger.release(key)
            del self.pending[key], self.remaining[key]
        prices = {spec.symbol: price_of(spec, t) for spec, t in zip(SPECS, ticks, strict=True)}
        sizes = {spec.symbol: spec.size for spec in SPECS}
        for d in self.ledger.details():
            sign = 1 if d.direction == BUY else -1
            self.realised += (prices[d.symbol] - d.basis) * d.volume * sizes[d.symbol] * sign
        self.day += 1
        self.ledger.settle(prices, self.trading_day)
        self.snapshot = {key: n for key, n in self.volumes.items() if n}
        assert all(not d.today and d.basis == prices[d.symbol] for d in self.ledger.details())
        assert close_enough(self.ledger.account().pre_balance, self.realised)

    @invariant()
    def money_is_conserved(self) -> None:
        acc = self.ledger.account()
        assert close_enough(acc.balance, self.realised + acc.position_profit)
        assert close_enough(acc.available, acc.balance - acc.margin - acc.frozen_margin - acc.frozen_commission)
        assert acc.margin >= 0 and acc.frozen_margin >= 0 and acc.frozen_commission >= 0

    @invariant()
    def positions_match_fills(self) -> None:
        details = self.ledger.details()
        assert all(d.volume > 0 for d in details)
        from_details: Counter[tuple[str, str]] = Counter()
        for d in details:
            from_details[(d.symbol, LONG if d.direction == BUY else SHORT)] += d.volume
        expected = {key: n for key, n in self.volumes.items() if n}
        assert dict(from_details) == expected
        rows = self.ledger.positions(self.trading_day)
        from_rows: Counter[tuple[str, str]] = Counter()
        yd: Counter[tuple[str, str]] = Counter()
        for row in rows:
            assert row.position >= 0 and 0 <= row.today_position <= row.position
            from_rows[(row.symbol, row.posi_direction)] += row.position
            yd[(row.symbol, row.posi_direction)] += row.yd_position
            frozen = row.short_frozen if row.posi_direction == LONG else row.long_frozen
            assert 0 <= frozen <= row.position
        assert {k: n for k, n in from_rows.items() if n} == expected
        # YdPosition is the start-of-day snapshot, whatever was closed since
        assert {k: n for k, n in yd.items() if n} == self.snapshot

    @invariant()
    def nothing_frozen_without_pending_orders(self) -> None:
        if not self.pending:
            acc = self.ledger.account()
            assert acc.frozen_margin == 0.0 and acc.frozen_commission == 0.0
            rows = self.ledger.positions(self.trading_day)
            assert all(r.long_frozen == r.short_frozen == 0 for r in rows)

    @invariant()
    def closable_never_negative(self) -> None:
        for spec in SPECS:
            for side in (LONG, SHORT):
                assert self.ledger.closable(spec.symbol, side) >= 0


LedgerMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerMachine = LedgerMachine.TestCase


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.exchange)
def test_full_fill_or_release_leaves_exact_zero(spec: InstrumentSpec) -> None:
    """Frozen amounts are per lot × lots left, so odd prices leave no float residue."""
    ledger = Ledger("acc", START)
    ledger.freeze("o", spec, BUY, OPEN, spec.base_price + 0.1, 7)
    for _ in range(3):
        ledger.fill("o", spec, BUY, OPEN, spec.base_price + 0.3, 2, "20250102")
    ledger.release("o")
    offset = CLOSE_TODAY if spec.splits_today else CLOSE
    ledger.freeze("c", spec, SELL, offset, spec.base_price + 0.7, 5)
    ledger.fill("c", spec, SELL, offset, spec.base_price + 0.3, 3, "20250102")
    ledger.release("c")
    acc = ledger.account()
    assert acc.frozen_margin == 0.0 and acc.frozen_commission == 0.0
