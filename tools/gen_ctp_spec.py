"""Generate backend/sim/ctp_spec.py from the installed openctp-ctp binding.

Run with the venv python: `.venv/bin/python tools/gen_ctp_spec.py`. The simulated counter must not
import openctp_ctp (the import aborts the process without the zh_CN.GB18030 locale), so the struct
layout is probed here once and committed as plain data. The probe functions are also used by
tests/integration/test_sim_matches_openctp.py, which re-probes the binding in a subprocess; nothing
in this module imports the binding at import time.
"""

from __future__ import annotations

import enum
import importlib.metadata
import random
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "backend" / "sim" / "ctp_spec.py"
FieldSpec = tuple[str, str, str, int]  # (field name, typedef name, kind, size)
_ARRAY_TYPE = re.compile(r"of type 'char \[(\d+)\]'$")
_INT_RANGES = {"i": (-(2**31), 2**31 - 1), "h": (-(2**15), 2**15 - 1), "c": (-128, 127)}


def _set(obj: object, name: str, value: object) -> BaseException | None:
    try:
        setattr(obj, name, value)
    except (TypeError, OverflowError) as error:
        return error
    return None


def _int_kind(cls_name: str, obj: object, name: str) -> str:
    """'i' for int, 'h' for short: the setters differ only in the range they accept."""
    for kind in ("i", "h"):
        low, high = _INT_RANGES[kind]
        if _set(obj, name, low) is None and _set(obj, name, high) is None:
            if isinstance(_set(obj, name, high + 1), OverflowError):
                return kind
    raise RuntimeError(f"{cls_name}.{name}: integer field of unknown range")


def probe_field(cls: type, name: str, typedef: str, char_nul: str) -> FieldSpec:
    """Classify one field by its default and by what its setter accepts; check the message shape.

    `char_nul` is what a char field holding NUL reads back as: "" in tdapi, "\\x00" in mdapi.
    """
    obj = cls()
    default = getattr(obj, name)
    expected: str | None = typedef
    if isinstance(default, float):
        kind, size = "d", 0
    elif isinstance(default, int):
        kind, size = _int_kind(cls.__name__, obj, name), 0
    elif isinstance(default, str | bytes):
        error = _set(obj, name, "ab")
        if error is not None and str(error).endswith(f"of type '{typedef}'"):
            kind, size = "c", 0
            low, high = _INT_RANGES["c"]
            if _set(obj, name, low) or _set(obj, name, high) or _set(obj, name, high + 1) is None:
                raise RuntimeError(f"{cls.__name__}.{name}: char field with an unexpected range")
        else:
            match = _ARRAY_TYPE.search(str(_set(obj, name, "a" * 100_000)))
            if match is None:
                raise RuntimeError(f"{cls.__name__}.{name}: cannot find the array size")
            kind, size = ("y" if isinstance(default, bytes) else "s"), int(match.group(1))
            expected = f"char [{size}]"
            if _set(obj, name, "a" * (size - 1)) or _set(obj, name, "a" * size) is None:
                raise RuntimeError(f"{cls.__name__}.{name}: char[{size}] takes other lengths")
    else:
        raise RuntimeError(f"{cls.__name__}.{name}: unknown default {default!r}")
    fresh, zero = getattr(cls(), name), {"d": 0.0, "i": 0, "h": 0, "c": char_nul, "s": "", "y": b""}[kind]
    if type(fresh) is not type(zero) or fresh != zero:
        raise RuntimeError(f"{cls.__name__}.{name}: unexpected default {fresh!r}")
    message = str(_set(obj, name, Decimal(1)))
    if message != f"in method '{cls.__name__}_{name}_set', argument 2 of type '{expected}'":
        raise RuntimeError(f"{cls.__name__}.{name}: unexpected error message {message!r}")
    return name, typedef, kind, size


def probe_module(api: ModuleType) -> dict[str, Any]:
    """The spec of one binding module (tdapi or mdapi): constants, struct layouts, char NUL readback."""
    char_nul = api.CThostFtdcInputOrderField().Direction
    structs: dict[str, tuple[FieldSpec, ...]] = {}
    for cls_name in sorted(n for n in dir(api) if n.startswith("CThostFtdc") and n.endswith("Field")):
        cls = getattr(api, cls_name)
        annotations = cls.__dict__.get("__annotations__", {})
        properties = {k for k, v in vars(cls).items() if isinstance(v, property)} - {"thisown"}
        if properties != set(annotations):
            raise RuntimeError(f"{cls_name}: fields without annotations: {properties ^ set(annotations)}")
        structs[cls_name] = tuple(probe_field(cls, name, td, char_nul) for name, td in annotations.items())
    constants = {name: getattr(api, name) for name in sorted(dir(api)) if name.startswith("THOST_")}
    return {"constants": constants, "structs": structs, "char_nul": char_nul}


