"""The decorrelation mathematics against closed forms and independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import correlated_data
from hypothesis import given, settings
from hypothesis import strategies as st

from neurodecorr.core import (
    DecorrelationConfig,
    InverseDecorrelator,
    LinearDecorrelator,
    decorrelation_matrix,
    first_order_update,
    first_order_update_nodewise,
    linear_update,
    sherman_morrison_update,
    sherman_morrison_update_nodewise,
)
from neurodecorr.errors import NeurodecorrError

seeds = st.integers(0, 2**32 - 1)


def _random_state(seed: int, d: int, n: int, scale: float = 0.3):
    rng = np.random.default_rng(seed)
    M = np.eye(d) + 0.1 * rng.normal(size=(d, d))
    X = correlated_data(rng, n, d, scale)
    return M, X


@settings(max_examples=40, deadline=None)
@given(seed=seeds, d=st.integers(2, 12), n=st.integers(2, 40),
       eta=st.floats(1e-4, 5e-2), fraction=st.floats(0.05, 1.0))
def test_gain_preserves_power_exactly(seed, d, n, eta, fraction):
    M, X = _random_state(seed, d, n)
    cfg = DecorrelationConfig(rule="ahmad", eta=eta, batch_fraction=fraction)
    M_new, gain = linear_update(M, X, cfg)
    k = max(1, int(round(fraction * n)))  # the gain is measured on the estimate's k rows
    power_in = np.sum(X[:k]**2)
    assert np.sum((X[:k] @ M_new.T) ** 2) == pytest.approx(power_in, rel=1e-10)
    assert gain > 0


@settings(max_examples=40, deadline=None)
@given(seed=seeds, d=st.integers(2, 12), eta=st.floats(1e-4, 0.2))
def test_sherman_morrison_is_exact_inverse_of_linear_update(seed, d, eta):
    M, X = _random_state(seed, d, 1)
    x = X[0]
    xbar = M @ x
    if eta * xbar @ xbar >= 0.9:
        return  # outside the update's domain (tested separately)
    cfg = DecorrelationConfig(rule="ahmad", eta=eta)
    M_new, g_lin = linear_update(M, x[None, :], cfg)
    A_new, g_inv = sherman_morrison_update(np.linalg.inv(M), x, xbar, cfg)
    assert g_inv == pytest.approx(g_lin, rel=1e-12)
    np.testing.assert_allclose(A_new @ M_new, np.eye(d), atol=1e-9 * np.linalg.cond(M_new))


@settings(max_examples=30, deadline=None)
@given(seed=seeds, d=st.integers(2, 10), n=st.integers(2, 30),
       rule=st.sampled_from(["ahmad", "copi", "dbp"]))
def test_first_order_inverse_stays_inverse_to_second_order(seed, d, n, rule):
    """Halving η must cut the one-step inverse defect ‖A'M' − I‖ about four-fold: O(η²)."""
    M, X = _random_state(seed, d, n)
    A = np.linalg.inv(M)
    Xbar = X @ M.T
    defects = []
    for eta in (2e-3, 1e-3):
        cfg = DecorrelationConfig(rule=rule, eta=eta, kappa=0.3)
        M_new, _ = linear_update(M, X, cfg)
        A_new, _ = first_order_update(A, X, Xbar, cfg)
        defects.append(np.linalg.norm(A_new @ M_new - np.eye(d)))
    if defects[0] < 1e-12:  # G vanished: both exact
        return
    assert defects[0] / defects[1] == pytest.approx(4.0, rel=0.05)


@pytest.mark.parametrize("rule", ["ahmad", "copi", "dbp"])
def test_nodewise_first_order_equals_vectorised(rng, rule):
    d, n = 9, 25
    A = np.eye(d) + 0.1 * rng.normal(size=(d, d))
    X = correlated_data(rng, n, d)
    Xbar = np.linalg.solve(A, X.T).T
    cfg = DecorrelationConfig(rule=rule, eta=3e-3, kappa=0.2, batch_fraction=0.6)
    vec, _ = first_order_update(A, X, Xbar, cfg)
    np.testing.assert_allclose(first_order_update_nodewise(A, X, Xbar, cfg), vec,
                               rtol=1e-13, atol=1e-15)


def test_nodewise_sherman_morrison_equals_vectorised(rng):
    d = 7
    A = np.eye(d) + 0.1 * rng.normal(size=(d, d))
    x = rng.normal(size=d) * 0.5
    xbar = np.linalg.solve(A, x)
    cfg = DecorrelationConfig(eta=0.05)
    vec, _ = sherman_morrison_update(A, x, xbar, cfg)
    np.testing.assert_allclose(sherman_morrison_update_nodewise(A, x, xbar, cfg), vec,
                               rtol=1e-13, atol=1e-15)


def test_node_update_uses_only_its_own_row(rng):
    """Changing row j of A leaves row i's update untouched when (A x̄)_i and x̄ are fixed."""
    d, n = 6, 10
    A = np.eye(d) + 0.1 * rng.normal(size=(d, d))
    Xbar = rng.normal(size=(n, d))
    X = Xbar @ A.T
    cfg = DecorrelationConfig(rule="copi", eta=1e-2)
    before = first_order_update_nodewise(A, X, Xbar, cfg)
    A2 = A.copy()
    A2[3] += 1.0
    after = first_order_update_nodewise(A2, X, Xbar, cfg)
    np.testing.assert_array_equal(np.delete(before, 3, axis=0), np.delete(after, 3, axis=0))


