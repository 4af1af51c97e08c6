"""Metrics against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecorr.core import (
    correlation_matrix,
    cosine,
    covariance_condition,
    feedback_alignment_invariant,
    natural_gradient_alignment,
    offdiag_corr_rms,
    power_ratio,
)


def test_correlation_matrix_matches_numpy(rng):
    X = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))
    np.testing.assert_allclose(correlation_matrix(X), np.corrcoef(X.T), rtol=1e-12, atol=1e-14)


def test_offdiag_rms_of_equicorrelated_gaussian(rng):
    """For an equicorrelated population (ρ = 0.6) the sample off-diagonal RMS is ρ ± O(1/√N)."""
    d, n, rho = 6, 200_000, 0.6
    cov = np.full((d, d), rho) + (1 - rho) * np.eye(d)
    X = rng.multivariate_normal(np.zeros(d), cov, size=n)
    assert offdiag_corr_rms(X) == pytest.approx(rho, abs=5 * (1 - rho**2) / np.sqrt(n))


def test_condition_number_closed_form(rng):
    X = rng.normal(size=(100_000, 3)) * np.array([1.0, 2.0, 4.0])
    assert covariance_condition(X) == pytest.approx(16.0, rel=0.03)


def test_power_ratio():
    X = np.ones((4, 2))
    assert power_ratio(X, 3 * X) == pytest.approx(9.0)


def test_whitening_aligns_with_natural_gradient(rng):
    d, m, n = 5, 3, 5000
    L = rng.normal(size=(d, d)) + 2 * np.eye(d)
    X = rng.normal(size=(n, d)) @ L.T
    delta = rng.normal(size=(n, m)) + X[:, :m]
    cov = X.T @ X / n
    evals, evecs = np.linalg.eigh(cov)
    M_white = evecs @ np.diag(evals**-0.5) @ evecs.T  # MᵀM = ⟨xxᵀ⟩⁻¹
    assert natural_gradient_alignment(X, delta, M_white) == pytest.approx(1.0, abs=1e-10)
    assert natural_gradient_alignment(X, delta, np.eye(d)) < 0.99


def _whitening_problem(rng, d=5, m=3, n=5000):
    L = rng.normal(size=(d, d)) + 2 * np.eye(d)
    X = rng.normal(size=(n, d)) @ L.T
    delta = rng.normal(size=(n, m)) + X[:, :m]
    return X, delta


def test_a_non_symmetric_whitening_matrix_aligns_exactly_and_its_transpose_does_not(rng):
    """M = Q C^(-1/2) with Q orthogonal: MᵀM = C⁻¹ exactly, MMᵀ = Q C⁻¹ Qᵀ does not."""
    X, delta = _whitening_problem(rng)
    evals, evecs = np.linalg.eigh(X.T @ X / len(X))
    Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    M = Q @ evecs @ np.diag(evals**-0.5) @ evecs.T
    assert np.linalg.norm(M - M.T) > 0.5 * np.linalg.norm(M)
    assert natural_gradient_alignment(X, delta, M) == pytest.approx(1.0, abs=1e-10)
    assert natural_gradient_alignment(X, delta, M.T) < 0.99  # (Mᵀ)ᵀMᵀ = MMᵀ


def test_a_learned_decorrelator_aligns_with_the_natural_gradient(rng):
    """The paper's left-multiplied rule learns a non-symmetric M with M C Mᵀ ∝ I, hence
    MᵀM ∝ C⁻¹: its step is the natural one, and the MMᵀ of a transposed M is not."""
    from neurodecorr.core.linear import LinearDecorrelator
    from neurodecorr.core.rules import DecorrelationConfig

    X, delta = _whitening_problem(rng)
    power = np.mean(np.sum(X**2, 1))
    dec = LinearDecorrelator(5, DecorrelationConfig(eta=0.2 / power))
    for i in range(3000):
        dec.update(X[(i * 50) % 5000:(i * 50) % 5000 + 50])
    M = dec.M
    asymmetry = np.linalg.norm(M.T @ M - M @ M.T) / np.linalg.norm(M.T @ M)
    assert asymmetry > 0.05
    assert natural_gradient_alignment(X, delta, M) > 0.99  # 0.996 seen; minibatch noise in M
    assert natural_gradient_alignment(X, delta, M.T) < 0.97  # 0.933 seen


def test_alignment_uses_the_reference_errors_and_damping_interpolates_to_the_gradient(rng):
    X, delta = _whitening_problem(rng)
    eye = np.eye(5)
    assert natural_gradient_alignment(X, delta, eye, reference_delta=-delta) == \
        pytest.approx(-natural_gradient_alignment(X, delta, eye), abs=1e-12)
    assert natural_gradient_alignment(X, delta, eye, damping=1e-12) == \
        pytest.approx(natural_gradient_alignment(X, delta, eye), abs=1e-9)
    # infinite damping turns the natural step into the plain gradient: cosine 1 with M = I
    assert natural_gradient_alignment(X, delta, eye, damping=1e9) == pytest.approx(1, abs=1e-6)
    assert cosine(np.ones(3), np.zeros(3)) == 0.0


def _fa_drift(lr, time, seed=4):
    """Invariant drift of FA trained by plain SGD (no Adam, no decorrelation) for ``time``."""
    from neurodecorr.data.base import Dataset
    from neurodecorr.learning import TrainConfig, Trainer

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(64, 6))
    y = rng.integers(0, 3, 64)
    trainer = Trainer(TrainConfig(algorithm="fa", hidden=(8,), negative_slope=0.2),
                      Dataset("toy", X, y, X, y, 3))
    lower, upper = trainer.network.layers
    B = trainer.rule.feedback[1]

    def invariant():
        return feedback_alignment_invariant(lower.weight, lower.bias, upper.weight, B)

    start, incoming0 = invariant(), 0.5 * np.sum(lower.weight**2, 1)
    for _ in range(int(round(time / lr))):
        grads, _ = trainer.rule.gradients(trainer.network, trainer.backend, X, y, trainer.rng)
        for p, g in zip(trainer.parameters, grads, strict=True):
            p -= lr * g
    moved = np.abs(0.5 * np.sum(lower.weight**2, 1) - incoming0)
    return np.max(np.abs(invariant() - start)), np.max(moved)


def test_feedback_alignment_gradient_flow_conserves_the_invariant_to_first_order_in_lr():
    drift, moved = _fa_drift(0.02, 4.0)
    half, _ = _fa_drift(0.01, 4.0)
    assert drift < 0.02 * moved           # each term moves, their difference barely
    assert half / drift == pytest.approx(0.5, abs=0.1)  # Euler's error is O(lr)
