"""Integrators of the lateral circuit, one per module, chosen by name in :data:`METHODS`."""

from neurodecorr.circuits.integrators.adaptive import SOLVERS, Adaptive
from neurodecorr.circuits.integrators.base import FixedStepSolver
from neurodecorr.circuits.integrators.chebyshev import ChebyshevEuler
from neurodecorr.circuits.integrators.euler import Euler
from neurodecorr.circuits.integrators.euler_maruyama import EulerMaruyama
from neurodecorr.circuits.integrators.exact import Exact, exact_solution
from neurodecorr.circuits.integrators.rk4 import RK4

#: method name -> integrator class
METHODS = {
    "euler": Euler,
    "rk4": RK4,
    "exact": Exact,
    "adaptive": Adaptive,
    "euler-maruyama": EulerMaruyama,
    "chebyshev": ChebyshevEuler,
}

__all__ = ["METHODS", "SOLVERS", "RK4", "Adaptive", "ChebyshevEuler", "Euler", "EulerMaruyama",
           "Exact",
           "FixedStepSolver", "exact_solution"]