def test_sherman_morrison_refuses_outside_domain(rng):
    A = np.eye(3)
    x = np.array([2.0, 0.0, 0.0])
    with pytest.raises(NeurodecorrError, match="eta"):
        sherman_morrison_update(A, x, x, DecorrelationConfig(eta=0.25))


def test_rule_matrices_closed_form(rng):
    Xbar = rng.normal(size=(50, 4))
    C = Xbar.T @ Xbar / 50
    off = C - np.diag(np.diag(C))
    np.testing.assert_allclose(decorrelation_matrix(Xbar, DecorrelationConfig("ahmad")), C)
    np.testing.assert_allclose(decorrelation_matrix(Xbar, DecorrelationConfig("copi")), off)
    cfg = DecorrelationConfig("dbp", kappa=0.25)
    np.testing.assert_allclose(decorrelation_matrix(Xbar, cfg),
                               0.75 * off + 0.25 * np.diag(np.diag(C) - 1))


def test_factored_product_equals_dense(rng):
    d = 20
    M = np.eye(d) + 0.05 * rng.normal(size=(d, d))
    X = correlated_data(rng, 64, d, 0.2)
    cfg = DecorrelationConfig(eta=1e-2, batch_fraction=0.1)
    a, _ = linear_update(M, X, cfg, factored=True)
    b, _ = linear_update(M, X, cfg, factored=False)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def _unfused_step(M, X, cfg, mean):
    """The update as the paper writes it, nothing reused: form G, step, then a second pass."""
    k = max(1, int(round(cfg.batch_fraction * len(X))))
    Xs = X[:k] if mean is None else X[:k] - mean
    step = M - cfg.eta * decorrelation_matrix(Xs @ M.T, cfg) @ M
    gain = np.sqrt(np.sum(X[:k] ** 2) / np.sum((X[:k] @ step.T) ** 2)) if cfg.uses_gain else 1.0
    return gain * step, gain


@pytest.mark.parametrize("rule", ["ahmad", "copi", "dbp"])
@pytest.mark.parametrize("fraction", [0.1, 1.0])
@pytest.mark.parametrize("centre", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_in_place_update_from_the_forward_states_equals_the_unfused_step(rng, rule, fraction,
                                                                         centre, dtype):
    d = 30  # fraction 0.1: k = 6 < d/2, the factored in-place path; 1.0: G is formed
    X = correlated_data(rng, 64, d) + 0.3
    M = np.eye(d) + 0.1 * rng.standard_normal((d, d)) / np.sqrt(d)
    mean = X.mean(0) * 0.5 if centre else None
    cfg = DecorrelationConfig(rule=rule, eta=2e-3, kappa=0.3, batch_fraction=fraction,
                              centre=centre)
    want, want_gain = _unfused_step(M, X, cfg, mean)
    M_run, X_run = M.astype(dtype), X.astype(dtype)
    got, gain = linear_update(M_run, X_run, cfg, mean=mean, states=X_run @ M_run.T,
                              in_place=True)
    assert got is M_run  # written into the array the network holds
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)
    assert gain == pytest.approx(want_gain, rel=tol)


def test_in_place_update_leaves_a_read_only_m_alone_and_returns_the_step(rng):
    d = 30
    X = correlated_data(rng, 64, d)
    M = np.eye(d)
    cfg = DecorrelationConfig(eta=2e-3, batch_fraction=0.1)
    want, _ = _unfused_step(M, X, cfg, None)
    M.flags.writeable = False
    got, _ = linear_update(M, X, cfg, in_place=True)
    np.testing.assert_array_equal(M, np.eye(d))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("rule", ["ahmad", "copi", "dbp"])
def test_rules_drive_correlations_to_their_fixed_points(rng, rule):
    d = 6
    X = correlated_data(rng, 4000, d, 1.0)
    X = X / np.sqrt(np.mean(np.sum(X**2, axis=1)))  # unit power per sample
    dec = LinearDecorrelator(d, DecorrelationConfig(rule=rule, eta=0.2, kappa=0.5))
    for _ in range(600):
        dec.update(X)
    C = np.cov(dec.transform(X).T, bias=True) + np.outer(*[dec.transform(X).mean(0)] * 2)
    off = C - np.diag(np.diag(C))
    assert np.abs(off).max() < 1e-3 * np.abs(np.diag(C)).max()
    if rule == "dbp":  # κ term drives every second moment to 1
        np.testing.assert_allclose(np.diag(C), 1.0, atol=2e-2)


def test_centring_uses_running_mean(rng):
    d = 3
    X = rng.normal(size=(100, d)) + 5.0
    dec = LinearDecorrelator(d, DecorrelationConfig(eta=1e-3, centre=True, momentum=0.5))
    dec.update(X)
    np.testing.assert_allclose(dec.mean, 0.5 * X.mean(axis=0))


def test_recurrent_and_linear_agree_when_streamed(rng):
    d = 8
    X = correlated_data(rng, 500, d, 0.3)
    cfg = DecorrelationConfig(eta=5e-3)
    lin, inv = LinearDecorrelator(d, cfg), InverseDecorrelator(d, cfg)
    for i in range(0, 500, 10):
        lin.update(X[i:i + 10])
        inv.update(X[i:i + 10])
    assert np.linalg.norm(inv.A @ lin.M - np.eye(d)) / np.sqrt(d) < 1e-3


@pytest.mark.parametrize("bad", [
    dict(rule="nope"), dict(eta=0.0), dict(kappa=1.5), dict(batch_fraction=0.0),
    dict(momentum=0.0),
])
def test_config_validation(bad):
    with pytest.raises(NeurodecorrError):
        DecorrelationConfig(**bad)
