"""JSON from clients, depth-limited: request bodies (Flask's `app.json`) and Socket.IO packets.

Python's json module parses nested arrays and objects by recursion: a body of 100,000 `[` made it
raise RecursionError, which is no ValueError, so it escaped `get_json(silent=True)` as a 500 with a
traceback logged, before any token check on /login. Here the nesting is measured first, without
recursion and at C speed (strings removed by one regex, then a running sum over the brackets that
are left), and anything deeper than MAX_JSON_DEPTH is refused before json.loads sees it. No request
model of the API nests more than three levels.

JSON's grammar has no NaN or Infinity; Python's parser accepts them by default. They are refused
too (a NaN limit compares false with everything, and the answer echoing it would not be JSON).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from itertools import accumulate
from typing import Any

from engineio import json as engineio_json
from flask.json.provider import DefaultJSONProvider

from views.envelope import ApiError

MAX_JSON_DEPTH = 64  # arrays and objects inside each other

# A JSON string, or an unterminated one up to the end: each quote outside a string starts at most one
# match and nothing is scanned twice (possessive quantifiers), so the cost stays linear.
_STRING = re.compile(rb'"(?:[^"\\]++|\\[\s\S]?)*+(?:"|\Z)')
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


class TooDeep(ValueError):
    """JSON nested deeper than MAX_JSON_DEPTH (a ValueError: malformed input to a JSON reader)."""

    def __init__(self, limit: int = MAX_JSON_DEPTH) -> None:
        super().__init__(f"JSON nested deeper than {limit} levels")


def json_depth(text: str | bytes | bytearray) -> int:
    """How deep arrays and objects nest in `text`, read as JSON (an upper bound for malformed text:
    a parser never recurses deeper than this before it stops)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    opened = data.count(b"[") + data.count(b"{")
    if opened <= MAX_JSON_DEPTH:
        return opened  # too few brackets to matter: no scan
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads_limited(text: str | bytes | bytearray, loads: Callable[..., Any] = json.loads, **kwargs: Any) -> Any:
    """`loads` for client input: TooDeep past MAX_JSON_DEPTH, ValueError on NaN/Infinity."""
    if json_depth(text) > MAX_JSON_DEPTH:
        raise TooDeep()
    kwargs.setdefault("parse_constant", _no_constants)
    try:
        return loads(text, **kwargs)
    except RecursionError:  # cannot happen after the depth check; kept so it can never be a 500
        raise TooDeep() from None


class LimitedJSONProvider(DefaultJSONProvider):
    """Flask's JSON with every parse depth-checked: `request.get_json` anywhere in the app goes through it.

    Too deep is a 400 in the envelope even for `get_json(silent=True)` (which only swallows ValueError),
    so the client learns why; other malformed JSON stays a ValueError for the caller to judge.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return loads_limited(s, **kwargs)
        except TooDeep as error:
            raise ApiError(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels", 400) from error


class MalformedPacket(ValueError):
    """A Socket.IO packet that does not decode (too deep, not JSON, a bad id): its sender is disconnected."""


class SocketJSON:
    """The `json` of Socket.IO packets (views.push.TextPacket): engineio's (long integers refused) with
    the depth limit; a packet too deep raises TooDeep (see views.sockets.refuse_malformed_packets)."""

    dumps = staticmethod(json.dumps)

    @staticmethod
    def loads(text: str | bytes, **kwargs: Any) -> Any:
        return loads_limited(text, engineio_json.loads, **kwargs)
