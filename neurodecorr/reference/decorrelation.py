"""The exact reference of the decorrelation mathematics in torch.

Same equations as :mod:`neurodecorr.core` (whose configuration and rule definitions it reuses),
written independently with torch so that the numpy core and the circuit simulator can be checked
against it, on a GPU when there is one:

- linear form ``x̄ = M x``, ``M ← g (I − η G) M``;
- the circuit's fixed point ``x̄ = A⁻¹ x`` by an exact linear solve (``torch.linalg.solve``);
- first-order inverse update ``A ← g⁻¹ (A + η A G)`` and the exact single-sample
  Sherman–Morrison update ``A ← g⁻¹ (A + η (A x̄) x̄ᵀ / (1 − η x̄ᵀx̄))``.

Rows are samples throughout.
"""

from __future__ import annotations

import torch

from neurodecorr.core.linear import subsample_rows
from neurodecorr.core.rules import DecorrelationConfig


def transform(M: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """``X̄ = X Mᵀ``."""
    return X @ M.T


def fixed_point(A: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """The settled state of ``τ dx̄/dt = x − A x̄``: ``x̄ = A⁻¹ x``, by an exact solve."""
    return torch.linalg.solve(A, X.T).T


def rule_matrix(Xbar: torch.Tensor, config: DecorrelationConfig) -> torch.Tensor:
    """``G`` of the rule from the (subsampled, centred) states."""
    C = Xbar.T @ Xbar / Xbar.shape[0]
    if config.rule == "ahmad":
        return C
    d = torch.diagonal(C)
    C_off = C - torch.diag(d)
    if config.rule == "copi":
        return C_off
    return (1.0 - config.kappa) * C_off + config.kappa * torch.diag(d - 1.0)


def _gain(X: torch.Tensor, Xbar: torch.Tensor, G: torch.Tensor,
          config: DecorrelationConfig) -> torch.Tensor:
    if not config.uses_gain:
        return torch.ones((), dtype=X.dtype, device=X.device)
    stepped = Xbar - config.eta * (Xbar @ G.T)
    return torch.sqrt(torch.sum(X * X) / torch.sum(stepped * stepped))


def linear_update(M: torch.Tensor, X: torch.Tensor, config: DecorrelationConfig,
                  mean: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``M ← g (I − η G) M`` on the batch ``X``, ``G`` and ``g`` from its first ``k`` rows;
    returns ``(M_new, g)``."""
    k = subsample_rows(X.shape[0], config.batch_fraction)
    Xs = X[:k] if mean is None else X[:k] - mean
    G = rule_matrix(Xs @ M.T, config)
    gain = _gain(X[:k], X[:k] @ M.T, G, config)  # on the estimate's k rows, as the core
    eye = torch.eye(M.shape[0], dtype=M.dtype, device=M.device)
    return gain * ((eye - config.eta * G) @ M), gain


def first_order_update(A: torch.Tensor, X: torch.Tensor, Xbar: torch.Tensor,
                       config: DecorrelationConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """``A ← g⁻¹ (A + η A G)``; returns ``(A_new, g)``."""
    k = subsample_rows(X.shape[0], config.batch_fraction)
    G = rule_matrix(Xbar[:k], config)
    gain = _gain(X[:k], Xbar[:k], G, config)
    return (A + config.eta * (A @ G)) / gain, gain


def sherman_morrison_update(A: torch.Tensor, x: torch.Tensor, config: DecorrelationConfig
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact single-sample inverse update; the state ``x̄`` is solved exactly from ``x``."""
    xbar = torch.linalg.solve(A, x)
    s = config.eta * torch.dot(xbar, xbar)
    G = torch.outer(xbar, xbar)
    gain = _gain(x[None, :], xbar[None, :], G, config)
    return (A + config.eta * torch.outer(A @ xbar, xbar) / (1.0 - s)) / gain, gain
