"""Fast positional constructors for slotted classes whose own constructors are too slow for a tick path.

A frozen dataclass sets each field through object.__setattr__, and a validating struct through its
checks: a few microseconds per object, paid for every tick of the market. A builder is a twin class
with the same slots whose generated __init__ fills them with plain stores and then gives the object
the real class (Python allows that between identical slot layouts). The caller guarantees the
values' types: nothing is validated and no __post_init__ runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def slot_builder(
    cls: type,
    names: tuple[str, ...] | None = None,
    defaults: Mapping[str, Any] | None = None,
    base: type = object,
) -> Callable[..., Any]:
    """A constructor of `cls` taking the slots `names` (default: all, in order) positionally.

    Slots not named take their value from `defaults`. `base` is the twin's base class: it must give
    the twin the layout of `cls` (object for a class whose bases have empty __slots__, else the base
    that holds the slots' ancestors).
    """
    slots = tuple(cls.__slots__)
    names = slots if names is None else names
    rest = {name: value for name, value in (defaults or {}).items() if name not in names}
    unknown = (set(names) | set(rest)) - set(slots)
    if unknown or len(set(names)) != len(names) or set(names) | set(rest) != set(slots):
        raise ValueError(f"{cls.__name__}: {len(slots)} slots, got fields {names} and defaults {sorted(rest)}")
    arguments = [f"_{index}" for index in range(len(names))]
    source = (f"def __init__(self, {', '.join(arguments)}):\n"
              + "".join(f"    self.{name} = {argument}\n" for name, argument in zip(names, arguments, strict=True))
              + "".join(f"    self.{name} = _defaults[{name!r}]\n" for name in rest)
              + "    self.__class__ = _cls\n")  # fmt: skip
    namespace: dict[str, Any] = {"_cls": cls, "_defaults": rest}
    exec(source, namespace)  # noqa: S102 - generated from the class's own slot names, as dataclasses does
    # object's own __setattr__ / __delattr__ (one C slot serves both): plain stores whatever `base` defines.
    return type(f"{cls.__name__}Builder", (base,), {
        "__slots__": slots, "__init__": namespace["__init__"],
        "__setattr__": object.__setattr__, "__delattr__": object.__delattr__,
    })  # fmt: skip
