"""What every learning rule provides, and the backward pass the feedback rules share."""

from __future__ import annotations

import numpy as np

from neurodecorr.core.forward import Backend, Trace
from neurodecorr.core.network import Network
from neurodecorr.learning.loss import cross_entropy_grad


class LearningRule:
    """A rule turns a batch into updates ``∂L/∂W_l``, ``∂L/∂b_l`` (or estimates of them).

    A rule runs the batch through ``backend.forward(network, X)`` (the exact numpy pass, a chip,
    ...) and reads the network's ``W`` and ``M`` for its backward pass. Gradients are returned
    in the order ``[W_0, b_0, W_1, b_1, ...]`` for Adam, together with the clean forward pass
    (its layer inputs train the decorrelators). Fixed random matrices a rule draws at
    construction are its state, saved in checkpoints.
    """

    name = ""

    def gradients(self, network: Network, backend: Backend, X: np.ndarray, y: np.ndarray,
                  rng: np.random.Generator) -> tuple[list[np.ndarray], Trace]:
        raise NotImplementedError

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the arrays of :meth:`state_arrays` (nothing for rules without state)."""


def weight_gradients(deltas: list[np.ndarray], trace: Trace) -> list[np.ndarray]:
    """``∂L/∂W_l = δ_lᵀ X̄_l`` and ``∂L/∂b_l = Σ_n δ_l`` from per-layer errors (rows = samples)."""
    grads = []
    for delta, xbar in zip(deltas, trace.xbar, strict=True):
        grads.append(delta.T @ xbar)
        grads.append(delta.sum(axis=0))
    return grads


def backpropagate(network: Network, trace: Trace, y: np.ndarray, feedback: list[np.ndarray],
                  through_decorrelation: bool = True) -> list[np.ndarray]:
    """Errors ``δ_l`` of every layer, sent back layer by layer through ``feedback``.

    ``δ_L = (softmax(z_L) − onehot(y))/N`` and, going down,
    ``δ_{l−1} = f'(z_{l−1}) ⊙ M_lᵀ (B_lᵀ δ_l)`` where ``B_l = feedback[l]`` has ``W_l``'s shape.
    ``B_l = W_l`` is backpropagation (the decorrelator is part of the forward map, so its
    transpose carries the error exactly); a fixed random ``B_l`` is feedback alignment
    (Lillicrap et al. 2016). ``through_decorrelation=False`` drops the ``M_lᵀ`` factor.
    """
    delta = cross_entropy_grad(trace.logits, y)
    deltas = [delta]
    for i in range(network.n_layers - 1, 0, -1):
        M = network.layers[i].decorrelation
        B = feedback[i]
        if M is not None and through_decorrelation:
            # association by shape: (δ B) M costs N·n_out·d + N·d², δ (B M) costs
            # n_out·d² + N·n_out·d; the narrow classifier (n_out < N) takes the second
            g = delta @ (B @ M) if B.shape[0] < delta.shape[0] else (delta @ B) @ M
        else:
            g = delta @ B
        delta = g * network.layers[i - 1].derivative(trace.z[i - 1])
        deltas.append(delta)
    return deltas[::-1]