def probe_binding() -> dict[str, Any]:
    """Probe openctp_ctp.tdapi and mdapi; imports the binding, so run it in a subprocess.

    The two modules are separate SWIG builds that differ: mdapi reads an empty char field back as
    "\\x00" and SettlementInfoField.Content as str. Structs are recorded as tdapi has them, plus the
    mdapi structs that differ.
    """
    from openctp_ctp import mdapi, tdapi

    td, md = probe_module(tdapi), probe_module(mdapi)
    if td["constants"] != md["constants"] or td["structs"].keys() != md["structs"].keys():
        raise RuntimeError("openctp_ctp.tdapi and mdapi disagree on constants or struct names")
    return {
        "package_version": importlib.metadata.version("openctp-ctp"),
        "api_version": tdapi.CThostFtdcTraderApi.GetApiVersion(),
        "constants": td["constants"],
        "structs": td["structs"],
        "md_structs": {k: v for k, v in md["structs"].items() if v != td["structs"][k]},
        "char_nul": {"td": td["char_nul"], "md": md["char_nul"]},
        "trader_spi_callbacks": sorted(n for n in dir(tdapi.CThostFtdcTraderSpi) if n.startswith("On")),
        "md_spi_callbacks": sorted(n for n in dir(mdapi.CThostFtdcMdSpi) if n.startswith("On")),
    }


def _compact(fields: Iterable[Sequence[Any]]) -> str:
    """Fields as "name:kindsize[:core]" words; the typedef is TThostFtdc<core>Type, core = name if omitted."""
    words = []
    for name, typedef, kind, size in fields:
        core = typedef.removeprefix("TThostFtdc").removesuffix("Type")
        if f"TThostFtdc{core}Type" != typedef or not (name + kind + core).isidentifier():
            raise RuntimeError(f"{name}: typedef {typedef!r} does not fit the compact format")
        words.append(f"{name}:{kind}{size or ''}" + ("" if core == name else f":{core}"))
    return " ".join(words)


_PARSER = """

def _fields(text: str) -> tuple[tuple[str, str, str, int], ...]:
    fields = []
    for word in text.split():
        name, kind, *core = word.split(":")
        fields.append((name, f"TThostFtdc{core[0] if core else name}Type", kind[0], int(kind[1:] or 0)))
    return tuple(fields)

"""


def render(spec: Mapping[str, Any]) -> str:
    """Python source of backend/sim/ctp_spec.py; deterministic for a given spec.

    Struct layouts are written as one compact string per struct, parsed on import: a literal of
    5,000 nested tuples is over 300 kB and takes 0.15 s to compile when no .pyc can be written.
    """

    def table(name: str, structs: Mapping[str, Any]) -> list[str]:
        rows = (f"    {k!r}: _fields({_compact(v)!r})," for k, v in sorted(structs.items()))
        return [f"{name}: dict[str, tuple[tuple[str, str, str, int], ...]] = {{", *rows, "}", ""]

    lines = [
        f"# generated by tools/gen_ctp_spec.py from openctp-ctp {spec['package_version']}; do not edit",
        '"""CTP struct layouts and THOST_* constants as exposed by the openctp-ctp binding.',
        "",
        "STRUCTS maps a struct name to its fields in declaration order: (name, typedef, kind, size), as",
        'in openctp_ctp.tdapi; MD_STRUCTS holds the mdapi structs that differ from it. Kinds: "d" double,',
        '"i" int, "h" short, "c" char, "s" char[size] read back as str, "y" char[size] read back as bytes;',
        'size is 0 except for "s" and "y". CHAR_NUL is what an empty char field reads back as, per module.',
        "TRADER_SPI_CALLBACKS / MD_SPI_CALLBACKS: the On* methods of CThostFtdcTraderSpi / CThostFtdcMdSpi.",
        '"""',
        _PARSER,
        f"API_VERSION = {spec['api_version']!r}",
        f"CHAR_NUL: dict[str, str] = {spec['char_nul']!r}",
        "",
        "CONSTANTS: dict[str, str | int] = {",
        *(f"    {name!r}: {value!r}," for name, value in sorted(spec["constants"].items())),
        "}",
        "",
        *table("STRUCTS", spec["structs"]),
        *table("MD_STRUCTS", spec["md_structs"]),
        f"TRADER_SPI_CALLBACKS: tuple[str, ...] = {tuple(spec['trader_spi_callbacks'])!r}",
        f"MD_SPI_CALLBACKS: tuple[str, ...] = {tuple(spec['md_spi_callbacks'])!r}",
        "",
    ]
    return "\n".join(lines)


