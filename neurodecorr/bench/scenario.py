"""Benchmark scenarios: TOML files listing the cases to run.

A scenario is a ``[scenario]`` table (``name``, ``description``) and a list of ``[[case]]``
tables, each with a ``name``, a ``kind`` and that kind's parameters. Shipped scenarios live in the
package (``neurodecorr/bench/scenarios/``) and are loaded by name; users pass their own by path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import load_toml
from neurodecorr.resources import package_dir

SCENARIO_DIR = package_dir("neurodecorr.bench", "scenarios")


@dataclass(frozen=True)
class Case:
    """One benchmark case: its ``kind`` selects the runner in :mod:`neurodecorr.bench.cases`."""

    name: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    cases: list[Case]
    source: str


def list_scenarios() -> list[str]:
    """Names of the scenarios shipped with the package."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def load_scenario(name_or_path: str) -> Scenario:
    """Load a shipped scenario by name, or a user's scenario file by path, and validate it."""
    from neurodecorr.bench.cases import CASE_KINDS

    path = Path(name_or_path)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            raise NeurodecorrError(f"unknown scenario '{name_or_path}'; shipped scenarios: "
                                   f"{', '.join(list_scenarios())}")
    data = load_toml(path, "scenario")
    unknown = set(data) - {"scenario", "case"}
    if unknown:
        raise NeurodecorrError(f"{path}: unknown table '{sorted(unknown)[0]}'")
    head = data.get("scenario", {})
    if not isinstance(head, dict) or not all(isinstance(head.get(k, ""), str)
                                             for k in ("name", "description")):
        raise NeurodecorrError(f"{path}: [scenario] must be a table whose name and description "
                               f"are text")
    if not isinstance(data.get("case", []), list):
        raise NeurodecorrError(f"{path}: 'case' must be an array of tables ([[case]])")
    cases = []
    for i, raw in enumerate(data.get("case", [])):
        if not isinstance(raw, dict):
            raise NeurodecorrError(f"{path}: case {i} must be a table")
        raw = dict(raw)
        name = raw.pop("name", f"case{i}")
        if not isinstance(name, str):
            raise NeurodecorrError(f"{path}: case {i}: name must be text, got {name!r}")
        kind = raw.pop("kind", None)
        if kind not in CASE_KINDS:
            raise NeurodecorrError(f"{path}: case '{name}': kind must be one of "
                                   f"{', '.join(CASE_KINDS)}, got {kind!r}")
        CASE_KINDS[kind].validate(raw, f"{path}: case '{name}'")
        cases.append(Case(name=name, kind=kind, params=raw))
    if not cases:
        raise NeurodecorrError(f"{path}: no [[case]] tables")
    return Scenario(name=head.get("name", path.stem), description=head.get("description", ""),
                    cases=cases, source=str(path))
