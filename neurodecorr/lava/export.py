"""Turn a :class:`~neurodecorr.core.network.Network` into a list of netx-style Lava layers.

Two mappings of each decorrelated layer ``h = f(W A⁻¹ x + b)``:

``layer`` (default)
    ``lateral`` → ``dense`` per layer: one :class:`~neurodecorr.lava.procs.process.LateralLayer`
    process per layer boundary (previous bias and activation, then the lateral dynamics with
    ``n_sub`` Euler sub-steps per step) and Lava's ``Dense(W)`` with graded spikes.
``loihi``
    Loihi's own structure: a pass-through ``lateral`` stage for bias and activation, then an
    ``integrator`` (graded neuron ``v += a``) fed by ``Dense(α·I)`` and a recurrent
    ``Dense(−α·A)`` (one Euler step per Lava step), then ``dense``.

The last stage adds the output bias and activation. Everything Lava needs is in the layer dicts;
:mod:`neurodecorr.lava.exchange` writes them to HDF5 and reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurodecorr.core.network import Network, activate
from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava import fixed
from neurodecorr.lava.settling import settling_plan

PRECISIONS = ("float", "fixed")
MAPPINGS = ("layer", "loihi")
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
        Fractional bits ``F`` of the fixed-point state (0 in floating point).
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


def _peak(network: Network, X: np.ndarray) -> float:
    """Largest magnitude any state or payload reaches on ``X`` (inputs, x̄, pre-activations)."""
    peak = float(np.max(np.abs(X)))
    _, xbars = network.forward(X, return_hidden=True)
    h = X
    for layer, xbar in zip(network.layers, xbars, strict=True):
        z = xbar @ layer.weight.T + layer.bias
        peak = max(peak, float(np.max(np.abs(xbar))), float(np.max(np.abs(z))),
                   float(np.max(np.abs(layer.weight @ np.abs(xbar).max(axis=0)))))
        h = activate(z, layer.activation, layer.negative_slope)
    return max(peak, float(np.max(np.abs(h))))


def _stage(bias: np.ndarray, activation: str, slope: float, precision: str, frac_bits: int,
           plan=None, A: np.ndarray | None = None) -> dict:
    """A ``lateral`` layer: bias and activation, then (with ``A``) the lateral dynamics."""
    n = bias.shape[0]
    st = {"type": "lateral", "shape": (n,), "activation": activation, "negative_slope": slope,
          "decorrelate": A is not None, "n_sub": plan.n_total if plan else 0}
    if precision == "float":
        alpha = plan.alpha if plan else 0.0
        diag = np.diag(A) if A is not None else np.zeros(n)
        st.update(bias=bias.copy(), alpha=alpha, leak=alpha * diag,
                  lateral=alpha * (A - np.diag(diag)) if A is not None else np.zeros((n, n)))
        return st
    m, s = fixed.quantise_slope(slope if activation == "leaky_relu" else 0.0)
    st.update(bias=fixed.to_fixed(bias, frac_bits), slope_mant=m, slope_shift=s)
    if A is None:
        st.update(alpha_shift=0, lateral_exp=0, leak=np.zeros(n, np.int64),
                  lateral=np.zeros((n, n), np.int64))
    else:
        fl = fixed.quantise_lateral(A, plan.alpha)
        st.update(alpha_shift=fl.alpha_shift, lateral_exp=fl.lateral_exp, leak=fl.leak,
                  lateral=fl.lateral, alpha=fl.alpha)
    return st


def _dense(W: np.ndarray, precision: str) -> dict:
    if precision == "float":
        return {"type": "dense", "shape": (W.shape[0],), "weight": W.copy(), "weight_exp": 0}
    mant, exp = fixed.quantise_weights(W)
    return {"type": "dense", "shape": (W.shape[0],), "weight": mant, "weight_exp": exp}


def _integrator(A: np.ndarray, plan, precision: str) -> dict:
    n = A.shape[0]
    w_in, w_rec = plan.alpha * np.eye(n), -plan.alpha * A
    st = {"type": "integrator", "shape": (n,), "alpha": plan.alpha, "n_settle": plan.n_total}
    if precision == "float":
        st.update(weight_in=w_in, weight_in_exp=0, weight_rec=w_rec, weight_rec_exp=0)
    else:
        (mi, ei), (mr, er) = fixed.quantise_weights(w_in), fixed.quantise_weights(w_rec)
        st.update(weight_in=mi, weight_in_exp=ei, weight_rec=mr, weight_rec_exp=er)
    return st


def export_network(network: Network, precision: str = "float", mapping: str = "layer",
                   calibration: np.ndarray | None = None, tol: float = 1e-9) -> LavaExport:
    """Lay ``network`` out as Lava layers.

    Parameters
    ----------
    network : Network
    precision : {"float", "fixed"}
    mapping : {"layer", "loihi"}
    calibration : ndarray, shape (N, n_in), optional
        Inputs whose range sets the fixed-point scale ``F`` (required for ``fixed``).
    tol : float
        Contraction the lateral dynamics must reach per sample (see :mod:`.settling`).
    """
    if precision not in PRECISIONS:
        raise NeurodecorrError(f"--precision: unknown '{precision}'; choose float or fixed")
    if mapping not in MAPPINGS:
        raise NeurodecorrError(f"--mapping: unknown '{mapping}'; choose layer or loihi")
    frac_bits = 0
    if precision == "fixed":
        if calibration is None:
            raise NeurodecorrError("fixed-point export needs calibration inputs (--dataset)")
        frac_bits = fixed.choose_frac_bits(_peak(network, calibration))
    layers: list[dict] = [{"type": "input", "shape": (network.layers[0].n_in,)}]
    bias, act, slope = np.zeros(network.layers[0].n_in), "identity", 0.0
    n_settle = []
    for i, layer in enumerate(network.layers):
        A = layer.lateral if layer.decorrelation is not None else None
        plan = (settling_plan(A, tol, power_of_two=precision == "fixed",
                              what=f"layer {i} lateral matrix") if A is not None else None)
        if plan:
            n_settle.append(plan.n_total)
        if mapping == "layer":
            layers.append(_stage(bias, act, slope, precision, frac_bits, plan, A))
        else:
            layers.append(_stage(bias, act, slope, precision, frac_bits))
            if A is not None:
                layers.append(_integrator(A, plan, precision))
        layers.append(_dense(layer.weight, precision))
        bias, act, slope = layer.bias, layer.activation, layer.negative_slope
    layers.append(_stage(bias, act, slope, precision, frac_bits))
    exp = LavaExport(layers=layers, precision=precision, mapping=mapping, steps_per_sample=1,
                     frac_bits=frac_bits, info={"tol": tol})
    # layer mapping: each step settles a layer fully, so one step per Dense plus one suffices;
    # loihi mapping: one Euler step per Lava step, the integrators settle one after another.
    settle = 0 if mapping == "layer" else sum(n_settle)
    exp.steps_per_sample = exp.latency + settle + 2
    return exp


def prediction_stages(network: Network, export: LavaExport) -> list[dict]:
    """The per-layer description :func:`neurodecorr.lava.fixed.predict_error` needs."""
    dense = [la for la in export.layers if la["type"] == "dense"]
    lateral = [la for la in export.layers if la["type"] in ("lateral", "integrator")]
    stages = []
    for layer, d in zip(network.layers, dense, strict=True):
        A = layer.lateral if layer.decorrelation is not None else None
        fl = None
        if A is not None:
            st = next(la for la in lateral if la.get("decorrelate") or la["type"] == "integrator")
            lateral.remove(st)
            if st["type"] == "integrator":
                mant, exp = st["weight_rec"], st["weight_rec_exp"]
                alpha = float(st["alpha"])
                fl = fixed.FixedLateral(alpha_shift=-int(round(np.log2(alpha))), leak=np.zeros(0),
                                        lateral=mant, lateral_exp=exp,
                                        realised=-mant * 2.0**exp / alpha)
            else:
                fl = fixed.FixedLateral(alpha_shift=st["alpha_shift"], leak=st["leak"],
                                        lateral=st["lateral"], lateral_exp=st["lateral_exp"],
                                        realised=np.zeros(0))
        stages.append({"A": A, "fixed_lateral": fl, "W": layer.weight, "W_exp": d["weight_exp"],
                       "b": layer.bias, "activation": layer.activation,
                       "negative_slope": layer.negative_slope})
    return stages
