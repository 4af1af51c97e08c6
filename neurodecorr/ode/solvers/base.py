"""What a solver declares and what its stepper does, as diffrax's ``AbstractSolver``.

A solver is a small object that says what it can do:

- ``adaptive``: it chooses its own steps (no step-size controller);
- ``needs_exact_field``: it uses the fixed matrix ``A`` itself (the exact solution, solve_ivp),
  so it cannot read through a device or integrate noise;
- ``stochastic``: it integrates the noise term ``σ dW`` (a noisy circuit needs one);
- ``stability_limited``: it is explicit, so a step beyond ``|R(−hμ)| < 1`` is unstable;
- ``cheap_residual``: measuring the residual costs no extra product (checked every step).

``init(field, X, Y, rng, t_end_s, tol)`` returns a *stepper* that owns the buffers of one settle:
``measure(t)`` returns the squared residual norms per sample, ``step(t, h)`` advances by
``h = dt/τ`` (adaptive steppers ignore ``h`` and set ``t`` themselves), ``run(ts, hs)`` takes
the steps between two residual checks in one call, ``finish(t)`` leaves the final states in
``Y``. The one settle loop (:mod:`neurodecorr.ode.integrate`) drives it.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.ode.stability import ray_limits


class Solver:
    """Base of the solvers; ``dt_s`` (seconds) gives a constant step, None lets the
    controller choose (the optimal step by default)."""

    name = "solver"
    adaptive = False
    needs_exact_field = False
    stochastic = False
    stability_limited = True
    cheap_residual = False

    def __init__(self, dt_s: float | None = None) -> None:
        if dt_s is not None and not (np.isfinite(dt_s) and dt_s > 0):
            raise NeurodecorrError(f"dt: must be positive, got {dt_s}")
        self.dt_s = dt_s

    @property
    def label(self) -> str:
        """The method's name in results and reports."""
        return self.name

    def amplification(self, z: np.ndarray) -> np.ndarray:
        """Stability function ``R(z)``: one step multiplies an eigen-mode μ by ``R(−hμ)``."""
        raise NotImplementedError

    def stable_limits(self, eigenvalues: np.ndarray) -> np.ndarray:
        """Per eigenvalue, the largest stable ``h``."""
        return ray_limits(self.amplification, eigenvalues)

    def default_dt_s(self, field) -> float | None:
        """A constant step the solver wants when neither ``dt_s`` nor a controller is given."""
        return None

    def init(self, field, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator,
             t_end_s: float, tol: float) -> Stepper:
        raise NotImplementedError


class Stepper:
    """The state of one solver over one settle (see the module docstring)."""

    def __init__(self, Y: np.ndarray) -> None:
        self.Y = Y
        self.nfev = 0
        self.t = 0.0
        #: a message when the solver itself failed (solve_ivp), else None
        self.failure: str | None = None
        #: the state before the last step, kept only when a trajectory is recorded
        self.previous: np.ndarray | None = None

    def measure(self, t: float) -> np.ndarray:
        raise NotImplementedError

    def step(self, t: float, h: float | None) -> None:
        if self.previous is not None:
            self.previous[...] = self.Y
        self.advance(t, h)

    def advance(self, t: float, h: float | None) -> None:
        raise NotImplementedError

    def run(self, ts: list[float], hs: list[float]) -> int:
        """Take the steps ``h = hs[i]`` from ``t = ts[i]`` in turn, as :meth:`step` does, and
        return how many were taken: all, or up to and including one that failed."""
        for taken, (t, h) in enumerate(zip(ts, hs, strict=True), 1):
            self.step(t, h)
            if self.failure is not None:
                return taken
        return len(ts)

    def states_at(self, times: np.ndarray, t0: float, t1: float) -> np.ndarray:
        """States at ``times`` inside the last step ``[t0, t1]``: linear interpolation (the
        dense output of Euler; first order for the others)."""
        w = ((np.asarray(times) - t0) / (t1 - t0))[:, None, None]
        return (1.0 - w) * self.previous + w * self.Y

    def refine(self, newly: np.ndarray, t: float, monitor) -> int:
        """Sharpen the settling times of the samples that settled in the last step; returns
        the product evaluations spent (none by default: times are those of the checks)."""
        return 0

    def finish(self, t: float) -> None:
        """Leave the states at ``t`` in ``Y``."""

    def final_rsq(self) -> np.ndarray | None:
        """Squared residual norms of the final ``Y``, for a stepper whose measured residual is
        not that of its states (None: the last measurement is)."""
        return None
