"""Which of a position's lots a plain close takes first on SHFE/INE, where today's and yesterday's lots are
closed by different offsets: one rule for the live engine (backend/engine/converter.py) and the lab
(backend/lab/engine.py), so a backtest splits a close exactly as the desk it stands in for.

The rule lives outside both because the lab's child must not import the live engine (its start-up counts).
"""

from __future__ import annotations

TODAY, YESTERDAY = "today", "yesterday"  # a position's lot groups on SHFE/INE (backend/sim/positions.py's too)
CLOSE_PATTERNS = (TODAY, YESTERDAY)  # CLOSE_PATTERN: which lots a split close takes first


def check_pattern(pattern: str) -> None:
    """ValueError for a CLOSE_PATTERN nobody knows (the live split's callers, a backtest's spec)."""
    if pattern not in CLOSE_PATTERNS:
        raise ValueError(f"close pattern must be one of {', '.join(CLOSE_PATTERNS)}, not {pattern!r}")


def split_lots(volume: int, today: int, yesterday: int, pattern: str) -> list[tuple[str, int]]:
    """[(TODAY or YESTERDAY, lots), ...]: `volume` taken from the free lots in `pattern`'s order, empty
    pieces left out. The caller has checked the pattern (check_pattern) and that `today + yesterday` covers
    `volume`."""
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
