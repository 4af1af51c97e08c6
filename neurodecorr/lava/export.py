"""Turn a :class:`~neurodecorr.core.network.Network` into a list of netx-style Lava layers.

Two mappings of each decorrelated layer ``h = f(W A⁻¹ x + b)``:

``loihi`` (default)
    Loihi's own structure: a pass-through ``lateral`` stage for bias and activation, then an
    ``integrator`` (graded neuron ``v ← v − d∘v + a``) fed by ``Dense(I)`` (fixed point; the
    Euler step is in the stage's gain) or ``Dense(α·I)`` (float) and a recurrent
    ``Dense(−P·(A − diag A))`` / ``Dense(−α·A)``, one Euler step per Lava step, then ``dense``.
``layer`` (a CPU-only emulation)
    ``lateral`` → ``dense`` per layer: one :class:`~neurodecorr.lava.procs.process.LateralLayer`
    process per layer boundary (previous bias and activation, then the lateral dynamics with
    ``n_sub`` Euler sub-steps per step) and Lava's ``Dense(W)`` with graded spikes. A whole
    ``lateral @ x̄`` product per sub-step inside one neuron process is not something a Loihi
    neuron can do (it sees only its own state and synaptic input): this mapping runs in
    Lava's CPU simulation only.

The last stage adds the output bias and activation. In fixed point every stage has its own
state scale ``2^F_l`` and every weight row its own full-range scale, undone by the receiving
neuron's 12-bit gain (see :mod:`neurodecorr.lava.fixed`). Everything Lava needs is in the layer
dicts; :mod:`neurodecorr.lava.exchange` writes them to HDF5 and reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurodecorr.core.network import Network
from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava import fixed
from neurodecorr.lava.settling import settling_plan

PRECISIONS = ("float", "fixed")
MAPPINGS = ("loihi", "layer")
#: Lava's run-configuration tag for each precision
TAGS = {"float": "floating_pt", "fixed": "fixed_pt"}


@dataclass
class LavaExport:
    """A network laid out as Lava layers, with the run schedule.

    Attributes
    ----------
    layers : list of dict
        netx-style layers: ``type`` is ``input``, ``lateral``, ``integrator`` or ``dense``.
    precision, mapping : str
    steps_per_sample : int
        Lava steps each input sample is held for.
    frac_bits : int
        Fractional bits ``F`` of the input encoding (0 in floating point); each fixed-point
        stage carries its own ``frac_bits``.
    """

    layers: list[dict]
    precision: str
    mapping: str
    steps_per_sample: int
    frac_bits: int = 0
    info: dict = field(default_factory=dict)

    @property
    def latency(self) -> int:
        """Lava steps from the input to the last stage: one per ``Dense`` (they send first)."""
        return sum(1 for layer in self.layers if layer["type"] in ("dense", "integrator"))

    @property
    def tag(self) -> str:
        return TAGS[self.precision]

    @property
    def n_in(self) -> int:
        return int(self.layers[0]["shape"][0])

    @property
    def n_out(self) -> int:
        return int(self.layers[-1]["shape"][0])

    @property
    def out_frac_bits(self) -> int:
        """Fractional bits of the recorded output (0 in floating point)."""
        return int(self.layers[-1].get("frac_bits", 0))


# --- floating point ------------------------------------------------------------------------

def _stage_float(bias: np.ndarray, activation: str, slope: float, plan=None,
                 A: np.ndarray | None = None) -> dict:
    n = bias.shape[0]
    alpha = plan.alpha if plan else 0.0
    diag = np.diag(A) if A is not None else np.zeros(n)
    return {"type": "lateral", "shape": (n,), "activation": activation, "negative_slope": slope,
            "decorrelate": A is not None, "n_sub": plan.n_total if plan else 0,
            "bias": bias.copy(), "alpha": alpha, "leak": alpha * diag,
            "lateral": alpha * (A - np.diag(diag)) if A is not None else np.zeros((n, n))}


def _integrator_float(A: np.ndarray, plan) -> dict:
    n = A.shape[0]
    return {"type": "integrator", "shape": (n,), "alpha": plan.alpha, "n_settle": plan.n_total,
            "weight_in": plan.alpha * np.eye(n), "weight_in_exp": 0,
            "weight_rec": -plan.alpha * A, "weight_rec_exp": 0, "decay": np.zeros(n)}


def _export_float(network: Network, mapping: str, tol: float) -> tuple[list[dict], list[int]]:
    layers: list[dict] = [{"type": "input", "shape": (network.layers[0].n_in,)}]
    bias, act, slope = np.zeros(network.layers[0].n_in), "identity", 0.0
    n_settle = []
    for i, layer in enumerate(network.layers):
        A = layer.lateral if layer.decorrelation is not None else None
        plan = settling_plan(A, tol, what=f"layer {i} lateral matrix") if A is not None else None
        if plan:
            n_settle.append(plan.n_total)
        if mapping == "layer":
            layers.append(_stage_float(bias, act, slope, plan, A))
        else:
            layers.append(_stage_float(bias, act, slope))
            if A is not None:
                layers.append(_integrator_float(A, plan))
        layers.append({"type": "dense", "shape": (layer.weight.shape[0],),
                       "weight": layer.weight.copy(), "weight_exp": 0})
        bias, act, slope = layer.bias, layer.activation, layer.negative_slope
    layers.append(_stage_float(bias, act, slope))
    return layers, n_settle


# --- fixed point ---------------------------------------------------------------------------

def _fixed_lateral(A: np.ndarray, tol: float, what: str) -> tuple[fixed.FixedLateral, int]:
    """Per-neuron steps ``p_i = κ/r_i`` with the largest mantissa-filling ``κ ≤ κ*``.

    If the row-scaled iteration does not contract (possible for a non-symmetric ``A``), one
    step for all neurons (``r_i = max r``) is used instead. The contraction asked for is at
    most the 24-bit state's relative resolution ``2^−23``: integer dynamics cannot settle any
    closer (they end in a cycle of a few LSB), so further steps would buy nothing.
    """
    tol = max(tol, 2.0 ** -(fixed.STATE_BITS - 1))
    rows = fixed.lateral_rows(A)
    try:
        best = settling_plan(A / rows[:, None], tol, what=what)
    except NeurodecorrError:
        rows = np.full_like(rows, rows.max())
        best = settling_plan(A / rows[:, None], tol, what=what)
    kappa = fixed.MANT_MAX * 2.0 ** np.floor(np.log2(best.alpha / fixed.MANT_MAX))
    plan = settling_plan(A / rows[:, None], tol, what=what, alpha=float(kappa))
    return fixed.quantise_lateral(A, plan.alpha, rows), plan.n_total


def _stage_fixed(*, bias, activation, slope, unit_in, peak, step=None, fl=None, n_sub=0,
                 frac_max: int | None = None) -> dict:
    """A stage whose input ``a`` has the true value ``a_i · unit_in_i``.

    It computes ``z = (G∘a >> s) + B`` (``G·2^−s ≈ unit_in · 2^F · p``, ``B = p∘b·2^F``, so
    ``z`` is the drive ``p∘(true pre-activation)`` at scale ``2^F``), ``x = f(z)``, then, with
    ``fl``, the lateral dynamics. ``peak`` bounds the stage's true values on calibration data;
    ``frac_max`` caps ``F`` so that the ``Dense`` it sends to keeps its exponent in range.
    """
    n = bias.shape[0]
    if step is None:
        step = fl.step if fl is not None else np.ones(n)
    F = fixed.choose_frac_bits(peak * max(1.0, float(np.max(step))))
    if frac_max is not None:
        F = min(F, frac_max)
    gain, gain_shift = fixed.quantise_gain(unit_in * 2.0**F * step)
    m, s = fixed.quantise_slope(slope if activation == "leaky_relu" else 0.0)
    st = {"type": "lateral", "shape": (n,), "activation": activation, "negative_slope": slope,
          "decorrelate": fl is not None, "n_sub": n_sub, "frac_bits": F, "gain": gain,
          "gain_shift": gain_shift, "bias": fixed.to_fixed(step * bias, F),
          "slope_mant": m, "slope_shift": s, "step": step}
    if fl is None:
        st.update(lateral_exp=0, leak=np.zeros(n, np.int64), lateral=np.zeros((n, n), np.int64))
    else:
        st.update(lateral_exp=fl.lateral_exp, leak=fl.leak, lateral=fl.lateral)
    return st


def _dense_exp(W: np.ndarray, peak_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Full-range rows and the fractional bits ``E`` at which ``(W x̄)_i/σ_i`` peaks in 24 bits.

    The ``Dense`` that sends from a stage at ``F`` has the exponent ``E − F``; Loihi allows no
    exponent below −8, so the sending stage keeps ``F ≤ E + 8``.
    """
    mant, sigma = fixed.quantise_rows(W)
    return mant, sigma, fixed.choose_frac_bits(float(np.max(peak_rows / sigma)))


