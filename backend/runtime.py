"""Runtime settings (PUT /config) applied to the engine."""

from __future__ import annotations

from typing import Any

from backend.engine.engine import EngineConfig
from backend.engine.slippage import SIDES as SLIPPAGE_SIDES


def apply_runtime(config: EngineConfig, runtime: dict[str, Any]) -> None:
    """Make /config values effective in the engine at once."""
    config.refresh_interval = float(runtime["REFRESH_INTERVAL"])
    config.close_pattern = str(runtime["CLOSE_PATTERN"])
    config.slippage = {side: float(runtime[f"SLIPPAGE_{side.upper()}"]) for side in SLIPPAGE_SIDES}
    config.shared_func = bool(runtime["SHARED_FUNC"])
