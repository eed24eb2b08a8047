"""backend.sim.structs behaves like the openctp-ctp struct classes, without importing the binding.

The expected values here were probed on openctp-ctp 6.7.11.0; tests/integration/
test_sim_matches_openctp.py re-checks them against the installed binding.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest

from backend.sim import ctp_spec, structs

TD = structs.struct_classes("td")
MD = structs.struct_classes("md")
ORDER = "CThostFtdcInputOrderField"
REJECT = "TypeError"
OVERFLOW = "OverflowError"


class Side(enum.IntEnum):
    BUY = 3


class Text(str):
    pass


def assign(cls_name: str, field: str, value: object, api: str = "td") -> tuple[str, object]:
    """("ok", read back) or (exception type, message)."""
    obj = structs.struct_classes(api)[cls_name]()
    try:
        setattr(obj, field, value)
    except (TypeError, OverflowError) as error:
        return type(error).__name__, str(error)
    return "ok", getattr(obj, field)


def message(field: str, ctype: str, cls_name: str = ORDER) -> str:
    return f"in method '{cls_name}_{field}_set', argument 2 of type '{ctype}'"


def test_all_structs_and_constants_are_exposed() -> None:
    assert len(TD) == len(ctp_spec.STRUCTS) == 502
    assert len(ctp_spec.CONSTANTS) == 1327
    assert structs.CThostFtdcInputOrderField is TD[ORDER] is structs.STRUCT_CLASSES[ORDER]
    assert TD[ORDER] is not MD[ORDER]  # separate classes, as in tdapi and mdapi
    assert list(TD[ORDER].__annotations__) == [f[0] for f in ctp_spec.STRUCTS[ORDER]]
    assert TD[ORDER].__annotations__["Direction"] == "TThostFtdcDirectionType"


@pytest.mark.parametrize("api", ["td", "md"])
def test_fresh_instances_hold_defaults(api: str) -> None:
    layouts = {**ctp_spec.STRUCTS, **(ctp_spec.MD_STRUCTS if api == "md" else {})}
    zero = {"d": 0.0, "i": 0, "h": 0, "c": ctp_spec.CHAR_NUL[api], "s": "", "y": b""}
    for name, cls in structs.struct_classes(api).items():
        obj = cls()
        for field, _, kind, _ in layouts[name]:
            value = getattr(obj, field)
            assert type(value) is type(zero[kind]) and value == zero[kind], (name, field)


def test_mdapi_flavour_differences() -> None:
    assert MD[ORDER]().Direction == "\x00" and TD[ORDER]().Direction == ""
    assert assign(ORDER, "Direction", "", "md") == ("ok", "\x00")
    assert TD["CThostFtdcSettlementInfoField"]().Content == b""
    assert MD["CThostFtdcSettlementInfoField"]().Content == ""
    assert assign("CThostFtdcSettlementInfoField", "Content", "中", "md") == ("ok", "涓")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.5, 1.5), (1, 1.0), (True, 1.0), (-1, -1.0), (2**63, 2.0**63), (Side.BUY, 3.0), (0, 0.0)]
    + [(v, REJECT) for v in ["1", "", None, b"0", Decimal(1), 10**400, [1.0]]],
)
def test_double_field(value: object, expected: object) -> None:
    result = assign(ORDER, "LimitPrice", value)
    if expected == REJECT:
        assert result == (REJECT, message("LimitPrice", "TThostFtdcPriceType"))
    else:
        assert result == ("ok", expected) and type(result[1]) is float


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), (True, 1), (False, 0), (-1, -1), (2**31 - 1, 2**31 - 1), (-(2**31), -(2**31)), (Side.BUY, 3)]
    + [(v, REJECT) for v in [1.0, 1.5, "1", "", None, b"0", Decimal(1)]]
    + [(v, OVERFLOW) for v in [2**31, -(2**31) - 1, 2**63]],
)
def test_int_field(value: object, expected: object) -> None:
    result = assign(ORDER, "VolumeTotalOriginal", value)
    if expected in (REJECT, OVERFLOW):
        assert result == (expected, message("VolumeTotalOriginal", "TThostFtdcVolumeType"))
    else:
        assert result == ("ok", expected) and type(result[1]) is int


@pytest.mark.parametrize(("value", "expected"), [(32767, "ok"), (-32768, "ok"), (32768, OVERFLOW), (-32769, OVERFLOW)])
def test_short_field(value: int, expected: str) -> None:
    result = assign("CThostFtdcCommPhaseField", "CommPhaseNo", value)
    assert result[0] == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", "0"), ("x", "x"), ("", ""), ("\x00", ""), (None, ""), (Text("y"), "y"), (0, ""), (False, "")]
    + [(49, "1"), (True, "\x01"), (127, "\x7f"), (-1, "\udcff"), (-128, "\udc80")]
    + [(v, REJECT) for v in ["ab", "é", "中", "\udcff", b"0", 1.0, Decimal(1), ["x"]]]
    + [(v, OVERFLOW) for v in [128, 255, -129, 2**31]],
)
def test_char_field(value: object, expected: object) -> None:
    result = assign(ORDER, "Direction", value)
    if expected in (REJECT, OVERFLOW):
        assert result == (expected, message("Direction", "TThostFtdcDirectionType"))
    else:
        assert result == ("ok", expected) and type(result[1]) is str


@pytest.mark.parametrize(
    ("value", "expected"),
    [("rb2601", "rb2601"), ("", ""), (None, ""), ("a" * 80, "a" * 80), ("a\x00b", "a"), (Text("y"), "y")]
    + [("é", "茅"), ("中", "涓"), ("中文", "涓\ue15f枃"), ("刀", ""), ("馵1c", "棣"), ("䀦ف", "鋩︐")]
    + [("中" * 26, "涓\ue15d腑" * 13)]
    + [(v, REJECT) for v in ["a" * 81, "中" * 27, "\udcff", b"rb", 1, 1.0, True, ["x"]]],
)
def test_char_array_field(value: object, expected: object) -> None:
    """Non-ASCII text reads back as its UTF-8 bytes decoded as GB18030, as the binding does."""
    result = assign(ORDER, "InstrumentID", value)
    if expected == REJECT:
        assert result == (REJECT, message("InstrumentID", "char [81]"))
    else:
        assert result == ("ok", expected) and type(result[1]) is str


@pytest.mark.parametrize(
    ("value", "expected"),
    [("x", b"x"), ("", b""), (None, b""), ("中", "中".encode()), ("a\x00b", b"a"), ("a" * 500, b"a" * 500)]
    + [(v, REJECT) for v in [b"x", "a" * 501, 1, "\udcff"]],
)
def test_bytes_array_field(value: object, expected: object) -> None:
    result = assign("CThostFtdcSettlementInfoField", "Content", value)
    if expected == REJECT:
        assert result == (REJECT, message("Content", "char [501]", "CThostFtdcSettlementInfoField"))
    else:
        assert result == ("ok", expected)


def test_failed_assignment_keeps_the_old_value() -> None:
    order = structs.CThostFtdcInputOrderField()
    order.VolumeTotalOriginal = 3
    with pytest.raises(TypeError):
        order.VolumeTotalOriginal = 1.0
    assert order.VolumeTotalOriginal == 3


def test_unknown_attributes_are_accepted_silently() -> None:
    order = structs.CThostFtdcInputOrderField()
    order.Foo = 3
    order.direction = 1.5  # a typo of a real field: accepted, and Direction is untouched
    assert (order.Foo, order.direction, order.Direction) == (3, 1.5, "")
    assert "Foo" not in structs.to_dict(order)
    del order.Foo
    with pytest.raises(AttributeError, match="has no deleter"):
        del order.Direction


def test_identity_semantics() -> None:
    assert structs.CThostFtdcRspInfoField() != structs.CThostFtdcRspInfoField()


def test_make_overrides_defaults_without_validation() -> None:
    cls = structs.CThostFtdcDepthMarketDataField
    tick = cls._make({"InstrumentID": "rb2601", "LastPrice": 3500.0, "Volume": 7})
    assert type(tick) is cls
    assert (tick.InstrumentID, tick.LastPrice, tick.Volume, tick.BidPrice1) == ("rb2601", 3500.0, 7, 0.0)
    tick.Volume = 8  # setters still validate afterwards
    with pytest.raises(TypeError):
        tick.Volume = 8.0
    assert cls._make({}).Volume == 0  # defaults are copied, not shared
    assert cls._make({"Volume": 1.5}).Volume == 1.5  # trusted: no check


def test_to_dict_copies_every_known_field_in_order() -> None:
    order = structs.CThostFtdcInputOrderField()
    order.InstrumentID, order.LimitPrice, order.Extra = "rb2601", 3500, "x"
    data = structs.to_dict(order)
    assert list(data) == [f[0] for f in ctp_spec.STRUCTS[ORDER]]
    assert data["InstrumentID"] == "rb2601" and data["LimitPrice"] == 3500.0 and data["Direction"] == ""
    data["InstrumentID"] = "changed"
    assert order.InstrumentID == "rb2601"


def test_repr_shows_non_default_fields() -> None:
    order = structs.CThostFtdcInputOrderField()
    assert repr(order) == "CThostFtdcInputOrderField()"
    order.Direction, order.VolumeTotalOriginal = "0", 2
    assert repr(order) == "CThostFtdcInputOrderField(Direction='0', VolumeTotalOriginal=2)"


@pytest.mark.parametrize(("module_name", "api", "nul"), [("sim.tdapi", None, ""), ("backend.sim.mdapi", None, "\x00")])
def test_install_fills_a_module_namespace(module_name: str, api: Any, nul: str) -> None:
    module = ModuleType(module_name)
    structs.install(vars(module), api)
    assert module.THOST_FTDC_D_Buy == "0" and module.THOST_TERT_RESTART == 0
    assert module.CThostFtdcInputOrderField().Direction == nul
    assert sum(name.startswith("CThostFtdc") for name in vars(module)) == 502


def test_install_with_explicit_api() -> None:
    namespace: dict[str, Any] = {"__name__": "backend.sim.mdapi"}
    structs.install(namespace, "td")
    assert namespace[ORDER] is TD[ORDER]


def test_unknown_api_flavour_is_refused() -> None:
    with pytest.raises(ValueError, match="'td' or 'md'"):
        structs.struct_classes("tts")
