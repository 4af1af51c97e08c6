"""Solvers of the lateral circuit, one per module; each declares its capabilities."""

from neurodecorr.ode.solvers.adaptive import SOLVERS, Adaptive
from neurodecorr.ode.solvers.base import Solver
from neurodecorr.ode.solvers.euler import Euler
from neurodecorr.ode.solvers.euler_maruyama import EulerMaruyama
from neurodecorr.ode.solvers.exact import Exact, exact_solution
from neurodecorr.ode.solvers.rk4 import RK4

__all__ = ["RK4", "SOLVERS", "Adaptive", "Euler", "EulerMaruyama", "Exact", "Solver",
           "exact_solution"]
