"""The shared loop of the fixed-step integrators (Euler, RK4, Euler–Maruyama).

A fixed-step method supplies a *stepper* with two operations on its preallocated buffers:
``measure(t)`` evaluates the vector field at the current state and returns the squared residual
norms per sample (the product it needs for the next step anyway), and ``step(t)`` advances one
step of ``dt``, reusing a measured product. The loop measures every ``check_every`` steps and at
the time limit, so each unmeasured step costs exactly its matrix products plus one fused pass.
"""

from __future__ import annotations

import math

import numpy as np

from neurodecorr.circuits.field import LateralField
from neurodecorr.circuits.settling import Monitor, SettleCriterion, default_max_time
from neurodecorr.circuits.solution import FAILED, SETTLED, TIME_LIMIT, SettleResult
from neurodecorr.circuits.stability import check_step, optimal_h, spectral_radius
from neurodecorr.errors import NeurodecorrError


def require_exact_field(field: LateralField, method: str) -> None:
    """Refuse a device-read or noisy circuit for a method that needs the fixed ideal matrix."""
    if not field.ideal or field.noisy:
        raise NeurodecorrError(f"method {method}: needs the ideal, noiseless circuit; use "
                               "euler, rk4 or euler-maruyama with a device or noise")


class FixedStepSolver:
    """Base class: a fixed step ``dt_s`` (seconds), chosen from the spectrum when None.

    Parameters
    ----------
    dt_s : float, optional
        Step in seconds. Refused when at or beyond the stability limit of the fastest mode;
        when None, the step minimising the per-step contraction ``max |R(−h μ)|`` is used.
    """

    name = "fixed-step"

    def __init__(self, dt_s: float | None = None) -> None:
        if dt_s is not None and not (np.isfinite(dt_s) and dt_s > 0):
            raise NeurodecorrError(f"dt: must be positive, got {dt_s}")
        self.dt_s = dt_s

    def resolve_dt(self, field: LateralField) -> float:
        """The step to use: the user's (checked against stability) or the optimal one."""
        if self.dt_s is None:
            return optimal_h(self.name, field.eigenvalues) * field.tau_s
        check_step(self.name, self.dt_s, field.tau_s, field.eigenvalues)
        return float(self.dt_s)

    def plan(self, field: LateralField, criterion: SettleCriterion) -> tuple[float, float, int]:
        """Step (s), time limit (s) and step limit of a settle of ``field`` under ``criterion``.

        Without a time limit the default is five times the time the slowest mode of the
        discrete iteration (contraction ``max |R(−h μ)|`` per step) needs to shrink by ``tol``.
        """
        dt = self.resolve_dt(field)
        max_time = criterion.max_time_s
        if max_time is None:
            rho = spectral_radius(self.name, dt / field.tau_s, field.eigenvalues)
            max_time = default_max_time(criterion.tol, -math.log(max(rho, 1e-300)) / dt)
        return dt, max_time, max(1, math.ceil(max_time / dt - 1e-9))

    def stepper(self, field: LateralField, X: np.ndarray, Y: np.ndarray, h: float,
                dt_s: float, rng: np.random.Generator):
        raise NotImplementedError

    def run(self, field: LateralField, X: np.ndarray, Y: np.ndarray,
            criterion: SettleCriterion, rng: np.random.Generator) -> SettleResult:
        """Integrate ``Y`` (in place) from t = 0 until settled, failed or at the time limit."""
        dt, max_time, max_steps = self.plan(field, criterion)
        stepper = self.stepper(field, X, Y, dt / field.tau_s, dt, rng)
        monitor = Monitor(X, criterion)
        stop_when_settled = not field.noisy
        every = criterion.check_every
        step, status = 0, None
        while True:
            t = step * dt
            if step % every == 0 or step == max_steps:
                status = monitor.update(t, stepper.measure(t), stop_when_settled)
                if status is not None:
                    break
                if step == max_steps:
                    status = SETTLED if np.max(monitor.residual) < criterion.tol else TIME_LIMIT
                    break
            stepper.step(t)
            step += 1
        worst = float(np.max(monitor.residual))
        if status == FAILED:
            message = monitor.message
        elif field.noisy:
            message = (f"noisy circuit integrated to its horizon t = {t:.4g} s; max residual "
                       f"{worst:.3g} ({'below' if status == SETTLED else 'above'} tol "
                       f"{criterion.tol:.3g})")
        elif status == TIME_LIMIT:
            message = (f"time limit {max_time:.4g} s reached; max residual {worst:.3g} > tol "
                       f"{criterion.tol:.3g}")
        else:
            message = monitor.message
        return SettleResult(y=Y, t=t, t_settle=monitor.t_settle, residual=monitor.residual,
                            nsteps=step, nfev=stepper.nfev, status=status, message=message,
                            method=self.name, dt_s=dt)
