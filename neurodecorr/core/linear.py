"""The linear (feed-forward) form of decorrelation: ``x̄ = M x``, ``M ← g (I − η G) M``.

Ahmad 2024 ("Correlations Are Ruining Your Gradient Descent", arXiv 2407.10780, §3). We use the
paper's left-multiplied form: only it has the node-local inverse rule of
:mod:`neurodecorr.core.inverse`. ``G`` is set by the rule (:mod:`neurodecorr.core.rules`).

Rows of every data matrix are samples, so a batch transforms as ``X̄ = X Mᵀ``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.linalg import blas

from neurodecorr.core.rules import DecorrelationConfig
from neurodecorr.errors import NeurodecorrError

#: η·⟨‖x‖²⟩ at or above this is refused: the update (I − ηC) then over-shoots along the
#: dominant direction of strongly correlated data (λ_max ≈ tr C = ⟨‖x̄‖²⟩).
STABILITY_LIMIT = 1.0

#: When a batch would break the limit, that step runs with ``η = SAFE_FRACTION / ⟨‖x‖²⟩``.
SAFE_FRACTION = 0.5


def subsample_rows(n_rows: int, fraction: float) -> int:
    """Number of leading rows used to estimate ``C``: ``max(1, round(fraction · n_rows))``."""
    return max(1, int(round(fraction * n_rows)))


def stability_number(X: np.ndarray, eta: float) -> float:
    """``η · ⟨‖x‖²⟩`` for the rows of ``X``: the update is stable only well below 1."""
    return float(eta * np.mean(np.sum(np.square(X), axis=1)))


def check_stability(X: np.ndarray, eta: float, what: str = "eta") -> float:
    """Refuse ``η`` when ``η·⟨‖x‖²⟩ ≥ 1``; return the stability number otherwise."""
    with np.errstate(over="ignore"):
        s = stability_number(X, eta)
    if not np.isfinite(s):  # no eta helps: the data themselves are out of range
        raise NeurodecorrError(f"{what}: the inputs' mean squared norm <|x|^2> overflows "
                               f"float64; rescale the inputs")
    if s >= STABILITY_LIMIT:
        raise NeurodecorrError(
            f"{what}: eta·<|x|^2> = {s:.3g} >= {STABILITY_LIMIT:g}, the decorrelation update is "
            f"unstable; use eta < {STABILITY_LIMIT / max(s / eta, 1e-300):.3g}"
        )
    return s


def stable_eta(eta: float, mean_sq_norm: float) -> float:
    """``η`` for one step: unchanged while ``η·⟨‖x‖²⟩ < 1``, else ``SAFE_FRACTION / ⟨‖x‖²⟩``.

    Training runs shrink η on the rare batch whose power would make ``(I − ηC)`` over-shoot
    instead of aborting part-way; callers count the shrunk steps and report them.
    """
    if eta * mean_sq_norm < STABILITY_LIMIT:
        return eta
    return SAFE_FRACTION / mean_sq_norm


def decorrelation_matrix(Xbar: np.ndarray, config: DecorrelationConfig) -> np.ndarray:
    """``G`` of the rule, estimated from the rows of ``X̄`` (already subsampled and centred).

    ``ahmad``: ``C = X̄ᵀX̄/k``; ``copi``: ``C`` with a zero diagonal;
    ``dbp``: ``(1 − κ) C_off + κ diag(diag(C) − 1)``.
    """
    k = Xbar.shape[0]
    C = Xbar.T @ Xbar / k
    if config.rule == "ahmad":
        return C
    diag = np.diag(C).copy()
    C_off = C - np.diag(diag)
    if config.rule == "copi":
        return C_off
    return (1.0 - config.kappa) * C_off + config.kappa * np.diag(diag - 1.0)


def power_gain(X: np.ndarray, Xbar_new: np.ndarray) -> float:
    """``g = sqrt(⟨‖x‖²⟩ / ⟨‖x̄'‖²⟩)``: the scalar that restores the layer's input power."""
    p_in = float(np.sum(np.square(X)))
    p_out = float(np.sum(np.square(Xbar_new)))
    if p_out <= 0.0:
        raise NeurodecorrError("decorrelated batch has zero power; cannot compute the gain")
    return float(np.sqrt(p_in / p_out))


def _subtract_product_in_place(M: np.ndarray, A: np.ndarray, B: np.ndarray, beta: float,
                               alpha: float) -> None:
    """``M ← beta·M + alpha·Aᵀ B`` in one BLAS call that reads and writes ``M`` once.

    A fresh ``d × d`` result costs an allocation and two more passes over memory, as much as a
    ``64 × d × d`` product at ``d = 1000``; the update's own product has only ``k ≈ 6`` terms.
    ``M`` must be C-contiguous: its transpose is then the Fortran array BLAS writes into.
    """
    gemm = blas.dgemm if M.dtype == np.float64 else blas.sgemm
    # (Aᵀ B)ᵀ = Bᵀ A, written into Mᵀ (Fortran order, shares M's memory)
    gemm(alpha, B, A, beta=beta, c=M.T, trans_a=1, overwrite_c=1)


def linear_update(M: np.ndarray, X: np.ndarray, config: DecorrelationConfig,
                  mean: np.ndarray | None = None, factored: bool | None = None,
                  states: np.ndarray | None = None, in_place: bool = False
                  ) -> tuple[np.ndarray, float]:
    """One step of ``M ← g (I − η G) M`` on the batch ``X``.

    Parameters
    ----------
    M : ndarray, shape (d, d)
    X : ndarray, shape (N, d)
        Batch of inputs (rows are samples).
    config : DecorrelationConfig
    mean : ndarray, shape (d,), optional
        Running mean subtracted from ``X`` before estimating ``G`` (``centre=True``).
    factored : bool, optional
        Compute ``C M`` as ``X̄ᵀ(X̄ M)/k`` (cost 2kd²) instead of forming ``C`` (cost d³ + kd²).
        Default: factored when ``k < d/2``; only the ``ahmad`` rule has this shortcut.
    states : ndarray, shape (≥ k, d), optional
        ``X Mᵀ`` as the forward pass computed it (its first ``k`` rows are used), so that the
        update does not form it again.
    in_place : bool
        Write the new ``M`` into ``M`` itself (one BLAS call for the factored ``ahmad`` step;
        the other rules compute a new array and copy it in). A read-only or non-contiguous
        ``M`` is left alone and a new array returned: use the returned ``M`` either way.

    Returns
    -------
    M_new : ndarray
    gain : float
        ``g`` (1 for rules without gain), measured on the same ``k`` rows as ``G``.

    Notes
    -----
    The gain needs the stepped states ``X_k ((I − ηG) M)ᵀ``; as ``G`` is symmetric they are
    ``X̄_k − η X̄_k G`` with ``X̄_k G = (X̄_k S_kᵀ) S_k / k`` (``S_k`` the centred states):
    ``2k²d`` instead of a third ``k d²`` product through the new ``M``.
    """
    k = subsample_rows(X.shape[0], config.batch_fraction)
    eta = config.eta
    Xk = X[:k]
    states = Xk @ M.T if states is None else states[:k]
    S = states if mean is None else (Xk - mean) @ M.T
    if factored is None:
        factored = k < M.shape[0] / 2
    factored = factored and config.rule == "ahmad"
    G = None if factored else decorrelation_matrix(S, config)
    gain = 1.0
    if config.uses_gain:
        statesG = (states @ S.T) @ S / k if factored else states @ G
        gain = power_gain(Xk, states - eta * statesG)
    # BLAS writes into a C-contiguous, writeable M only (else it would silently copy)
    in_place = in_place and M.flags.c_contiguous and M.flags.writeable
    if factored and in_place:
        _subtract_product_in_place(M, S, S @ M, gain, -gain * eta / k)
        return M, gain
    step = M - (eta / k) * (S.T @ (S @ M)) if factored else M - eta * (G @ M)
    step *= gain
    if in_place:
        M[...] = step
        return M, gain
    return step, gain


class LinearDecorrelator:
    """A stateful linear-form decorrelator: holds ``M`` and, when centring, the running mean.

    ``M`` starts at the identity, so switching decorrelation on leaves a network unchanged.
    """

    def __init__(self, n: int, config: DecorrelationConfig | None = None,
                 M: np.ndarray | None = None) -> None:
        self.config = config or DecorrelationConfig()
        self.M = np.eye(n) if M is None else np.array(M, dtype=np.float64)
        self.mean = np.zeros(n) if self.config.centre else None
        self.last_gain = 1.0

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``X̄ = X Mᵀ``."""
        return X @ self.M.T

    def update(self, X: np.ndarray, eta: float | None = None) -> None:
        """Update the running mean (if centring) and then ``M`` from the batch ``X``.

        ``eta`` overrides the configured η for this step (see :func:`stable_eta`)."""
        self.M, self.mean, self.last_gain = decorrelator_step(self.M, X, self.config, self.mean,
                                                              eta)


def decorrelator_step(M: np.ndarray, X: np.ndarray, config: DecorrelationConfig,
                      mean: np.ndarray | None = None, eta: float | None = None,
                      states: np.ndarray | None = None, in_place: bool = False
                      ) -> tuple[np.ndarray, np.ndarray | None, float]:
    """One training step of a decorrelator whose state is ``M`` (and, when centring, ``mean``).

    The running mean moves first, ``mean ← (1 − m) mean + m ⟨x⟩`` (momentum ``m``, as in the
    paper's code), then ``M ← g (I − η G) M`` (:func:`linear_update`) on the centred batch.
    ``eta`` overrides the configured η for this step (see :func:`stable_eta`); ``states`` and
    ``in_place`` are passed to :func:`linear_update`. Returns the new ``M``, the new mean
    (``None`` without centring) and the gain ``g``.
    """
    if mean is not None:
        m = config.momentum
        mean = (1.0 - m) * mean + m * X.mean(axis=0)
    if eta is not None:
        config = replace(config, eta=eta)
    M, gain = linear_update(M, X, config, mean=mean, states=states, in_place=in_place)
    if not np.all(np.isfinite(M)):
        raise NeurodecorrError("decorrelation diverged (non-finite M); reduce eta")
    return M, mean, gain
