"""The lines a China futures account must stay behind, in one table: the exchanges' abnormal-trading
standards (per contract per trading day) and the programmatic-trading rules (per account).

Crossing an abnormal-trading line gets the account a warning from the exchange, then trading
restrictions; the programmatic-trading lines bring reporting duties (and, for high-frequency
trading, extra duties and fees). The risk engine (risk_engine.py) counts what these count and keeps
the account a margin below each line. FAK/FOK cancels and hedging do not count anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.engine.constants import Exchange


@dataclass(frozen=True, slots=True)
class AbnormalTradingLines:
    """Per contract per trading day. Each count is the number the exchange treats as abnormal."""

    self_trades: int = 5  # self-trades (both sides the same client)
    cancels: int = 500  # cancels of orders
    large_cancels: int = 50  # cancels of large orders
    large_cancel_lots: int = 0  # a cancel of this many lots or more is large (0: see large_cancel_share)
    large_cancel_share: float = 0.0  # ... or of this share of the contract's maximum order volume

    def is_large(self, lots: int, max_order_volume: int) -> bool:
        if self.large_cancel_lots:
            return lots >= self.large_cancel_lots
        return bool(self.large_cancel_share) and lots >= self.large_cancel_share * max_order_volume


# Each exchange's standard (as published by 2025; every line is "N or more"). Where a figure could
# not be confirmed the stricter reading is taken: DCE's large-cancel count (one source says 400) and
# GFEX's (none found) are 50 as on SHFE; CFFEX's cancels are 400 (its index futures; 500 for
# treasury futures). README ("Risk limits") lists the sources.
ABNORMAL_TRADING: dict[Exchange, AbnormalTradingLines] = {
    Exchange.SHFE: AbnormalTradingLines(large_cancel_lots=300),
    Exchange.INE: AbnormalTradingLines(large_cancel_lots=300),
    Exchange.DCE: AbnormalTradingLines(large_cancel_share=0.8),
    Exchange.GFEX: AbnormalTradingLines(large_cancel_share=0.8),
    Exchange.CZCE: AbnormalTradingLines(large_cancel_lots=800),
    Exchange.CFFEX: AbnormalTradingLines(cancels=400, large_cancels=100, large_cancel_share=0.8),
}
DEFAULT_LINES = AbnormalTradingLines(large_cancel_share=0.8)  # an exchange not in the table: the common lines


def lines_of(exchange: Exchange) -> AbnormalTradingLines:
    return ABNORMAL_TRADING.get(exchange, DEFAULT_LINES)


# Programmatic trading (CSRC and the five exchanges, in force since 2025-10-09), per account.
BUSY_SECOND = 10  # orders + cancels in one second that make it a "busy" second ...
REPORTING_BUSY_SECONDS = 10  # ... and a day with this many busy seconds obliges the account to report
# High-frequency trading: the futures rules describe it in words and leave the figures to the
# exchanges, which had published none; these are the stock exchanges' lines, kept as the proxy.
HFT_PER_SECOND = 300  # orders + cancels in one second
HFT_PER_DAY = 20_000  # orders + cancels in one day
