"""CThostFtdc*Field struct classes for the simulated counter, built from the generated ctp_spec.

The sim must behave like openctp_ctp without importing it (the import aborts the process when the
zh_CN.GB18030 locale is missing), so the classes are made from the layout probed by
tools/gen_ctp_spec.py. Setting a known field validates and converts exactly as the SWIG setter
does (same exception type and message); unknown names are accepted silently, as by the binding.
Values live in the instance __dict__, so reads are plain attribute reads (DepthMarketData's live in
slots: SlottedStruct).

The binding's modules differ: mdapi structs read an empty char field as "\\x00" (tdapi: "") and
mdapi's SettlementInfoField.Content is str (tdapi: bytes). `struct_classes("md")` gives that
flavour, and install() picks it for a module named ...mdapi; module attributes and STRUCT_CLASSES
are the tdapi flavour.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Self

from backend.sim.ctp_spec import CHAR_NUL, CONSTANTS, MD_STRUCTS, STRUCTS
from lib.slot_builder import slot_builder

Check = tuple[Callable[[Any, Any, str], Any], Any, str]  # (converter, size or range or NUL, message)
_DEFAULTS = {"d": 0.0, "i": 0, "h": 0, "s": "", "y": b""}
_RANGES = {"i": (-(2**31), 2**31 - 1), "h": (-(2**15), 2**15 - 1)}
# Python's gb18030 codec follows GB18030-2000; the binding decodes through glibc (2.35+), which maps
# these two-byte codes to their GB18030-2022 code points. FE-row codes cannot come from UTF-8 input.
_GB2022 = str.maketrans({
    0xE78D: 0xFE10, 0xE78E: 0xFE12, 0xE78F: 0xFE11, 0xE790: 0xFE13, 0xE791: 0xFE14, 0xE792: 0xFE15,
    0xE793: 0xFE16, 0xE794: 0xFE17, 0xE795: 0xFE18, 0xE796: 0xFE19, 0xE7C7: 0x1E3F,
})  # fmt: skip


def _gb18030_readback(raw: bytes) -> str:
    """What the binding reads back from a char array holding `raw` (UTF-8 bytes of a str it was given).

    It decodes the bytes up to NUL as GB18030: a sequence cut off at the end is dropped, any other
    invalid sequence makes the whole value "". So non-ASCII text set by a client reads back garbled.
    """
    raw = raw.partition(b"\0")[0]
    try:
        return raw.decode("gb18030").translate(_GB2022)
    except UnicodeDecodeError as error:
        tail = raw[error.start :]
        if 0x81 <= tail[0] <= 0xFE and (len(tail) == 1 or (0x30 <= tail[1] <= 0x39 and len(tail) < 4)):
            return _gb18030_readback(raw[: error.start])
        return ""


def _double(value: Any, _: Any, message: str) -> float:
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, int):
        try:
            return int.__float__(value)
        except OverflowError:
            pass
    raise TypeError(message)


def _integer(value: Any, bounds: tuple[int, int], message: str) -> int:
    if not isinstance(value, int):
        raise TypeError(message)
    if not bounds[0] <= value <= bounds[1]:
        raise OverflowError(message)
    return int.__index__(value)


def _char(value: Any, nul: str, message: str) -> str:
    """'' / one ASCII char / None, or an int in -128..127 (C char); bytes 128..255 read as surrogates."""
    if isinstance(value, str):
        if len(value) > 1 or not value.isascii():
            raise TypeError(message)
        return str.__str__(value) if value and value != "\0" else nul
    if value is None:
        return nul
    if not isinstance(value, int):
        raise TypeError(message)
    if not -128 <= value <= 127:
        raise OverflowError(message)
    return chr(value) if value > 0 else chr(0xDC00 + (value & 0xFF)) if value else nul


def _array(value: Any, size: int, message: str) -> str:
    """A str of at most size-1 UTF-8 bytes (or None); it reads back up to NUL, decoded as GB18030."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(message)
    if value.isascii():
        if len(value) >= size:
            raise TypeError(message)
        return str.__str__(value).partition("\0")[0]
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError:
        raise TypeError(message) from None
    if len(raw) >= size:
        raise TypeError(message)
    return _gb18030_readback(raw)


def _raw_array(value: Any, size: int, message: str) -> bytes:
    """Like _array, but the binding reads this field back as raw bytes (tdapi SettlementInfo.Content)."""
    if value is not None and not isinstance(value, str):
        raise TypeError(message)
    try:
        raw = (value or "").encode("utf-8")
    except UnicodeEncodeError:
        raise TypeError(message) from None
    if len(raw) >= size:
        raise TypeError(message)
    return raw.partition(b"\0")[0]


_CONVERTERS: dict[str, Callable[[Any, Any, str], Any]] = {
    "d": _double, "i": _integer, "h": _integer, "c": _char, "s": _array, "y": _raw_array,
}  # fmt: skip
_setattr = object.__setattr__


