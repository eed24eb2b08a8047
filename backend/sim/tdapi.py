"""The sim's stand-in for `openctp_ctp.tdapi`: trader API, Spi base, structs and constants."""

from backend.sim import structs
from backend.sim.api import CThostFtdcTraderApi, CThostFtdcTraderSpi

__all__ = ["CThostFtdcTraderApi", "CThostFtdcTraderSpi"]

structs.install(globals(), "td")
