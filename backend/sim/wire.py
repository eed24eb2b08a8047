"""CTP wire values the sim speaks, looked up by their THOST_* names so they cannot drift."""

from __future__ import annotations

from backend.sim.ctp_spec import CONSTANTS, STRUCTS

DBL_MAX = 1.7976931348623157e308

# Field names of every struct, for filtering dicts before they become structs.
STRUCT_FIELDS: dict[str, frozenset[str]] = {
    name: frozenset(spec[0] for spec in fields) for name, fields in STRUCTS.items()
}

D_BUY = CONSTANTS["THOST_FTDC_D_Buy"]
D_SELL = CONSTANTS["THOST_FTDC_D_Sell"]
PD_LONG = CONSTANTS["THOST_FTDC_PD_Long"]
PD_SHORT = CONSTANTS["THOST_FTDC_PD_Short"]
OF_OPEN = CONSTANTS["THOST_FTDC_OF_Open"]
OF_CLOSE = CONSTANTS["THOST_FTDC_OF_Close"]
OF_CLOSE_TODAY = CONSTANTS["THOST_FTDC_OF_CloseToday"]
OF_CLOSE_YESTERDAY = CONSTANTS["THOST_FTDC_OF_CloseYesterday"]
HF_SPECULATION = CONSTANTS["THOST_FTDC_HF_Speculation"]
OPT_ANY_PRICE = CONSTANTS["THOST_FTDC_OPT_AnyPrice"]
OPT_LIMIT_PRICE = CONSTANTS["THOST_FTDC_OPT_LimitPrice"]
TC_IOC = CONSTANTS["THOST_FTDC_TC_IOC"]
TC_GFD = CONSTANTS["THOST_FTDC_TC_GFD"]
VC_ANY = CONSTANTS["THOST_FTDC_VC_AV"]
VC_MIN = CONSTANTS["THOST_FTDC_VC_MV"]
VC_ALL = CONSTANTS["THOST_FTDC_VC_CV"]
CC_IMMEDIATELY = CONSTANTS["THOST_FTDC_CC_Immediately"]
AF_DELETE = CONSTANTS["THOST_FTDC_AF_Delete"]
OSS_INSERT_SUBMITTED = CONSTANTS["THOST_FTDC_OSS_InsertSubmitted"]
OSS_CANCEL_SUBMITTED = CONSTANTS["THOST_FTDC_OSS_CancelSubmitted"]
OSS_ACCEPTED = CONSTANTS["THOST_FTDC_OSS_Accepted"]
OSS_INSERT_REJECTED = CONSTANTS["THOST_FTDC_OSS_InsertRejected"]
OST_ALL_TRADED = CONSTANTS["THOST_FTDC_OST_AllTraded"]
OST_PART_TRADED_QUEUEING = CONSTANTS["THOST_FTDC_OST_PartTradedQueueing"]
OST_PART_TRADED_NOT_QUEUEING = CONSTANTS["THOST_FTDC_OST_PartTradedNotQueueing"]
OST_NO_TRADE_QUEUEING = CONSTANTS["THOST_FTDC_OST_NoTradeQueueing"]
OST_NO_TRADE_NOT_QUEUEING = CONSTANTS["THOST_FTDC_OST_NoTradeNotQueueing"]
OST_CANCELED = CONSTANTS["THOST_FTDC_OST_Canceled"]
OST_UNKNOWN = CONSTANTS["THOST_FTDC_OST_Unknown"]
ORDER_SOURCE_PARTICIPANT = CONSTANTS["THOST_FTDC_OSRC_Participant"]
ORDER_TYPE_NORMAL = CONSTANTS["THOST_FTDC_ORDT_Normal"]
TRADE_TYPE_COMMON = CONSTANTS["THOST_FTDC_TRDT_Common"]
TRADING_ROLE_BROKER = CONSTANTS["THOST_FTDC_ER_Broker"]
PSRC_LAST_PRICE = CONSTANTS["THOST_FTDC_PSRC_LastPrice"]
TSRC_NORMAL = CONSTANTS["THOST_FTDC_TSRC_NORMAL"]
PSD_TODAY = CONSTANTS["THOST_FTDC_PSD_Today"]
PSD_HISTORY = CONSTANTS["THOST_FTDC_PSD_History"]
PT_NET = CONSTANTS["THOST_FTDC_PT_Net"]
PDT_USE_HISTORY = CONSTANTS["THOST_FTDC_PDT_UseHistory"]
PDT_NO_USE_HISTORY = CONSTANTS["THOST_FTDC_PDT_NoUseHistory"]
IP_STARTED = CONSTANTS["THOST_FTDC_IP_Started"]
MMSA_YES = CONSTANTS["THOST_FTDC_MMSA_YES"]
TERT_RESTART = CONSTANTS["THOST_TERT_RESTART"]
TERT_RESUME = CONSTANTS["THOST_TERT_RESUME"]
TERT_QUICK = CONSTANTS["THOST_TERT_QUICK"]

TERMINAL_STATUSES = frozenset({OST_ALL_TRADED, OST_CANCELED, OST_PART_TRADED_NOT_QUEUEING, OST_NO_TRADE_NOT_QUEUEING})

# ErrorID -> ErrorMsg, in the counter's words.
ERROR_MESSAGES: dict[int, str] = {
    0: "CTP:正确",
    3: "CTP:不合法的登录",
    5: "CTP:重复的登录",
    6: "CTP:用户未登录",
    8: "CTP:前置不活跃",
    9: "CTP:没有报单交易权限",
    15: "CTP:报单字段有误",
    16: "CTP:找不到合约",
    22: "CTP:报单重复",
    25: "CTP:撤单找不到相应报单",
    26: "CTP:报单已全成交或已撤销，不能再撤",
    29: "CTP:合约只能平仓",
    30: "CTP:平仓量超过持仓量",
    31: "CTP:资金不足",
    42: "CTP:结算结果未确认",
    50: "CTP:平今仓位不足",
    51: "CTP:平昨仓位不足",
    63: "CTP:客户端认证失败",
    90: "CTP:查询未就绪，请稍后重试",
    131: "CTP:原口令不匹配",
}

# Disconnect reasons of OnFrontDisconnected.
REASON_READ_FAILURE = 0x1001
REASON_WRITE_FAILURE = 0x1002
REASON_HEARTBEAT_TIMEOUT = 0x2001
REASON_HEARTBEAT_SEND = 0x2002
REASON_BAD_PACKET = 0x2003


def error_info(error_id: int, detail: str = "") -> dict[str, object]:
    """Values of a CThostFtdcRspInfoField."""
    message = ERROR_MESSAGES.get(error_id, f"CTP:错误{error_id}")
    return {"ErrorID": error_id, "ErrorMsg": message + (f" {detail}" if detail else "")}


def right_aligned(value: int | str, width: int = 12) -> str:
    """CTP right-aligns OrderRef, OrderSysID and TradeID with spaces."""
    return str(value).rjust(width)
