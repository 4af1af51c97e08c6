"""Node perturbation: gradients estimated from the loss change caused by noise.

Each batch runs twice through the network: clean, and with noise ``ξ_l ~ N(0, σ²)`` added to
every pre-activation ``z_l`` (output layer included). Both rules correlate the per-sample loss
change ``L_noisy − L_clean`` with a per-node signal and use the clean layer input ``x̄_l``:
``∂L/∂W_l ≈ ⟨g_l x̄_lᵀ⟩`` over the batch, fed to Adam like a true gradient.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.core.forward import Backend, Trace
from neurodecorr.core.network import Network
from neurodecorr.learning.loss import cross_entropy
from neurodecorr.learning.rules.base import LearningRule, weight_gradients


class _Perturbation(LearningRule):
    def __init__(self, sigma: float) -> None:
        self.sigma = float(sigma)

    def _passes(self, network: Network, backend: Backend, X: np.ndarray, y: np.ndarray,
                rng: np.random.Generator) -> tuple[Trace, Trace, list[np.ndarray], np.ndarray]:
        clean = backend.forward(network, X)
        noise = [self.sigma * rng.standard_normal((len(X), n)) for n in network.sizes[1:]]
        noisy = backend.forward(network, X, noise=noise)
        dloss = cross_entropy(noisy.logits, y) - cross_entropy(clean.logits, y)
        return clean, noisy, noise, dloss


class NodePerturbation(_Perturbation):
    """``g_l = (L_clean − L_noisy)(−ξ_l)/σ²`` per sample.

    Since ``L_noisy − L_clean ≈ Σ_k ∇_{z_k}L · ξ_k`` and ``⟨ξ_k ξ_lᵀ⟩ = σ² δ_kl I``, the mean of
    ``g_l`` is ``∇_{z_l}L``: an unbiased estimate as ``σ → 0`` (Williams 1992; Dalm, van Gerven
    & Ahmad 2023, arXiv 2310.00965). It needs the noise ``ξ`` and its variance ``σ²``.
    """

    name = "np"

    def gradients(self, network: Network, backend: Backend, X: np.ndarray, y: np.ndarray,
                  rng: np.random.Generator) -> tuple[list[np.ndarray], Trace]:
        clean, _, noise, dloss = self._passes(network, backend, X, y, rng)
        coef = (-dloss)[:, None] / self.sigma ** 2 / len(X)
        deltas = [coef * (-xi) for xi in noise]
        return weight_gradients(deltas, clean), clean


class ActivityNodePerturbation(_Perturbation):
    """``g_l = (L_noisy − L_clean) · N · δa_l / ‖δa‖²`` per sample, ``δa_l = z̃_l − z_l``.

    Activity-based node perturbation (ANP; Dalm, van Gerven & Ahmad 2023, arXiv 2310.00965):
    ``δa`` is the measured change of every node's activity (the injected noise plus what it
    propagated from below), ``N`` the number of perturbed nodes and ``‖δa‖²`` the squared norm
    over all of them. ``N/‖δa‖² ≈ 1/σ²``, so the rule never needs the noise or its variance —
    the form that works with physical, unknown device noise. Its mean is
    ``(I + Σ_{k<l} J_{l←k}J_{l←k}ᵀ) ∇_{z_l}L`` (``J`` the Jacobians between layers), which
    points along the gradient to within the positive definite factor.
    """

    name = "anp"

    def gradients(self, network: Network, backend: Backend, X: np.ndarray, y: np.ndarray,
                  rng: np.random.Generator) -> tuple[list[np.ndarray], Trace]:
        clean, noisy, _, dloss = self._passes(network, backend, X, y, rng)
        da = [zn - zc for zn, zc in zip(noisy.z, clean.z, strict=True)]
        sq_norm = sum(np.sum(np.square(d), axis=1) for d in da)
        n_nodes = sum(network.sizes[1:])
        coef = (dloss * n_nodes / sq_norm)[:, None] / len(X)
        deltas = [coef * d for d in da]
        return weight_gradients(deltas, clean), clean
