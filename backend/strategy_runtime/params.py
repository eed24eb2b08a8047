"""A strategy's `params`: the defaults its class declares, and the overrides a start may give.

The one convention (issue 17, and issue 18's lab sweeps the same): a strategy class declares

    class DoubleMa(Strategy):
        params = {"fast": 5, "slow": 20}

and a start may override some of them (`PUT /strategy {..., "params": {"fast": 8}}`); the strategy
sees `self.params` as the defaults with the overrides applied, from `on_init` on.

The server never runs user code, so it reads the defaults from the source: the class that
`ext = SomeStrategy("name")` instantiates (or a base class of it in the same file) must assign
`params` a literal dict. Overrides are checked against those defaults: only declared keys, each
of its default's JSON type (a bool is not a number; an int default takes only integers, a float
default any finite number; a null default takes any JSON value).
"""

from __future__ import annotations

import ast
import copy
import json
import math
from functools import lru_cache
from typing import Any

MAX_PARAMS_CHARS = 20_000  # the overrides' JSON: params are numbers and short strings, not data


class ParamsError(ValueError):
    """Overrides the declared params refuse (an unknown key, a value of another type)."""


def declared_params(text: str) -> dict[str, Any] | None:
    """The `params` literal of the strategy class `ext` instantiates; {} when it declares none,
    None when the source does not say (not parseable, a computed value, a class from elsewhere)."""
    found = _declared(text)
    return None if found is None else copy.deepcopy(found)


@lru_cache(maxsize=64)
def _declared(text: str) -> dict[str, Any] | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    name = _ext_class(tree)
    return _class_params(name, classes, set()) if name else None


def _ext_class(tree: ast.Module) -> str | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "ext" for t in node.targets):
            call = node.value
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
                return call.func.id
    return None


def _class_params(name: str, classes: dict[str, ast.ClassDef], seen: set[str]) -> dict[str, Any] | None:
    """The class's own `params = {...}`, else its first base's in the same file; the Strategy base has {}."""
    if name == "Strategy":
        return {}
    node = classes.get(name)
    if node is None or name in seen:
        return None
    seen.add(name)
    for statement in node.body:
        value = _params_value(statement)
        if value is not _MISSING:
            return _as_json(value)
    for base in node.bases:
        if isinstance(base, ast.Name):
            return _class_params(base.id, classes, seen)
        if isinstance(base, ast.Attribute) and base.attr == "Strategy":
            return {}
    return None


_MISSING = object()


def _as_json(value: Any) -> dict[str, Any] | None:
    """A dict of string keys as JSON has it (tuples become lists); None for what JSON cannot carry."""
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        return None
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return None


def _params_value(statement: ast.stmt) -> Any:
    """The literal a class-level `params = ...` (or `params: dict = ...`) assigns; None when not a literal."""
    if isinstance(statement, ast.Assign):
        targets, value = statement.targets, statement.value
    elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
        targets, value = [statement.target], statement.value
    else:
        return _MISSING
    if not any(isinstance(target, ast.Name) and target.id == "params" for target in targets):
        return _MISSING
    try:
        return ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def check_params(defaults: dict[str, Any] | None, given: Any) -> dict[str, Any]:
    """`given` as overrides of `defaults`, or ParamsError naming the first key at fault."""
    if not isinstance(given, dict):
        raise ParamsError("params: an object of parameter names and values")
    if len(json.dumps(given, ensure_ascii=False, default=str)) > MAX_PARAMS_CHARS:
        raise ParamsError(f"params: longer than {MAX_PARAMS_CHARS} characters as JSON")
    if given and defaults is None:
        raise ParamsError("params: the strategy's class declares no literal `params = {...}` to override")
    for key, value in given.items():
        if key not in (defaults or {}):
            known = ", ".join(sorted(defaults or {})) or "none"
            raise ParamsError(f"params.{key}: not a parameter of this strategy (declared: {known})")
        expected = _json_type(defaults[key])  # type: ignore[index]
        if expected != "null" and not _fits(expected, value):
            raise ParamsError(f"params.{key}: expected {expected} like the default {json.dumps(defaults[key])}, "  # type: ignore[index]
                              f"got {json.dumps(value, default=str)}")  # fmt: skip
    return dict(given)


def described(defaults: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """The declared params as a form needs them (the desk's start and lab forms): each one's name, JSON
    type and default, in the class's order; None when the source does not say."""
    if defaults is None:
        return None
    return [{"name": key, "type": _json_type(value), "default": value} for key, value in defaults.items()]


def applicable(defaults: dict[str, Any] | None, saved: dict[str, Any]) -> dict[str, Any]:
    """The saved overrides the (possibly changed) code still accepts: a renamed key or a changed type is
    dropped rather than refusing to start (or resume) the strategy."""
    kept = {}
    for key, value in saved.items():
        try:
            kept.update(check_params(defaults, {key: value}))
        except ParamsError:
            continue
    return kept


def merged(defaults: dict[str, Any] | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """What `self.params` is in the worker: the defaults with the overrides applied."""
    return {**(defaults or {}), **overrides}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _fits(expected: str, value: Any) -> bool:
    if isinstance(value, bool):
        return expected == "boolean"
    if expected == "integer":
        return isinstance(value, int)
    if expected == "number":
        return isinstance(value, (int, float)) and math.isfinite(value)
    if expected == "string":
        return isinstance(value, str)
    if expected == "array":
        return isinstance(value, list)
    if expected == "object":
        return isinstance(value, dict)
    return False
