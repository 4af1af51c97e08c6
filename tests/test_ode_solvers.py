"""The ODE package against independent truth: scipy.integrate.solve_ivp trajectories,
numpy.linalg.solve fixed points, matrix-exponential norms, and solve_ivp's status codes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from neurodecorr.errors import NeurodecorrError
from neurodecorr.ode import (
    RK4,
    Adaptive,
    ChebyshevCycle,
    ConstantStep,
    Euler,
    EulerMaruyama,
    Exact,
    LateralField,
    Result,
    SettleCriterion,
    settle,
)
from neurodecorr.ode.horizon import transient_time


def rotating(rng: np.random.Generator, n: int) -> np.ndarray:
    """Stable and non-normal, with a complex spectrum (positive definite symmetric part)."""
    G, K = rng.standard_normal((2, n, n))
    return 1.5 * np.eye(n) + 0.5 * (G + K - K.T) / np.sqrt(n)


def reference(A, X, tau, times):
    """DOP853 at tight tolerances: the trajectory from x̄ = 0, shape (m, batch, n)."""
    b, n = X.shape

    def f(t, y):
        return ((X - y.reshape(b, n) @ A.T) / tau).ravel()

    sol = solve_ivp(f, (0, times[-1]), np.zeros(b * n), method="DOP853", t_eval=times,
                    rtol=1e-12, atol=1e-14)
    return sol.y.T.reshape(len(times), b, n)


# solver, step (units of τ), tolerance on the trajectory: first order for Euler (error ≈ h/2
# per unit state), fourth order for RK4, error control for the adaptive ones
TRAJECTORY_CASES = [
    (Euler(dt_s=1e-3 * 2e-6), 2e-3),
    (RK4(dt_s=0.05 * 2e-6), 1e-6),
    (Exact(), 1e-10),
    (Adaptive("RK45"), 1e-6),
    (Adaptive("BDF"), 1e-6),
    (Adaptive("LSODA"), 1e-6),
]


@pytest.mark.parametrize("solver,tol", TRAJECTORY_CASES,
                         ids=lambda c: getattr(c, "label", None) if hasattr(c, "label") else "")
def test_trajectory_matches_solve_ivp(rng, solver, tol):
    n, tau = 6, 2e-6
    A = rotating(rng, n)
    X = rng.standard_normal((3, n))
    times = np.array([0.0, 0.3, 1.0, 2.5, 4.0]) * tau
    result = settle(A, X, solver, tau_s=tau, t_eval=times,
                    criterion=SettleCriterion(tol=1e-9, check_every=1))
    truth = reference(A, X, tau, times)
    assert np.array_equal(result.t_eval, times)
    assert result.y_eval.shape == (len(times), 3, n)
    np.testing.assert_allclose(result.y_eval, truth, atol=tol * np.abs(truth).max())
    R = X[None] - truth @ A.T
    rel = np.linalg.norm(R, axis=2) / np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(result.residual_eval, rel, atol=tol * 10)
    np.testing.assert_allclose(result.y, np.linalg.solve(A, X.T).T, rtol=1e-6, atol=1e-8)


def test_trajectory_stops_with_the_settle_as_solve_ivp_with_a_terminal_event(rng):
    A = rotating(rng, 5)
    x = rng.standard_normal(5)
    result = settle(A, x, "euler", t_eval=np.linspace(0, 1e-3, 50))
    assert result.status == 1
    assert result.t_eval[-1] <= result.t < 1e-3
    assert result.y_eval.shape == (len(result.t_eval), 5)


def test_constant_controller_is_the_solver_step(rng):
    A = rotating(rng, 8)
    X = rng.standard_normal((4, 8))
    a = settle(A, X, Euler(dt_s=2e-7))
    b = settle(A, X, Euler(), controller=ConstantStep(2e-7))
    np.testing.assert_array_equal(a.y, b.y)
    assert a.nsteps == b.nsteps and a.dt_s == b.dt_s == pytest.approx(2e-7)


def test_chebyshev_is_euler_with_a_cyclic_controller(rng):
    A = rotating(rng, 10)
    X = rng.standard_normal((3, 10))
    a = settle(A, X, "chebyshev", criterion=SettleCriterion(tol=1e-10))
    b = settle(A, X, Euler(), controller=ChebyshevCycle(),
               criterion=SettleCriterion(tol=1e-10))
    np.testing.assert_array_equal(a.y, b.y)
    assert a.method == b.method == "chebyshev"
    np.testing.assert_allclose(a.y, np.linalg.solve(A, X.T).T, rtol=1e-8)
    with pytest.raises(NeurodecorrError, match="built for Euler"):
        settle(A, X, RK4(), controller=ChebyshevCycle())


@pytest.mark.parametrize("S", [np.eye(16) + 0.05 * np.triu(np.ones((16, 16)), 1),
                               np.eye(64) + 0.05 * np.triu(np.ones((64, 64)), 1),
                               np.array([[1.0, 4.0], [0.0, 1.0]])], ids=["16", "64", "2x2"])
def test_van_loan_horizon_bounds_the_matrix_exponential(S):
    """At the bound's time the true ‖e^{−S s}‖₂ is below tol, though the spectrum alone
    (every eigenvalue 1) says ln(1/tol); the 2x2 case has an indefinite symmetric part, where
    a log-norm bound is useless."""
    field = LateralField(S)
    tol = 1e-6
    s = transient_time(field.eigenvalues, field.departure_from_normality, tol)
    assert np.linalg.norm(expm(-S * s), 2) <= tol
    assert s > np.log(1 / tol)
    assert field.departure_from_normality == pytest.approx(
        np.linalg.norm(np.triu(S, 1)), rel=1e-9)  # ‖N‖_F of the (already Schur) form
    if S.shape == (2, 2):
        assert np.linalg.eigvalsh((S + S.T) / 2).min() < 0
        assert np.linalg.norm(expm(-S * 1.0), 2) > 1  # the transient grows first


@pytest.mark.parametrize("method", ["euler", "rk4", "chebyshev", "exact"])
def test_non_normal_matrix_settles_with_the_default_horizon(method):
    n = 64
    A = np.eye(n) + 0.05 * np.triu(np.ones((n, n)), 1)
    X = np.random.default_rng(2).standard_normal((3, n))
    result = settle(A, X, method, criterion=SettleCriterion(tol=1e-9))
    assert result.success, result.message
    assert result.nsteps > 1
    np.testing.assert_allclose(result.y, np.linalg.solve(A, X.T).T, rtol=1e-6)


def near_singular(n: int = 20) -> np.ndarray:
    Q, _ = np.linalg.qr(np.random.default_rng(5).standard_normal((n, n)))
    return Q @ np.diag(np.r_[1e-12, np.linspace(0.5, 2.0, n - 1)]) @ Q.T


@pytest.mark.parametrize("method", ["euler", "rk4", "chebyshev", "adaptive"])
def test_unreachable_tolerance_is_refused_before_the_first_step(method):
    with pytest.raises(NeurodecorrError, match=r"slowest mode has Re μ = 1e-12.*step budget"):
        settle(near_singular(), np.ones((2, 20)), method)


@pytest.mark.parametrize("solver", ["BDF", "LSODA"])
def test_stiff_solvers_refuse_a_precision_floor_above_tol(solver):
    with pytest.raises(NeurodecorrError, match=r"eigenvalue spread 2e\+12.*above tol"):
        settle(near_singular(), np.ones((2, 20)), Adaptive(solver))


def test_exact_solution_warns_about_the_precision_floor():
    result = settle(near_singular(), np.ones((2, 20)), "exact")
    assert result.warnings and "eigenvalue spread" in result.warnings[0]


def test_a_time_limit_beyond_the_budget_is_refused():
    with pytest.raises(NeurodecorrError, match=r"max_time: 1000 s .* step budget"):
        settle(np.eye(4), np.ones(4), "euler-maruyama", noise_std=0.1, rng=0,
               criterion=SettleCriterion(max_time_s=1e3))
    small = SettleCriterion(tol=1e-14, max_time_s=1e-3, max_steps=100)
    with pytest.raises(NeurodecorrError, match="max_steps = 100"):
        settle(np.eye(4) * 2, np.ones(4), Euler(dt_s=2e-7), criterion=small)


def test_a_default_horizon_beyond_the_budget_stops_at_the_budget():
    """The asymptotic estimate (1382 steps of h = 0.01) fits a budget of 1400, the transient
    of this non-normal matrix does not (1416 steps without a budget): the run says so."""
    n = 32
    A = np.eye(n) + 0.3 * np.triu(np.ones((n, n)), 1)
    free = settle(A, np.ones(n), Euler(dt_s=1e-8))
    assert free.success and free.nsteps > 1400
    result = settle(A, np.ones(n), Euler(dt_s=1e-8), criterion=SettleCriterion(max_steps=1400))
    assert result.result is Result.BUDGET and result.status == 0 and not result.success
    assert result.nsteps == 1400 and "step budget of 1400 steps" in result.message


def test_status_codes_follow_solve_ivp(rng):
    A = rotating(rng, 5)
    settled = settle(A, np.ones(5), "euler")
    assert (settled.status, settled.success, settled.result) == (1, True, Result.SETTLED)
    limited = settle(A, np.ones(5), "euler", criterion=SettleCriterion(max_time_s=1e-8))
    assert (limited.status, limited.success) == (0, False)
    noisy = settle(A, np.ones(5), EulerMaruyama(), noise_std=1e-3, rng=0)
    assert noisy.status == 0 and noisy.result is Result.HORIZON


@pytest.mark.parametrize("bad", [[[0.0, 1.0]], [1.0, np.nan], [-1.0, 0.0], [2.0, 1.0]])
def test_t_eval_is_checked(bad):
    with pytest.raises(NeurodecorrError, match="t_eval"):
        settle(np.eye(2), np.ones(2), t_eval=bad)


@settings(max_examples=25, deadline=None)
@given(lo=st.floats(0.05, 1.0), ratio=st.floats(1.0, 50.0), n=st.integers(2, 12),
       seed=st.integers(0, 2**31 - 1))
def test_euler_settles_any_spd_spectrum_to_the_linear_solve(lo, ratio, n, seed):
    """For ``A = Q diag(μ) Qᵀ`` with μ in [lo, lo·ratio]: the optimal step is
    ``2/(μ_min + μ_max)``, the Chebyshev cycle contracts at least as fast per step as Euler,
    and both settle to ``numpy.linalg.solve`` within ``tol · ‖A⁻¹‖`` (residual bound)."""
    from neurodecorr.ode.controllers import OptimalStep, chebyshev_cycle

    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    mu = np.linspace(lo, lo * ratio, n)
    A = Q @ np.diag(mu) @ Q.T
    field = LateralField(A)
    h = OptimalStep().plan(Euler(), field, SettleCriterion()).h[0]
    assert h == pytest.approx(2 / (mu[0] + mu[-1]), rel=1e-3)
    hs, rho = chebyshev_cycle(field.eigenvalues, 8)
    assert rho <= (abs(1 - h * mu).max() + 1e-12) ** 8
    X = rng.standard_normal((3, n))
    truth = np.linalg.solve(A, X.T).T
    for method in ("euler", "chebyshev"):
        result = settle(field, X, method, criterion=SettleCriterion(tol=1e-9))
        assert result.success, result.message
        err = np.linalg.norm(result.y - truth, axis=1) / np.linalg.norm(X, axis=1)
        assert err.max() <= 1e-9 / mu[0] * (1 + 1e-6)


def test_t_eval_beyond_the_memory_limit_is_refused_before_a_step(rng):
    """n = 64, 4096 samples: 8 B × (64 + 1) × 4096 = 2.03 MiB per time; 1100 times > 2 GiB."""
    from neurodecorr.ode.integrate import TRAJECTORY_LIMIT_BYTES

    n, batch, times = 64, 4096, 1100
    assert 8 * times * (n + 1) * batch > TRAJECTORY_LIMIT_BYTES
    X = rng.standard_normal((batch, n))
    with pytest.raises(NeurodecorrError, match=r"t_eval: 1100 times .* GiB"):
        settle(np.eye(n), X, method="exact", t_eval=np.linspace(0.0, 1e-5, times))
    ok = settle(np.eye(n), X[:8], method="exact", t_eval=np.linspace(0.0, 1e-5, times))
    assert ok.y_eval.shape == (times, 8, n)
