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
"""

from __future__ import annotations

import numpy as np

from neurodecorr.core.forward import Trace
from neurodecorr.core.network import Network
from neurodecorr.errors import NeurodecorrError


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
