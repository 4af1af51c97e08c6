"""Lava as a backend of the shared :class:`~neurodecorr.core.network.Network`.

:class:`LavaBackend` exports the network (:func:`~neurodecorr.lava.export.export_network`), runs
the batch in Lava's CPU simulation with every stage recording what it sends
(:func:`~neurodecorr.lava.graph.run_export` with ``record_stages``) and turns those records
back into true values, one :class:`~neurodecorr.core.forward.Trace`.

A Lava stage sends one vector per sample and nothing else, so a trace holds what the stages
send, and ``None`` where no stage sends the value:

* ``xbar``: every layer (``loihi`` mapping: the integrator's ``v``, or the pass-through stage's
  output for a layer without decorrelation; ``layer`` mapping: the stage's settled ``x̄``);
* ``x``: every layer in the ``loihi`` mapping (the pass-through stage's output); in the
  ``layer`` mapping only the layers without decorrelation (a decorrelating stage sends ``x̄``);
* ``z``: the last layer's only, and only when that layer is linear (the last stage sends
  ``f(z)``), so ``trace.logits`` are Lava's.

The pre-activations ``z`` of hidden layers are computed inside the next stage and never sent.
In fixed point the records are integers at each stage's scale ``2^F``, and a pass-through
stage sends the drive ``p∘x`` (its per-neuron Euler step ``p``): both are undone here.

Learning: :meth:`LavaBackend.learn_lateral` runs Lava's on-chip learning of one layer's lateral
matrix ``A = M⁻¹`` (:mod:`neurodecorr.lava.learning`) on that layer's inputs and writes the
learned ``M = A⁻¹`` into the network in place, as :meth:`neurodecorr.circuits.chip.Chip.read_back`
does for a chip; :meth:`LavaBackend.learn` does so for every decorrelated layer from one pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from neurodecorr.core.forward import Trace
from neurodecorr.core.network import Layer, Network
from neurodecorr.errors import NeurodecorrError

if TYPE_CHECKING:
    from neurodecorr.lava.fixed_learning import FixedLearningPlan


class LavaBackend:
    """The forward pass of a network in Lava (lava-nc's CPU simulation).

    Parameters
    ----------
    precision : {"float", "fixed"}
        Lava's ``floating_pt`` models, or the bit-accurate ``fixed_pt`` ones.
    mapping : {"loihi", "layer"}
        How a decorrelated layer is laid out (see :mod:`neurodecorr.lava.export`).
    calibration : ndarray, shape (N, n_in), optional
        Inputs that set the fixed-point scales (required for ``fixed``).
    tol : float
        Contraction the lateral dynamics reach per sample (float: the error of ``x̄`` relative
        to its size; fixed point stops at the 24-bit state's resolution).
    """

    name = "lava"

    def __init__(self, precision: str = "float", mapping: str = "loihi",
                 calibration: np.ndarray | None = None, tol: float = 1e-9) -> None:
        self.precision = precision
        self.mapping = mapping
        self.calibration = calibration
        self.tol = tol

    def forward(self, network: Network, X: np.ndarray,
                noise: list[np.ndarray] | None = None) -> Trace:
        """The trace of ``network`` on the rows of ``X``, read back from Lava (see the module
        docstring for which fields are filled). Lava adds no noise: ``noise`` is refused."""
        from neurodecorr.lava.export import export_network
        from neurodecorr.lava.graph import run_export

        if noise is not None:
            raise NeurodecorrError("the Lava backend runs clean passes only (noise given)")
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        export = export_network(network, self.precision, self.mapping, self.calibration,
                                self.tol)
        run = run_export(export, X, record_stages=True)
        recorded = [la for la in export.layers if la["type"] in ("lateral", "integrator")]
        values = [_true_values(la, rec, export.precision)
                  for la, rec in zip(recorded, run.stages, strict=True)]
        return _trace(network, recorded, values)

    def learn_lateral(self, network: Network, index: int, X: np.ndarray, eta: float,
                      plan: FixedLearningPlan | None = None):
        """Learn layer ``index``'s lateral matrix on chip from its inputs ``X``; store ``M``.

        The ``ahmad`` rule with its gain, sample by sample (Ahmad 2024;
        :func:`neurodecorr.core.inverse.first_order_update`),
        ``x̄ = A⁻¹x``, ``A ← (A + η (A x̄) x̄ᵀ)/g``, starting from ``A = M⁻¹``, runs in Lava's
        ``LearningDense``; afterwards ``layer.decorrelation[...] = A⁻¹`` (in place).

        Parameters
        ----------
        network : Network
        index : int
            A layer with decorrelation.
        X : ndarray, shape (N, n_in)
            The layer's inputs (a trace's ``x[index]``), streamed one sample at a time.
        eta : float
            Learning rate η; in fixed point a power of two (the rule's exponent).
        plan : neurodecorr.lava.fixed_learning.FixedLearningPlan, optional
            Fixed point only: the integer scales (default ``plan_for(eta)``). The weights are
            ``w = A·2^a`` (even integers, ``|w| ≤ 254``), the inputs ``round(x·2^F)``; the
            learned ``A`` is ``w·2^−a``.

        Returns
        -------
        OnChipLearning or FixedOnChipLearning
            The run (float: with the numpy rule's ``A`` on the same stream).
        """
        from neurodecorr.lava.learning import learn_on_chip, learn_on_chip_fixed

        layer = _decorrelated_layer(network, index)
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.shape[1] != layer.n_in:
            raise NeurodecorrError(f"layer {index}: inputs have {X.shape[1]} columns, the layer "
                                   f"has {layer.n_in}")
        if not np.all(np.isfinite(X)):
            raise NeurodecorrError(f"layer {index}: inputs contain NaN or infinite values")
        if self.precision == "float":
            run = learn_on_chip(layer.lateral, X, eta, tol=self.tol)
            A = run.A_lava
        else:
            plan = _fixed_plan(eta, plan)
            run = learn_on_chip_fixed(_lateral_codes(layer.lateral, plan, index),
                                      _input_codes(X, plan, index), plan)
            A = run.weights * 2.0 ** -plan.a
        _write_back(layer, A, index)
        return run

    def learn(self, network: Network, X: np.ndarray, eta: float,
              plan: FixedLearningPlan | None = None) -> list:
        """One pass of ``X`` in Lava (``loihi`` mapping, which sends every layer's input), then
        :meth:`learn_lateral` of every decorrelated layer on its input ``x`` from that pass
        (as the numpy and chip trainers update every decorrelator from one trace).

        Returns the run of each decorrelated layer, in layer order.
        """
        trace = LavaBackend(self.precision, "loihi", self.calibration, self.tol).forward(
            network, X)
        return [self.learn_lateral(network, i, trace.x[i], eta, plan)
                for i, layer in enumerate(network.layers) if layer.decorrelation is not None]


def _decorrelated_layer(network: Network, index: int) -> Layer:
    if not 0 <= index < len(network.layers):
        raise NeurodecorrError(f"layer {index}: the network has {len(network.layers)} layers")
    layer = network.layers[index]
    if layer.decorrelation is None:
        raise NeurodecorrError(f"layer {index} has no decorrelation to learn")
    return layer


def _write_back(layer: Layer, A: np.ndarray, index: int) -> None:
    """``M = A⁻¹`` into the layer in place; a diverged or singular ``A`` is refused."""
    try:
        M = np.linalg.inv(A)
    except np.linalg.LinAlgError:
        raise NeurodecorrError(f"layer {index}: the learned lateral matrix is singular") from None
    if not np.all(np.isfinite(M)):
        raise NeurodecorrError(f"layer {index}: on-chip learning diverged (the lateral matrix "
                               f"is not finite); lower eta")
    layer.decorrelation[...] = M


def _fixed_plan(eta: float, plan: FixedLearningPlan | None) -> FixedLearningPlan:
    """The integer plan that realises ``eta``: ``plan_for(eta)`` or the given one."""
    from neurodecorr.lava.fixed_learning import plan_for

    if plan is None:
        return plan_for(eta)
    plan.check()
    if plan.eta != eta:
        raise NeurodecorrError(f"eta={eta}: the fixed-point plan realises eta={plan.eta}")
    return plan


def _lateral_codes(A: np.ndarray, plan: FixedLearningPlan, index: int) -> np.ndarray:
    """``w = A·2^a`` rounded to the even integers Lava's mixed-sign ``Dense`` keeps."""
    w = 2 * np.round(A * 2.0 ** (plan.a - 1)).astype(np.int64)
    if np.max(np.abs(w)) > 254:
        raise NeurodecorrError(f"layer {index}: lateral entries up to {np.max(np.abs(A)):.3g} "
                               f"do not fit 8-bit weights at 2^-{plan.a} (|A_ij| < "
                               f"{255 * 2.0 ** -plan.a:.3g})")
    return w


def _input_codes(X: np.ndarray, plan: FixedLearningPlan, index: int) -> np.ndarray:
    """``round(x·2^F)``, refused where it leaves the neuron's 24-bit state."""
    codes = np.round(X * 2.0 ** plan.F).astype(np.int64)
    if np.max(np.abs(codes)) >= 2**23:
        raise NeurodecorrError(f"layer {index}: inputs up to {np.max(np.abs(X)):.3g} do not "
                               f"fit the 24-bit state at 2^-{plan.F}")
    return codes


def _true_values(stage: dict, record: np.ndarray, precision: str) -> np.ndarray:
    """What a stage sent, in true units: ``v·2^−F`` (and ``/p`` for a pass-through drive)."""
    if precision == "float":
        return record
    value = record * 2.0 ** -int(stage["frac_bits"])
    if stage["type"] == "lateral" and not stage["decorrelate"]:
        value = value / np.asarray(stage["step"], dtype=np.float64)
    return value


def _trace(network: Network, stages: list[dict], values: list[np.ndarray]) -> Trace:
    """Assign the recorded values to the trace's fields, layer by layer (export order)."""
    xs, xbars = [], []
    k = 0
    for layer in network.layers:
        sent, stage = values[k], stages[k]
        k += 1
        if stage["decorrelate"]:  # layer mapping: the stage settles and sends x̄ only
            xs.append(None)
            xbars.append(sent)
        elif layer.decorrelation is not None:  # loihi mapping: x here, x̄ from the integrator
            xs.append(sent)
            xbars.append(values[k])
            k += 1
        else:
            xs.append(sent)
            xbars.append(sent)
    zs: list = [None] * len(network.layers)
    if network.layers[-1].activation == "identity":
        zs[-1] = values[k]
    return Trace(x=xs, xbar=xbars, z=zs)
