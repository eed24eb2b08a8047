"""/sim/settle: run the simulated counter's daily settlement now, to see what a strategy does overnight.

Only for a login on the embedded sim (`sim://...`): a real counter settles on its own schedule and
nothing here can ask it to. The settlement is the sim's own (backend/sim/exchange.py): day orders
cancelled, positions marked, today's lots become yesterday's, every session dropped and reconnected.
"""

from __future__ import annotations

import gevent
from flask import Blueprint

from backend.sim.registry import control, parse_address
from views.auth_required import token_required
from views.desk import desk
from views.envelope import ApiError, envelope
from views.errors import engine_errors

blueprint = Blueprint("sim_control", __name__)


@blueprint.post("/sim/settle")
@token_required
def settle():
    engine = desk().engine
    with engine_errors():
        engine.require_connected()
    name = parse_address(engine.login.td_address) if engine.login else None
    if name is None:
        raise ApiError("only the simulated counter can be settled on demand (interface sim)", 409)
    trading_day = gevent.get_hub().threadpool.apply(control(name).settle)
    return envelope({"trading_day": trading_day}, "settled: the counter reconnects on the new trading day")
