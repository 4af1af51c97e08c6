"""One settle from files, as the ``settle`` command runs it: options, field, run, outputs.

:class:`SettleJob` holds the options and validates them on construction; :func:`run_settle_job`
loads ``A`` and ``X``, builds the field (ideal, through a device preset, or a whole circuit
description), settles it with :func:`neurodecorr.ode.settle`, and writes every output at
once (the settled states, and optionally the JSON report, the trajectory and its figure),
after checking every output up front. The JSON holds no wall time (same seed, same bytes);
the wall time is only printed.

The trajectory (``t``, ``xbar``, ``residual``) is kept at ``trajectory_points`` times evenly
spaced from 0 to the end of the settle: a first run finds the end, a second, identical run
(same seeds) keeps the states there, so the end point is the one an unrecorded run reaches.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import (
    check_outputs,
    json_bytes,
    load_array,
    npy_bytes,
    npz_bytes,
    write_outputs,
)
from neurodecorr.ode import DTYPES, METHODS, SOLVERS, LateralField, SettleCriterion, settle
from neurodecorr.ode.criterion import MAX_STEPS
from neurodecorr.ode.integrate import check_trajectory_size
from neurodecorr.ode.solution import SettleResult
from neurodecorr.provenance import with_versions

DRIFT_COMPENSATION = ("none", "global", "column")
#: options that a circuit description sets itself (option name -> its flag)
CIRCUIT_OWNS = {"method": "--method", "solver": "--solver", "tau_s": "--tau", "dt_s": "--dt",
                "leak": "--leak", "noise_std": "--noise-std", "check_every": "--check-every",
                "drift_compensation": "--drift-compensation", "max_time_s": "--max-time",
                "tol": "--tol"}


def _choice(value: str, allowed, what: str) -> None:
    if value not in allowed:
        raise NeurodecorrError(f"{what}: unknown value '{value}'; choose one of: "
                               f"{', '.join(allowed)}")


@dataclass(frozen=True)
class SettleJob:
    """The options of one settle (units in the names; see ``neurodecorr settle --help``).

    ``given`` names the options the user set explicitly, so that a circuit description can
    refuse the ones it sets itself.
    """

    method: str = "euler"
    solver: str = "RK45"
    tau_s: float = 1e-6
    dt_s: float | None = None
    tol: float = 1e-6
    max_time_s: float | None = None
    max_steps: int = MAX_STEPS
    leak: float = 0.0
    noise_std: float = 0.0
    check_every: int = 8
    dtype: str = "float64"
    seed: int = 0
    device: str | None = None
    age_s: float = 0.0
    drift_compensation: str = "none"
    circuit: str | None = None
    trajectory_points: int = 201
    given: frozenset = frozenset()

    def __post_init__(self) -> None:
        if self.circuit is not None:
            clash = [flag for name, flag in CIRCUIT_OWNS.items() if name in self.given]
            if clash:
                raise NeurodecorrError(f"--circuit: {', '.join(clash)} come from the circuit "
                                       f"file (settle_tol, dt_s, settle_window_s, R_ohm, C_F, "
                                       f"...); set them there instead")
        _choice(self.method, METHODS, "--method")
        _choice(self.solver, SOLVERS, "--solver")
        _choice(self.dtype, DTYPES, "--dtype")
        _choice(self.drift_compensation, DRIFT_COMPENSATION, "--drift-compensation")
        if not (np.isfinite(self.age_s) and self.age_s >= 0):
            raise NeurodecorrError(f"--time: must be a non-negative number of seconds, got "
                                   f"{self.age_s}")
        if self.age_s and self.device is None and self.circuit is None:
            raise NeurodecorrError("--time: the age of a programmed array needs --device or "
                                   "--circuit")
        for flag, value in (("--tau", self.tau_s), ("--dt", self.dt_s),
                            ("--max-time", self.max_time_s)):
            if value is not None and not (np.isfinite(value) and value > 0):
                raise NeurodecorrError(f"{flag}: must be positive, got {value}")
        if self.trajectory_points < 2:
            raise NeurodecorrError(f"--trajectory-points: must be at least 2, got "
                                   f"{self.trajectory_points}")


@dataclass
class SettleRun:
    """What the command prints: the result, the one-line summary, and the wall time."""

    result: SettleResult
    line: str
    wall_s: float


def _load(matrix_path, input_path) -> tuple[np.ndarray, np.ndarray]:
    A = load_array(matrix_path, "--matrix", ndim=(2,))
    X = load_array(input_path, "--input", ndim=(1, 2))
    if A.shape[0] != A.shape[1]:
        raise NeurodecorrError(f"--matrix: {matrix_path} has shape {A.shape}; A must be square")
    if X.shape[-1] != A.shape[0]:
        raise NeurodecorrError(f"--input: {input_path} has shape {X.shape}, which does not "
                               f"match A of shape {A.shape}")
    if X.size == 0:
        raise NeurodecorrError(f"--input: {input_path} holds no samples")
    return A, X


def _field_settle(job: SettleJob, A: np.ndarray, X: np.ndarray):
    """``run(t_eval) -> (states, result, report fields)`` for the job's field, and the
    circuit's name for the summary line."""
    if job.circuit is not None:
        return _circuit_settle(job, A, X)
    from neurodecorr.ode import make_method

    options = {"dt_s": job.dt_s, **({"solver": job.solver} if job.method == "adaptive" else {})}
    solver, controller = make_method(job.method, **options)
    criterion = SettleCriterion(tol=job.tol, max_time_s=job.max_time_s,
                                check_every=job.check_every, max_steps=job.max_steps)

    def run(t_eval):
        reader = None
        if job.device is not None:
            from neurodecorr.circuits.device import DeviceReader
            from neurodecorr.devices import load_device

            reader = DeviceReader(load_device(job.device), A,
                                  np.random.default_rng([job.seed, 1]), t_age_s=job.age_s,
                                  drift_compensation=job.drift_compensation)
        field = LateralField(A, tau_s=job.tau_s, leak=job.leak, noise_std=job.noise_std,
                             dtype=job.dtype, reader=reader)
        result = settle(field, X, solver, controller=controller, criterion=criterion,
                        rng=np.random.default_rng(job.seed), t_eval=t_eval)
        if result.status < 0:
            raise NeurodecorrError(f"settle failed: {result.message}")
        report = {"tau_s": job.tau_s, "tol": job.tol, "leak": job.leak,
                  "noise_std": job.noise_std, "device": job.device,
                  "age_s": job.age_s if job.device else None,
                  "drift_compensation": job.drift_compensation if job.device else None,
                  "device_counters": dict(reader.counters) if reader else None}
        return result.y, result, report

    return run, ""


