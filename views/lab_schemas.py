"""Request models of the lab's routes (/backtest; /optimise builds on BacktestRequest), in views/schemas.py's
style: numbers are never booleans, never inf or NaN; every string and number bounded."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from backend.engine.constants import Interval
from views.schemas import BarTime, ClosePattern, Fields, LocalSymbol, Lower, _json_object

RunId = Annotated[str, Field(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$",
                             description="a run's id, as POST answered it")]  # fmt: skip
Ratio = Annotated[float | None, Field(ge=0, le=1, allow_inf_nan=False)]
Rate = Annotated[float | None, Field(ge=0, le=1, allow_inf_nan=False,
                                     description="a fee as a share of turnover")]  # fmt: skip
PerLot = Annotated[float | None, Field(ge=0, le=100_000, allow_inf_nan=False,
                                       description="a fee in yuan a lot")]  # fmt: skip


class TermsFields(Fields):
    """Contract terms a run may set (backend/lab/terms.py Terms' names); the rest come from the contract."""

    size: int | None = Field(None, ge=1, le=1_000_000, description="contract multiplier")
    pricetick: float | None = Field(None, gt=0, le=100_000, allow_inf_nan=False)
    long_margin_ratio: Ratio = None
    short_margin_ratio: Ratio = None
    open_rate: Rate = None
    open_per_lot: PerLot = None
    close_rate: Rate = None
    close_per_lot: PerLot = None
    close_today_rate: Rate = None
    close_today_per_lot: PerLot = None
    limit_ratio: Ratio = Field(None, description="price limit as a share of the previous settlement; 0: none")

    def given(self) -> dict[str, Any]:
        return {name: value for name in TermsFields.model_fields if (value := getattr(self, name)) is not None}


class BacktestRequest(TermsFields):
    """POST /backtest. Terms may come as top-level fields or as a `terms` object (top-level ones win)."""

    strategy: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
                          description="an uploaded strategy's name (POST /code)")  # fmt: skip
    local_symbol: LocalSymbol
    interval: Annotated[Interval, Lower] = Field(Interval.MINUTE, description="bar mode: the bars replayed")
    mode: Annotated[Literal["bar", "tick"], Lower] = "bar"
    start: BarTime = None
    end: BarTime = None
    params: Annotated[dict[str, Any], BeforeValidator(_json_object)] = Field(
        default_factory=dict, description="overrides of the strategy's declared `params`")
    capital: float = Field(1_000_000.0, gt=0, le=1e12, allow_inf_nan=False)
    terms: Annotated[TermsFields | None, BeforeValidator(_json_object)] = None
    slippage: float = Field(0.0, ge=0, le=1000, allow_inf_nan=False, description="bar mode: fills this many "
                            "price ticks worse")  # fmt: skip
    fill_share: float = Field(1.0, gt=0, le=1, allow_inf_nan=False, description="bar mode: the largest share of "
                              "a bar's volume an order may fill")  # fmt: skip
    close_pattern: ClosePattern | None = Field(
        None, description="SHFE/INE: which lots a plain close takes first; default: the desk's CLOSE_PATTERN")

    def all_terms(self) -> dict[str, Any]:
        return {**(self.terms.given() if self.terms else {}), **self.given()}

    def summary(self) -> dict[str, Any]:
        """What a run keeps of its request (listed and served with it)."""
        return {"strategy": self.strategy, "local_symbol": self.local_symbol, "interval": self.interval.value,
                "mode": self.mode, "start": self.start, "end": self.end, "params": self.params,
                "capital": self.capital, "terms": self.all_terms(), "slippage": self.slippage,
                "fill_share": self.fill_share}  # fmt: skip


class RunQuery(Fields):
    """GET /backtest: one run by id, or (no id) the list."""

    id: RunId | None = None


class RunTarget(Fields):
    """DELETE /backtest."""

    id: RunId
