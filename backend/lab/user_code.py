"""The user's strategy as the lab runs it: compiled as the live worker compiles it, and the counter's words
for what it refuses.
"""

from __future__ import annotations

import linecache
from typing import Any

from backend.lab.report import BadInput
from backend.strategy import Strategy
from backend.strategy_runtime.params import ParamsError, check_params, declared_params

CODE_FILE = "<strategy backtest>"  # what user_error keeps frames of


def counter_message(error_id: int) -> str:
    """The sim counter's text for a CTP ErrorID ("CTP:资金不足"); its module loads only when an order is refused
    (it brings the CTP struct tables, which a backtest otherwise never needs)."""
    from backend.sim.wire import error_info

    return str(error_info(error_id)["ErrorMsg"])


def load_strategy(code: str, overrides: dict[str, Any]) -> Strategy:
    """Compile the user's code as the worker does (their file's lines in tracebacks), params merged and checked."""
    try:
        checked = check_params(declared_params(code), overrides or {})
    except ParamsError as error:
        raise BadInput(str(error)) from None
    linecache.cache[CODE_FILE] = (len(code), None, code.splitlines(True), CODE_FILE)
    namespace: dict[str, Any] = {"__name__": "strategy"}
    exec(compile(code, CODE_FILE, "exec"), namespace)  # noqa: S102 - the point: the user's strategy
    strategy = namespace.get("ext")
    if not isinstance(strategy, Strategy):
        raise TypeError('the code must define `ext = YourStrategy("name")`, an instance of Strategy')
    strategy.params = {**(strategy.params or {}), **checked}
    return strategy
