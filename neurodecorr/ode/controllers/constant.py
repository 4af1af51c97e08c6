"""A constant step: the user's ``dt``, checked against the solver's stability limit."""

from __future__ import annotations

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.ode.controllers.base import StepCycle
from neurodecorr.ode.stability import check_step, spectral_radius


class ConstantStep:
    """Every step is ``dt_s`` seconds (diffrax's ``ConstantStepSize``).

    A step at or beyond the solver's stability limit for the fastest mode is refused, naming
    that mode; a solver without a limit (the exact solution) takes any step.
    """

    noiseless_only = False

    def __init__(self, dt_s: float) -> None:
        if not (np.isfinite(dt_s) and dt_s > 0):
            raise NeurodecorrError(f"dt: must be positive, got {dt_s}")
        self.dt_s = float(dt_s)

    def plan(self, solver, field, criterion) -> StepCycle:
        # checked and measured once per field, solver and step: repeated settles of one field
        # (the bench's timed runs) then skip the spectral work
        key = ("constant", solver.name, self.dt_s)
        if key not in field.plans:
            if solver.stability_limited:
                check_step(solver, self.dt_s, field.tau_s, field.eigenvalues)
            h = self.dt_s / field.tau_s
            field.plans[key] = (h, spectral_radius(solver, h, field.eigenvalues))
        h, rho = field.plans[key]
        return StepCycle(np.array([h]), rho, int(criterion.check_every))
