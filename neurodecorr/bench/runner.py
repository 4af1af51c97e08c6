"""Running a scenario: every case in turn, with progress, into one result document."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from threadpoolctl import threadpool_limits

from neurodecorr.bench.cases import CASE_KINDS
from neurodecorr.bench.environment import environment
from neurodecorr.bench.scenario import Scenario
from neurodecorr.errors import NeurodecorrError
from neurodecorr.reference import describe_device, resolve_device


def run_scenario(scenario: Scenario, reference: str = "auto", repeats: int = 3,
                 blas_threads: int | None = 1,
                 on_case: Callable[[int, str], None] | None = None) -> dict[str, Any]:
    """Run all cases; return ``{"scenario", "reference_device", "environment", "cases"}``.

    ``blas_threads`` caps the BLAS threads of every timing (``None``: the library's default).
    One thread is the default because at these matrix sizes a multi-threaded BLAS on a small or
    shared machine is erratic (80× slower per product was seen on 2 loaded cores), which would
    make the ratios measure the scheduler instead of the simulator.
    ``on_case(done, name)`` is called before each case with the number of cases finished.
    """
    device = resolve_device(reference)
    context = {"reference_device": device, "repeats": repeats, "blas_threads": blas_threads}
    limits = threadpool_limits(limits=blas_threads, user_api="blas") if blas_threads else None
    try:
        cases = _run_cases(scenario, context, on_case)
    finally:
        if limits is not None:
            limits.restore_original_limits()
    env = environment()
    env["blas_threads"] = blas_threads
    return {
        "scenario": scenario.name,
        "source": scenario.source,
        "reference_device": describe_device(device),
        "environment": env,
        "cases": cases,
    }


def _run_cases(scenario: Scenario, context: dict[str, Any],
               on_case: Callable[[int, str], None] | None) -> list[dict[str, Any]]:
    cases = []
    for done, case in enumerate(scenario.cases):
        if on_case is not None:
            on_case(done, case.name)
        kind = CASE_KINDS[case.kind]
        params = kind.with_defaults(case.params)
        start = time.perf_counter()
        try:
            row = kind.run(params, context)
        except NeurodecorrError as exc:
            # a refused case (an array that drifted unstable, say) is a result, not a crash:
            # record why and go on with the others
            row = {"device": params.get("device", "software"), "n": params.get("n"),
                   "batch": params.get("batch"), "error": str(exc)}
        cases.append({"name": case.name, "kind": case.kind, **row,
                      "wall_s": time.perf_counter() - start})
    return cases
