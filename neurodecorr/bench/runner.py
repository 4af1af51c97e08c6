"""Running a scenario: every case in turn, with progress, into one result document."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from neurodecorr.bench.cases import CASE_KINDS
from neurodecorr.bench.environment import environment
from neurodecorr.bench.scenario import Scenario
from neurodecorr.reference import describe_device, resolve_device


def run_scenario(scenario: Scenario, reference: str = "auto", repeats: int = 3,
                 on_case: Callable[[int, str], None] | None = None) -> dict[str, Any]:
    """Run all cases; return ``{"scenario", "reference_device", "environment", "cases"}``.

    ``on_case(done, name)`` is called before each case with the number of cases finished.
    """
    device = resolve_device(reference)
    context = {"reference_device": device, "repeats": repeats}
    cases = []
    for done, case in enumerate(scenario.cases):
        if on_case is not None:
            on_case(done, case.name)
        kind = CASE_KINDS[case.kind]
        start = time.perf_counter()
        row = kind.run(kind.with_defaults(case.params), context)
        cases.append({"name": case.name, "kind": case.kind, **row,
                      "wall_s": time.perf_counter() - start})
    return {
        "scenario": scenario.name,
        "source": scenario.source,
        "reference_device": describe_device(device),
        "environment": environment(),
        "cases": cases,
    }
