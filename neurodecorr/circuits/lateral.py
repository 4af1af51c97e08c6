"""The lateral decorrelation circuit of one chip layer, built from a circuit description.

Each node ``i`` is an op-amp RC integrator with its own time constant ``τ_i = R_i C_i``
(component mismatch), finite gain (leak ``λ``), output rails ``±r`` and thermal noise:

    τ_i dx̄_i/dt = u_i − (A x̄)_i − λ x̄_i + noise,      |x̄_i| ≤ r.

``A`` is read through a crossbar of analogue devices (:class:`neurodecorr.devices.Crossbar`).
The simulator's vector field has one time constant, so the circuit is written in the
equivalent form with the nominal ``τ`` and ``D = diag(τ/τ_i)``:

    τ dx̄/dt = D u − D (A + λI) x̄,

which has the same trajectories and the same fixed point ``(A + λI)⁻¹ u``; its stability and
speed are set by the eigenvalues of ``D (A + λI)`` (mismatch does not move the fixed point, it
changes the dynamics). :class:`CircuitReader` supplies ``D (A + λI) x̄`` to the integrators.

Rails: an op-amp output cannot leave ``±r``. The reader clips the held state to the rails
whenever the circuit is evaluated (every step of Euler and Euler–Maruyama), and a node pinned
at a rail whose drive pushes it further out does not move: its residual is zero (projected
dynamics). The fixed point is then the complementarity solution: nodes strictly inside the
rails satisfy ``(u − (A + λI) x̄)_i = 0``, saturated nodes sit exactly at ``±r``.

Thermal noise enters with the nominal node's density (``noise_std`` of
:class:`~neurodecorr.circuits.description.LateralCircuit`); mismatch changes each node's noise
amplitude by its relative ``τ`` deviation (about ``mismatch_sigma_rel``), which is neglected.

The global gain of the ``ahmad`` rule is a digital register ``G`` multiplying the input:
``x̄ = (Ã/G)⁻¹ x = Ã⁻¹ (G x)``, so the conductances hold ``Ã = G·A`` and are never rescaled
(see :meth:`LateralArray.learn`).

**Diagonal reference** (``reference`` in the ``[lateral]`` table; ``none`` by default). The
learned ``A = M⁻¹`` is close to diagonal (off-diagonal RMS about 0.1 of its diagonal after 10
epochs of the decorrelation task), so an array that maps ``headroom·max|A|`` onto its
conductance range spends its range, its step and its programming and write noise on the
diagonal. With a reference each node's own feedback holds a diagonal ``diag(r)`` and the
array only the rest:

    Ã = G·A = diag(r) + Δ,        node i:  τ_i dx̄_i/dt = G x_i − r_i x̄_i − (Δ x̄)_i − λ x̄_i,

so node ``i``'s lateral input is ``(Ã x̄)_i = r_i x̄_i + (Δ x̄)_i`` — its own ``x̄_i`` and its
own row — and the reader supplies ``D (Δ x̄ + (λ + r) ∘ x̄)`` (the reference acts as a per-node
leak ``r_i``). The read matrix whose spectrum decides stability is ``D (Δ/G + diag(r)/G + λI)``.
Since ``Ã`` is never rescaled (the gain register ``G`` carries the rule's ``g⁻¹``), a
reference fixed in the circuit would stop matching the diagonal as soon as ``G`` moves, and
``Δ`` would have to absorb the diagonal's growth ``(G − 1)``. Two references follow it:

``fixed``
    ``r_i = c·G`` (``c = reference_level``): a precision feedback resistor ``R_i/c``, matched
    like ``R_i``, scaled by the same digital register that scales the input (a multiplying DAC
    on the node's own output). ``Δ = G (A − c I)``. The rule ``Ã ← Ã + η⟨(Ã x̄) x̄ᵀ⟩``,
    ``G ← g G`` becomes, for the devices,

        Δ ← Δ + η⟨(Ã x̄) x̄ᵀ⟩ − c (g − 1) G I,

    node ``i`` adding ``−c(g − 1)G`` to its own diagonal device (``g`` is the layer-wide scalar
    every node already receives). ``A``'s diagonal does not stay at ``c``: with power
    normalisation it shrinks (to about 0.62 in the software run of the decorrelation task), so
    the devices' diagonal carries ``G(diag A − c)``.
``node``
    ``r_i`` a digital coefficient of node ``i`` (initially ``Ã_ii``) setting the gain of its
    feedback element: the node's diagonal update goes to it exactly,

        r_i ← r_i + η⟨(Ã x̄)_i x̄_i⟩,       Δ ← Δ + η⟨(Ã x̄) x̄ᵀ⟩ − diag(η⟨(Ã x̄)_i x̄_i⟩),

    and the devices hold only ``Ã``'s off-diagonal part (their diagonal programmed at 0; the
    cancelling diagonal term is written with the update, so mixed precision's digital
    accumulator never fires a diagonal pulse, while stochastic pulse trains, ``sgd``, deliver
    it with their pulse noise). Node-local: ``r_i`` needs ``(Ã x̄)_i`` and ``x̄_i``.

Dividing node ``i``'s equation by ``G`` gives the same circuit with the gain at the array's
output instead, ``(τ/G) dx̄/dt = x − (diag(r)/G + Δ/G) x̄``: the same fixed point
``x̄ = A⁻¹x``, dynamics slower by ``G``. The array maps ``max(reference_range,
headroom·max|Δ|)`` onto its range (``Δ = 0`` at the usual start ``A = I``). Device steps,
programming and write noise in units of ``Ã`` scale with that range, so they shrink by
``reference_range / (headroom·max|A|)`` against an array holding all of ``Ã``; by the circular
law (``benchmarks/chip_lateral_spectrum.py``) ``min Re μ ≈ min r_i/G − σ√n/G`` with that
smaller ``σ``. The range must still hold ``Δ``'s growth with ``G`` (``G·max|A_ij|``, i ≠ j).
"""

