"""The sim's stand-in for `openctp_ctp.mdapi`: market-data API, Spi base, structs and constants."""

from backend.sim import structs
from backend.sim.api import CThostFtdcMdApi, CThostFtdcMdSpi

__all__ = ["CThostFtdcMdApi", "CThostFtdcMdSpi"]

structs.install(globals(), "md")
