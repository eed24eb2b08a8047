"""A strategy's declared `params` read from its source, and the overrides a start may give (issue 17)."""

from __future__ import annotations

import pytest

from backend.strategy_runtime.params import ParamsError, applicable, check_params, declared_params

HEADER = "from backend.strategy import Strategy\n"


def test_the_params_of_the_class_ext_instantiates_or_of_its_base_in_the_file() -> None:
    own = HEADER + "class A(Strategy):\n    params = {'fast': 5, 'pair': (1, 2)}\next = A('a')\n"
    assert declared_params(own) == {"fast": 5, "pair": [1, 2]}  # as JSON carries it
    inherited = HEADER + "class A(Strategy):\n    params: dict = {'x': 1.5}\nclass B(A):\n    pass\next = B('b')\n"
    assert declared_params(inherited) == {"x": 1.5}
    assert declared_params(HEADER + "class A(Strategy):\n    pass\next = A('a')\n") == {}


@pytest.mark.parametrize("text", [
    "class A(Strategy):\n    params = dict(x=1)\next = A('a')\n",  # computed: the server cannot know
    "class A(Strategy):\n    params = {'x': 1e999}\next = A('a')\n",  # not JSON
    "class A(Strategy):\n    params = {1: 2}\next = A('a')\n",
    "from elsewhere import A\next = A('a')\n",
    "def broken(:\n",
])  # fmt: skip
def test_params_the_source_does_not_state_are_unknown(text: str) -> None:
    assert declared_params(HEADER + text) is None
    with pytest.raises(ParamsError, match="declares no literal"):
        check_params(None, {"x": 1})
    assert check_params(None, {}) == {}


def test_the_declared_params_are_a_copy() -> None:
    text = HEADER + "class A(Strategy):\n    params = {'xs': [1]}\next = A('a')\n"
    declared_params(text)["xs"].append(2)  # type: ignore[index]
    assert declared_params(text) == {"xs": [1]}


def test_saved_overrides_the_changed_code_refuses_are_dropped() -> None:
    assert applicable({"fast": 5, "name": "x"}, {"fast": 8, "gone": 1, "name": 3}) == {"fast": 8}