from __future__ import annotations

import math

import numpy as np

from neurodecorr.circuits.description import LateralCircuit
from neurodecorr.circuits.updates import TransferArray, UpdateConfig, make_array
from neurodecorr.core.linear import subsample_rows
from neurodecorr.errors import NeurodecorrError
from neurodecorr.ode import (
    MAX_STEPS,
    Euler,
    EulerMaruyama,
    LateralField,
    Result,
    SettleCriterion,
    SettleResult,
    settle,
)

#: How often a noisy settle that diverged is re-run at half its step. The planned step is the
#: eigen-optimal one of the noiseless read matrix ``R`` (:class:`~neurodecorr.ode.OptimalStep`):
#: it minimises the worst contraction ``ρ(h) = max_μ |1 − hμ|``, where the slowest and the
#: fastest modes contract equally, and for a wide spectrum that worst ``ρ`` is near 1. Each
#: read adds the devices' and converters' noise ``ε_k``, and Euler's error follows
#: ``e_{k+1} = (I − hR) e_k + h ε_k``; with abs-max noise management ``ε`` scales with
#: ``max|x̄|``, so once the error is as large as the state the noise grows with it and a small
#: margin ``1 − ρ(h)`` lets the mean square grow although every eigenvalue of ``R`` has a
#: positive real part. A smaller step takes the fast modes away from Euler's stability edge
#: and injects less noise per unit of time (``h²`` per step, ``h`` per ``τ``). Measured: PCM
#: lateral arrays (8-bit converters, output noise 0.04 of full scale) whose read matrices'
#: least stable eigenvalues had real parts 0.08–0.31 diverged at the eigen-optimal step (0.97 τ
#: in the test) and settled at half of it, to the stationary error of that linear iteration
#: (tests/test_chip_lateral_updates.py; docs/chip.md, "Inference after training"). A settle
#: with a fixed ``dt_s`` is not changed.
NOISY_STEP_HALVINGS = 6


class CrossbarProduct:
    """``out = Crossbar.matvec(Y, t0 + t)``: a lateral reader over an existing crossbar.

    The reader of :class:`neurodecorr.circuits.device.DeviceReader` for an array that already
    exists (the chip keeps learning in it); :meth:`matrix` is the same ``Crossbar.read_weights``.
    """

    exact = False

    def __init__(self, crossbar, t0_s: float) -> None:
        self.crossbar = crossbar
        self.t0_s = float(t0_s)
        self.noisy = self.crossbar.noisy

    def read(self, Y: np.ndarray, t_s: float, out: np.ndarray) -> np.ndarray:
        return self.crossbar.matvec(Y, self.t0_s + t_s, out=out)

    def matrix(self, t_s: float = 0.0) -> np.ndarray:
        """The noiseless matrix a read at circuit time ``t_s`` multiplies by
        (``Crossbar.read_weights``: drift, accumulated 1/f noise, drift-compensation gain).

        The stability check and the automatic step of a settle use its spectrum; the drifted
        conductances alone (``effective_weights``) miss the 1/f state and the gain, and are not
        the circuit that is integrated."""
        return self.crossbar.read_weights(self.t0_s + t_s)


