"""Feedback alignment and its relatives: the error travels back through fixed matrices.

Initial scale of every random feedback matrix ``B``: ``B ~ U(−a, a)`` with
``a = feedback_scale · √(6 / B.shape[1])``, PyTorch's ``kaiming_uniform_`` convention that the
decorrelation paper's code (CorrelationsRuinGD) uses — about 2.45× the forward weights' bound
``1/√n_in`` for ``fa``.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.core.forward import Backend, Trace
from neurodecorr.core.network import Network
from neurodecorr.learning.loss import cross_entropy_grad
from neurodecorr.learning.rules.base import LearningRule, backpropagate, weight_gradients


def kaiming_uniform(shape: tuple[int, int], scale: float, rng: np.random.Generator) -> np.ndarray:
    """``U(−a, a)`` with ``a = scale · √(6 / shape[1])``."""
    bound = scale * np.sqrt(6.0 / shape[1])
    return rng.uniform(-bound, bound, size=shape)


class _FixedFeedback(LearningRule):
    """A rule whose state is one fixed matrix per layer, saved as ``feedback{l}``."""

    feedback: list[np.ndarray]

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {f"feedback{i}": B for i, B in enumerate(self.feedback)}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.feedback = [np.asarray(arrays[f"feedback{i}"], dtype=np.float64)
                         for i in range(len(self.feedback))]


class FeedbackAlignment(_FixedFeedback):
    """``δ_{l−1} = f'(z_{l−1}) ⊙ M_lᵀ B_lᵀ δ_l`` with fixed random ``B_l`` (Lillicrap 2016).

    ``B_l`` has ``W_l``'s shape; ``B_0`` is never used but kept so indices match layers.
    ``through_decorrelation=False`` sends the error past ``M_l`` without ``M_lᵀ``.
    """

    name = "fa"

    def __init__(self, network: Network, rng: np.random.Generator, scale: float = 1.0,
                 through_decorrelation: bool = True) -> None:
        self.feedback = [kaiming_uniform(layer.weight.shape, scale, rng)
                         for layer in network.layers]
        self.through_decorrelation = through_decorrelation

    def gradients(self, network: Network, backend: Backend, X: np.ndarray, y: np.ndarray,
                  rng: np.random.Generator) -> tuple[list[np.ndarray], Trace]:
        trace = backend.forward(network, X)
        deltas = backpropagate(network, trace, y, self.feedback, self.through_decorrelation)
        return weight_gradients(deltas, trace), trace


class SignFeedbackAlignment(LearningRule):
    """Sign-concordant feedback: ``B_l = s_l · sign(W_l)`` of the current weights.

    Liao, Leibo & Poggio 2016 ("sign symmetry"); Moskovitz et al. 2018 (uSF). ``s_l`` is the
    root-mean-square of the initial ``W_l`` times ``feedback_scale``, so the feedback starts on
    the forward weights' scale. Only signs are shared with the forward path, never magnitudes.
    """

    name = "signfa"

    def __init__(self, network: Network, scale: float = 1.0,
                 through_decorrelation: bool = True) -> None:
        self.scales = [scale * float(np.sqrt(np.mean(np.square(layer.weight))))
                       for layer in network.layers]
        self.through_decorrelation = through_decorrelation

    def gradients(self, network: Network, backend: Backend, X: np.ndarray, y: np.ndarray,
                  rng: np.random.Generator) -> tuple[list[np.ndarray], Trace]:
        trace = backend.forward(network, X)
        feedback = [s * np.sign(layer.weight)
                    for s, layer in zip(self.scales, network.layers, strict=True)]
        deltas = backpropagate(network, trace, y, feedback, self.through_decorrelation)
        return weight_gradients(deltas, trace), trace

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {"feedback_sign_scales": np.asarray(self.scales)}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.scales = [float(s) for s in arrays["feedback_sign_scales"]]


class DirectFeedbackAlignment(_FixedFeedback):
    """The output error goes straight to every hidden layer: ``δ_l = f'(z_l) ⊙ B_lᵀ e``.

    Nøkland 2016. ``e = δ_L`` is the output error; ``B_l`` has shape (classes, n_l). No
    decorrelator lies on the broadcast path, so ``M`` only enters through the layer input
    ``x̄_l`` of ``∂L/∂W_l = δ_lᵀ x̄_l``. The last entry (the output layer) is unused.
    """

    name = "dfa"

    def __init__(self, network: Network, rng: np.random.Generator, scale: float = 1.0) -> None:
        n_classes = network.sizes[-1]
        self.feedback = [kaiming_uniform((n_classes, n), scale, rng) for n in network.sizes[1:]]

    def gradients(self, network: Network, backend: Backend, X: np.ndarray, y: np.ndarray,
                  rng: np.random.Generator) -> tuple[list[np.ndarray], Trace]:
        trace = backend.forward(network, X)
        e = cross_entropy_grad(trace.logits, y)
        deltas = [(e @ self.feedback[i]) * network.layers[i].derivative(trace.z[i])
                  for i in range(network.n_layers - 1)]
        deltas.append(e)
        return weight_gradients(deltas, trace), trace
