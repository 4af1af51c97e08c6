"""A dense network with a decorrelator on every layer's input, trained in numpy.

Layer ``l`` receives ``x_l``, decorrelates it, ``x̄_l = M_l x_l``, and computes
``z_l = W_l x̄_l + b_l``, ``x_{l+1} = f(z_l)`` with a leaky ReLU ``f`` (identity on the last
layer, whose ``z`` are the logits). The two operations a chip performs physically are routed
through a :class:`ForwardEngine`: how ``x̄`` is obtained (here exactly; on a chip, the settled
state of the lateral circuit) and how ``W x̄`` is obtained (here a GEMM; on a chip, a crossbar
read). Learning rules only see the resulting :class:`Trace`.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.core.linear import LinearDecorrelator
from neurodecorr.core.network import Layer, Network, Trace
from neurodecorr.core.rules import DecorrelationConfig


class ForwardEngine:
    """The exact forward operations: ``x̄ = M x`` and ``z = W x̄ + b`` in float64.

    Subclasses replace either method to run the same training on simulated hardware.
    """

    def decorrelate(self, index: int, decorrelator: LinearDecorrelator | None,
                    X: np.ndarray) -> np.ndarray:
        """``X̄ = X Mᵀ`` for the rows of ``X`` (``X`` itself without a decorrelator)."""
        return X if decorrelator is None else decorrelator.transform(X)

    def project(self, index: int, W: np.ndarray, b: np.ndarray, Xbar: np.ndarray) -> np.ndarray:
        """``Z = X̄ Wᵀ + b``."""
        return Xbar @ W.T + b


def leaky_relu(z: np.ndarray, slope: float) -> np.ndarray:
    return np.where(z > 0, z, slope * z)


def leaky_relu_grad(z: np.ndarray, slope: float) -> np.ndarray:
    """``f'(z)``: 1 above zero, ``slope`` at and below zero."""
    return np.where(z > 0, 1.0, slope)


class MLP:
    """Weights, biases and decorrelators of a dense network, with its forward pass.

    Forward weights start as in PyTorch's ``nn.Linear``: ``W, b ~ U(−1/√n_in, 1/√n_in)``;
    every ``M`` starts at the identity, so switching decorrelation on does not change the
    network's function.

    Parameters
    ----------
    sizes : list of int
        ``[n_in, hidden..., n_out]``.
    decorrelation : DecorrelationConfig or None
        Settings of the decorrelator put on every layer's input; ``None`` for none.
    negative_slope : float
        Leaky ReLU slope of the hidden layers.
    rng : numpy.random.Generator
        Draws the initial weights.
    engine : ForwardEngine, optional
    """

    def __init__(self, sizes: list[int], decorrelation: DecorrelationConfig | None,
                 negative_slope: float, rng: np.random.Generator,
                 engine: ForwardEngine | None = None) -> None:
        self.sizes = list(sizes)
        self.negative_slope = float(negative_slope)
        self.engine = engine or ForwardEngine()
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            bound = 1.0 / np.sqrt(n_in)
            self.weights.append(rng.uniform(-bound, bound, size=(n_out, n_in)))
            self.biases.append(rng.uniform(-bound, bound, size=n_out))
        self.decorrelators: list[LinearDecorrelator | None] = [
            None if decorrelation is None else LinearDecorrelator(n_in, decorrelation)
            for n_in in self.sizes[:-1]
        ]

    @property
    def n_layers(self) -> int:
        return len(self.weights)

    def slope(self, index: int) -> float:
        """Activation slope below zero of layer ``index`` (1: the output layer is linear)."""
        return 1.0 if index == self.n_layers - 1 else self.negative_slope

    def forward(self, X: np.ndarray, noise: list[np.ndarray] | None = None) -> Trace:
        """Run the network on the rows of ``X``; ``noise[l]`` is added to ``z[l]`` if given."""
        xs, xbars, zs = [], [], []
        h = X
        for i in range(self.n_layers):
            xbar = self.engine.decorrelate(i, self.decorrelators[i], h)
            z = self.engine.project(i, self.weights[i], self.biases[i], xbar)
            if noise is not None:
                z = z + noise[i]
            xs.append(h)
            xbars.append(xbar)
            zs.append(z)
            h = leaky_relu(z, self.slope(i))
        return Trace(x=xs, xbar=xbars, z=zs)

    def logits(self, X: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """Clean logits of many rows, computed in chunks to bound memory."""
        return np.concatenate([self.forward(X[i:i + chunk]).logits
                               for i in range(0, len(X), chunk)])

    def to_network(self, metadata: dict | None = None) -> Network:
        """The plain-data :class:`~neurodecorr.core.network.Network` every backend consumes."""
        layers = [
            Layer(weight=W.copy(), bias=b.copy(),
                  decorrelation=None if d is None else d.M.copy(),
                  activation="identity" if i == self.n_layers - 1 else "leaky_relu",
                  negative_slope=self.negative_slope)
            for i, (W, b, d) in enumerate(zip(self.weights, self.biases, self.decorrelators,
                                              strict=True))
        ]
        return Network(layers=layers, metadata=dict(metadata or {}))
