"""views/json_input.py: the nesting of JSON measured without recursion, exactly where it matters, in linear time."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest

from views.json_input import MAX_JSON_DEPTH, SocketJSON, TooDeep, json_depth, loads_limited


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(item) for item in value.values()), default=0)
    return 0


def nested(levels: int, leaf: Any = 1) -> Any:
    for index in range(levels):
        leaf = [leaf] if index % 2 else {"k[{": leaf}
    return leaf


@pytest.mark.parametrize("levels", [0, 1, 63, 64, 65, 200])
def test_the_depth_is_exact_past_the_limit_and_never_under(levels: int):
    text = json.dumps(nested(levels, "]]]\\\"[[[{{"))
    measured = json_depth(text)
    assert measured >= levels
    if levels > MAX_JSON_DEPTH or measured > MAX_JSON_DEPTH:
        assert measured == levels


def test_brackets_in_strings_do_not_count_and_escapes_are_followed():
    assert json_depth('{"code": "' + "[" * 1000 + '"}') == 1
    assert json_depth('["\\\\", ' + "[" * 100 + "]" * 100 + "]") == 101  # an escaped backslash ends no string
    assert json_depth('["\\"' + "[" * 100 + '"]') == 1  # an escaped quote does not end the string


def test_random_documents_are_never_measured_shallower_than_they_are():
    chooser = random.Random(16)

    def text() -> str:
        return "".join(chooser.choice('[]{}"\\ab\u00e9\u202e\x00') for _ in range(chooser.randint(0, 6)))

    def side() -> Any:  # what sits beside the spine: strings full of brackets, shallow containers
        return chooser.choice([text(), [text(), 1.5], {text(): [None]}, [], {}])

    def make(levels: int) -> Any:  # a spine `levels` deep, with random neighbours at each level
        if levels == 0:
            return text()
        items = [side() for _ in range(chooser.randint(0, 2))]
        items.insert(chooser.randint(0, len(items)), make(levels - 1))
        return items if chooser.random() < 0.5 else {f"{text()}{index}": item for index, item in enumerate(items)}

    for _ in range(300):
        value = make(chooser.randint(0, 100))
        encoded = json.dumps(value, ensure_ascii=chooser.random() < 0.5)
        measured, actual = json_depth(encoded), depth(value)
        assert measured >= actual, encoded[:200]
        if max(measured, actual) > MAX_JSON_DEPTH:
            assert measured == actual, encoded[:200]


@pytest.mark.parametrize("text", [
    b"[" * 1_000_000,  # the deep array itself
    b'"' + b'\\"' * 500_000,  # escaped quotes in a string that never ends
    b'"\\"' * 300_000 + b"\\",  # ... and a lone backslash at the end
    b'["a",' * 200_000,
])  # fmt: skip
def test_a_megabyte_is_measured_in_well_under_a_second(text: bytes):
    started = time.perf_counter()
    json_depth(text)
    assert time.perf_counter() - started < 5  # linear: milliseconds here; quadratic or backtracking: minutes


def test_loads_refuses_too_deep_and_json_constants():
    assert loads_limited(json.dumps(nested(MAX_JSON_DEPTH))) == nested(MAX_JSON_DEPTH)
    with pytest.raises(TooDeep):
        loads_limited(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(TooDeep):
        loads_limited(b"[" * 100_000)  # malformed, and too deep before the parser would say so
    for constant in ("NaN", "Infinity", "-Infinity", '{"a": [NaN]}'):
        with pytest.raises(ValueError, match="is not JSON"):
            loads_limited(constant)


def test_socket_packets_keep_engineio_s_limit_on_long_integers():
    assert SocketJSON.loads('["watch", {"batch": true}]') == ["watch", {"batch": True}]
    with pytest.raises(ValueError):
        SocketJSON.loads("[" + "9" * 101 + "]")
    with pytest.raises(TooDeep):
        SocketJSON.loads('["watch", ' + "[" * 1000 + "]" * 1000 + "]")
