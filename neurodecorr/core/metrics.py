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


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """``⟨a, b⟩ / (‖a‖ ‖b‖)`` of two arrays of one shape (0 when either is zero)."""
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.sum(a * b)) / norm if norm > 0 else 0.0


def natural_gradient_alignment(X: np.ndarray, delta: np.ndarray, M: np.ndarray,
                               reference_delta: np.ndarray | None = None,
                               damping: float = 0.0) -> float:
    """Cosine between the decorrelated gradient step and the input-whitened natural step.

    A layer ``y = W x̄ = W M x`` with output errors ``δ`` has ``∇_W = ⟨δ x̄ᵀ⟩``. A step on ``W``
    moves the effective weights ``W M`` by ``−η ⟨δ xᵀ⟩ MᵀM``; the natural-gradient step for
    the input statistics is ``−η ⟨δ* xᵀ⟩ ⟨xxᵀ⟩⁻¹`` (Ahmad 2024, §2.3) with ``δ*`` the true
    (backpropagated) errors. The two coincide when ``δ = δ*`` and ``MᵀM ∝ ⟨xxᵀ⟩⁻¹``, i.e. when
    ``M`` whitens ``x``; with ``M = I`` this is the alignment of plain gradient descent.

    Parameters
    ----------
    X : ndarray, shape (N, d)
        Layer inputs.
    delta : ndarray, shape (N, m)
        Errors at the layer's output as the learning rule computed them (FA, NP, ...).
    M : ndarray, shape (d, d)
    reference_delta : ndarray, shape (N, m), optional
        The true errors ``δ*`` of the natural step (default: ``delta``).
    damping : float
        Tikhonov damping of the natural step, ``⟨xxᵀ⟩ + damping·(tr⟨xxᵀ⟩/d)·I``, for layers
        whose sample covariance is singular (as K-FAC damps its factors).
    """
    n, d = X.shape
    reference = delta if reference_delta is None else reference_delta
    step = (delta.T @ X / n) @ (M.T @ M)
    cov = X.T @ X / n
    if damping > 0:
        cov = cov + damping * np.trace(cov) / d * np.eye(d)
    natural = np.linalg.solve(cov, (reference.T @ X / n).T).T
    return cosine(step, natural)


def feedback_alignment_invariant(W_in: np.ndarray, b_in: np.ndarray, W_out: np.ndarray,
                                 B_out: np.ndarray) -> np.ndarray:
    """Per hidden neuron ``i``: ``½(‖w_in,i‖² + b_i²) − ⟨w_out,i, b_out,i⟩``.

    ``w_in,i`` is row ``i`` of the incoming weights (bias ``b_i`` included), ``w_out,i`` and
    ``b_out,i`` are column ``i`` of the outgoing weights and of their fixed feedback matrix.
    Under the gradient flow of feedback alignment with a positively homogeneous activation
    (ReLU, leaky ReLU, identity) both terms change at the rate ``−(B_outᵀδ)_i h_i``, so their
    difference is conserved ("Implicit Regularization in Feedback Alignment", the conservation
    law behind FA's implicit bias). Adam or an input decorrelator ``M ≠ I`` on the layer above
    break the law; how far the quantity drifts measures how far training left FA's flow.

    Parameters
    ----------
    W_in : ndarray, shape (n, d)
    b_in : ndarray, shape (n,)
    W_out, B_out : ndarray, shape (m, n)
    """
    incoming = 0.5 * (np.sum(np.square(W_in), axis=1) + np.square(b_in))
    return incoming - np.sum(W_out * B_out, axis=0)


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
