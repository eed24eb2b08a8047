"""What one backtest is: the strategy's source, the instrument, its terms and the bar-mode knobs."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from backend.lab.terms import Terms, terms_from
from lib.close_split import check_pattern

MODES = ("bar", "tick")


@dataclass(frozen=True)
class BacktestSpec:
    code: str  # the strategy's source, as uploaded (defines `ext = X("name")`)
    local_symbol: str
    interval: str = "1m"  # the bars on_bar gets: the strategy's bar_interval (the engine checks)
    mode: str = "bar"  # "bar" | "tick"
    params: dict = field(default_factory=dict)  # overrides of the strategy's declared params
    capital: float = 1_000_000.0
    terms: Terms | None = None  # None: sim_terms(local_symbol)
    fill_share: float = 1.0  # bar mode: at most this share of a bar's volume fills
    slippage_ticks: float = 0.0  # bar mode: fills this many ticks worse (reported as `slippage`)
    start_ms: int | None = None  # the range backtested; bars before start_ms only answer load_bars
    end_ms: int | None = None
    close_pattern: str = "today"  # SHFE/INE: which lots a plain close takes first (the desk's CLOSE_PATTERN)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if not isinstance(self.params, dict):
            raise ValueError("params: an object of parameter names and values")
        if not (math.isfinite(self.capital) and self.capital > 0):
            raise ValueError(f"capital must be a positive number, got {self.capital}")
        if not (0 < self.fill_share <= 1):
            raise ValueError(f"fill_share must be in (0, 1], got {self.fill_share}")
        if not (math.isfinite(self.slippage_ticks) and self.slippage_ticks >= 0):
            raise ValueError(f"slippage_ticks must be >= 0, got {self.slippage_ticks}")
        check_pattern(self.close_pattern)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["terms"] = self.terms.to_json() if self.terms is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BacktestSpec:
        values = dict(data)
        if values.get("terms") is not None:
            values["terms"] = terms_from(values["terms"], None)
        return cls(**values)
