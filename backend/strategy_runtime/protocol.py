"""Messages between the server and a strategy worker: JSON lines with a version, never pickle."""

from __future__ import annotations

import json
from typing import Any

VERSION = 1
MAX_LINE = 1_000_000  # a worker's message longer than this is a broken or hostile worker
MAX_SERVER_LINE = 64_000_000  # the server's init message carries the instrument table


class ProtocolError(ValueError):
    pass


def encode(message: dict[str, Any]) -> bytes:
    return (json.dumps({"v": VERSION, **message}, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def decode(line: bytes, limit: int = MAX_LINE) -> dict[str, Any]:
    if len(line) > limit:
        raise ProtocolError("message too long")
    try:
        message = json.loads(line)
    except ValueError:
        raise ProtocolError(f"not a JSON message: {line[:200]!r}") from None
    if not isinstance(message, dict) or message.get("v") != VERSION or not isinstance(message.get("k"), str):
        raise ProtocolError(f"unexpected message: {line[:200]!r}")
    return message
