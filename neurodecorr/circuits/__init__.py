"""The circuit-level simulator of the recurrent lateral dynamics and its on-line learning loop.

``settle(field, x, method)`` integrates ``τ dx̄/dt = x − A x̄`` (plus optional leak, noise and
device reads) to the fixed point ``x̄ = A⁻¹ x = M x``; :class:`OnlineLearner` interleaves settling
with the node-local update of ``A``.
"""

from neurodecorr.circuits.device import DeviceReader
from neurodecorr.circuits.field import LateralField
from neurodecorr.circuits.integrators import (
    METHODS,
    RK4,
    SOLVERS,
    Adaptive,
    Euler,
    EulerMaruyama,
    Exact,
    exact_solution,
)
from neurodecorr.circuits.readers import IdealReader
from neurodecorr.circuits.settling import SettleCriterion
from neurodecorr.circuits.simulate import make_integrator, settle
from neurodecorr.circuits.solution import SettleResult
from neurodecorr.circuits.stability import check_eigenvalues, max_stable_h, optimal_h

__all__ = [
    "METHODS", "RK4", "SOLVERS", "Adaptive", "DeviceReader", "Euler", "EulerMaruyama", "Exact",
    "IdealReader",
    "LateralField", "SettleCriterion", "SettleResult", "check_eigenvalues", "exact_solution",
    "make_integrator", "max_stable_h", "optimal_h", "settle",
]