def _dense_fixed(mant: np.ndarray, sigma: np.ndarray, E: int, F_in: int, what: str
                 ) -> tuple[dict, np.ndarray]:
    """The ``Dense`` layer; returns it and the true value of one unit of its output per row."""
    exp = E - F_in
    _check_dense(mant, exp, what)
    layer = {"type": "dense", "shape": (mant.shape[0],), "weight": mant, "weight_exp": exp,
             "row_scale": sigma}
    return layer, sigma * 2.0 ** (-F_in - exp)


def _check_dense(mant: np.ndarray, exp: int, what: str) -> None:
    lo, hi = fixed.WEIGHT_EXP_RANGE
    if not lo <= exp <= hi:
        raise NeurodecorrError(f"{what}: weight exponent {exp} outside Loihi's [{lo}, {hi}]")
    if fixed.dense_bound(mant, exp) >= 2.0 ** (fixed.DENSE_MESSAGE_BITS - 1):
        raise NeurodecorrError(f"{what}: a row's sum of 24-bit payloads can exceed Lava's "
                               "32-bit Dense message; the layer is too wide for this export")


def _integrator_fixed(fl: fixed.FixedLateral, n_settle: int, frac_bits: int, i: int) -> dict:
    """Integrator fed by ``Dense(I)`` and the recurrent ``Dense(−Q)``; the part of ``Q``'s
    exponent below −8 becomes the neuron's own flooring shift ``rec_shift``."""
    n = fl.step.shape[0]
    rec_exp = max(fl.lateral_exp, fixed.WEIGHT_EXP_RANGE[0])
    _check_dense(fl.lateral, rec_exp, f"layer {i} lateral matrix")
    return {"type": "integrator", "shape": (n,), "n_settle": n_settle, "frac_bits": frac_bits,
            "step": fl.step, "weight_in": np.eye(n, dtype=np.int64), "weight_in_exp": 0,
            "weight_rec": -fl.lateral, "weight_rec_exp": rec_exp,
            "rec_shift": rec_exp - fl.lateral_exp, "decay": fl.leak}