class CircuitReader:
    """The node circuit around a lateral product: ``out = D (A x̄ + λ x̄)`` with rails.

    Parameters
    ----------
    inner : reader
        Supplies ``A x̄`` (an ideal reader or :class:`CrossbarProduct`).
    rate : ndarray, shape (n,)
        ``D = τ/τ_i`` per node.
    leak : float or ndarray, shape (n,)
        ``λ`` in units of ``1/τ_i`` (per node: a leak plus a reference's feedback).
    rail : float or None
        Output rail in state units.
    U : ndarray, shape (batch, n)
        The scaled input ``D u`` held on the nodes (needed to freeze saturated nodes).
    """

    exact = False

    def __init__(self, inner, rate: np.ndarray, leak: float, rail: float | None,
                 U: np.ndarray) -> None:
        self.inner = inner
        self.noisy = bool(getattr(inner, "noisy", False))
        self.rate = np.asarray(rate, dtype=U.dtype)
        # a scalar, or one value per node (a reference's feedback, see LateralArray)
        self.leak = U.dtype.type(leak) if np.ndim(leak) == 0 else np.asarray(leak, U.dtype)
        self.rail = None if rail is None else U.dtype.type(rail)
        self.U = U

    def read(self, Y: np.ndarray, t_s: float, out: np.ndarray) -> np.ndarray:
        if self.rail is not None:
            np.clip(Y, -self.rail, self.rail, out=Y)
        self.inner.read(Y, t_s, out)
        if np.any(self.leak):
            out += self.leak * Y
        out *= self.rate
        if self.rail is not None:
            drive = self.U - out
            frozen = ((Y >= self.rail) & (drive > 0)) | ((Y <= -self.rail) & (drive < 0))
            if frozen.any():
                out[frozen] = self.U[frozen]
        return out

    def matrix(self, t_s: float = 0.0) -> np.ndarray:
        M = np.asarray(self.inner.matrix(t_s), dtype=np.float64)
        leak = np.diag(np.broadcast_to(np.asarray(self.leak, np.float64), M.shape[:1]))
        return self.rate.astype(np.float64)[:, None] * (M + leak)