# Behaviour probes, shared by the integration test for the real binding and for backend.sim.structs.
BEHAVIOUR_STRUCTS = (
    "CThostFtdcInputOrderField", "CThostFtdcOrderField", "CThostFtdcTradeField",
    "CThostFtdcDepthMarketDataField", "CThostFtdcInvestorPositionField", "CThostFtdcTradingAccountField",
    "CThostFtdcRspInfoField", "CThostFtdcReqUserLoginField", "CThostFtdcSettlementInfoField",
    "CThostFtdcCommPhaseField",
)  # fmt: skip
FUZZ_FIELDS = (("CThostFtdcNoticeField", "Content"), ("CThostFtdcInputOrderField", "OrderMemo"))


class _Side(enum.IntEnum):
    BUY = 3


class _Text(str):
    pass


class _Price(float):
    pass


def probe_values(size: int) -> list[object]:
    """Values to assign to every field; `size` adds the char[N] boundary cases."""
    values: list[object] = [
        1.0, 1.5, float("nan"), float("inf"), _Price(2.5), Decimal(1), 0, 1, 5, -1, True, False, 127, 128,
        -128, -129, 255, 32767, 32768, -32769, 2**31 - 1, 2**31, -(2**31) - 1, 2**63, 10**400, _Side.BUY,
        "x", "ab", "", "\x00", "a\x00b", "é", "中", "\udcff", _Text("y"), b"0", b"", bytearray(b"0"), None,
        ["x"],
    ]  # fmt: skip
    if size:
        values += ["a" * (size - 1), "a" * size, "a" * (size - 2) + "\x00", "中" * ((size - 1) // 3)]
        values += ["中" * ((size - 1) // 3 + 1), "é" * ((size - 1) // 2), "é" * ((size + 1) // 2)]
    return values


def fuzz_strings(count: int, seed: int = 20250617) -> Iterator[str]:
    """Seeded random text mixing ASCII, digits, Latin, CJK and private-use characters."""
    rng = random.Random(seed)
    ranges = [(0x30, 0x39), (1, 0x7F), (0x80, 0x7FF), (0x800, 0xFFFF), (0x4E00, 0x9FFF), (0xE000, 0xF8FF)]
    for _ in range(count):
        yield "".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(rng.randint(1, 8)))


def _outcome(obj: object, name: str, value: object) -> list[str]:
    error = _set(obj, name, value)
    read = getattr(obj, name)
    result = ["ok"] if error is None else [type(error).__name__, str(error)]
    return [*result, type(read).__name__, repr(read)]


def probe_behaviour(classes: Mapping[str, type], fuzz: int = 3000) -> list[list[str]]:
    """For each probed (field, value): accepted or the exception, then what the field reads back."""
    rows: list[list[str]] = []
    for cls_name in BEHAVIOUR_STRUCTS:
        obj = classes[cls_name]()
        for name in classes[cls_name].__annotations__:
            match = _ARRAY_TYPE.search(str(_set(classes[cls_name](), name, "a" * 100_000)))
            for value in probe_values(int(match.group(1)) if match else 0):
                rows.append([cls_name, name, repr(value)[:40], *_outcome(obj, name, value)])
    for cls_name, name in FUZZ_FIELDS:
        obj = classes[cls_name]()
        rows += ([cls_name, name, repr(text), *_outcome(obj, name, text)] for text in fuzz_strings(fuzz))
    return rows


def main() -> int:
    spec = probe_binding()
    OUTPUT.write_text(render(spec), encoding="utf-8")
    fields = sum(len(f) for f in spec["structs"].values())
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(spec['structs'])} structs, {fields} fields, "
          f"{len(spec['constants'])} constants, API {spec['api_version']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
