"""Configurations that check themselves: types, choices and ranges declared with the fields.

Every frozen configuration dataclass of the package (the decorrelators', a training run's, an
array's update algorithm, the device and circuit tables) validates on construction, wherever it
comes from (a TOML file, JSON, the command line, ``dataclasses.replace`` in code). What it
checks is declared next to its fields, and checked here, by one code path with one wording:

* the type of every field, from its annotation (``float`` finite, ``int``, ``bool``, ``str``,
  ``tuple[float, ...]`` of finite numbers);
* ``choices``: key -> the values it may take;
* ``ranges``: key -> an interval in the usual notation, ``"[0, inf)"``, ``"(0, 1]"``; a tuple
  value must lie in it element by element.

Relations between keys stay in each class's own ``validate`` method.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

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


def check_fields(config: Any, fail: Fail, choices: dict[str, tuple[str, ...]] | None = None,
                 ranges: dict[str, str] | None = None) -> None:
    """Check every field's type, then ``choices`` and ``ranges``; ``fail(key, problem)`` raises
    the caller's one-line error at the first problem."""
    for f in dataclasses.fields(config):
        problem = type_problem(getattr(config, f.name), str(f.type))
        if problem:
            fail(f.name, problem)
    for key, allowed in (choices or {}).items():
        value = getattr(config, key)
        if value not in allowed:
            fail(key, f"must be one of {', '.join(allowed)}; got {value!r}")
    for key, problem in range_problems(config, ranges or {}):
        fail(key, problem)


def range_problems(config: Any, ranges: dict[str, str]) -> Iterator[tuple[str, str]]:
    """``(key, problem)`` for every key of ``ranges`` whose value lies outside its interval."""
    for key, text in ranges.items():
        interval = Interval.parse(text)
        value = getattr(config, key)
        values = value if isinstance(value, tuple) else (value,)
        if not all(v in interval for v in values):
            yield key, f"{interval.requirement()}, got {value!r}"


def declared(cls: type, name: str) -> dict:
    """The class attribute ``name`` (a dict) of ``cls`` merged over its bases: a subclass
    declares only what it adds."""
    merged: dict = {}
    for klass in reversed(cls.__mro__):
        merged.update(klass.__dict__.get(name, {}))
    return merged


def _raise(key: str, problem: str) -> None:
    raise NeurodecorrError(f"{key}: {problem}")


class Checked:
    """Base of a frozen configuration dataclass that checks itself on construction.

    A subclass declares ``choices`` and ``ranges`` (class attributes, merged over its bases);
    one that relates keys to each other extends :meth:`check`.
    """

    choices: ClassVar[dict[str, tuple[str, ...]]] = {}
    ranges: ClassVar[dict[str, str]] = {}

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Refuse a wrong type or a value out of range with one line naming the key."""
        check_fields(self, _raise, declared(type(self), "choices"),
                     declared(type(self), "ranges"))
