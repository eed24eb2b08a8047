"""Hostile input for every field of every route, for the hand-made fuzz walks (in process and on a real server).

Each field of each route (read from /openapi.json, so no route or field is missed) gets every value of
VALUES in a JSON body, the strings among them also in a form body (or the query string of a GET) and
the field twice (a list where a scalar is expected), plus a few literal JSON bodies no encoder makes
(NaN, 1e999, a 5,000-digit integer). Every route also gets WHOLE_BODIES. The other fields hold BASE's
valid values, so a hostile value reaches as deep into the code as validation lets it. The answer must
never be a 5xx and always the envelope.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

DEEP = 100_000  # the dedicated deep-JSON tests
WALK_DEEP = 5_000  # the walk's deep bodies: far past the parser's recursion limit (1,000), and 20 times cheaper


def nested(depth: int) -> Any:
    """A list `depth` levels deep."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


VALUES: list[Any] = [
    True, False, None, 0, -1, 10**30, -(10**30), 2**63, 1e308, -1e308, -0.0, 5e-324, 1.5,
    "", " ", "²", "٣", "9" * 5000, "-0", "1e30", "nan", "-inf", "true",
    "\ud800", "a\udfffb", "\x00", "a\x00b", "\u202eevil\u202c", "\ufeffx", "e\u0301", "😀" * 20, "a" * 20_000,
    [], [1], ["a", "b"], {}, {"a": 1}, {"$gt": ""},
    {"a": nested(62)}, nested(70),  # a body of 64 levels (the most allowed), one of 71
]  # fmt: skip
LITERALS = ["NaN", "Infinity", "-Infinity", "1e999", "9" * 5000, "-" + "9" * 400, "[" * WALK_DEEP + "]" * WALK_DEEP]
WHOLE_BODIES: list[tuple[str, bytes, str]] = [
    ("deep array", b"[" * WALK_DEEP + b"]" * WALK_DEEP, "application/json"),
    ("deep object", b'{"a":' * WALK_DEEP + b"1" + b"}" * WALK_DEEP, "application/json"),
    ("deep, unterminated", b"[" * WALK_DEEP, "application/json"),
    ("deep, no JSON type", b"{" + b"[" * WALK_DEEP, "text/plain"),
    ("a list", b"[1, 2]", "application/json"),
    ("a string", b'"x"', "application/json"),
    ("null", b"null", "application/json"),
    ("NaN", b"NaN", "application/json"),
    ("invalid UTF-8", b'{"a": "\xff\xfe"}', "application/json"),
    ("a raw surrogate", b'{"a": "\xed\xa0\x80"}', "application/json"),
    ("UTF-16", '{"a": 1}'.encode("utf-16"), "application/json"),
    ("a BOM", b'\xef\xbb\xbf{"a": 1}', "application/json"),
    ("trailing garbage", b'{"a": 1} x', "application/json"),
    ("deep form value", b"a=" + b"%5B" * 1000, "application/x-www-form-urlencoded"),
    ("NUL form", b"a%00=%00&%ff=%ed%a0%80", "application/x-www-form-urlencoded"),
]
SLOW = {"/check_code", "/run_code"}  # each accepted value runs pylint or a sandbox: only what is refused early


def base_fields(method: str, path: str, symbol: str) -> dict[str, Any]:
    """Valid values for a route's other fields: the request gets as far as the hostile field lets it,
    and nothing that succeeds matters (a price under the limit, a wrong code, an unknown strategy)."""
    order = {"local_symbol": symbol, "direction": "long", "offset": "open", "type": "limit", "price": 1,
             "volume": 1}  # fmt: skip
    table: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/login"): {"userid": "demo", "password": "demo"},  # no code: only a hostile one is hashed
        ("POST", "/logout"): {"authorization": "not-the-code"},
        ("PUT", "/auth_code"): {"password": "not-the-password", "authorization": "new-code-123"},
        ("POST", "/auth_code"): {"password": "not-the-password", "authorization": "new-code-123"},
        ("POST", "/order_solve"): order,
        ("DELETE", "/order_solve"): {"order_id": "1_1_1"},
        ("POST", "/close_position"): {"local_symbol": symbol, "direction": "long"},
        ("GET", "/bar"): {"local_symbol": symbol, "limit": 5},
        ("POST", "/bar"): {"local_symbol": symbol, "limit": 5},
        ("POST", "/bar/import"): {"local_symbol": symbol, "csv": "not a csv"},
        ("POST", "/market"): {"symbol": symbol},
        ("DELETE", "/market"): {"symbol": "zz9999.DCE"},
        ("PUT", "/strategy"): {"name": "no_such_strategy", "operation": "stop"},
        ("DELETE", "/strategy"): {"name": "no_such_strategy"},
        ("GET", "/code"): {"name": "no_such_strategy"},
        ("POST", "/code"): {"name": "fuzzed", "text": "x = ("},
        ("POST", "/check_code"): {"text": "x = 1\n"},
        ("POST", "/run_code"): {"text": "x = 1\n"},
        ("POST", "/kill"): {"reason": "fuzz"},
    }
    return dict(table.get((method, path), {}))