class LateralArray:
    """One layer's lateral circuit: node integrators, a crossbar holding ``Ã``, a gain register.

    Parameters
    ----------
    circuit : LateralCircuit
    A : ndarray, shape (n, n)
        Lateral matrix ``A = M⁻¹`` to program (gain register ``G = 1``).
    device : DeviceConfig
        Devices and periphery of the lateral crossbar.
    rng : numpy.random.Generator
        Mismatch, programming, reads, writes and circuit noise draw from child streams.
    t_program_s : float
        Physical time of programming.
    dtype : float32 or float64
    """

    def __init__(self, circuit: LateralCircuit, A: np.ndarray, device, rng: np.random.Generator,
                 t_program_s: float = 0.0, dtype: object = np.float64,
                 update: UpdateConfig | None = None, drift_compensation: str = "none") -> None:
        A = np.asarray(A, dtype=np.float64)
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise NeurodecorrError(f"lateral matrix: must be square, got shape {A.shape}")
        r_tau, r_xbar, self._rng_noise = rng.spawn(3)
        self.circuit = circuit
        self.n = A.shape[0]
        #: per-node input resistor and capacitor as drawn (the SPICE export writes them)
        self.R_i_ohm, self.C_i_F = circuit.node_components(self.n, r_tau)
        self.tau_i_s = self.R_i_ohm * self.C_i_F
        if np.any(self.tau_i_s <= 0):
            raise NeurodecorrError("lateral circuit: mismatch drew a non-positive time constant")
        self.rate = circuit.tau_s / self.tau_i_s
        self.dtype = np.dtype(dtype)
        #: the diagonal reference (``none``, ``fixed``, ``node``; see the module docstring)
        self.reference = circuit.reference
        #: ``node``: each node's digital feedback coefficient ``r_i`` (units of ``Ã``)
        self.r = np.diag(A).copy() if self.reference == "node" else None
        stored = A - np.diag(self._feedback(1.0)) if self.reference != "none" else A
        scale = circuit.weight_headroom * float(np.max(np.abs(stored)))
        if self.reference != "none":
            scale = max(scale, circuit.reference_range)
        self.crossbar = make_array(device, stored, r_xbar, t_program_s,
                                   scale if scale > 0 else None,
                                   update or circuit.update_config(), drift_compensation)
        self.gain = 1.0
        #: the digital copy: the last conductance matrix (``Ã``, or ``Δ`` with a reference),
        #: gain and feedback coefficients that passed the stability check
        self.copy = (stored.copy(), 1.0)
        self._r_copy = None if self.r is None else self.r.copy()
        self.responses = 0
        #: times the gain register was folded into the conductances (:meth:`fold_gain`)
        self.folds = 0
        if circuit.gain_fold and isinstance(self.crossbar, TransferArray):
            raise NeurodecorrError(
                f"[lateral] gain_fold: needs an sgd or mixed-precision lateral array, not "
                f"{self.crossbar.update_config.update} (its fast array holds updates in the "
                f"unfolded scale)")
        self.last_gain = 1.0
        #: the last gain step's mean power per node and sample of the inputs and the settled
        #: states, ``(Σ‖x‖², Σ‖x̄‖²)/(k·n)``: what drives the register (:meth:`learn`)
        self.last_power = (0.0, 0.0)
        #: integrator steps x samples x nodes, over all settles (diverged attempts included)
        self.node_updates = 0
        #: settles re-run at half the step after diverging under read noise
        self.step_halvings = 0

    def field(self, U: np.ndarray, t_s: float) -> LateralField:
        """The circuit with the conductances as they are at ``t_s``, holding the input ``U``."""
        inner = CrossbarProduct(self.crossbar, t_s)
        Ud = np.ascontiguousarray(U * self.rate, dtype=self.dtype)
        # a reference's self-feedback r_i x̄_i enters each node as a leak does
        leak = self.circuit.leak
        if self.reference != "none":
            leak = leak + self._feedback(self.gain)
        reader = CircuitReader(inner, self.rate, leak, self.circuit.rail, Ud)
        return LateralField(reader.matrix(0.0), tau_s=self.circuit.tau_s, leak=0.0,
                            noise_std=self.circuit.noise_std, dtype=self.dtype, reader=reader)

    def settle(self, X: np.ndarray, t_s: float, tol: float | None = None,
               t_eval: np.ndarray | None = None, max_steps: int = MAX_STEPS
               ) -> tuple[np.ndarray, SettleResult]:
        """Hold ``G·X`` on the nodes at time ``t_s`` and settle; returns ``x̄`` and the result.

        ``t_eval`` keeps the trajectory (see :func:`neurodecorr.ode.settle`); ``max_steps`` is
        the step budget (a ``settle_window_s`` beyond it is refused before the first step).

        A settle that fails — refused (the matrix the reads multiply by is unstable, or too
        slow for the step budget), stopped short, or ending in non-finite states — gets the
        circuit's ``on_unstable`` response, as a write that breaks stability does
        (:meth:`check_stability`): ``stop`` raises :class:`LateralUnstable` naming the least
        stable eigenvalue of the read matrix and the settle's reason; ``reprogram`` and
        ``clamp`` (a failed settle has no offending write to scale) program the array and the
        gain register from the digital copy and settle again, once; a second failure stops.
        """
        try:
            return self._settle_once(X, t_s, tol, t_eval, max_steps)
        except NeurodecorrError as exc:
            failure = str(exc)
        if self.circuit.on_unstable == "stop":
            raise LateralUnstable(self.least_stable(t_s), reason=failure)
        self._restore_copy(self.copy[0], t_s)
        try:
            return self._settle_once(X, t_s, tol, t_eval, max_steps)
        except NeurodecorrError as exc:
            raise LateralUnstable(self.least_stable(t_s), reason=f"{exc} (after re-programming "
                                  f"from the digital copy)") from None

    def _settle_once(self, X, t_s, tol, t_eval, max_steps) -> tuple[np.ndarray, SettleResult]:
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        U = self.gain * X
        field = self.field(U, t_s)
        c = self.circuit
        criterion = SettleCriterion(tol=c.settle_tol if tol is None else tol,
                                    max_time_s=c.settle_window_s or None, max_steps=max_steps)
        stepper = EulerMaruyama if field.noise_std > 0 else Euler
        result = settle(field, field.reader.U, stepper(dt_s=c.dt_s or None), criterion=criterion,
                        rng=self._rng_noise, t_eval=t_eval)
        steps, halvings, notes = result.nsteps, 0, []
        try:
            while (result.result is Result.DIVERGED and field.noisy and not c.dt_s
                   and halvings < NOISY_STEP_HALVINGS):
                # a stable matrix whose Euler iteration diverged under per-read noise: the
                # planned step is sound for the noiseless matrix only (NOISY_STEP_HALVINGS)
                halvings += 1
                notes.append(f"diverged at dt {result.dt_s:.4g} s after {result.nsteps} "
                             f"steps ({result.message}); re-run at half the step")
                try:
                    result = settle(field, field.reader.U, stepper(dt_s=result.dt_s / 2),
                                    criterion=criterion, rng=self._rng_noise, t_eval=t_eval)
                except NeurodecorrError as exc:  # e.g. the half step's horizon is over budget
                    raise NeurodecorrError(f"lateral circuit did not settle: {notes[-1]}; "
                                           f"at half the step: {exc}") from None
                steps += result.nsteps
        finally:
            # every attempt's integration steps ran on the circuit
            self.step_halvings += halvings
            self.node_updates += steps * X.shape[0] * self.n
        result.warnings.extend(notes)
        if result.status < 0:
            raise NeurodecorrError(f"lateral circuit did not settle: {result.message}")
        Y = np.asarray(result.y, dtype=np.float64)
        if not np.all(np.isfinite(Y)):
            raise NeurodecorrError("lateral circuit did not settle: non-finite states")
        return Y, result

    def lateral_input(self, Xbar: np.ndarray, t_s: float) -> np.ndarray:
        """``Ã x̄``: each node's total lateral input, read through the crossbar (plus its own
        reference feedback ``r_i x̄_i``)."""
        out = np.asarray(self.crossbar.matvec(np.asarray(Xbar, dtype=self.dtype), t_s),
                         dtype=np.float64)
        if self.reference != "none":
            out = out + self._feedback(self.gain) * np.asarray(Xbar, dtype=np.float64)
        return out

    def _feedback(self, gain: float) -> np.ndarray:
        """The reference ``r`` (n,) at gain register ``gain``: ``c·G`` or the nodes' own."""
        if self.reference == "node":
            return self.r
        return np.full(self.n, self.circuit.reference_level * gain)

    def _with_reference(self, W: np.ndarray, gain: float | None = None,
                        r: np.ndarray | None = None) -> np.ndarray:
        """``(W + diag(r))/G``: the matrix ``A`` of conductances ``W``, at the current gain and
        reference unless given."""
        gain = self.gain if gain is None else gain
        if self.reference == "none":
            return W / gain
        r = self._feedback(gain) if r is None else r
        return (W + np.diag(r)) / gain

    def effective_matrix(self, t_s: float) -> np.ndarray:
        """``A = Ã/G`` as the conductances encode it at ``t_s`` (no read noise)."""
        return self._with_reference(self.crossbar.effective_weights(t_s))

    def learn(self, X: np.ndarray, Xbar: np.ndarray, t_s: float, eta: float,
              batch_fraction: float = 1.0) -> float:
        """One on-chip step of the local rule ``A ← g⁻¹ (A + η ⟨(A x̄) x̄ᵀ⟩)`` (``ahmad``).

        With ``A = Ã/G``: the conductances take ``Ã ← Ã + η ⟨(Ã x̄) x̄ᵀ⟩`` through the array's
        update algorithm (:mod:`~neurodecorr.circuits.updates`), with rank-1 terms
        ``d = Ã x̄`` (node ``i``'s own lateral input, read through the array) and ``x = x̄``
        (broadcast on the column lines), ``lr = η/k``. Node-local: row ``i`` of the write, and
        row ``i`` of a digital accumulator (mixed precision), depend only on ``d_i`` and ``x̄``.

        The digital register takes ``G ← g G`` with the layer-wide automatic gain control

            g = sqrt(Σ_n ‖x_n‖² / Σ_n ‖x̄_n‖²),

        two scalars that each node feeds with its own ``x_i²`` and ``x̄_i²`` (an adder tree).
        The software rule (:mod:`neurodecorr.core.inverse`) predicts the power after the
        update, ``‖(I − ηC) x̄‖²``, which needs the covariance ``C`` (O(k·d²), not node-local);
        the control here measures it one batch later. Both stop where the settled states carry
        the input's power. Returns ``g``.
        """
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        Xbar = np.atleast_2d(np.asarray(Xbar, dtype=np.float64))
        k = subsample_rows(X.shape[0], batch_fraction)
        Xs = Xbar[:k]
        D = self.lateral_input(Xs, t_s)
        if self.reference == "none":
            self.crossbar.update(Xs, D, eta / k, t_s)
            g = self._gain_step(X, Xbar)
        else:
            g = self._gain_step(X, Xbar)
            if self.reference == "fixed":
                diag = np.full(self.n, -self.circuit.reference_level * (g - 1.0) * self.gain)
            else:
                diag = -(eta / k) * np.einsum("ki,ki->i", D, Xs)
                self.r = self.r - diag
            # the diagonal term as n one-device terms (x = e_i): row i of the write still
            # depends on node i's own quantities and the broadcast scalars only
            eye = np.eye(self.n)
            if eta:
                self.crossbar.update(np.vstack([Xs, eye]),
                                     np.vstack([D, (diag * k / eta)[:, None] * eye]), eta / k, t_s)
            elif np.any(diag):   # η = 0: only the fixed reference's gain correction
                self.crossbar.update(eye, diag[:, None] * eye, 1.0, t_s)
        self.gain *= g
        self.last_gain = g
        fold = self.circuit.gain_fold
        if fold and not 1.0 / fold < self.gain < fold:
            self.fold_gain(t_s)
        return g

    def fold_gain(self, t_s: float) -> None:
        """Move the gain register into the conductances: program ``Ã/G``, then ``G ← 1``.

        The rule's fixed point keeps ``A = Ã/G`` while both factors grow: ``A (I + η C) = g A``
        holds for ``C = ⟨x̄ x̄ᵀ⟩ = σ² I`` and ``g = 1 + η σ²`` (``σ²`` the settled power per
        node), so every step multiplies ``Ã`` and ``G`` by ``g`` and the writes, in
        conductance units, grow with ``G`` until the devices reach their bounds
        (``benchmarks/chip_split_gain.py``; docs/chip.md, "Gain folding"). Folding keeps
        ``A`` and resets the scale: the array, read, is re-programmed to ``Ã/G`` (write-verify,
        the same operation as the ``reprogram`` stability response, counted in the crossbar's
        ``programmed_devices``); a node reference ``r`` and a mixed-precision buffer ``χ``
        (both in units of ``Ã``) are divided by ``G`` and the digital copy with them.
        """
        G = self.gain
        target = self.crossbar.effective_weights(t_s) / G
        chi = getattr(self.crossbar, "chi", None)
        chi = None if chi is None else chi.copy()  # re-programming clears the buffer
        self.crossbar.reprogram(target, t_s)
        if chi is not None:
            self.crossbar.chi[...] = chi / G
        if self.r is not None:
            self.r = self.r / G
            self._r_copy = None if self._r_copy is None else self._r_copy / G
        stored, copy_gain = self.copy
        self.copy = (stored / G, copy_gain / G)
        self.gain = 1.0
        self.folds += 1

    def _gain_step(self, X: np.ndarray, Xbar: np.ndarray) -> float:
        """``g = sqrt(Σ‖x‖² / Σ‖x̄‖²)`` (see :meth:`learn`), counted as digital work."""
        p_in = float(np.sum(np.square(X)))
        p_out = float(np.sum(np.square(Xbar)))
        self.crossbar.digital["digital_macs"] += 2 * X.size
        self.last_power = (p_in / X.size, p_out / X.size)
        if not (p_out > 0 and math.isfinite(p_out)):
            raise NeurodecorrError("on-chip decorrelation: settled states have zero or "
                                   "non-finite power; cannot compute the gain")
        return math.sqrt(p_in / p_out) if p_in > 0 else 1.0

    def least_stable(self, t_s: float) -> complex:
        """The eigenvalue of ``D (Ã/G + λI)`` with the smallest real part (the circuit settles
        iff it is positive; see :meth:`check_stability`)."""
        M = self._with_reference(self.crossbar.read_weights(t_s))
        M = self.rate[:, None] * (M + self.circuit.leak * np.eye(self.n))
        mu = np.linalg.eigvals(M)
        return complex(mu[int(np.argmin(mu.real))])

    def check_stability(self, t_s: float) -> complex | None:
        """After a write: keep the digital copy if the circuit is stable, else respond.

        ``on_unstable`` of the circuit: ``stop`` raises :class:`LateralUnstable`;
        ``reprogram`` programs the array and the gain register from the digital copy (the last
        stable ``Ã``, ``G``); ``clamp`` programs the largest stable part of the offending
        write, ``Ã_copy + s (Ã − Ã_copy)`` with ``s`` halved from 1/2 until stable (the copy
        itself at worst); a matrix that programming noise leaves unstable stops the run.
        Returns the offending eigenvalue, or ``None`` when stable.
        """
        mu = self.least_stable(t_s)
        if mu.real > 0:
            self.copy = (self.crossbar.effective_weights(t_s), self.gain)
            self._r_copy = None if self.r is None else self.r.copy()
            return None
        policy = self.circuit.on_unstable
        if policy == "stop":
            raise LateralUnstable(mu)
        good, gain = self.copy
        target = good
        if policy == "clamp":
            bad = self.crossbar.effective_weights(t_s)
            for s in 0.5 ** np.arange(1, 11):
                trial = good + s * (bad - good)
                if self._stable(self._with_reference(trial, gain, self._r_copy)):
                    target = trial
                    break
        self._restore_copy(target, t_s)
        return mu

    def _restore_copy(self, target: np.ndarray, t_s: float) -> None:
        """Program ``target`` (write-verify) with the digital copy's gain; a matrix that
        programming noise leaves unstable stops the run."""
        self.crossbar.reprogram(target, t_s)
        self.gain = self.copy[1]
        if self.r is not None:
            self.r = self._r_copy.copy()
        self.responses += 1
        again = self.least_stable(t_s)
        if again.real <= 0:
            raise LateralUnstable(again, reason="programming noise left the re-programmed "
                                  "matrix unstable")

    def _stable(self, A: np.ndarray) -> bool:
        """Whether ``A`` (over the gain, the reference included) settles."""
        M = self.rate[:, None] * (A + self.circuit.leak * np.eye(self.n))
        return bool(np.min(np.linalg.eigvals(M).real) > 0)


