"""/record: the per-instrument tick recording switch (issue 18; the lab's tick mode replays what it records)."""

from __future__ import annotations

import gevent
from flask import Blueprint
from pydantic import Field

from backend.engine.tick_recorder import recorded_summary
from views.auth_required import token_required
from views.desk import desk
from views.envelope import envelope
from views.errors import engine_errors
from views.params import parse
from views.schemas import Fields, LocalSymbol

blueprint = Blueprint("recording", __name__)


class RecordingSwitch(Fields):
    local_symbol: LocalSymbol
    on: bool = Field(description="true: record its ticks from now on; false: stop recording")


@blueprint.get("/record")
@token_required
def listing():
    """Every instrument recorded or with recorded ticks: {local_symbol, on, count, first_ms, last_ms, bytes}."""
    current = desk()
    summary = gevent.get_hub().threadpool.apply(current.store.tick_summary)
    return envelope(recorded_summary(current.engine.recorder.recorded, summary))


@blueprint.put("/record")
@token_required
def switch():
    change = parse(RecordingSwitch)
    engine = desk().engine
    name = change.local_symbol
    with engine_errors():
        if engine.oms.contracts:  # logged in: the instrument must exist (and is subscribed, or no tick would come)
            name = engine.oms.contract(name).local_symbol
            if change.on:
                engine.subscribe([name])
    engine.recorder.switch(name, change.on)
    summary = gevent.get_hub().threadpool.apply(desk().store.tick_summary)
    row = next(item for item in recorded_summary(engine.recorder.recorded | {name}, summary)
               if item["local_symbol"] == name)  # fmt: skip
    return envelope(dict(row, on=change.on), "recording" if change.on else "not recording")