def _circuit_settle(job: SettleJob, A: np.ndarray, X: np.ndarray):
    from neurodecorr.circuits.description import load_circuit
    from neurodecorr.circuits.lateral import LateralArray
    from neurodecorr.devices import load_device

    config = load_circuit(job.circuit)
    lat = config.lateral if job.device is None else dataclasses.replace(config.lateral,
                                                                       device=job.device)
    device = load_device(lat.device)

    def run(t_eval):
        array = LateralArray(lat, A, device, np.random.default_rng([job.seed, 1]),
                             dtype=job.dtype)
        Xbar, result = array.settle(np.atleast_2d(X), job.age_s, t_eval=t_eval,
                                    max_steps=job.max_steps)
        report = {"circuit": config.name, "circuit_file": config.path, "device": lat.device,
                  "tau_s": lat.tau_s, "node_tau_s": array.tau_i_s.tolist(), "leak": lat.leak,
                  "noise_std": lat.noise_std, "rail": lat.rail, "tol": lat.settle_tol,
                  "age_s": job.age_s, "device_counters": dict(array.crossbar.counters),
                  "integration_steps": int(array.node_updates)}
        return Xbar.astype(job.dtype).reshape(X.shape), result, report

    return run, f", circuit {config.name}"


def run_settle_job(job: SettleJob, matrix_path, input_path, out_path, json_path=None,
                   trajectory_path=None, plot_path=None) -> SettleRun:
    """Load, settle and write the outputs of one job; see the module docstring."""
    A, X = _load(matrix_path, input_path)
    check_outputs({"--out": out_path, "--json": json_path, "--trajectory": trajectory_path,
                   "--plot": plot_path}, inputs={"--matrix": matrix_path, "--input": input_path})
    if trajectory_path or plot_path:
        check_trajectory_size(job.trajectory_points, X.size, X.size // A.shape[0],
                              "--trajectory-points")
    run, where = _field_settle(job, A, X)
    start = time.perf_counter()
    states, result, report = run(None)
    if trajectory_path or plot_path:
        states, result, report = run(np.linspace(0.0, result.t, job.trajectory_points))
    wall_s = time.perf_counter() - start
    files = {out_path: npy_bytes(np.asarray(states))}
    if json_path:
        files[json_path] = json_bytes(with_versions({
            "command": "settle", "matrix": str(matrix_path), "input": str(input_path),
            "n": int(A.shape[0]), "batch": int(X.shape[0]) if X.ndim == 2 else 1,
            "dtype": job.dtype, "seed": job.seed, "max_steps": job.max_steps, **report,
            **result.summary()}))
    if trajectory_path:
        files[trajectory_path] = npz_bytes({"t": result.t_eval, "xbar": result.y_eval,
                                            "residual": result.residual_eval})
    if plot_path:
        from neurodecorr.ode.plot import transient_png

        files[plot_path] = transient_png(result)
    write_outputs(files)
    s = result.summary()
    line = (f"settle ({result.method}{where}): {s['steps']} steps, t = {s['t_final_s']:.4g} s, "
            f"max residual {s['residual_max']:.3g}, "
            f"{'settled' if result.success else 'NOT settled'} ({wall_s:.3f} s wall)")
    return SettleRun(result, line, wall_s)