class CtpStruct:
    """Base of the generated classes; keeps SWIG's identity semantics (no __eq__)."""

    _CHECKS: ClassVar[dict[str, Check]] = {}
    _DEFAULTS: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        self.__dict__.update(self._DEFAULTS)

    @classmethod
    def _make(cls, values: dict[str, Any]) -> Self:
        """Fast path for the sim's own structs: no validation, the caller guarantees the types."""
        obj = cls.__new__(cls)
        _setattr(obj, "__dict__", {**cls._DEFAULTS, **values})
        return obj

    def __setattr__(self, name: str, value: Any) -> None:
        check = self._CHECKS.get(name)
        if check is not None:
            value = check[0](value, check[1], check[2])
        _setattr(self, name, value)

    def __delattr__(self, name: str) -> None:
        if name in self._CHECKS:  # the binding's fields are properties without a deleter
            raise AttributeError(f"property {name!r} of {type(self).__name__!r} object has no deleter")
        object.__delattr__(self, name)

    def __repr__(self) -> str:
        values = self.__dict__
        shown = (f"{k}={values[k]!r}" for k, v in self._DEFAULTS.items() if values.get(k, v) != v)
        return f"{type(self).__name__}({', '.join(shown)})"


class SlottedStruct(CtpStruct):
    """Base of the struct classes whose fields live in slots, not in the instance __dict__.

    For DepthMarketData only: the sim makes one per tick of the whole market and a gateway reads
    thirty-odd fields of each. Slots are filled by a generated positional constructor
    (`positional`) instead of a 48-entry dict per tick, and read at C speed. What a client sees is
    the same: every field reads its value, setters validate, unknown attributes go to __dict__.
    """

    __slots__ = ()

    def __init__(self) -> None:
        for name, value in self._DEFAULTS.items():
            _setattr(self, name, value)

    @classmethod
    def _make(cls, values: dict[str, Any]) -> Self:
        obj = cls.__new__(cls)
        for name, value in {**cls._DEFAULTS, **values}.items():
            _setattr(obj, name, value)
        return obj

    def __repr__(self) -> str:
        shown = (f"{k}={getattr(self, k)!r}" for k, v in self._DEFAULTS.items() if getattr(self, k) != v)
        return f"{type(self).__name__}({', '.join(shown)})"


def positional(cls: type[SlottedStruct], names: tuple[str, ...]) -> Callable[..., Any]:
    """A constructor of a slotted struct class taking the fields `names` positionally, unchecked
    (lib.slot_builder); fields not named keep their defaults."""
    return slot_builder(cls, names, cls._DEFAULTS, base=SlottedStruct)


SLOTTED = frozenset({"CThostFtdcDepthMarketDataField"})  # see SlottedStruct


def _build(name: str, fields: tuple[tuple[str, str, str, int], ...], nul: str) -> type[CtpStruct]:
    checks: dict[str, Check] = {}
    defaults: dict[str, Any] = {}
    for field, typedef, kind, size in fields:
        ctype = f"char [{size}]" if size else typedef
        message = f"in method '{name}_{field}_set', argument 2 of type '{ctype}'"
        checks[field] = (_CONVERTERS[kind], size or _RANGES.get(kind) or nul, message)
        defaults[field] = nul if kind == "c" else _DEFAULTS[kind]
    slotted = name in SLOTTED
    namespace = {
        "__slots__": tuple(defaults) if slotted else (),
        "__doc__": f"{name} with the fields and setter rules of the openctp-ctp binding.",
        "__annotations__": {field: typedef for field, typedef, _, _ in fields},
        "_CHECKS": checks,
        "_DEFAULTS": defaults,
    }
    return type(name, (SlottedStruct if slotted else CtpStruct,), namespace)


_FLAVOURS = {
    api: {name: _build(name, fields, CHAR_NUL[api]) for name, fields in layouts.items()}
    for api, layouts in [("td", STRUCTS), ("md", {**STRUCTS, **MD_STRUCTS})]
}


def struct_classes(api: str = "td") -> dict[str, type[CtpStruct]]:
    """The struct classes as tdapi ("td") or mdapi ("md") has them (distinct classes, as in the binding)."""
    if api not in _FLAVOURS:
        raise ValueError(f"api must be 'td' or 'md', not {api!r}")
    return _FLAVOURS[api]


def to_dict(struct: CtpStruct) -> dict[str, Any]:
    """All known fields as plain data, the way a gateway copies a struct out of a callback."""
    names = struct._DEFAULTS
    if isinstance(struct, SlottedStruct):
        return {name: getattr(struct, name) for name in names}
    values = struct.__dict__
    if len(values) == len(names):  # no unknown attributes: __dict__ is already in field order
        return values.copy()
    return {name: values[name] for name in names}


def install(namespace: dict[str, Any], api: str | None = None) -> None:
    """Put the struct classes and THOST_* constants into a module namespace (globals()).

    `api` defaults to "md" when the namespace is a module named ...mdapi, else "td".
    """
    if api is None:
        api = "md" if str(namespace.get("__name__", "")).rpartition(".")[2] == "mdapi" else "td"
    namespace.update(struct_classes(api))
    namespace.update(CONSTANTS)


STRUCT_CLASSES = _FLAVOURS["td"]
globals().update(STRUCT_CLASSES)
