"""Publication of engine events to any number of listeners (push, store, strategies)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
Listener = Callable[[str, Any], None]


class EventBus:
    """Topic -> listeners. A listener that raises is logged and the others still run."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self._everything: list[Listener] = []

    def subscribe(self, topic: str | None, listener: Listener) -> None:
        """Listen to one topic, or to every topic with topic None."""
        (self._everything if topic is None else self._listeners[topic]).append(listener)

    def unsubscribe(self, topic: str | None, listener: Listener) -> None:
        listeners = self._everything if topic is None else self._listeners[topic]
        if listener in listeners:
            listeners.remove(listener)

    def publish(self, topic: str, payload: Any) -> None:
        for listener in (*self._listeners.get(topic, ()), *self._everything):
            try:
                listener(topic, payload)
            except Exception:
                log.exception("listener %r failed on %s", listener, topic)
