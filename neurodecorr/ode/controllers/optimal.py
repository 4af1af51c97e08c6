"""The constant step that contracts the slowest mode of the discrete iteration fastest."""

from __future__ import annotations

import numpy as np

from neurodecorr.ode.contraction import contracting_step, is_contraction
from neurodecorr.ode.controllers.base import StepCycle
from neurodecorr.ode.stability import optimal_h, spectral_radius

#: why a settle at a non-contracting step may fail, added to its warnings when it does
NON_NORMAL = ("non-normal matrix: {name}'s step {h:.3g} tau is not a 2-norm contraction and the "
              "symmetric part is not positive definite, so the residual can grow before it "
              "falls; try method exact or adaptive")


def optimal_plan(solver, field) -> tuple[float, float, float | None, str | None]:
    """``(h, rho, norm, warning)`` of the optimal constant step, cached on the field.

    The eigen-optimal ``h`` (see :class:`OptimalStep`) when its iteration matrix contracts in
    the 2-norm (every normal matrix); otherwise the step of
    :func:`~neurodecorr.ode.contraction.contracting_step` with its norm, or, when no step is
    guaranteed to contract, the eigen-optimal step and a warning naming the non-normality
    (the settle then runs past its horizon while the residual still falls, and reports the
    warning only if it does not settle).
    """
    key = ("optimal", solver.name)
    if key not in field.plans:
        h = optimal_h(solver, field.eigenvalues)
        plan = (h, spectral_radius(solver, h, field.eigenvalues), None, None)
        if not is_contraction(solver, field, h):
            step = contracting_step(solver, field, h)
            if step is not None:
                plan = (step[0], spectral_radius(solver, step[0], field.eigenvalues), step[1],
                        None)
            else:
                plan = plan[:3] + (NON_NORMAL.format(name=solver.name, h=h),)
        field.plans[key] = plan
    return field.plans[key]


class OptimalStep:
    """``h`` minimising ``max_μ |R(−h μ)|`` over the spectrum of ``A + λI``.

    For Euler with a real spectrum in ``[μ_min, μ_max]`` that is ``h = 2/(μ_min + μ_max)``,
    the optimal Richardson step (Saad, *Iterative Methods for Sparse Linear Systems*, 2nd ed.,
    §4.2), with contraction ``(κ − 1)/(κ + 1)`` per step. For a non-normal matrix whose
    iteration at that step is not a 2-norm contraction, a smaller step that is one
    (:mod:`neurodecorr.ode.contraction`).
    """

    noiseless_only = False

    def plan(self, solver, field, criterion) -> StepCycle:
        h, rho, norm, warning = optimal_plan(solver, field)
        return StepCycle(np.array([h]), rho, int(criterion.check_every), norm, warning)
