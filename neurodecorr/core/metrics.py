"""How decorrelated a layer's input is, and how well its gradient step is whitened.

All functions take data with samples in rows.
"""

from __future__ import annotations

import numpy as np


def correlation_matrix(X: np.ndarray) -> np.ndarray:
    """Pearson correlation matrix of the columns of ``X`` (constant columns get zero rows)."""
    Xc = X - X.mean(axis=0)
    cov = Xc.T @ Xc / max(X.shape[0] - 1, 1)
    sd = np.sqrt(np.diag(cov))
    safe = np.where(sd > 0, sd, 1.0)
    corr = cov / np.outer(safe, safe)
    corr[sd == 0, :] = 0.0
    corr[:, sd == 0] = 0.0
    return corr


def _offdiag(R: np.ndarray) -> np.ndarray:
    return R[~np.eye(R.shape[0], dtype=bool)]


def offdiag_corr_rms(X: np.ndarray) -> float:
    """Root mean square of the off-diagonal Pearson correlations: 0 for decorrelated data."""
    return float(np.sqrt(np.mean(np.square(_offdiag(correlation_matrix(X))))))


def mean_abs_offdiag_corr(X: np.ndarray) -> float:
    """Mean absolute off-diagonal Pearson correlation."""
    return float(np.mean(np.abs(_offdiag(correlation_matrix(X)))))


def covariance_condition(X: np.ndarray) -> float:
    """Condition number ``λ_max / λ_min`` of the (centred) covariance of ``X``."""
    Xc = X - X.mean(axis=0)
    eig = np.linalg.eigvalsh(Xc.T @ Xc / max(X.shape[0] - 1, 1))
    return float(eig[-1] / eig[0]) if eig[0] > 0 else float("inf")


def power_ratio(X: np.ndarray, Xbar: np.ndarray) -> float:
    """``⟨‖x̄‖²⟩ / ⟨‖x‖²⟩``: 1 when the decorrelator preserves the layer's power."""
    return float(np.sum(np.square(Xbar)) / np.sum(np.square(X)))


def natural_gradient_alignment(X: np.ndarray, delta: np.ndarray, M: np.ndarray) -> float:
    """Cosine between the decorrelated gradient step and the input-whitened natural step.

    A layer ``y = W x̄ = W M x`` with output errors ``δ`` has ``∇_W = ⟨δ x̄ᵀ⟩``. A step on ``W``
    moves the effective weights ``W M`` by ``−η ⟨δ xᵀ⟩ MᵀM``; the natural-gradient step for
    the input statistics is ``−η ⟨δ xᵀ⟩ ⟨xxᵀ⟩⁻¹`` (Ahmad 2024, §2.3). The two coincide when
    ``MᵀM ∝ ⟨xxᵀ⟩⁻¹``, i.e. when ``M`` whitens ``x``; with ``M = I`` this is the alignment of
    plain gradient descent.

    Parameters
    ----------
    X : ndarray, shape (N, d)
        Layer inputs.
    delta : ndarray, shape (N, m)
        Errors at the layer's output.
    M : ndarray, shape (d, d)
    """
    n = X.shape[0]
    grad_x = delta.T @ X / n
    step = grad_x @ (M.T @ M)
    natural = np.linalg.solve(X.T @ X / n, grad_x.T).T
    num = float(np.sum(step * natural))
    return num / float(np.linalg.norm(step) * np.linalg.norm(natural))


def decorrelation_report(X: np.ndarray, Xbar: np.ndarray) -> dict[str, float]:
    """Metrics of the raw and the decorrelated data side by side."""
    return {
        "offdiag_corr_rms_before": offdiag_corr_rms(X),
        "offdiag_corr_rms_after": offdiag_corr_rms(Xbar),
        "mean_abs_offdiag_corr_before": mean_abs_offdiag_corr(X),
        "mean_abs_offdiag_corr_after": mean_abs_offdiag_corr(Xbar),
        "covariance_condition_before": covariance_condition(X),
        "covariance_condition_after": covariance_condition(Xbar),
        "power_ratio": power_ratio(X, Xbar),
    }