def _export_fixed(network: Network, mapping: str, tol: float, X: np.ndarray
                  ) -> tuple[list[dict], list[int], int]:
    X = np.asarray(X, dtype=np.float64)
    _, xbars = network.forward(X, return_hidden=True)
    F_src = fixed.choose_frac_bits(float(np.max(np.abs(X))))
    layers: list[dict] = [{"type": "input", "shape": (network.layers[0].n_in,)}]
    n = network.layers[0].n_in
    bias, act, slope = np.zeros(n), "identity", 0.0
    unit_in, z = np.full(n, 2.0**-F_src), X
    n_settle = []
    for i, layer in enumerate(network.layers):
        xbar = xbars[i]
        mant, sigma, E = _dense_exp(layer.weight, np.max(np.abs(xbar @ layer.weight.T), axis=0))
        kwargs = {"bias": bias, "activation": act, "slope": slope, "unit_in": unit_in,
                  "peak": max(float(np.max(np.abs(z))), float(np.max(np.abs(xbar)))),
                  "frac_max": E - fixed.WEIGHT_EXP_RANGE[0]}
        if layer.decorrelation is None:
            st = _stage_fixed(**kwargs)
            layers.append(st)
        else:
            fl, n_sub = _fixed_lateral(layer.lateral, tol, f"layer {i} lateral matrix")
            n_settle.append(n_sub)
            if mapping == "layer":
                st = _stage_fixed(fl=fl, n_sub=n_sub, **kwargs)
                layers.append(st)
            else:
                # the pass-through stage sends the drive p∘x; Dense(I) passes it on unchanged
                st = _stage_fixed(step=fl.step, **kwargs)
                layers.append(st)
                layers.append(_integrator_fixed(fl, n_sub, st["frac_bits"], i))
        dense, unit_in = _dense_fixed(mant, sigma, E, st["frac_bits"], f"layer {i} weights")
        layers.append(dense)
        z = xbar @ layer.weight.T + layer.bias
        bias, act, slope = layer.bias, layer.activation, layer.negative_slope
    layers.append(_stage_fixed(bias=bias, activation=act, slope=slope, unit_in=unit_in,
                               peak=float(np.max(np.abs(z)))))
    return layers, n_settle, F_src


