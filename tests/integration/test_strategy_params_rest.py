"""What the desk's params form needs from the REST (issue 17 item 10, issue 18's "apply these params"):
GET /strategy's `declared_params` (each declared param's name, JSON type and default, in the class's
order) and PUT /strategy operation=params (check and keep params for the next start, without starting).

Through the app on its own sim, as in test_strategy_tools.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_strategies import Desk, code, make_desk

TYPED = """
    params = {"fast": 5, "slow": 20.0, "product": "m", "live": False, "levels": [1, 2], "extra": None, "map": {}}

    def on_init(self):
        self.info("params " + __import__("json").dumps(self.params, sort_keys=True))
"""
DEFAULTS = {"fast": 5, "slow": 20.0, "product": "m", "live": False, "levels": [1, 2], "extra": None, "map": {}}


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    yield from make_desk(tmp_path)


def test_the_listing_describes_each_declared_param_with_its_type_and_default(desk: Desk):
    assert desk.call("post", "/code", text=code("typed", "m2609.DCE", TYPED)).status_code == 200
    assert desk.state("typed")["declared_params"] == [
        {"name": "fast", "type": "integer", "default": 5},
        {"name": "slow", "type": "number", "default": 20.0},
        {"name": "product", "type": "string", "default": "m"},
        {"name": "live", "type": "boolean", "default": False},
        {"name": "levels", "type": "array", "default": [1, 2]},
        {"name": "extra", "type": "null", "default": None},
        {"name": "map", "type": "object", "default": {}},
    ]
    none = code("bare", "m2609.DCE", "    pass\n")
    computed = code("computed", "m2609.DCE", "    params = dict(x=1)\n")
    desk.call("post", "/code", text=none)
    desk.call("post", "/code", text=computed)
    assert desk.state("bare")["declared_params"] == []
    assert desk.state("computed")["declared_params"] is None  # the source does not say


def test_params_are_kept_for_the_next_start_without_starting(desk: Desk):
    desk.call("post", "/code", text=code("typed", "m2609.DCE", TYPED))
    saved = desk.call("put", "/strategy", name="typed", operation="params", params={"fast": 8, "slow": 31.5})
    assert saved.status_code == 200, saved.json
    assert saved.json["data"]["status"] == "stopped"
    assert "typed" not in desk.app.extensions["ctpdesk"].strategies.workers
    assert desk.state("typed")["params"] == {**DEFAULTS, "fast": 8, "slow": 31.5}
    # The next start (without params) takes them; {} goes back to the defaults.
    desk.call("put", "/strategy", name="typed", operation="start")
    assert desk.state("typed")["status"] == "running"
    assert desk.state("typed")["params"] == {**DEFAULTS, "fast": 8, "slow": 31.5}
    busy = desk.call("put", "/strategy", name="typed", operation="params", params={"fast": 9})
    assert busy.status_code == 409 and "stop it" in busy.json["msg"], busy.json
    desk.call("put", "/strategy", name="typed", operation="stop")
    assert desk.call("put", "/strategy", name="typed", operation="params", params={}).status_code == 200
    assert desk.state("typed")["params"] == DEFAULTS


@pytest.mark.parametrize(
    ("fields", "status", "said"),
    [
        ({"params": {"fast": "8"}}, 400, "params.fast: expected integer"),
        ({"params": {"nope": 1}}, 400, "params.nope: not a parameter"),
        ({}, 400, "params: required"),
        ({"params": {"fast": 8}, "name": "unknown_one"}, 404, "unknown strategy"),
    ],
    ids=["wrong_type", "unknown_key", "missing", "unknown_strategy"],
)
def test_params_refused_leave_the_saved_ones(desk: Desk, fields: dict, status: int, said: str):
    desk.call("post", "/code", text=code("typed", "m2609.DCE", TYPED))
    desk.call("put", "/strategy", name="typed", operation="params", params={"fast": 7})
    response = desk.call("put", "/strategy", **{"name": "typed", "operation": "params", **fields})
    assert response.status_code == status and said in response.json["msg"], response.json
    assert desk.state("typed")["params"] == {**DEFAULTS, "fast": 7}
    assert desk.state("typed")["status"] == "stopped"
