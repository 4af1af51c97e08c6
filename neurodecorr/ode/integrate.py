"""``settle``: the one entry point and the one loop of the simulator (diffrax's ``diffeqsolve``).

What is integrated (a :class:`~neurodecorr.ode.term.LateralField`), how (a solver from
:mod:`neurodecorr.ode.solvers`), when to step (a controller from
:mod:`neurodecorr.ode.controllers`), when to stop (a
:class:`~neurodecorr.ode.criterion.SettleCriterion`) and what to keep (``t_eval``) are separate
choices; the answer is one :class:`~neurodecorr.ode.solution.SettleResult`. Every check of
what a combination can do reads the solvers' and controllers' declared capabilities.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.ode.controllers import ChebyshevCycle, ConstantStep, OptimalStep
from neurodecorr.ode.criterion import Monitor, SettleCriterion
from neurodecorr.ode.horizon import Horizon, plan_horizon, precision_warning
from neurodecorr.ode.results import Result
from neurodecorr.ode.solution import SettleResult
from neurodecorr.ode.solvers import RK4, Adaptive, Euler, EulerMaruyama, Exact, Solver
from neurodecorr.ode.stability import check_eigenvalues
from neurodecorr.ode.term import LateralField

#: method name -> (solver class, controller class or None for the solver's default)
METHODS = {
    "euler": (Euler, None),
    "rk4": (RK4, None),
    "exact": (Exact, None),
    "adaptive": (Adaptive, None),
    "euler-maruyama": (EulerMaruyama, None),
    "chebyshev": (Euler, ChebyshevCycle),
}


def _names(accepts) -> str:
    return " or ".join(name for name, (solver, controller) in METHODS.items()
                       if accepts(solver, controller))


def make_method(method: object, **options: object) -> tuple[Solver, object]:
    """A solver and its controller (None: the default) from a name in :data:`METHODS`, or an
    instance passed through. ``options`` go to the solver (``dt_s``, ``solver``, ...)."""
    if not isinstance(method, str):
        if options:
            raise NeurodecorrError("solver options given with a solver instance")
        return method, None
    if method not in METHODS:
        raise NeurodecorrError(f"method: unknown method '{method}'; choose one of: "
                               f"{', '.join(METHODS)}")
    solver_cls, controller_cls = METHODS[method]
    if options.get("dt_s") is not None and (solver_cls.adaptive or controller_cls):
        raise NeurodecorrError(f"dt: the {method} method chooses its own steps; use euler for "
                               "a fixed step")
    if solver_cls.adaptive or controller_cls:
        options.pop("dt_s", None)
    return solver_cls(**options), controller_cls() if controller_cls else None


def _controller(solver: Solver, controller: object, field: LateralField) -> object:
    """The controller that chooses the steps: the given one, a constant step, or the optimal."""
    if solver.adaptive:
        if controller is not None:
            raise NeurodecorrError(f"method {solver.label}: chooses its own steps; it takes no "
                                   "step-size controller")
        return None
    if controller is not None:
        if solver.dt_s is not None:
            raise NeurodecorrError("dt: a step-size controller chooses its own steps; give "
                                   "either dt or a controller")
        return controller
    dt = solver.dt_s if solver.dt_s is not None else solver.default_dt_s(field)
    return ConstantStep(dt) if dt is not None else OptimalStep()


def _check_capabilities(solver: Solver, controller: object, field: LateralField,
                        rng: object) -> None:
    """Refuse a combination the declarations rule out, naming the methods that fit."""
    label = getattr(controller, "label", None) or solver.label
    if field.noise_std > 0 and not solver.stochastic:
        raise NeurodecorrError(f"method {label}: a circuit with noise needs "
                               f"{_names(lambda s, c: s.stochastic)}")
    def usable() -> str:  # only for a message: a settle that goes ahead does not build it
        return _names(lambda s, c: not s.needs_exact_field and c is None)

    if solver.needs_exact_field and not field.exact:
        raise NeurodecorrError(f"method {label}: needs the ideal, noiseless circuit; use "
                               f"{usable()} with a device or noise")
    if getattr(controller, "noiseless_only", False) and field.noisy:
        raise NeurodecorrError(f"method {label}: needs a noiseless circuit (its large steps "
                               f"amplify noise); use {usable()}")
    if field.noise_std > 0 and rng is None:
        raise NeurodecorrError("seed: a noisy circuit needs a seed or a numpy Generator")


def _as_batch(x: object, y0: object, field: LateralField) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x)
    if x.ndim not in (1, 2) or x.shape[-1] != field.n:
        raise NeurodecorrError(f"x: shape {x.shape} does not match A of shape "
                               f"{field.A.shape}; expected (batch, {field.n}) or ({field.n},)")
    if not np.all(np.isfinite(x)):
        raise NeurodecorrError("x: contains NaN or infinite values")
    X = np.ascontiguousarray(np.atleast_2d(x), dtype=field.dtype)
    if y0 is None:
        return X, np.zeros_like(X)
    y0 = np.asarray(y0)
    if y0.shape != x.shape or not np.all(np.isfinite(y0)):
        raise NeurodecorrError(f"y0: must be finite with the shape of x {x.shape}, got "
                               f"{y0.shape}")
    return X, np.array(np.atleast_2d(y0), dtype=field.dtype, order="C")


# A trajectory is kept in memory; beyond this it is refused before any step is taken.
TRAJECTORY_LIMIT_BYTES = 2 * 2**30


def check_trajectory_size(n_times: int, n_states: int, n_samples: int, what: str = "t_eval"
                          ) -> None:
    """Refuse a trajectory of ``n_times`` × (``n_states`` states + one residual per sample)
    float64 values that would not fit in :data:`TRAJECTORY_LIMIT_BYTES`."""
    need = 8.0 * n_times * (n_states + n_samples)
    if need > TRAJECTORY_LIMIT_BYTES:
        raise NeurodecorrError(
            f"{what}: {n_times} times of {n_states} states need {need / 2**30:.3g} GiB "
            f"(limit {TRAJECTORY_LIMIT_BYTES / 2**30:.0f} GiB); ask for fewer times")


def _as_times(t_eval: object, Y: np.ndarray) -> np.ndarray | None:
    if t_eval is None:
        return None
    times = np.asarray(t_eval, dtype=np.float64)
    if (times.ndim != 1 or not np.all(np.isfinite(times)) or np.any(times < 0)
            or np.any(np.diff(times) < 0)):
        raise NeurodecorrError("t_eval: must be a 1-D array of finite, non-negative, "
                               "non-decreasing times (s)")
    check_trajectory_size(times.size, Y.size, Y.shape[0])
    return times


class _Trajectory:
    """States at the requested times, taken from each step's dense output as it passes."""

    def __init__(self, times: np.ndarray, Y: np.ndarray) -> None:
        self.times = times
        start = int(np.searchsorted(times, 0.0, side="right"))
        self.states = [np.repeat(Y[None].astype(np.float64), start, axis=0)]
        self.taken = start

    def take(self, stepper, t0: float, t1: float) -> None:
        upto = int(np.searchsorted(self.times, t1, side="right"))
        if upto > self.taken:
            self.states.append(stepper.states_at(self.times[self.taken:upto], t0, t1))
            self.taken = upto


