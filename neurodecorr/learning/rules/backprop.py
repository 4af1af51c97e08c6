"""Backpropagation: the exact gradient, through every ``Mᵀ`` and ``Wᵀ``."""

from __future__ import annotations

import numpy as np

from neurodecorr.learning.model import MLP, Trace
from neurodecorr.learning.rules.base import LearningRule, backpropagate, weight_gradients


class Backprop(LearningRule):
    """``δ_{l−1} = f'(z_{l−1}) ⊙ M_lᵀ W_lᵀ δ_l`` (Rumelhart et al. 1986; Ahmad 2024, §3)."""

    name = "bp"

    def gradients(self, model: MLP, X: np.ndarray, y: np.ndarray,
                  rng: np.random.Generator) -> tuple[list[np.ndarray], Trace]:
        trace = model.forward(X)
        deltas = backpropagate(model, trace, y, model.weights, through_decorrelation=True)
        return weight_gradients(deltas, trace), trace
