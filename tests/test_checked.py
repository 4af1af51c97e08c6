"""A configuration declared as a :class:`Checked` subclass is a frozen dataclass that checks
every field's declared type and range on construction, whichever way it is built."""

from __future__ import annotations

import dataclasses

import pytest

from neurodecorr.core.checked import Checked, setting
from neurodecorr.errors import NeurodecorrError


class Example(Checked):
    rate: float = setting(0.5, within="(0, 1]")
    kind: str = setting("a", one_of=("a", "b"))
    count: int = 3


class Derived(Example):
    extra: float = setting(2.0, within="[0, inf)")


def test_a_subclass_is_a_frozen_dataclass_with_its_settings():
    assert dataclasses.is_dataclass(Example) and Example.__dataclass_params__.frozen
    assert [f.name for f in dataclasses.fields(Derived)] == ["rate", "kind", "count", "extra"]
    config = Derived(rate=1.0, kind="b")
    assert (config.rate, config.kind, config.count, config.extra) == (1.0, "b", 3, 2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.rate = 0.1
    assert hash(config) == hash(Derived(rate=1.0, kind="b"))


@pytest.mark.parametrize(("build", "message"), [
    (lambda: Example(rate=0.0), "rate: must lie in (0, 1], got 0.0"),
    (lambda: Example(kind="c"), "kind: must be one of a, b; got 'c'"),
    (lambda: Example(count=2.5), "count: expected an integer, got 2.5"),
    (lambda: Derived(extra=-1.0), "extra: must be >= 0, got -1.0"),
    (lambda: dataclasses.replace(Example(), rate=2.0), "rate: must lie in (0, 1], got 2.0"),
])
def test_bad_values_are_refused_on_construction_however_built(build, message):
    with pytest.raises(NeurodecorrError) as info:
        build()
    assert str(info.value) == message
