"""Blocking calls (store I/O, password hashing) on gevent's thread pool: only the calling greenlet waits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import gevent

T = TypeVar("T")


class _Carried:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def off_loop(function: Callable[..., T], *args: object, expected: tuple[type[BaseException], ...] = ()) -> T:
    """`function(*args)` on the pool. The `expected` exceptions (refusals a request may meet: an unknown id) are
    carried back and raised here rather than in the pool, which prints a traceback for every exception a task
    raises: routine refusals would fill the log with them."""
    if not expected:
        return gevent.get_hub().threadpool.apply(function, args)  # type: ignore[no-any-return]

    def call() -> Any:
        try:
            return function(*args)
        except expected as refusal:
            return _Carried(refusal)

    answer = gevent.get_hub().threadpool.apply(call)
    if isinstance(answer, _Carried):
        raise answer.error
    return answer  # type: ignore[no-any-return]