def export_network(network: Network, precision: str = "float", mapping: str = "loihi",
                   calibration: np.ndarray | None = None, tol: float = 1e-9) -> LavaExport:
    """Lay ``network`` out as Lava layers.

    Parameters
    ----------
    network : Network
    precision : {"float", "fixed"}
    mapping : {"layer", "loihi"}
    calibration : ndarray, shape (N, n_in), optional
        Inputs whose range sets the fixed-point scales (required for ``fixed``).
    tol : float
        Contraction the lateral dynamics must reach per sample (see :mod:`.settling`).
    """
    if precision not in PRECISIONS:
        raise NeurodecorrError(f"--precision: unknown '{precision}'; choose float or fixed")
    if mapping not in MAPPINGS:
        raise NeurodecorrError(f"--mapping: unknown '{mapping}'; choose loihi or layer")
    frac_bits = 0
    if precision == "fixed":
        if calibration is None:
            raise NeurodecorrError("fixed-point export needs calibration inputs (--dataset)")
        layers, n_settle, frac_bits = _export_fixed(network, mapping, tol, calibration)
    else:
        layers, n_settle = _export_float(network, mapping, tol)
    exp = LavaExport(layers=layers, precision=precision, mapping=mapping, steps_per_sample=1,
                     frac_bits=frac_bits, info={"tol": tol})
    # The last stage records each sample at the end of its window, shifted by the latency, so
    # a window needs only the settling itself. layer mapping: every stage settles its layer
    # within one step (n_sub sub-steps from the previous sample's state), so one step per
    # sample. loihi mapping: one Euler step per Lava step; each integrator needs its n_settle
    # steps once its input is final, so they settle one after another within the window.
    exp.steps_per_sample = 1 if mapping == "layer" else sum(n_settle) or 1
    return exp


def prediction_stages(network: Network, export: LavaExport) -> list[dict]:
    """The per-layer description :func:`neurodecorr.lava.fixed.predict_error` needs.

    All steps are in true units, read back from the exported integer parameters.
    """
    dense = [la for la in export.layers if la["type"] == "dense"]
    stages_out = [la for la in export.layers if la["type"] == "lateral"]
    lateral = [la for la in export.layers if la["type"] == "integrator"
               or (la["type"] == "lateral" and la["decorrelate"])]
    first, receivers = stages_out[0], stages_out[1:]
    stages = []
    for k, (layer, d) in enumerate(zip(network.layers, dense, strict=True)):
        A = layer.lateral if layer.decorrelation is not None else None
        fl, lsb_xbar = None, 0.0
        if A is not None:
            st = lateral.pop(0)
            if st["type"] == "integrator":
                leak, lat = st["decay"], -np.asarray(st["weight_rec"])
                e = st["weight_rec_exp"] - st["rec_shift"]
            else:
                leak, lat, e = st["leak"], st["lateral"], st["lateral_exp"]
            step = np.asarray(st["step"], dtype=np.float64)
            fl = fixed.FixedLateral(step=step, leak=np.asarray(leak), lateral=np.asarray(lat),
                                    lateral_exp=int(e), realised=np.zeros(0))
            lsb_xbar = 2.0 ** -int(st["frac_bits"])
        rec = receivers[k]
        g = np.asarray(rec["gain"], dtype=np.float64)
        rec_step = np.asarray(rec["step"], dtype=np.float64)
        sigma = np.asarray(d["row_scale"], dtype=np.float64)
        F_in = int(stages_out[k]["frac_bits"])  # the stage (or its integrator) feeding d
        stages.append({
            "A": A, "fixed_lateral": fl, "lsb_xbar": lsb_xbar, "floors_xbar": 2,
            "W": layer.weight, "W_step": 2.0 * sigma,
            "lsb_a": sigma * 2.0 ** (-F_in - int(d["weight_exp"])),
            "gain_rel_step": 2.0 ** -int(rec["gain_shift"]) / g,
            "lsb_z": 2.0 ** -int(rec["frac_bits"]) / rec_step,
            "b": layer.bias, "activation": layer.activation,
            "negative_slope": layer.negative_slope})
    g0 = np.asarray(first["gain"], dtype=np.float64)
    stages[0].update(lsb_in=2.0**-export.frac_bits,
                     gain_rel_in=2.0 ** -int(first["gain_shift"]) / g0,
                     lsb_z_in=2.0 ** -int(first["frac_bits"]) / np.asarray(first["step"]))
    return stages
