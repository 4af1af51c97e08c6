"""One decorrelation step ``M ← g (I − η G) M`` in torch, with the fused, subsampled products.

The same mathematics as :func:`neurodecorr.core.linear.linear_update` (Ahmad 2024, arXiv
2407.10780, §3; rules of :mod:`neurodecorr.core.rules`), arranged so that its cost stays small
beside the layer's own matrix products:

- ``G`` is estimated on the first ``k = max(1, round(f·N))`` rows only (the author's code,
  CorrelationsRuinGD ``crgd/decor.py``, uses a 10 % subsample), and the states ``X̄_k`` are
  the forward pass's own outputs, not recomputed;
- for ``ahmad`` with ``k < d/2``, ``G M = X̄_kᵀ (X̄_k M) / k`` (2kd² instead of d³ + kd²);
- the gain ``g = sqrt(⟨‖x‖²⟩ / ⟨‖(I − ηG) x̄‖²⟩)`` on the same ``k`` rows uses
  ``X̄_k (I − ηG) = X̄_k − η X̄_k G`` (``G`` is symmetric) with ``X̄_k G = (X̄_k X̄_kᵀ) X̄_k / k``
  (2k²d) instead of a second pass through ``M``.

Rows are samples throughout.
"""

from __future__ import annotations

import torch

from neurodecorr.core.linear import SAFE_FRACTION, STABILITY_LIMIT, subsample_rows
from neurodecorr.core.rules import DecorrelationConfig


def _rule_matrix(S: torch.Tensor, config: DecorrelationConfig) -> torch.Tensor:
    """``G`` from the states ``S`` (rows): ``C``, ``C_off`` or DBP's mix."""
    C = S.T @ S / S.shape[0]
    if config.rule == "ahmad":
        return C
    variances = torch.diagonal(C).clone()
    G = C.clone()
    G.diagonal().zero_()
    if config.rule == "dbp":
        G.mul_(1.0 - config.kappa).diagonal().add_(config.kappa * (variances - 1.0))
    return G


def decorrelation_step(M: torch.Tensor, X: torch.Tensor, Xbar: torch.Tensor | None,
                       config: DecorrelationConfig, mean: torch.Tensor | None = None,
                       eta: float | torch.Tensor | None = None, in_place: bool = False
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(M_new, g)`` after one step on the batch ``X`` whose forward states are ``X̄ = X Mᵀ``.

    Parameters
    ----------
    M : Tensor, shape (d, d)
    X : Tensor, shape (N, d)
        Inputs of the decorrelator (already demeaned when the forward pass demeans).
    Xbar : Tensor, shape (N, d), or None
        ``X Mᵀ`` as the forward pass computed it (at least its first ``k`` rows); ``None``
        when the forward pass never formed it (a fused layer): then only ``k`` rows are formed.
    config : DecorrelationConfig
    mean : Tensor, shape (d,), optional
        Running mean subtracted before estimating ``G`` (``config.centre``).
    eta : float or 0-d Tensor, optional
        η of this step (default ``config.eta``), e.g. from :func:`step_eta`.
    in_place : bool
        Write the new ``M`` into ``M`` (no graph may still need the old one): the fused
        multiply-add then reads and writes ``M`` once, where a new tensor costs an allocation
        and a copy of ``M`` — as much time as a ``64 × d × d`` product at ``d = 1000``.

    Returns
    -------
    M_new : Tensor
    gain : 0-d Tensor
        ``g`` on the ``k`` rows (1 for rules without gain); a tensor, so that a GPU never
        waits for it.
    """
    eta = config.eta if eta is None else eta
    k = subsample_rows(X.shape[0], config.batch_fraction)
    Xk = X[:k]
    states = Xk @ M.T if Xbar is None else Xbar[:k]
    S = states if mean is None else (Xk - mean) @ M.T
    factored = config.rule == "ahmad" and k < M.shape[0] / 2
    G = None if factored else _rule_matrix(S, config)
    if config.uses_gain:
        # X_k ((I − ηG) M)ᵀ = states (I − ηG) = states − η·states·G, as G is symmetric
        statesG = (states @ S.T) @ S / k if factored else states @ G
        p_out = torch.sum(torch.square(states - eta * statesG))
        gain = torch.sqrt(torch.sum(torch.square(Xk)) / p_out)
    else:
        gain = torch.ones((), dtype=M.dtype, device=M.device)
    # g (M − η G M) in one fused multiply-add: M (d² values) is read once and written once;
    # on a GPU g stays a tensor (no synchronisation) and costs one more pass
    beta = float(gain) if M.device.type == "cpu" else 1.0
    left = S * (eta / k) if factored else G * eta
    right = S @ M if factored else M
    if in_place and factored:  # (G M: the product reads M, it cannot also be the output)
        M_new = M.addmm_(left.T if factored else left, right, beta=beta, alpha=-beta)
    else:
        M_new = torch.addmm(M, left.T if factored else left, right, beta=beta, alpha=-beta)
    if M.device.type != "cpu":
        M_new.mul_(gain)
    return M_new, gain


def step_eta(X: torch.Tensor, eta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """η for a step on ``X`` and whether it was shrunk, as tensors (no GPU synchronisation).

    The rule of :func:`neurodecorr.core.linear.stable_eta`: ``η`` while ``η·⟨‖x‖²⟩ < 1``,
    else ``SAFE_FRACTION / ⟨‖x‖²⟩``.
    """
    mean_sq = torch.sum(torch.square(X)) / max(X.shape[0], 1)
    shrunk = eta * mean_sq >= STABILITY_LIMIT
    return torch.where(shrunk, SAFE_FRACTION / mean_sq, torch.full_like(mean_sq, eta)), shrunk
