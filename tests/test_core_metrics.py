"""Metrics against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecorr.core import (
    correlation_matrix,
    covariance_condition,
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
