"""Euler in Chebyshev cycles (method "chebyshev") against linear solves and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurodecorr.circuits import LateralField, SettleCriterion, settle
from neurodecorr.circuits.device import DeviceReader
from neurodecorr.cli import main
from neurodecorr.devices import load_device
from neurodecorr.errors import NeurodecorrError
from neurodecorr.ode import Euler
from neurodecorr.ode.controllers import MAX_GROWTH, ChebyshevCycle, chebyshev_cycle


def spread_matrix(rng, n: int, lo: float, hi: float, skew: float) -> np.ndarray:
    """``Q diag(lo..hi) Qᵀ`` plus a non-symmetric part of size ``skew``."""
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return Q @ np.diag(np.linspace(lo, hi, n)) @ Q.T + skew * rng.standard_normal((n, n)) / n**0.5


@pytest.mark.parametrize("n_steps", [4, 8, 16])
def test_cycle_contraction_is_the_chebyshev_closed_form(n_steps):
    a, b = 0.3, 3.0
    mu = np.linspace(a, b, 200)
    hs, rho = chebyshev_cycle(mu, n_steps)
    assert hs.size == n_steps
    closed = 1.0 / math.cosh(n_steps * math.acosh((b + a) / (b - a)))
    assert rho == pytest.approx(closed, rel=1e-9)
    # the cycle is the polynomial T_N((c − μ)/d)/T_N(c/d), evaluated independently
    c, d = (a + b) / 2, (b - a) / 2
    poly = np.prod(1 - hs[:, None] * mu[None, :], axis=0)
    cheb = np.cos(n_steps * np.arccos(np.clip((c - mu) / d, -1, 1))) * closed
    np.testing.assert_allclose(poly, cheb, atol=1e-9)
    growth = np.max(np.abs(np.cumprod(1 - hs[:, None] * mu[None, :], axis=0)))
    assert growth <= MAX_GROWTH


@pytest.mark.parametrize("skew", [0.0, 0.2])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_settles_to_the_linear_solve_in_fewer_steps_than_euler(rng, skew, dtype):
    n = 48
    A = spread_matrix(rng, n, 0.3, 3.0, skew)
    X = rng.standard_normal((20, n))
    tol = 1e-6 if dtype == "float64" else 1e-4
    field = LateralField(A, dtype=dtype)
    crit = SettleCriterion(tol=tol)
    cheb = settle(field, X, "chebyshev", criterion=crit)
    euler = settle(field, X, "euler", criterion=crit)
    assert cheb.success and euler.success
    # the residual recomputed in float64 from the returned states: the criterion holds
    y = cheb.y.astype(np.float64)
    res = np.linalg.norm(X - y @ A.T, axis=1) / np.linalg.norm(X, axis=1)
    assert np.max(res) < tol * (1.5 if dtype == "float32" else 1.0 + 1e-6)
    truth = np.linalg.solve(A, X.T).T
    bound = np.linalg.norm(np.linalg.inv(A), 2) * 1.5 * tol
    assert np.max(np.linalg.norm(y - truth, axis=1) / np.linalg.norm(X, axis=1)) <= bound
    assert cheb.nsteps <= 0.6 * euler.nsteps  # √κ instead of κ
    assert cheb.nfev == cheb.nsteps + 1


def test_strongly_rotating_spectrum_falls_back_to_euler_steps():
    # eigenvalues 1 ± 3i: real Chebyshev nodes would blow the rotating pair up
    mu = np.array([1 + 3j, 1 - 3j, 1.5 + 0j])
    hs, rho = chebyshev_cycle(mu, 8)
    assert np.allclose(hs, hs[0]) and rho < 1
    A = np.array([[1.0, 3.0, 0.0], [-3.0, 1.0, 0.0], [0.0, 0.0, 1.5]])
    x = np.array([[1.0, -2.0, 0.5]])
    r = settle(A, x, "chebyshev", criterion=SettleCriterion(tol=1e-9))
    assert r.success
    np.testing.assert_allclose(r.y[0], np.linalg.solve(A, x[0]), atol=1e-8)


def test_noisy_circuit_and_given_step_refused():
    A = np.eye(4)
    with pytest.raises(NeurodecorrError, match="needs euler-maruyama"):
        settle(LateralField(A, noise_std=0.1), np.ones(4), "chebyshev", rng=0)
    reader = DeviceReader(load_device("pcm"), A, np.random.default_rng(0))
    with pytest.raises(NeurodecorrError, match="noiseless"):
        settle(LateralField(A, reader=reader), np.ones(4), "chebyshev")
    with pytest.raises(NeurodecorrError, match="chooses its own steps"):
        settle(A, np.ones(4), Euler(dt_s=1e-7), controller=ChebyshevCycle())


def test_cli_settles_with_chebyshev(tmp_path, rng):
    A = spread_matrix(rng, 12, 0.5, 2.0, 0.1)
    X = rng.standard_normal((5, 12))
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "X.npy", X)
    out = tmp_path / "y.npy"
    assert main(["settle", "--matrix", str(tmp_path / "A.npy"), "--input",
                 str(tmp_path / "X.npy"), "--out", str(out), "--method", "chebyshev",
                 "--tol", "1e-9"]) == 0
    y = np.load(out)
    assert np.max(np.linalg.norm(X - y @ A.T, axis=1) / np.linalg.norm(X, axis=1)) < 1e-9