class LateralUnstable(NeurodecorrError):
    """A lateral circuit lost stability (a learned matrix with an eigenvalue ``Re μ ≤ 0``, or
    a settle that failed) and the response is to stop; the caller names the layer and epoch.

    ``reason``: why a settle failed (absent for a write caught by the eigenvalue check).
    """

    def __init__(self, eigenvalue: complex, layer: int | None = None,
                 epoch: int | None = None, reason: str | None = None) -> None:
        self.eigenvalue, self.layer, self.epoch, self.reason = eigenvalue, layer, epoch, reason
        where = "" if layer is None else f" of layer {layer}"
        when = "" if epoch is None else f" in epoch {epoch}"
        mu = f"eigenvalue {eigenvalue.real:.4g}{eigenvalue.imag:+.4g}j"
        what = (f"the lateral matrix{where} lost stability{when} ({mu})" if reason is None else
                f"the lateral circuit{where} failed{when} (least stable {mu} of its read matrix "
                f"D(Ã/G + λI)): {reason}")
        hint = ("set on_unstable = \"reprogram\" or \"clamp\" in the circuit's [lateral] table"
                if reason is None or "re-program" not in reason else
                "use devices with less programming and write noise in the lateral arrays")
        #: what failed, without the advice for training (a deployment gives its own)
        self.what = what
        super().__init__(f"on-chip decorrelation: {what}; lower --decor-lr or {hint}")

    def located(self, layer: int | None = None, epoch: int | None = None) -> LateralUnstable:
        """The same failure with the layer and/or the epoch filled in."""
        return LateralUnstable(self.eigenvalue, self.layer if layer is None else layer,
                               self.epoch if epoch is None else epoch, self.reason)
