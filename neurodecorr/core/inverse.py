"""The inverse (recurrent, on-chip) form: learn ``A = M⁻¹`` with a node-local rule.

On a chip ``A`` is stored as conductances (lateral weights ``L = A − I``) and the state settles
under ``τ dx̄/dt = x − A x̄`` to ``x̄ = A⁻¹ x = M x`` (Ahmad 2024, Appendix C, with the sign of
the printed equation corrected: see docs/theory.md). Inverting the linear update
``M ← g (I − η G) M`` gives

    A ← g⁻¹ A (I − η G)⁻¹.

First order in η:  ``A ← g⁻¹ (A + η A G)``; for ``ahmad`` (``G = ⟨x̄x̄ᵀ⟩``)
``A G = ⟨(A x̄) x̄ᵀ⟩``, so node ``i`` changes row ``i`` of ``A`` from ``(A x̄)_i`` — its own total
lateral input, which at the fixed point equals its input ``x_i`` — and the presynaptic ``x̄_j``.

Exact for one sample (Sherman–Morrison, ``G = x̄x̄ᵀ``):
``A ← g⁻¹ (A + η (A x̄) x̄ᵀ / (1 − η x̄ᵀx̄))``, defined only for ``η x̄ᵀx̄ < 1``.

The gain ``g`` is the same scalar as in the linear form, computed from the inputs and the settled
states: ``g = sqrt(⟨‖x‖²⟩ / ⟨‖(I − ηG) x̄‖²⟩)``; on a chip it is one global gain control.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.core.linear import power_gain, subsample_rows
from neurodecorr.core.rules import DecorrelationConfig
from neurodecorr.errors import NeurodecorrError


def _gain(X: np.ndarray, Xbar: np.ndarray, G: np.ndarray, config: DecorrelationConfig) -> float:
    if not config.uses_gain:
        return 1.0
    return power_gain(X, Xbar - config.eta * (Xbar @ G.T))


def _g_matrix(Xs: np.ndarray, config: DecorrelationConfig) -> np.ndarray:
    from neurodecorr.core.linear import decorrelation_matrix

    return decorrelation_matrix(Xs, config)


def first_order_update(A: np.ndarray, X: np.ndarray, Xbar: np.ndarray,
                       config: DecorrelationConfig, Xbar_centred: np.ndarray | None = None
                       ) -> tuple[np.ndarray, float]:
    """Vectorised first-order local update ``A ← g⁻¹ (A + η A G)``.

    Parameters
    ----------
    A : ndarray, shape (d, d)
    X : ndarray, shape (N, d)
        Inputs (rows are samples); used for the gain only (on the first ``k`` rows).
    Xbar : ndarray, shape (N, d)
        Settled states ``x̄ = A⁻¹ x``.
    config : DecorrelationConfig
    Xbar_centred : ndarray, optional
        States from centred inputs, used for ``G`` when the decorrelator centres.

    Returns
    -------
    A_new : ndarray
    gain : float
    """
    k = subsample_rows(X.shape[0], config.batch_fraction)
    Xs = (Xbar if Xbar_centred is None else Xbar_centred)[:k]
    G = _g_matrix(Xs, config)
    gain = _gain(X[:k], Xbar[:k], G, config)  # on the estimate's k rows, as the linear form
    return (A + config.eta * (A @ G)) / gain, gain


def first_order_update_nodewise(A: np.ndarray, X: np.ndarray, Xbar: np.ndarray,
                                config: DecorrelationConfig) -> np.ndarray:
    """The same update written node by node, as each node of a chip computes it.

    Node ``i`` uses only its own row ``A[i]``, its total lateral input ``(A x̄)_i`` per sample,
    the presynaptic states ``x̄`` (broadcast to all nodes) and the global gain ``g``.
    For ``ahmad``: ``ΔA_ij = η ⟨(A x̄)_i x̄_j⟩``; ``copi`` subtracts ``η A_ij ⟨x̄_j²⟩``;
    ``dbp`` weights the two terms by ``1 − κ`` and adds ``η κ A_ij (⟨x̄_j²⟩ − 1)``.
    """
    k = subsample_rows(X.shape[0], config.batch_fraction)
    Xs = Xbar[:k]
    var = np.mean(Xs * Xs, axis=0)  # ⟨x̄_j²⟩: each presynaptic line's own power
    gain = _gain(X[:k], Xs, _g_matrix(Xs, config), config)
    A_new = np.empty_like(A)
    for i in range(A.shape[0]):
        row = A[i]
        lateral_input = Xs @ row  # (A x̄)_i for each sample: node i's own summed current
        hebbian = lateral_input @ Xs / k  # ⟨(A x̄)_i x̄_j⟩
        if config.rule == "ahmad":
            delta = hebbian
        elif config.rule == "copi":
            delta = hebbian - row * var
        else:
            delta = (1.0 - config.kappa) * (hebbian - row * var) + config.kappa * row * (var - 1.0)
        A_new[i] = (row + config.eta * delta) / gain
    return A_new


def sherman_morrison_update(A: np.ndarray, x: np.ndarray, xbar: np.ndarray,
                            config: DecorrelationConfig) -> tuple[np.ndarray, float]:
    """Exact single-sample inverse update (``ahmad`` rule).

    ``A ← g⁻¹ (A + η (A x̄) x̄ᵀ / (1 − η x̄ᵀx̄))`` is the exact inverse of
    ``M ← g (I − η x̄x̄ᵀ) M`` (Sherman & Morrison 1950). Refused when ``η x̄ᵀx̄ ≥ 1``, where
    ``I − η x̄x̄ᵀ`` is singular or flips sign.
    """
    if config.rule != "ahmad":
        raise NeurodecorrError("the exact Sherman-Morrison update exists for rule 'ahmad' only")
    s = config.eta * float(xbar @ xbar)
    if s >= 1.0:
        raise NeurodecorrError(f"eta: eta*|xbar|^2 = {s:.3g} >= 1, the exact inverse update is "
                               "undefined; reduce eta")
    Ax = A @ xbar
    gain = _gain(x[None, :], xbar[None, :], np.outer(xbar, xbar), config)
    return (A + config.eta * np.outer(Ax, xbar) / (1.0 - s)) / gain, gain


def sherman_morrison_update_nodewise(A: np.ndarray, x: np.ndarray, xbar: np.ndarray,
                                     config: DecorrelationConfig) -> np.ndarray:
    """Node-by-node form of :func:`sherman_morrison_update`.

    Node ``i`` uses its row, ``(A x̄)_i``, ``x̄`` and two global scalars: ``x̄ᵀx̄`` and ``g``.
    """
    s = config.eta * float(xbar @ xbar)
    _, gain = sherman_morrison_update(A, x, xbar, config)
    A_new = np.empty_like(A)
    for i in range(A.shape[0]):
        A_new[i] = (A[i] + config.eta * (A[i] @ xbar) * xbar / (1.0 - s)) / gain
    return A_new


class InverseDecorrelator:
    """A stateful inverse-form decorrelator: holds ``A = M⁻¹`` (and the running mean).

    ``A`` starts at the identity. :meth:`transform` returns the exact fixed point
    ``x̄ = A⁻¹ x`` by a linear solve; the circuit simulator settles to the same states.
    """

    def __init__(self, n: int, config: DecorrelationConfig | None = None,
                 A: np.ndarray | None = None, exact: bool = False) -> None:
        self.config = config or DecorrelationConfig()
        self.A = np.eye(n) if A is None else np.array(A, dtype=np.float64)
        self.mean = np.zeros(n) if self.config.centre else None
        self.exact = exact
        self.last_gain = 1.0

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``X̄ = (A⁻¹ Xᵀ)ᵀ`` by ``numpy.linalg.solve``."""
        return np.linalg.solve(self.A, X.T).T

    def update(self, X: np.ndarray, Xbar: np.ndarray | None = None) -> None:
        """Update ``A`` from inputs ``X`` and their settled states ``X̄`` (solved if not given).

        With ``exact=True`` the batch is streamed sample by sample through the exact
        Sherman–Morrison update (each sample re-settled), as a chip learning on-line would.
        """
        if self.exact:
            for x in X:
                self.A, self.last_gain = sherman_morrison_update(
                    self.A, x, np.linalg.solve(self.A, x), self.config)
        else:
            if Xbar is None:
                Xbar = self.transform(X)
            centred = None
            if self.mean is not None:
                m = self.config.momentum
                self.mean = (1.0 - m) * self.mean + m * X.mean(axis=0)
                centred = Xbar - np.linalg.solve(self.A, self.mean)
            self.A, self.last_gain = first_order_update(self.A, X, Xbar, self.config, centred)
        if not np.all(np.isfinite(self.A)):
            raise NeurodecorrError("decorrelation diverged (non-finite A); reduce eta")
