"""One lateral layer as drawn components: what a SPICE netlist holds and the ODE is checked on.

Node ``i`` is an inverting op-amp integrator: input source ``V_in,i = x_i·V_u`` through ``R_i``
into the summing node ``s_i``, capacitor ``C_i`` from ``s_i`` to the output ``o_i``, and the
op-amp (open-loop gain ``A_0``, optionally a single pole ``f_p``) drives ``V(o_i) = −A(s)·V(s_i)``.
The state is ``x̄_i = −V(o_i)/V_u``; an ideal inverter gives the copy ``V(p_i) = +x̄_i·V_u``.
Weight ``A_ij`` of the lateral matrix is a conductance pair from the device mapping:
``G⁺_ij`` from ``o_j`` and ``G⁻_ij`` from ``p_j`` into ``s_i``, with

    A_ij = R_i (G⁺_ij − G⁻_ij),      G^±_ij = s · w(g^±_ij) / R_i,

where ``g^±`` are the devices' programmed conductances (µS), ``w(·)`` the mapping's
conductance-to-weight map (:func:`neurodecorr.devices.mapping.to_weights`) and ``s`` the array's
weight scale. Each row is referenced to its node's own ``R_i``, as the simulator's mismatch
model assumes (mismatch changes ``τ_i = R_i C_i`` only, never the fixed point).

Kirchhoff's current law at ``s_i`` with ``V(s_i) = −V(o_i)/A(s)``, ``A(s) = A_0/(1 + s/ω_p)``
and ``ω_u = A_0 ω_p`` (the gain-bandwidth product), divided by ``V_u/R_i``:

    (τ_i/ω_u) d²x̄_i/dt² + τ'_i dx̄_i/dt = x_i − (A x̄)_i − λ_i x̄_i,
    τ'_i = τ_i (1 + 1/A_0) + β_i/ω_u,      λ_i = β_i / A_0,      β_i = R_i G_Σ,i,

with ``G_Σ,i = 1/R_i + Σ_j (G⁺_ij + G⁻_ij)`` every conductance at the summing node: ``β_i`` is
the node's noise gain. The simulator's model has ``λ = 1/A_0`` (``β_i = 1``: the conductances'
load is left out) and ``τ'_i = τ_i``; the difference of the fixed points is exactly

    x̄_circuit − x̄_model = −(A + Λ)⁻¹ (Λ − λ I) x̄_model,      Λ = diag(λ_i),

on the nodes that do not clip (see docs/chip.md). Without a pole (``ω_u = ∞``) the node equation
is first order and the circuit is ``τ'_i dx̄_i/dt = x_i − ((A + Λ) x̄)_i``.

With a pole the node is second order; its slow part follows, to first order in ``1/(τ ω_u)``,
``(T − M T⁻¹ (A + Λ)) dx̄/dt = x − (A + Λ) x̄`` with ``T = diag(τ'_i)``, ``M = diag(τ_i/ω_u)``,
from the start ``x̄_i(0) = −τ_i x_i/(ω_u τ'_i²)`` (the circuit starts at rest, ``dx̄/dt = 0``:
the fast mode at ``≈ ω_u`` delays the slow one by about ``1/ω_u``). The check keeps the
diagonal of ``M T⁻¹ (A + Λ)``; what it leaves is of order ``Σ_{j≠i} |A_ij| / (τ ω_u)``.

Rails: a behavioural clamp across ``C_i`` conducts ``g_clamp·(|V(o_i)| − r)`` (with the sign of
``V(o_i)``) once the output passes the rail ``r``, keeping the op-amp in its linear range: a node
at the rail stays there while its drive pushes outwards and leaves as soon as the drive reverses,
which is the simulator's projected dynamics. It overshoots the rail by the node's drive current
over ``g_clamp = CLAMP_GAIN/R_i`` (≈ 1e-5 of the rail).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from neurodecorr.errors import NeurodecorrError

#: open-loop gain written for an ideal op-amp (``opamp_gain = 0`` in a circuit description)
IDEAL_OPAMP_GAIN = 1.0e9
#: clamp conductance in units of the node's input conductance ``1/R_i``
CLAMP_GAIN = 1.0e5


@dataclass(frozen=True)
class SpiceCircuit:
    """The drawn components of one lateral layer and the input of one sample.

    Attributes
    ----------
    R_ohm, C_F : ndarray, shape (n,)
        Each node's input resistor and integrating capacitor, mismatch included.
    G_pos_S, G_neg_S : ndarray, shape (n, n)
        Conductance from output ``o_j`` (resp. inverted copy ``p_j``) into summing node ``s_i``.
    x : ndarray, shape (n,)
        The input held on the nodes (state units; gain register included).
    opamp_gain : float
        Open-loop gain ``A_0`` as written (:data:`IDEAL_OPAMP_GAIN` for an ideal op-amp).
    opamp_pole_Hz : float
        Single pole of the op-amp (0: none).
    rail_V : float
        Output rail (0: none).
    volts_per_unit : float
        ``V_u``: volts of one state unit.
    model_leak : float
        The simulator's leak ``λ = 1/A_0`` of the description (0 for an ideal op-amp).
    t_stop_s : float
        End of the transient analysis (the settle horizon).
    about : dict
        Where the circuit came from (description, device, seed, layer), for the netlist header.
    """

    R_ohm: np.ndarray
    C_F: np.ndarray
    G_pos_S: np.ndarray
    G_neg_S: np.ndarray
    x: np.ndarray
    opamp_gain: float
    opamp_pole_Hz: float
    rail_V: float
    volts_per_unit: float
    model_leak: float
    t_stop_s: float
    about: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.R_ohm.size

    @property
    def tau_s(self) -> np.ndarray:
        """``τ_i = R_i C_i``: the simulator's per-node time constants."""
        return self.R_ohm * self.C_F

    @property
    def matrix(self) -> np.ndarray:
        """``A_ij = R_i (G⁺_ij − G⁻_ij)``: the lateral matrix the conductances hold."""
        return self.R_ohm[:, None] * (self.G_pos_S - self.G_neg_S)

    @property
    def noise_gain(self) -> np.ndarray:
        """``β_i = 1 + R_i Σ_j (G⁺_ij + G⁻_ij)``."""
        return 1.0 + self.R_ohm * (self.G_pos_S + self.G_neg_S).sum(axis=1)

    @property
    def leak(self) -> np.ndarray:
        """``λ_i = β_i/A_0``: the circuit's leak of node ``i`` in units of ``1/τ'_i``."""
        return self.noise_gain / self.opamp_gain

    @property
    def effective_tau_s(self) -> np.ndarray:
        """``τ'_i = τ_i (1 + 1/A_0)``; with a pole, to first order in ``1/ω_u``,
        ``τ'_i = τ_i (1 + 1/A_0) + β_i/ω_u − τ_i (A + Λ)_ii/(ω_u τ'_i)`` (module docstring)."""
        tau = self.tau_s * (1.0 + 1.0 / self.opamp_gain)
        if self.opamp_pole_Hz > 0:
            w_u = 2 * math.pi * self.opamp_gain * self.opamp_pole_Hz
            tau = tau + self.noise_gain / w_u
            tau = tau - self.tau_s * np.diag(self.system_matrix) / (w_u * tau)
        return tau

    @property
    def initial_slip(self) -> np.ndarray:
        """Start of the first-order equation that tracks a circuit with a pole.

        ``x̄_i(0) = −τ_i x_i/(ω_u τ'_i²)``.

        The circuit starts with ``x̄ = 0`` and ``dx̄/dt = 0`` (the pole's capacitor is
        discharged); its fast mode (rate ``≈ ω_u``) dies out within a few ``1/ω_u`` and leaves the
        slow solution shifted by this amount: a delay of about ``1/ω_u``. Zero without a pole.
        """
        if self.opamp_pole_Hz <= 0:
            return np.zeros(self.n)
        w_u = 2 * math.pi * self.opamp_gain * self.opamp_pole_Hz
        return -self.tau_s * self.x / (w_u * self.effective_tau_s**2)

    @property
    def system_matrix(self) -> np.ndarray:
        """``A + Λ``: the circuit's matrix, finite-gain load included."""
        return self.matrix + np.diag(self.leak)

    @property
    def rail(self) -> float | None:
        """The rail in state units (None: no rails)."""
        return self.rail_V / self.volts_per_unit if self.rail_V > 0 else None

    def rates_per_s(self) -> np.ndarray:
        """Eigenvalues of ``diag(1/τ'_i) (A + Λ)`` in 1/s: the circuit's modes without rails."""
        return np.linalg.eigvals(self.system_matrix / self.effective_tau_s[:, None])

    @property
    def max_step_s(self) -> float:
        """Largest step of the transient: 50 per fastest mode, at most 2e5 over the horizon."""
        fastest = float(np.max(np.abs(self.rates_per_s())))
        return min(max(0.02 / fastest, self.t_stop_s / 2e5), self.t_stop_s / 100)

    def fixed_point(self) -> np.ndarray:
        """``(A + Λ)⁻¹ x``: the settled state when no node reaches a rail."""
        return np.linalg.solve(self.system_matrix, self.x)


def horizon(rates_per_s: np.ndarray, settle_tol: float, settle_window_s: float) -> float:
    """The transient's end: the description's ``settle_window_s``, else ``5·ln(1/tol)/min Re μ``
    (five times the time the slowest mode needs to shrink by ``tol``; ``tol ≥ 1e-6``)."""
    slowest = float(np.min(rates_per_s.real))
    if not slowest > 0:
        raise NeurodecorrError(f"lateral circuit is unstable: a mode has rate {slowest:.4g}/s "
                               "(needs a positive real part to settle)")
    if settle_window_s > 0:
        return float(settle_window_s)
    return 5.0 * math.log(1.0 / max(settle_tol, 1e-6)) / slowest
