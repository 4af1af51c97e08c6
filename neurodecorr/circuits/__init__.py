"""The lateral circuit of a chip layer and its on-line learning loop.

The circuits package supplies the vector field — ideal, or read through devices with their
non-idealities (:mod:`~neurodecorr.circuits.device`, :mod:`~neurodecorr.circuits.lateral`) — and
settles it with :func:`neurodecorr.ode.settle` (re-exported here with the ODE names a circuit
user needs); :class:`OnlineLearner` interleaves settling with the node-local update of ``A``.
"""

from neurodecorr.ode import (
    METHODS,
    RK4,
    SOLVERS,
    Adaptive,
    Euler,
    EulerMaruyama,
    Exact,
    IdealReader,
    LateralField,
    SettleCriterion,
    SettleResult,
    check_eigenvalues,
    exact_solution,
    make_method,
    max_stable_h,
    optimal_h,
    settle,
)

__all__ = [
    "METHODS", "RK4", "SOLVERS", "Adaptive", "Euler", "EulerMaruyama", "Exact", "IdealReader",
    "LateralField", "SettleCriterion", "SettleResult", "check_eigenvalues", "exact_solution",
    "make_method", "max_stable_h", "optimal_h", "settle",
]
