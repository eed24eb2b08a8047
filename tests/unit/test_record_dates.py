"""Orders and trades are dated by the rule ticks are (lib.trading_calendar.calendar_date), from their
trading day and clock, not from InsertDate and TradeDate.

Seen: on a Sunday morning the sim's 7x24 market ticked with Monday's trading day, so ticks and bars
were dated Monday 06:11, while a trade, dated by its TradeDate, was Sunday 06:11; the chart put the
fill on Friday night's last bar (tests/e2e/test_browser_chart.py, red from 06:00 on weekend
mornings). Fronts differ on what they put into those two dates at night as they do for ActionDay;
one rule puts every fill on the bar of the ticks around it.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from backend.engine.constants import Exchange
from backend.engine.objects import SHANGHAI
from backend.gateway import convert

ORDER = {
    "FrontID": 1, "SessionID": 2, "OrderRef": "3", "InstrumentID": "rb2701", "ExchangeID": "SHFE", "Direction": "0",
    "CombOffsetFlag": "0", "OrderPriceType": "2", "TimeCondition": "3", "VolumeCondition": "1", "LimitPrice": 3200.0,
    "VolumeTotalOriginal": 1, "VolumeTraded": 1, "OrderStatus": "0", "OrderSubmitStatus": "3", "StatusMsg": "",
    "OrderSysID": "9", "OrderLocalID": "4",
}  # fmt: skip
TRADE = {
    "TradeID": "7", "OrderSysID": "9", "ExchangeID": "SHFE", "InstrumentID": "rb2701", "Direction": "0",
    "OffsetFlag": "0", "Price": 3200.0, "Volume": 1, "OrderRef": "3",
}  # fmt: skip
CASES = [  # (TradingDay, the date the front gave, clock) -> the calendar moment
    ("20261207", "20261206", "06:11:48", datetime(2026, 12, 7, 6, 11, 48, tzinfo=SHANGHAI)),  # the sim's Sunday
    ("20261207", "20261207", "21:30:00", datetime(2026, 12, 4, 21, 30, tzinfo=SHANGHAI)),  # Friday night, as Monday
    ("20261207", "20261205", "00:30:00", datetime(2026, 12, 5, 0, 30, tzinfo=SHANGHAI)),  # after midnight: Saturday
    ("20261207", "20261207", "10:15:00", datetime(2026, 12, 7, 10, 15, tzinfo=SHANGHAI)),  # the day session
]


@pytest.mark.parametrize(("trading_day", "given", "clock", "moment"), CASES)
def test_an_order_and_its_trade_are_dated_as_a_tick_of_that_moment(trading_day: str, given: str, clock: str,
                                                                   moment: datetime) -> None:  # fmt: skip
    order = convert.order_from({**ORDER, "TradingDay": trading_day, "InsertDate": given, "InsertTime": clock},
                               Exchange.SHFE)  # fmt: skip
    trade = convert.trade_from({**TRADE, "TradingDay": trading_day, "TradeDate": given, "TradeTime": clock},
                               Exchange.SHFE, order.order_id)  # fmt: skip
    assert order.time == moment and trade.time == moment


def test_without_a_trading_day_the_date_given_is_kept() -> None:
    trade = convert.trade_from({**TRADE, "TradingDay": "", "TradeDate": "20261204", "TradeTime": "14:59:00"},
                               Exchange.SHFE, "1_2_3")  # fmt: skip
    assert trade.time == datetime(2026, 12, 4, 14, 59, tzinfo=SHANGHAI)
    unstamped = {**ORDER, "TradingDay": "", "InsertDate": "", "InsertTime": ""}  # a refusal the API made up
    assert convert.order_from(unstamped, Exchange.SHFE).time is None