@dataclass(frozen=True)
class Attempt:
    method: str
    path: str  # with its query string
    body: bytes | None
    content_type: str | None
    label: str


def _quote(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _form(fields: dict[str, Any], repeat: str = "") -> str:
    pairs = [(name, value if isinstance(value, str) else json.dumps(value)) for name, value in fields.items()]
    pairs += [(repeat, "a"), (repeat, "b")] if repeat else []
    return "&".join(f"{_quote(name)}={_quote(value)}" for name, value in pairs)


def _json(fields: dict[str, Any], raw: dict[str, str] | None = None) -> bytes:
    text = json.dumps(fields)  # ensure_ascii: a lone surrogate goes as its \\u escape
    for name, literal in (raw or {}).items():
        text = text[:-1] + (", " if fields else "") + f"{json.dumps(name)}: {literal}" + "}"
    return text.encode("ascii")


def attempts(document: dict[str, Any], symbol: str, excluded: tuple[str, ...] = (),
             only: tuple[str, ...] = ()) -> Iterator[Attempt]:  # fmt: skip
    """Every hostile request for every operation of the OpenAPI document (`only` some paths, or all but
    `excluded`), path by path."""
    for path, operations in document["paths"].items():
        if path in excluded or (only and path not in only):
            continue
        for method, operation in operations.items():
            method = method.upper()
            for label, body, content_type in WHOLE_BODIES:
                yield Attempt(method, path, body, content_type, label)
            for name in _field_names(document, operation):
                yield from _field_attempts(method, path, name, base_fields(method, path, symbol))


def _field_names(document: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    if "parameters" in operation:
        return [parameter["name"] for parameter in operation["parameters"]]
    if "requestBody" in operation:
        reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return list(document["components"]["schemas"][reference.rsplit("/", 1)[1]].get("properties", {}))
    return []


def _field_attempts(method: str, path: str, name: str, base: dict[str, Any]) -> Iterator[Attempt]:
    values = VALUES if path not in SLOW else [v for v in VALUES if not isinstance(v, str)] + ["\ud800", "a\x00b"]
    others = {key: value for key, value in base.items() if key != name}
    query = method in ("GET", "DELETE")
    for value in values:
        yield Attempt(method, path, _json({**others, name: value}), "application/json", f"{name}={value!r:.40}")
        if isinstance(value, str):
            form = _form({**others, name: value})
            if query:
                yield Attempt(method, f"{path}?{form}", None, None, f"query {name}={value!r:.40}")
            else:
                yield Attempt(method, path, form.encode(), "application/x-www-form-urlencoded",
                              f"form {name}={value!r:.40}")  # fmt: skip
    for literal in LITERALS:
        yield Attempt(method, path, _json(others, {name: literal}), "application/json", f"{name}={literal:.40}")
    form = _form(others, repeat=name)
    if query:
        yield Attempt(method, f"{path}?{form}", None, None, f"{name} twice")
    else:
        yield Attempt(method, path, form.encode(), "application/x-www-form-urlencoded", f"{name} twice")


def _a_document(body: object) -> bool:
    """/openapi.json and /asyncapi.json answer with the document itself, not the envelope."""
    return isinstance(body, dict) and ("paths" in body or ("asyncapi" in body and "channels" in body))


def problem(status: int, content_type: str, content: bytes, url_length: int = 0) -> str | None:
    """What is wrong with one answer (a 5xx, not the envelope), or None."""
    if status == 414 and url_length > 8192:  # gevent's own answer to an over-long request line
        return None
    if status >= 500:
        return f"server error {status}: {content[:200]!r}"
    if not content_type.startswith("application/json"):
        return f"not JSON but {content_type!r}"
    try:
        body = json.loads(content)
    except ValueError:
        return "a body that does not parse as JSON"
    if not isinstance(body, dict) or set(body) != {"success", "msg", "data"}:
        return None if _a_document(body) else f"not the envelope: {content[:200]!r}"
    if body["success"] is not (200 <= status < 300) or not isinstance(body["msg"], str):
        return f"success/msg do not match status {status}"
    return None
