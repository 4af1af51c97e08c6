"""The forward pass: one loop over layers, one :class:`Trace`, whatever computes it.

A backend turns a :class:`~neurodecorr.core.network.Network` and a batch into a :class:`Trace`:

* :class:`NumpyBackend` (here): exact float64, ``x̄ = M x``, ``z = W x̄ + b``;
* :class:`~neurodecorr.circuits.chip.Chip`: the lateral circuits settle, the crossbars read;
* :class:`~neurodecorr.reference.network.TorchReference`: the same exact pass in torch;
* :class:`neurodecorr.lava.backend.LavaBackend`: the network exported to Lava, the trace read
  from what its stages send (fields no stage sends are ``None``).

Each of the first three supplies the three operations of a layer (:class:`LayerOps`) and runs
them through the one loop :func:`run_layers`, so they cannot disagree about the order of the
steps or about what a trace holds. Learning rules only see traces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from neurodecorr.core.network import Network


@dataclass
class Trace:
    """Everything one forward pass computed, per layer ``l``, whatever backend computed it.

    Attributes
    ----------
    x : list of ndarray, shape (batch, n_in_l)
        The layer's input (the previous layer's activation; on a chip, clipped to its rails).
    xbar : list of ndarray, shape (batch, n_in_l)
        Its decorrelated input ``x̄ = M x`` (on a chip: the settled state of the lateral circuit).
    z : list of ndarray, shape (batch, n_out_l)
        Its pre-activation ``W x̄ + b`` (noise included on a perturbed pass); ``z[-1]`` are the
        logits.
    """

    x: list[np.ndarray]
    xbar: list[np.ndarray]
    z: list[np.ndarray]

    @property
    def logits(self) -> np.ndarray:
        return self.z[-1]


class LayerOps(Protocol):
    """The three operations of layer ``index``, on a batch (rows are samples)."""

    def decorrelate(self, index: int, X: np.ndarray) -> np.ndarray:
        """``X̄``, the decorrelated input."""

    def project(self, index: int, Xbar: np.ndarray) -> np.ndarray:
        """``Z = X̄ Wᵀ + b``."""

    def activate(self, index: int, Z: np.ndarray) -> np.ndarray:
        """The next layer's input ``f(Z)``."""


class Backend(Protocol):
    """What computes forward passes of a network (see the module docstring)."""

    def forward(self, network: Network, X: np.ndarray,
                noise: list[np.ndarray] | None = None) -> Trace:
        """The trace of ``network`` on the rows of ``X``; ``noise[l]`` is added to ``z[l]``."""


def run_layers(ops: LayerOps, n_layers: int, X: np.ndarray,
               noise: list[np.ndarray] | None = None) -> Trace:
    """Input → [decorrelate → project (+ noise) → activate] × ``n_layers``, recorded."""
    xs, xbars, zs = [], [], []
    h = np.atleast_2d(np.asarray(X, dtype=np.float64))
    for i in range(n_layers):
        xbar = ops.decorrelate(i, h)
        z = ops.project(i, xbar)
        if noise is not None:
            z = z + noise[i]
        xs.append(h)
        xbars.append(xbar)
        zs.append(z)
        h = ops.activate(i, z)
    return Trace(x=xs, xbar=xbars, z=zs)


def logits_in_chunks(backend: Backend, network: Network, X: np.ndarray,
                     chunk: int = 4096) -> np.ndarray:
    """Clean logits of many rows, computed ``chunk`` rows at a time to bound memory."""
    return np.concatenate([backend.forward(network, X[i:i + chunk]).logits
                           for i in range(0, len(X), chunk)])


class NumpyBackend:
    """The exact forward pass in float64 (the reference every other backend is checked against)."""

    name = "numpy"

    def forward(self, network: Network, X: np.ndarray,
                noise: list[np.ndarray] | None = None) -> Trace:
        return run_layers(network, len(network.layers), X, noise)