def _loop(solver: Solver, cycle, horizon: Horizon, field: LateralField, X: np.ndarray,
          Y: np.ndarray, criterion: SettleCriterion, rng: np.random.Generator,
          trajectory: _Trajectory | None):
    """Step until settled, failed, or at the time limit or step budget (the one loop)."""
    stepper = solver.init(field, X, Y, rng, horizon.t_end_s, criterion.tol)
    monitor = Monitor(X, criterion)
    stop_when_settled = not field.noisy
    every = 1 if cycle is None or solver.cheap_residual else cycle.check_every
    if cycle is not None:
        # Python floats: numpy scalar arithmetic would cost more per step than a small step
        offsets = cycle.times(field.tau_s).tolist()
        steps_h = cycle.h.tolist()
        length, cycle_s = len(steps_h), offsets[-1]
    if trajectory is not None and cycle is not None:
        stepper.previous = np.empty_like(Y)
    k, t = 0, 0.0
    while True:
        ended = k == horizon.max_steps or (cycle is None and t >= horizon.t_end_s)
        if k % every == 0 or ended:
            result, newly = monitor.update(t, stepper.measure(t), stop_when_settled)
            if k:
                stepper.nfev += stepper.refine(newly, t, monitor)
            if result is not None:
                break
            if ended and _extend(cycle, monitor, k, criterion):
                # no contracting step exists: go on while the residual falls, to the budget
                horizon = Horizon(horizon.t_end_s, criterion.max_steps, True)
                ended = False
            if ended:
                if horizon.by_budget or (cycle is None and t < horizon.t_end_s):
                    result = Result.BUDGET
                else:
                    result = Result.HORIZON if field.noisy else Result.TIME_LIMIT
                break
        t_prev = t
        if cycle is None:
            stepper.step(t, None)
            t = stepper.t
            k += 1
        elif trajectory is None:
            # every step up to the next check or the step limit in one call: the stepper then
            # looks nothing up per step (the times are those the step-by-step branch computes)
            steps = range(k, min(k + every - k % every, horizon.max_steps))
            k += stepper.run([(j // length) * cycle_s + offsets[j % length] for j in steps],
                             [steps_h[j % length] for j in steps])
            t = (k // length) * cycle_s + offsets[k % length]
        else:
            stepper.step(t, steps_h[k % length])
            t = ((k + 1) // length) * cycle_s + offsets[(k + 1) % length]
            k += 1
        if stepper.failure is not None:
            result = Result.SOLVER_FAILED
            monitor.values.update(t=t, why=stepper.failure, solver=solver.label)
            break
        if trajectory is not None:
            trajectory.take(stepper, t_prev, t)
    if result.status >= 0:
        stepper.finish(t)
        rsq = stepper.final_rsq()
        if rsq is not None:
            result = monitor.recheck(rsq, result)
    monitor.values.update(t_end=horizon.t_end_s, max_steps=criterion.max_steps,
                          side="below" if monitor.worst < criterion.tol else "above")
    return result, monitor, stepper, k, t


def _extend(cycle, monitor: Monitor, k: int, criterion: SettleCriterion) -> bool:
    """Whether a run at its time limit goes on: only a plan that warned of non-normality, while
    the residual still falls and steps remain in the budget."""
    return (getattr(cycle, "warning", None) is not None and k < criterion.max_steps
            and monitor.worst < monitor.previous)


def settle(field: LateralField | np.ndarray, x: np.ndarray, method: object = "euler", *,
           controller: object = None, criterion: SettleCriterion | None = None,
           y0: np.ndarray | None = None, rng: np.random.Generator | int | None = None,
           t_eval: np.ndarray | None = None, **field_options: object) -> SettleResult:
    """Integrate ``τ dx̄/dt = x − A x̄ (− λx̄, + noise)`` from ``y0`` until it settles.

    Parameters
    ----------
    field : LateralField or array_like (n, n)
        The circuit; a bare matrix ``A`` is wrapped in a field built from ``field_options``
        (``tau_s``, ``leak``, ``noise_std``, ``dtype``, ``reader``).
    x : array_like, shape (batch, n) or (n,)
        Inputs held on the nodes.
    method : str or Solver
        A name in :data:`METHODS` (``euler``, ``rk4``, ``exact``, ``adaptive``,
        ``euler-maruyama``, ``chebyshev``) or a configured solver such as
        ``Euler(dt_s=1e-8)`` or ``Adaptive("BDF")``.
    controller : step-size controller, optional
        ``ConstantStep``, ``OptimalStep`` or ``ChebyshevCycle``; default: the method's
        (a constant step when the solver has ``dt_s``, else the optimal step).
    criterion : SettleCriterion, optional
        Tolerance, time limit, check interval and step budget.
    y0 : array_like, optional
        Initial states (default zero), the shape of ``x``.
    rng : Generator or int, optional
        Source of the circuit noise; required when the field has noise.
    t_eval : array_like, optional
        Times (s) at which to keep the states and the residual (see
        :class:`~neurodecorr.ode.solution.SettleResult`).

    Returns
    -------
    SettleResult
        ``y`` has the shape of ``x`` and the field's dtype.

    Raises
    ------
    NeurodecorrError
        For an unstable ``A`` (an eigenvalue with non-positive real part), a step beyond the
        method's stability limit, work beyond the step budget (naming its cause), a method
        that cannot integrate this field, mismatched shapes, non-finite inputs, or noise
        without a seed.
    """
    if not isinstance(field, LateralField):
        field = LateralField(field, **field_options)
    elif field_options:
        raise NeurodecorrError("field options given with a LateralField; set them on the field")
    solver, default_controller = make_method(method)
    criterion = criterion or SettleCriterion()
    X, Y = _as_batch(x, y0, field)
    times = _as_times(t_eval, Y)
    what = "A + leak*I" if field.leak else "A"
    if not field.exact:
        what += " (the effective matrix the device holds at the start of the settle)"
    check_eigenvalues(field.eigenvalues, what)
    controller = _controller(solver, controller or default_controller, field)
    _check_capabilities(solver, controller, field, rng)
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    cycle = None if controller is None else controller.plan(solver, field, criterion)
    label = getattr(controller, "label", None) or solver.label
    horizon = plan_horizon(field, criterion, solver, None if cycle is None else cycle.h,
                           1.0 if cycle is None else cycle.rho, label,
                           None if cycle is None else cycle.norm)
    warning = None if field.noisy else precision_warning(field, criterion.tol,
                                                         float(np.finfo(field.dtype).eps))
    warnings = [warning] if warning else []
    if warning and solver.adaptive:
        # the error control chases an unreachable tolerance step after step (BDF took 25 s
        # for 1000 steps at min Re μ = 1e-12 without getting below a residual of 0.3)
        raise NeurodecorrError(f"method {solver.label}: {warning}")
    trajectory = None if times is None else _Trajectory(times, Y)
    result, monitor, stepper, nsteps, t = _loop(solver, cycle, horizon, field, X, Y, criterion,
                                                rng, trajectory)
    if getattr(cycle, "warning", None) and result is not Result.SETTLED:
        warnings.append(cycle.warning)
    out = SettleResult(
        y=np.ascontiguousarray(stepper.Y).reshape(np.shape(x)), t=t, t_settle=monitor.t_settle,
        residual=monitor.residual, nsteps=nsteps, nfev=stepper.nfev, result=result,
        message=result.message(**monitor.values), method=label,
        dt_s=float("nan") if cycle is None else float(np.mean(cycle.h)) * field.tau_s,
        tol=criterion.tol, warnings=warnings)
    if trajectory is not None:
        _attach(out, trajectory, field, X, np.shape(x))
    return out


def _attach(out: SettleResult, trajectory: _Trajectory, field: LateralField, X: np.ndarray,
            shape: tuple) -> None:
    """Trajectory states and their residuals, ``‖x − (A + λI) x̄‖/‖x‖`` with the matrix the
    reader holds at the start of the settle (noiseless, float64)."""
    states = np.concatenate(trajectory.states)
    X64 = np.asarray(X, dtype=np.float64)
    R = X64[None] - states @ field.system_matrix.T
    norms = np.linalg.norm(X64, axis=1)
    out.t_eval = trajectory.times[:trajectory.taken]
    out.y_eval = states.reshape((len(states),) + shape)
    out.residual_eval = np.linalg.norm(R, axis=2) / np.where(norms > 0, norms, 1.0)
