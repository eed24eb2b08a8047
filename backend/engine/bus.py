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
        self._calls: dict[str, tuple[Listener, ...]] = {}  # per topic, made on first publish: ticks are many

    def subscribe(self, topic: str | None, listener: Listener) -> None:
        """Listen to one topic, or to every topic with topic None."""
        (self._everything if topic is None else self._listeners[topic]).append(listener)
        self._calls.clear()

    def unsubscribe(self, topic: str | None, listener: Listener) -> None:
        listeners = self._everything if topic is None else self._listeners[topic]
        if listener in listeners:
            listeners.remove(listener)
        self._calls.clear()

    def publish(self, topic: str, payload: Any) -> None:
        listeners = self._calls.get(topic)
        if listeners is None:
            listeners = self._calls[topic] = (*self._listeners.get(topic, ()), *self._everything)
        for listener in listeners:
            try:
                listener(topic, payload)
            except Exception:
                log.exception("listener %r failed on %s", listener, topic)
