"""Backpropagation: the exact gradient, through every ``Mᵀ`` and ``Wᵀ``."""

from __future__ import annotations

import numpy as np

from neurodecorr.core.forward import Backend, Trace
from neurodecorr.core.network import Network
from neurodecorr.learning.rules.base import LearningRule, backpropagate, weight_gradients


class Backprop(LearningRule):
    """``δ_{l−1} = f'(z_{l−1}) ⊙ M_lᵀ W_lᵀ δ_l`` (Rumelhart et al. 1986; Ahmad 2024, §3)."""

    name = "bp"

    def gradients(self, network: Network, backend: Backend, X: np.ndarray, y: np.ndarray,
                  rng: np.random.Generator) -> tuple[list[np.ndarray], Trace]:
        trace = backend.forward(network, X)
        weights = [layer.weight for layer in network.layers]
        deltas = backpropagate(network, trace, y, weights, through_decorrelation=True)
        return weight_gradients(deltas, trace), trace
