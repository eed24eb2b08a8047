"""The simulated CTP counter: `from backend.sim import tdapi, mdapi` in place of openctp_ctp.

Front addresses `sim://` (or `sim://name` for a separately configured sim). `configure()` sets a
sim up before its first API object connects; `control()` reaches a running one (faults, prices,
settlement) for tests and demos.
"""

from backend.sim import mdapi, tdapi
from backend.sim.registry import SimAccount, SimSettings, configure, control, shutdown

__all__ = ["SimAccount", "SimSettings", "configure", "control", "mdapi", "shutdown", "tdapi"]
