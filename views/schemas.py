"""Request models: every field of every endpoint, validated before anything happens.

Rules every model shares (the `Numbers` base): a number field refuses JSON `true`/`false` (pydantic's
lax mode reads them as 1 and 0, so `"volume": true` was a 1-lot order) while the string "1" of a form
or a query string is still the number 1; floats must be finite; -0.0 reads as 0.0.
"""

from __future__ import annotations

import json
import re
import types
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from backend.engine.constants import Direction, Interval, Offset, OrderType


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _symbols(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _json_object(value: object) -> object:
    """An object field sent as a form or query-string field arrives as its JSON text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError("expected a JSON object") from None
    return value


LocalSymbol = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+(\.[A-Z]+)?$")]
Lower = BeforeValidator(_lower)
ClosePattern = Literal["today", "yesterday"]  # lib/close_split.py CLOSE_PATTERNS: which lots a split close takes first


def _is_number(annotation: Any) -> bool:
    """int or float, alone or in a union (`int | None`); bool is no number, nor a list or dict of them."""
    if annotation in (int, float):
        return True
    if get_origin(annotation) in (Union, types.UnionType, Annotated):
        return any(_is_number(arg) for arg in get_args(annotation))
    return False


@cache
def number_fields(model: type[BaseModel]) -> frozenset[str]:
    """The names of a model's number fields (made once per model)."""
    return frozenset(name for name, info in model.model_fields.items() if _is_number(info.annotation))


class Numbers(BaseModel):
    """The base of every request model: numbers are never booleans, never inf or NaN, never -0.0."""

    model_config = ConfigDict(allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name in number_fields(cls):
            raise PydanticCustomError("number_not_boolean", "expected a number, not true or false")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _positive_zero(cls, value: Any) -> Any:
        return 0.0 if isinstance(value, float) and value == 0 else value


class Fields(Numbers):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class LoginRequest(Fields):
    authorization: str = Field(min_length=1, description="the server access code")
    userid: str = Field(min_length=1, max_length=15)
    password: str = Field(min_length=1, max_length=40)
    brokerid: str = Field("", max_length=10)
    appid: str = Field("", max_length=32)
    auth_code: str = Field("", max_length=16)
    td_address: str = Field("", max_length=200)
    md_address: str = Field("", max_length=200)
    interface: Annotated[Literal["sim", "ctp", "tts"], Lower] = "sim"
    product_info: str = Field("", max_length=10)


class LogoutRequest(Fields):
    authorization: str = Field(min_length=1)


class AuthCodeRequest(Fields):
    password: str = Field(min_length=1)
    authorization: str = Field(min_length=8, max_length=128, description="the new access code")


class SymbolsRequest(Fields):
    symbol: LocalSymbol | None = None
    symbols: Annotated[list[LocalSymbol], BeforeValidator(_symbols)] | None = None

    def names(self) -> list[str]:
        names = list(self.symbols or []) + ([self.symbol] if self.symbol else [])
        if not names:
            raise ValueError("symbol or symbols is required")
        return names


class ContractQuery(Fields):
    local_symbol: LocalSymbol | None = None
    product: str | None = Field(None, max_length=16)
    exchange: str | None = Field(None, max_length=8)
    # issue 17 item 5 (market watch): only the main contracts (主力), the largest open interest first
    main: bool = False
    limit: int = Field(200, ge=1, le=1000)


# /bar's start and end: epoch milliseconds in what an ISO 8601 time can say (1970-01-01 to 9999-12-31 UTC),
# so no number reaches the store's 64-bit column out of range.
EPOCH_MS_MAX = 253_402_300_799_999
_EPOCH_MS = re.compile(r"[0-9]{1,15}")  # ASCII digits only: "²".isdigit() is True and int("²") fails
BAR_TIME_RULE = (f"expected epoch milliseconds (an integer from 0 to {EPOCH_MS_MAX}) or an ISO 8601 time "
                 "(exchange time when it has no zone)")  # fmt: skip


def epoch_ms(value: object) -> int | None:
    """Epoch milliseconds from epoch ms (a number, or its digits in a form) or an ISO 8601 time in range."""
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        moment = value
    elif isinstance(value, str) and _EPOCH_MS.fullmatch(value):
        moment = int(value)
    elif isinstance(value, str) and len(value) <= 64:
        moment = _iso_ms(value)
    else:
        raise PydanticCustomError("bar_time", BAR_TIME_RULE)
    if not 0 <= moment <= EPOCH_MS_MAX:
        raise PydanticCustomError("bar_time", BAR_TIME_RULE)
    return moment


def _iso_ms(value: str) -> int:
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            from backend.engine.objects import SHANGHAI

            moment = moment.replace(tzinfo=SHANGHAI)
        return int(moment.timestamp() * 1000)
    except (ValueError, OverflowError):  # not ISO; or a year-1 time whose UTC falls before year 1
        raise PydanticCustomError("bar_time", BAR_TIME_RULE) from None


_BAR_TIME_SCHEMA = {"anyOf": [{"type": "integer", "minimum": 0, "maximum": EPOCH_MS_MAX},
                              {"type": "string", "maxLength": 64}, {"type": "null"}]}  # fmt: skip
BarTime = Annotated[int | None, BeforeValidator(epoch_ms),
                    Field(description=f"epoch ms (0 to {EPOCH_MS_MAX}) or an ISO 8601 time",
                          json_schema_extra=_BAR_TIME_SCHEMA)]  # fmt: skip


class BarRequest(Fields):
    local_symbol: LocalSymbol
    interval: Annotated[Interval, Lower] = Interval.MINUTE
    start: BarTime = None
    end: BarTime = None
    limit: int = Field(1000, ge=1, le=20_000)  # 20 trading days of 1-minute bars: ~11,000


class BarImportRequest(Fields):
    local_symbol: LocalSymbol
    interval: Annotated[Interval, Lower] = Interval.MINUTE
    csv: str | None = Field(None, description="the CSV: datetime, open, high, low, close[, volume, turnover, "
                            "open_interest]; or send it as a text/csv body")  # fmt: skip


class OrderFields(Fields):
    local_symbol: LocalSymbol
    direction: Annotated[Direction, Lower]
    offset: Annotated[Offset, Lower] = Offset.OPEN
    type: Annotated[OrderType, Lower] = OrderType.LIMIT
    price: float = Field(0.0, ge=0, allow_inf_nan=False)
    volume: int = Field(gt=0, le=10_000)
    exchange: str | None = Field(None, max_length=8)


class CancelRequest(Fields):
    order_id: str = Field(min_length=3, max_length=64, pattern=r"^-?\d+_-?\d+_\d+$")


class ClosePositionRequest(Fields):
    local_symbol: LocalSymbol
    direction: Annotated[Direction, Lower]
    volume: int | None = Field(None, gt=0, le=10_000)
    price: float | None = Field(None, gt=0, allow_inf_nan=False)


class RuntimeConfig(Numbers):
    """The settings PUT /config may change; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")
    REFRESH_INTERVAL: int = Field(5, ge=1, le=60)
    INSTRUMENT_INDEPEND: bool = True
    SLIPPAGE_BUY: float = Field(0.0, ge=0, le=1000, allow_inf_nan=False)
    SLIPPAGE_SHORT: float = Field(0.0, ge=0, le=1000, allow_inf_nan=False)
    SLIPPAGE_COVER: float = Field(0.0, ge=0, le=1000, allow_inf_nan=False)
    SLIPPAGE_SELL: float = Field(0.0, ge=0, le=1000, allow_inf_nan=False)
    CLOSE_PATTERN: ClosePattern = "today"
    SHARED_FUNC: bool = False

    @field_validator("CLOSE_PATTERN", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return _lower(value)


OPERATIONS = {"start": "start", "stop": "stop", "params": "params", "开启": "start", "关闭": "stop"}


class StrategyName(Fields):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class StrategyOperation(StrategyName):
    operation: str = Field(description="start or stop (ctpbee's 开启/关闭 accepted); params: save `params` for the "
                           "next start of a stopped strategy")
    cancel_orders: bool = Field(False, description="on stop, also cancel the strategy's working orders")
    params: Annotated[dict[str, Any] | None, BeforeValidator(_json_object)] = Field(
        None, description="on start: overrides of the class's declared `params` (known keys, the defaults' JSON "
        "types), saved for later starts; absent: the saved ones; {}: back to the defaults")

    @field_validator("operation")
    @classmethod
    def _known(cls, value: str) -> str:
        operation = OPERATIONS.get(value.strip().lower()) or OPERATIONS.get(value.strip())
        if operation is None:
            raise ValueError("must be start, stop or params")
        return operation


class CodeUpload(Fields):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)  # code keeps its lines as sent
    text: str = Field(min_length=1, max_length=200_000)
    name: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class CodeRequest(Fields):
    """Python source for /check_code and /run_code; kept as sent (stripping would move line numbers)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)
    text: str = Field(min_length=1, max_length=200_000, description="Python source code")


class StrategyReconcile(StrategyName):
    """POST /strategy/reconcile (issue 17): bring a strategy's book in line with the account."""

    action: Literal["adopt", "flatten"] = Field(
        description="adopt: the book keeps at most what the account holds; flatten: that, then closes for "
        "the strategy's lots (tagged with it)"
    )

    @field_validator("action", mode="before")
    @classmethod
    def _lowercase_action(cls, value: object) -> object:
        return _lower(value)


def _flag(value: object) -> object:
    """A query-string switch: download=1 / true / yes (or a JSON boolean)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return value


class CodeRead(StrategyName):
    """GET /code (issue 17): the code in the envelope, or with download=1 as a .py attachment."""

    download: Annotated[bool, BeforeValidator(_flag)] = Field(
        False, description="1: answer the source as text/x-python, an attachment named <name>.py"
    )


class CodeFileName(Fields):
    """POST /code as multipart/form-data (issue 17): the code is the `file` part; the name is this field or
    the code's `ext = X("name")`, never the uploaded file's name."""

    name: Annotated[str | None, BeforeValidator(lambda value: value or None)] = Field(
        None, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
    )
