"""Which of a position's lots a plain close takes first on SHFE/INE, where today's and yesterday's lots are
closed by different offsets: one rule for the live engine (backend/engine/converter.py) and the lab
(backend/lab/engine.py), so a backtest splits a close exactly as the desk it stands in for.

The rule lives outside both because the lab's child must not import the live engine (its start-up counts).
"""

from __future__ import annotations

CLOSE_PATTERNS = ("today", "yesterday")  # CLOSE_PATTERN: which lots a split close takes first
TODAY, YESTERDAY = "today", "yesterday"


def split_lots(volume: int, today: int, yesterday: int, pattern: str) -> list[tuple[str, int]]:
    """[(TODAY or YESTERDAY, lots), ...]: `volume` taken from the free lots in `pattern`'s order, empty
    pieces left out. The caller has checked that `today + yesterday` covers `volume`."""
    if pattern not in CLOSE_PATTERNS:
        raise ValueError(f"close pattern must be one of {', '.join(CLOSE_PATTERNS)}, not {pattern!r}")
    kinds = [(TODAY, today), (YESTERDAY, yesterday)]
    if pattern == YESTERDAY:
        kinds.reverse()
    pieces, left = [], volume
    for kind, free in kinds:
        take = min(left, free)
        if take > 0:
            pieces.append((kind, take))
            left -= take
    return pieces
