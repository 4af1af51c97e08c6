"""ODE numerics of the lateral circuit, apart from the chip (in the layout of diffrax).

- the vector field and its reader protocol: :mod:`~neurodecorr.ode.term`;
- solvers, one per module, declaring what they can do: :mod:`~neurodecorr.ode.solvers`;
- step-size controllers (constant, optimal, Chebyshev cycle): :mod:`~neurodecorr.ode.controllers`;
- when to stop and how far to go: :mod:`~neurodecorr.ode.criterion`,
  :mod:`~neurodecorr.ode.horizon`;
- the one loop, :func:`settle`, and its result: :mod:`~neurodecorr.ode.integrate`,
  :mod:`~neurodecorr.ode.solution`, :mod:`~neurodecorr.ode.results`.

The circuits package supplies fields (ideal, or read through devices) and calls :func:`settle`.
"""

from neurodecorr.ode.controllers import ChebyshevCycle, ConstantStep, OptimalStep
from neurodecorr.ode.criterion import MAX_STEPS, SettleCriterion
from neurodecorr.ode.integrate import METHODS, make_method, settle
from neurodecorr.ode.results import Result
from neurodecorr.ode.solution import SettleResult
from neurodecorr.ode.solvers import (
    RK4,
    SOLVERS,
    Adaptive,
    Euler,
    EulerMaruyama,
    Exact,
    Solver,
    exact_solution,
)
from neurodecorr.ode.stability import check_eigenvalues, max_stable_h, optimal_h
from neurodecorr.ode.term import DTYPES, IdealReader, LateralField, Reader

__all__ = [
    "DTYPES", "MAX_STEPS", "METHODS", "RK4", "SOLVERS", "Adaptive", "ChebyshevCycle",
    "ConstantStep", "Euler", "EulerMaruyama", "Exact", "IdealReader", "LateralField",
    "OptimalStep", "Reader", "Result", "SettleCriterion", "SettleResult", "Solver",
    "check_eigenvalues", "exact_solution", "make_method", "max_stable_h", "optimal_h", "settle",
]
