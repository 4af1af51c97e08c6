"""Configurations that check themselves: each field declares its type and allowed values.

Every frozen configuration dataclass of the package (the decorrelators', a training run's, an
array's update algorithm, the device and circuit tables) validates on construction, wherever it
comes from (a TOML file, JSON, the command line, ``dataclasses.replace`` in code). What a field
allows is declared with the field, ``eta: float = setting(1e-3, within="(0, inf)")``, as
pydantic's ``Field(gt=0)`` or attrs' validators do, and checked here by one code path with one
wording:

* the type, from the annotation (``float`` finite, ``int``, ``bool``, ``str``,
  ``tuple[float, ...]`` of finite numbers);
* ``one_of``: the values a string may take;
* ``within``: an interval in the usual notation, ``"[0, inf)"``, ``"(0, 1]"``; a tuple value
  must lie in it element by element.

Relations between fields stay in each class's own check.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

try:
    from typing import dataclass_transform
except ImportError:  # Python 3.10: the marker only informs type checkers
    def dataclass_transform(**_: Any) -> Callable[[type], type]:
        return lambda cls: cls

from neurodecorr.errors import NeurodecorrError

Fail = Callable[[str, str], None]


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def type_problem(value: Any, type_name: str) -> str | None:
    """Why ``value`` does not have the annotated type ``type_name`` (``None`` if it does)."""
    if type_name == "float":
        ok, expected = _is_number(value) and math.isfinite(value), "a finite number"
    elif type_name == "int":
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        expected = "an integer"
    elif type_name == "bool":
        ok, expected = isinstance(value, bool), "true or false"
    elif type_name == "str":
        ok, expected = isinstance(value, str), "a string"
    elif type_name == "tuple[float, ...]":
        ok = isinstance(value, tuple) and all(_is_number(v) and math.isfinite(v) for v in value)
        expected = "a list of finite numbers"
    else:
        return None
    return None if ok else f"expected {expected}, got {value!r}"


@dataclass(frozen=True)
class Interval:
    """An interval of the real line, written ``[lo, hi]`` with ``(`` / ``)`` for open ends and
    ``inf`` for no bound."""

    text: str
    lo: float
    hi: float
    lo_closed: bool
    hi_closed: bool

    @classmethod
    def parse(cls, text: str) -> Interval:
        lo, hi = (float(part) for part in text[1:-1].split(","))
        return cls(text, lo, hi, text[0] == "[", text[-1] == "]")

    def __contains__(self, value: float) -> bool:
        above = value >= self.lo if self.lo_closed else value > self.lo
        below = value <= self.hi if self.hi_closed else value < self.hi
        return above and below

    def requirement(self) -> str:
        """``must be >= 0``, ``must be > 0`` for half-lines, else ``must lie in [a, b)``."""
        if self.hi == math.inf:
            return f"must be {'>=' if self.lo_closed else '>'} {self.lo:g}"
        return f"must lie in {self.text}"


def setting(default: Any, *, within: str | None = None,
            one_of: tuple[str, ...] | None = None) -> Any:
    """A dataclass field with its default and the values it allows: ``within`` an interval
    (:class:`Interval` notation), or ``one_of`` a tuple of strings."""
    metadata = {"within": Interval.parse(within) if within else None, "one_of": one_of}
    return dataclasses.field(default=default, metadata=metadata)


def setting_problem(value: Any, f: dataclasses.Field) -> str | None:
    """Why ``value`` is not allowed by the :func:`setting` of field ``f`` (``None`` if it is)."""
    allowed, interval = f.metadata.get("one_of"), f.metadata.get("within")
    if allowed is not None and value not in allowed:
        return f"must be one of {', '.join(allowed)}; got {value!r}"
    values = value if isinstance(value, tuple) else (value,)
    if interval is not None and not all(v in interval for v in values):
        return f"{interval.requirement()}, got {value!r}"
    return None


def check_fields(config: Any, fail: Fail) -> None:
    """Check every field's type, then its :func:`setting`; ``fail(key, problem)`` raises the
    caller's one-line error at the first problem."""
    fields = dataclasses.fields(config)
    for f in fields:
        problem = type_problem(getattr(config, f.name), str(f.type))
        if problem:
            fail(f.name, problem)
    for f in fields:
        problem = setting_problem(getattr(config, f.name), f)
        if problem:
            fail(f.name, problem)


def _raise(key: str, problem: str) -> None:
    raise NeurodecorrError(f"{key}: {problem}")


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, setting))
class Checked:
    """Base of a frozen configuration dataclass that checks itself on construction.

    A subclass is made a frozen dataclass when it is defined (as a pydantic model is), so
    every configuration is declared one way and none can forget ``frozen``. Its fields are
    :func:`setting` s; a subclass that relates fields to each other extends :meth:`check`.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(frozen=True)(cls)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Refuse a wrong type or a value out of range with one line naming the key."""
        check_fields(self, _raise)
