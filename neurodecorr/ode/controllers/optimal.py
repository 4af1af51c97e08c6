"""The constant step that contracts the slowest mode of the discrete iteration fastest."""

from __future__ import annotations

import numpy as np

from neurodecorr.ode.controllers.base import StepCycle
from neurodecorr.ode.stability import optimal_h, spectral_radius


class OptimalStep:
    """``h`` minimising ``max_μ |R(−h μ)|`` over the spectrum of ``A + λI``.

    For Euler with a real spectrum in ``[μ_min, μ_max]`` that is ``h = 2/(μ_min + μ_max)``,
    the optimal Richardson step (Saad, *Iterative Methods for Sparse Linear Systems*, 2nd ed.,
    §4.2), with contraction ``(κ − 1)/(κ + 1)`` per step.
    """

    noiseless_only = False

    def plan(self, solver, field, criterion) -> StepCycle:
        key = ("optimal", solver.name)
        if key not in field.plans:
            h = optimal_h(solver, field.eigenvalues)
            field.plans[key] = (h, spectral_radius(solver, h, field.eigenvalues))
        h, rho = field.plans[key]
        return StepCycle(np.array([h]), rho, int(criterion.check_every))
