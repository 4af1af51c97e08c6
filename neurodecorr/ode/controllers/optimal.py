"""The constant step that contracts the slowest mode of the discrete iteration fastest."""

from __future__ import annotations

import numpy as np

from neurodecorr.ode.contraction import contracting_step, is_contraction
from neurodecorr.ode.controllers.base import StepCycle
from neurodecorr.ode.horizon import exact_cycles
from neurodecorr.ode.stability import optimal_h, spectral_radius

#: why a settle at a non-contracting step may fail, added to its warnings when it does
NON_NORMAL = ("non-normal matrix: {name}'s step {h:.3g} tau is not a 2-norm contraction and the "
              "symmetric part is not positive definite, so the residual can grow before it "
              "falls; try method exact or adaptive")


#: the largest transient growth ``max_k ‖G^k‖_F`` of the residual accepted at the eigen-optimal
#: step of a non-normal matrix: it multiplies the rounding and the circuit noise of the early
#: steps, and the residual stays five orders below ``SettleCriterion.growth_limit``
PEAK_LIMIT = 10.0


def optimal_plan(solver, field, tol: float | None = None
                 ) -> tuple[float, float, float | None, str | None]:
    """``(h, rho, norm, warning)`` of the optimal constant step, cached on the field.

    The eigen-optimal ``h`` (see :class:`OptimalStep`) when its iteration matrix contracts in
    the 2-norm (every normal matrix), or, given ``tol``, when the exact powers of its
    iteration matrix reach ``tol`` (:func:`~neurodecorr.ode.horizon.exact_cycles`: the
    horizon then counts them, transient growth included); otherwise the step of
    :func:`~neurodecorr.ode.contraction.contracting_step` with its norm, or, when no step is
    guaranteed to contract, the eigen-optimal step and a warning naming the non-normality
    (the settle then runs past its horizon while the residual still falls, and reports the
    warning only if it does not settle).

    Why the exact powers come first: the contracting step is ``ω/σ²`` at worst (``ω`` the
    smallest eigenvalue of the symmetric part), which vanishes as ``ω → 0⁺`` while the
    circuit's own speed, ``min Re μ``, does not. A 64-node ReRAM lateral array (``min Re μ``
    = 0.50, spread 10.5) got a step about 400 times below the eigen-optimal one and a
    horizon of 9 × 10⁵ steps, over the budget; its eigen-optimal iteration reaches ``tol``
    in tens of steps.
    """
    key = ("optimal", solver.name, tol)
    if key not in field.plans:
        h = optimal_h(solver, field.eigenvalues)
        plan = (h, spectral_radius(solver, h, field.eigenvalues), None, None)
        if not is_contraction(solver, field, h) and not _powers_settle(solver, field, h, tol):
            step = contracting_step(solver, field, h)
            if step is not None:
                plan = (step[0], spectral_radius(solver, step[0], field.eigenvalues), step[1],
                        None)
            else:
                plan = plan[:3] + (NON_NORMAL.format(name=solver.name, h=h),)
        field.plans[key] = plan
    return field.plans[key]


def _powers_settle(solver, field, h: float, tol: float | None) -> bool:
    """Whether the exact powers of the step's iteration matrix reach ``tol`` with a transient
    peak of at most :data:`PEAK_LIMIT` (:func:`~neurodecorr.ode.horizon.exact_cycles`)."""
    if tol is None:
        return False
    exact = exact_cycles(solver, field, np.array([h]), tol)
    return exact is not None and exact[1] <= PEAK_LIMIT


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
        h, rho, norm, warning = optimal_plan(solver, field, criterion.tol)
        return StepCycle(np.array([h]), rho, int(criterion.check_every), norm, warning)
