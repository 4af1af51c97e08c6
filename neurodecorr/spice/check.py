"""``spice_check``: the netlist in ngspice against the ODE simulator on the same drawn circuit.

Three answers for one circuit and one input sample, all with circuit noise off (no thermal noise,
no read noise, no converters: the netlist is the analogue core):

* **ngspice** runs the netlist of :mod:`neurodecorr.spice.netlist`;
* **the ODE, corrected**: the simulator's settle (:func:`neurodecorr.circuits.settle`, Euler,
  rails as projected dynamics) on ``τ'_i dx̄_i/dt = x_i − ((A + Λ) x̄)_i``, the circuit's
  first-order equation with the finite-gain load ``Λ`` and time constants ``τ'_i`` of
  :mod:`neurodecorr.spice.circuit`; its transient is sampled on a uniform grid;
* **the ODE as modelled**: the simulator's own description of the same circuit (leak
  ``λ = 1/A_0``, ``τ_i = R_i C_i``) over the same horizon, whose settled difference from
  ngspice is the closed-form finite-gain offset (the comparison of the fixed points needs a
  horizon that settles, as the default one does).

Errors are relative: the transient error is ``max_{t,i} |x̄ˢᵖⁱᶜᵉ_i(t) − x̄ᴼᴰᴱ_i(t)|`` over the
range ``max x̄ᴼᴰᴱ − min x̄ᴼᴰᴱ`` of all nodes and times (the state starts at 0); settled errors are
``max_i |Δ_i| / max_i |x̄_i|`` at the end of the horizon. The settling time of either trajectory
is the time after which ``max_i |x̄_i(t) − x̄_i(T)| ≤ tol · max_i |x̄_i(T)|`` (crossing
interpolated linearly between samples).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.spice.circuit import SpiceCircuit
from neurodecorr.spice.netlist import output_vectors, write_netlist
from neurodecorr.spice.ngspice import run_ngspice

#: samples of the ODE transient over the horizon
GRID_POINTS = 500
#: Euler step times the fastest rate: the transient's discretisation error is below
#: 0.2 · this (of the state's range), far inside the 1 % the check asks for
EULER_H = 2e-3
#: refuse a transient that would need more Euler steps than this (minutes of work)
MAX_EULER_STEPS = 5_000_000


@dataclass
class SpiceCheck:
    """The comparison of one circuit (see the module docstring).

    Attributes
    ----------
    t_s : ndarray, shape (T,)
        The uniform grid of the ODE transient.
    xbar_spice, xbar_ode : ndarray, shape (T, n)
        ngspice's states (interpolated onto the grid) and the corrected ODE's.
    t_spice_s : ndarray, shape (T_spice,)
        ngspice's own time points.
    xbar_spice_native : ndarray, shape (T_spice, n)
        ngspice's states at its own time points.
    xbar_model : ndarray, shape (n,)
        The state at the end of the horizon of the simulator's own model of the description.
    predicted_offset : ndarray, shape (n,)
        ``−(A + Λ)⁻¹ (Λ − λI) x̄_model`` on the nodes inside the rails (0 at a rail).
    transient_error, settled_error : float
        ngspice against the corrected ODE.
    settled_error_model : float
        ngspice against the ODE as modelled (the finite-gain offset, uncorrected).
    offset_error : float
        ``max_i |(x̄ˢᵖⁱᶜᵉ − x̄_model) − predicted_offset|_i / max_i |x̄|``: how well the closed
        form explains that offset.
    fixed_point_error : float or None
        ngspice against ``(A + Λ)⁻¹ x`` (None when a node ends at a rail).
    settling_time_spice_s, settling_time_ode_s : float
        Settling times to ``settle_tol`` (NaN: not settled within the horizon).
    settle_tol : float
    clipped : int
        Nodes at a rail at the end.
    wall_spice_s, wall_ode_s : float
    """

    circuit: SpiceCircuit
    t_s: np.ndarray
    xbar_spice: np.ndarray
    xbar_ode: np.ndarray
    t_spice_s: np.ndarray
    xbar_spice_native: np.ndarray
    xbar_model: np.ndarray
    predicted_offset: np.ndarray
    transient_error: float
    settled_error: float
    settled_error_model: float
    offset_error: float
    fixed_point_error: float | None
    settling_time_spice_s: float
    settling_time_ode_s: float
    settle_tol: float
    clipped: int
    wall_spice_s: float
    wall_ode_s: float

    def summary(self) -> dict:
        """Plain numbers for a JSON report (no wall times: the same circuit gives the same file)."""
        c = self.circuit
        return {
            "n": c.n, **c.about, "opamp_gain": c.opamp_gain, "opamp_pole_Hz": c.opamp_pole_Hz,
            "rail_V": c.rail_V, "volts_per_unit": c.volts_per_unit, "t_stop_s": c.t_stop_s,
            "max_step_s": c.max_step_s, "spice_points": int(self.t_spice_s.size),
            "ode_points": int(self.t_s.size), "clipped_nodes": self.clipped,
            "transient_error": self.transient_error, "settled_error": self.settled_error,
            "settled_error_model": self.settled_error_model, "offset_error": self.offset_error,
            "fixed_point_error": self.fixed_point_error,
            "settling_time_spice_s": self.settling_time_spice_s,
            "settling_time_ode_s": self.settling_time_ode_s, "settle_tol": self.settle_tol,
            "noise_gain": c.noise_gain.tolist(), "leak_circuit": c.leak.tolist(),
            "leak_model": c.model_leak, "tau_s": c.tau_s.tolist(),
            "effective_tau_s": c.effective_tau_s.tolist(),
            "xbar_spice_final": self.xbar_spice[-1].tolist(),
            "xbar_ode_final": self.xbar_ode[-1].tolist(), "xbar_model": self.xbar_model.tolist(),
            "predicted_offset": self.predicted_offset.tolist(),
        }

    def table(self) -> str:
        """The comparison as an aligned text table."""
        fp = "-" if self.fixed_point_error is None else f"{self.fixed_point_error:.3g}"
        rows = [
            ("transient error (of the state's range)", f"{self.transient_error:.3g}"),
            ("settled error (finite-gain corrected)", f"{self.settled_error:.3g}"),
            ("settled error (ODE as modelled, uncorrected)", f"{self.settled_error_model:.3g}"),
            ("  minus the closed-form offset", f"{self.offset_error:.3g}"),
            ("settled error against (A + Lambda)^-1 x", fp),
            (f"settling time to {self.settle_tol:g}, ngspice", _time(self.settling_time_spice_s)),
            (f"settling time to {self.settle_tol:g}, ODE", _time(self.settling_time_ode_s)),
            ("nodes at a rail", str(self.clipped)),
            ("time points ngspice / ODE", f"{self.t_spice_s.size} / {self.t_s.size}"),
            ("wall time ngspice / ODE", f"{self.wall_spice_s:.2f} s / {self.wall_ode_s:.2f} s"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _time(t_s: float) -> str:
    return "not settled" if not math.isfinite(t_s) else f"{t_s * 1e6:.4g} us"


def _circuit_field(A: np.ndarray, tau_i_s: np.ndarray, leak: float, rail: float | None,
                   x: np.ndarray):
    """The simulator's lateral circuit: per-node time constants, leak and rails around ``A``
    (as :meth:`neurodecorr.circuits.lateral.LateralArray.field` builds it, with an ideal read)."""
    from neurodecorr.circuits import LateralField
    from neurodecorr.circuits.lateral import CircuitReader

    tau = float(np.mean(tau_i_s))
    rate = tau / tau_i_s
    U = np.ascontiguousarray((rate * x)[None, :])
    ideal = LateralField(np.ascontiguousarray(A)).reader  # the exact product A x̄
    reader = CircuitReader(ideal, rate, leak, rail, U)
    return LateralField(reader.matrix(0.0), tau_s=tau, reader=reader)


def ode_transient(field, times_s: np.ndarray, y0: np.ndarray) -> np.ndarray:
    """States of ``field`` from ``y0`` at ``times_s`` (starting at 0): one settle by forward
    Euler with ``h·max|μ| = EULER_H`` over ``times_s[-1]``, no settling criterion, the
    trajectory kept at ``times_s`` (``t_eval``)."""
    from neurodecorr.circuits import Euler, SettleCriterion, settle

    U = field.reader.U
    fastest = float(np.max(np.abs(field.eigenvalues))) / field.tau_s
    t_end = float(times_s[-1])
    steps = math.ceil(t_end * fastest / EULER_H)
    if steps > MAX_EULER_STEPS:
        raise NeurodecorrError(f"ODE transient: {steps:.3g} Euler steps for a horizon of "
                               f"{t_end:.4g} s (the fastest mode needs dt = "
                               f"{EULER_H / fastest:.3g} s); give a shorter --t-stop")
    dt = t_end / steps
    # half a step past the end: the last step's rounding must not stop it short of t_end
    criterion = SettleCriterion(tol=0.0, max_time_s=t_end + 0.5 * dt, growth_limit=math.inf,
                                max_steps=steps + 2)
    Y0 = np.asarray(y0, dtype=U.dtype).reshape(U.shape)
    result = settle(field, U, Euler(dt_s=dt), criterion=criterion, y0=Y0, t_eval=times_s)
    if result.status < 0 or result.y_eval.shape[0] != times_s.size:
        raise NeurodecorrError(f"ODE transient failed: {result.message}")
    return np.asarray(result.y_eval, dtype=np.float64)[:, 0, :]


def settling_time(t_s: np.ndarray, X: np.ndarray, tol: float) -> float:
    """Time after which ``max_i |X_i(t) − X_i(T)| ≤ tol · max_i |X_i(T)|``.

    NaN when that happens only in the last sampling interval (not settled within the horizon).
    """
    final = X[-1]
    scale = float(np.max(np.abs(final))) or 1.0
    err = np.max(np.abs(X - final), axis=1) / scale
    outside = np.flatnonzero(err > tol)
    if outside.size == 0:
        return float(t_s[0])
    k = int(outside[-1])
    if k >= t_s.size - 2:
        # still moving in the last interval: the end state is not a settled one
        return math.nan
    # linear crossing of tol between the last sample outside and the next (inside) one
    frac = (err[k] - tol) / (err[k] - err[k + 1])
    return float(t_s[k] + frac * (t_s[k + 1] - t_s[k]))


def finite_gain_offset(c: SpiceCircuit, xbar_model: np.ndarray) -> np.ndarray:
    """``x̄_circuit − x̄_model = −(A + Λ)⁻¹ (Λ − λI) x̄_model`` on the nodes inside the rails.

    Both fixed points solve their equations on the free nodes F with the clipped ones at the
    rail: ``(A + Λ)_FF x̄_F = x_F − A_FC r_C`` and ``(A + λI)_FF x̄'_F = x_F − A_FC r_C``;
    subtracting gives the closed form on F (clipped nodes coincide).
    """
    rail = c.rail
    free = (np.ones(c.n, dtype=bool) if rail is None
            else np.abs(xbar_model) < rail * (1 - 1e-9))
    offset = np.zeros(c.n)
    if free.any():
        S = c.system_matrix[np.ix_(free, free)]
        extra = (c.leak - c.model_leak)[free] * xbar_model[free]
        offset[free] = -np.linalg.solve(S, extra)
    return offset


def _relative(delta: np.ndarray, reference: np.ndarray) -> float:
    scale = float(np.max(np.abs(reference))) or 1.0
    return float(np.max(np.abs(delta)) / scale)


def spice_check(c: SpiceCircuit, executable: str = "ngspice", settle_tol: float = 1e-3,
                timeout_s: float = 600.0) -> SpiceCheck:
    """Simulate ``c`` in ngspice and with the ODE simulator; compare (module docstring).

    Raises
    ------
    NeurodecorrError
        When ngspice is missing or fails, or an ODE settle fails.
    """
    if not (0 < settle_tol < 1):
        raise NeurodecorrError(f"settle_tol: must lie in (0, 1), got {settle_tol}")
    start = time.perf_counter()
    raw = run_ngspice(write_netlist(c), executable, timeout_s)
    wall_spice = time.perf_counter() - start
    t_sp = raw["time"]
    X_sp = -np.stack([raw[v] for v in output_vectors(c.n)], axis=1) / c.volts_per_unit

    start = time.perf_counter()
    grid = np.linspace(0.0, c.t_stop_s, GRID_POINTS + 1)
    corrected = _circuit_field(c.system_matrix, c.effective_tau_s, 0.0, c.rail, c.x)
    X_ode = ode_transient(corrected, grid, c.initial_slip)
    model = _circuit_field(c.matrix, c.tau_s, c.model_leak, c.rail, c.x)
    xbar_model = ode_transient(model, np.array([0.0, c.t_stop_s]), np.zeros(c.n))[-1]
    wall_ode = time.perf_counter() - start

    X_grid = np.stack([np.interp(grid, t_sp, X_sp[:, i]) for i in range(c.n)], axis=1)
    span = float(np.max(X_ode) - np.min(X_ode)) or 1.0
    final_sp, final_ode = X_sp[-1], X_ode[-1]
    offset = finite_gain_offset(c, xbar_model)
    rail = c.rail
    clipped = 0 if rail is None else int(np.sum(np.abs(final_ode) >= rail * (1 - 1e-6)))
    fixed_point_error = (_relative(final_sp - c.fixed_point(), final_sp) if clipped == 0
                         else None)
    return SpiceCheck(
        circuit=c, t_s=grid, xbar_spice=X_grid, xbar_ode=X_ode, t_spice_s=t_sp,
        xbar_spice_native=X_sp, xbar_model=xbar_model, predicted_offset=offset,
        transient_error=float(np.max(np.abs(X_grid - X_ode)) / span),
        settled_error=_relative(final_sp - final_ode, final_ode),
        settled_error_model=_relative(final_sp - xbar_model, xbar_model),
        offset_error=_relative(final_sp - xbar_model - offset, xbar_model),
        fixed_point_error=fixed_point_error,
        settling_time_spice_s=settling_time(t_sp, X_sp, settle_tol),
        settling_time_ode_s=settling_time(grid, X_ode, settle_tol),
        settle_tol=settle_tol, clipped=clipped, wall_spice_s=wall_spice, wall_ode_s=wall_ode)
