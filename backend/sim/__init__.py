"""The simulated CTP counter: `from backend.sim import tdapi, mdapi` in place of openctp_ctp.

Front addresses `sim://` (or `sim://name` for a separately configured sim). `configure()` sets a
sim up before its first API object connects; `control()` reaches a running one (faults, prices,
settlement) for tests and demos.

The API modules and the registry load on first use (PEP 562): a process that needs only the
bookkeeping (the lab's backtest children: ledger.py, instruments.py) does not pay for the counter's
API, structs and gevent each time it starts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend.sim import mdapi, tdapi
    from backend.sim.registry import SimAccount, SimSettings, configure, control, shutdown

__all__ = ["SimAccount", "SimSettings", "configure", "control", "mdapi", "shutdown", "tdapi"]
_MODULES = frozenset({"mdapi", "tdapi"})
_REGISTRY = frozenset({"SimAccount", "SimSettings", "configure", "control", "shutdown"})


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f"backend.sim.{name}")
    if name in _REGISTRY:
        return getattr(importlib.import_module("backend.sim.registry"), name)
    raise AttributeError(f"module 'backend.sim' has no attribute {name!r}")
