"""The circuit simulator against independent truth: linear solves, solve_ivp, Lyapunov, closed
forms of the stability limits and of the settling times."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import solve_continuous_lyapunov

from neurodecorr.errors import NeurodecorrError
from neurodecorr.ode import (
    RK4,
    Adaptive,
    Euler,
    EulerMaruyama,
    Exact,
    IdealReader,
    LateralField,
    SettleCriterion,
    exact_solution,
    max_stable_h,
    settle,
)


def stable_nonsymmetric(rng: np.random.Generator, n: int) -> np.ndarray:
    """``1.5 I + 0.5 (G + K − Kᵀ)/√n``: non-normal, with a rotating (skew) part that gives a
    complex spectrum; the symmetric part stays positive definite, so every eigenvalue has a
    positive real part."""
    G, K = rng.standard_normal((2, n, n))
    A = 1.5 * np.eye(n) + 0.5 * (G + K - K.T) / np.sqrt(n)
    mu = np.linalg.eigvals(A)
    assert mu.real.min() > 0.3 and np.abs(mu.imag).max() > 0.05
    return A


INTEGRATORS = [Euler(), RK4(), Exact(), Adaptive("RK45"), Adaptive("LSODA"), Adaptive("BDF"),
               EulerMaruyama()]


@pytest.mark.parametrize("integrator", INTEGRATORS, ids=lambda m: getattr(m, "solver", m.name))
def test_settled_state_equals_linear_solve(rng, integrator):
    n, batch = 12, 7
    A = stable_nonsymmetric(rng, n)
    X = rng.standard_normal((batch, n))
    result = settle(A, X, integrator, criterion=SettleCriterion(tol=1e-12), tau_s=2e-6)
    truth = np.linalg.solve(A, X.T).T
    assert result.success, result.message
    assert result.y.shape == X.shape and result.y.dtype == np.float64
    err = np.linalg.norm(result.y - truth, axis=1) / np.linalg.norm(truth, axis=1)
    assert err.max() < 1e-9
    assert result.residual.max() < 1e-12
    assert np.all(np.isfinite(result.t_settle)) and np.all(result.t_settle <= result.t + 1e-18)


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_float32_settles_to_its_precision(rng, method):
    n = 16
    A = stable_nonsymmetric(rng, n)
    X = rng.standard_normal((5, n))
    result = settle(A, X, method, dtype="float32", criterion=SettleCriterion(tol=1e-5))
    assert result.success and result.y.dtype == np.float32
    truth = np.linalg.solve(A, X.T).T
    assert np.abs(result.y - truth).max() / np.abs(truth).max() < 1e-4


def test_one_dimensional_input_keeps_its_shape(rng):
    A = stable_nonsymmetric(rng, 6)
    x = rng.standard_normal(6)
    result = settle(A, x, "rk4", criterion=SettleCriterion(tol=1e-11))
    assert result.y.shape == (6,)
    np.testing.assert_allclose(result.y, np.linalg.solve(A, x), rtol=1e-9)


def test_exact_solution_matches_solve_ivp_at_intermediate_times(rng):
    n, tau = 5, 1e-3
    A = stable_nonsymmetric(rng, n)
    X = rng.standard_normal((2, n))
    y0 = rng.standard_normal((2, n))
    times = np.array([0.0, 2e-4, 7e-4, 1.5e-3, 4e-3])
    field = LateralField(A, tau_s=tau)
    ours = exact_solution(field, X, times, y0)

    def f(t, y):
        return ((X - y.reshape(2, n) @ A.T) / tau).ravel()

    ref = solve_ivp(f, (0, times[-1]), y0.ravel(), method="DOP853", t_eval=times,
                    rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours.reshape(len(times), -1), ref.y.T, rtol=1e-8, atol=1e-10)


def test_leak_moves_the_fixed_point(rng):
    A = stable_nonsymmetric(rng, 8)
    X = rng.standard_normal((3, 8))
    result = settle(A, X, "euler", leak=0.25, criterion=SettleCriterion(tol=1e-12))
    np.testing.assert_allclose(result.y, np.linalg.solve(A + 0.25 * np.eye(8), X.T).T,
                               rtol=1e-9)


def test_settling_times_of_a_diagonal_circuit():
    """For A = diag(μ), x_i = e_i and x̄₀ = 0 the residual of sample i is e^{−μ_i t/τ}: it
    settles at τ ln(1/tol)/μ_i; Euler's discrete residual is |1 − hμ_i|^k."""
    mu, tau, tol = np.array([0.5, 2.0, 1.0]), 1e-6, 1e-8
    A, X = np.diag(mu), np.eye(3)
    exact = settle(A, X, Exact(), criterion=SettleCriterion(tol=tol), tau_s=tau)
    truth = tau * math.log(1 / tol) / mu
    grid = tau * math.log(2) / mu.min()
    assert np.all(exact.t_settle >= truth) and np.all(exact.t_settle - truth <= grid / 2 ** 12)

    dt, every = 0.3e-6, 4
    euler = settle(A, X, Euler(dt_s=dt), tau_s=tau,
                   criterion=SettleCriterion(tol=tol, check_every=every))
    h = dt / tau
    first_k = [math.ceil(math.log(tol) / math.log(abs(1 - h * m))) for m in mu]
    checked_k = [every * math.ceil(k / every) for k in first_k]
    np.testing.assert_allclose(euler.t_settle, np.array(checked_k) * dt, rtol=1e-12)


def test_euler_maruyama_stationary_covariance_solves_lyapunov():
    """Fluctuations about the fixed point have the covariance P of A P + P Aᵀ = 2 s² I."""
    rng = np.random.default_rng(7)
    A = np.array([[1.0, 0.4, 0.0], [-0.3, 1.5, 0.2], [0.1, 0.0, 0.8]])
    s, N, tau = 0.1, 8000, 1e-6
    x = np.array([0.5, -1.0, 2.0])
    X = np.tile(x, (N, 1))
    dt = 0.002 * tau  # discretisation bias O(h·μ) ≈ 0.2 %, well under the sampling error
    t_end = 8 * tau / np.linalg.eigvals(A).real.min()
    result = settle(A, X, EulerMaruyama(dt_s=dt), noise_std=s, tau_s=tau, rng=rng,
                    criterion=SettleCriterion(tol=1e-12, max_time_s=t_end, check_every=500))
    dev = result.y - np.linalg.solve(A, x)
    P = solve_continuous_lyapunov(A, 2 * s ** 2 * np.eye(3))
    C = dev.T @ dev / N
    se = np.sqrt((np.outer(np.diag(P), np.diag(P)) + P ** 2) / N)  # std of a sample covariance
    assert np.all(np.abs(C - P) < 4.5 * se + 0.005 * np.abs(P))
    np.testing.assert_allclose(dev.mean(axis=0), 0, atol=4.5 * np.sqrt(np.diag(P) / N).max())
    assert "horizon" in result.message and t_end <= result.t < t_end + dt


def test_same_seed_same_noise():
    A = np.eye(3) * 1.2
    run = [settle(A, np.ones((4, 3)), "euler-maruyama", noise_std=0.05, rng=11).y
           for _ in range(2)]
    np.testing.assert_array_equal(run[0], run[1])


def test_refuses_unstable_matrix_and_names_the_eigenvalue():
    A = np.array([[0.0, -1.0], [1.0, 0.0]]) + 0.5 * np.eye(2)  # stable: μ = 0.5 ± 1j
    settle(A, np.ones(2), "euler")
    A = np.diag([1.0, -0.2])
    with pytest.raises(NeurodecorrError, match=r"eigenvalue -0.2 has non-positive real part"):
        settle(A, np.ones(2), "exact")


def test_stability_limits_against_closed_forms():
    mu = np.array([0.5 + 1.0j, 0.5 - 1.0j, 2.0])  # limits 2 Re μ/|μ|² = 0.8, 0.8, 1.0
    h, worst = max_stable_h(Euler(), mu)
    assert h == pytest.approx(0.8) and worst.real == 0.5
    h, worst = max_stable_h(RK4(), np.array([4.0, 1.0]))
    assert h == pytest.approx(2.785293563405282 / 4.0, rel=1e-9) and worst == 4.0


@pytest.mark.parametrize("method,limit", [("euler", 2 / 4.0), ("rk4", 2.785293563405282 / 4.0)])
def test_refuses_a_step_beyond_the_fastest_mode(method, limit):
    A, tau = np.diag([1.0, 4.0]), 1e-6
    with pytest.raises(NeurodecorrError, match=r"too large .* eigenvalue 4"):
        settle(A, np.ones(2), Euler(dt_s=1.01 * limit * tau) if method == "euler"
               else RK4(dt_s=1.01 * limit * tau), tau_s=tau)
    ok = settle(A, np.ones(2), Euler(dt_s=0.99 * limit * tau) if method == "euler"
                else RK4(dt_s=0.99 * limit * tau), tau_s=tau,
                criterion=SettleCriterion(tol=1e-9))
    assert ok.success


def test_automatic_step_is_optimal_for_a_real_spectrum():
    A = np.diag([0.5, 1.0, 3.5])
    result = settle(A, np.ones(3), "euler", tau_s=1e-6)
    assert result.dt_s == pytest.approx(2 / (0.5 + 3.5) * 1e-6, rel=1e-3)


def test_time_limit_is_reported(rng):
    A = stable_nonsymmetric(rng, 5)
    result = settle(A, np.ones(5), "euler",
                    criterion=SettleCriterion(tol=1e-14, max_time_s=1e-7), tau_s=1e-6)
    assert result.status == 0 and not result.success  # solve_ivp: end of the time span
    assert "time limit" in result.message and result.residual.max() > 1e-14


class FlippedReader(IdealReader):
    """A faulty read-out that returns −A x̄: the circuit runs away."""

    def read(self, Y, t_s, out):
        np.matmul(Y, -self.A.T, out=out)
        return out


def test_divergence_through_a_faulty_reader_stops_with_a_message():
    A = np.eye(3) * 2.0
    field = LateralField(A, reader=FlippedReader(A))
    result = settle(field, np.ones((2, 3)), Euler(dt_s=0.5e-6),
                    criterion=SettleCriterion(tol=1e-9, max_time_s=1e-3))
    assert result.status == -1 and not result.success
    assert "diverged" in result.message or "non-finite" in result.message


def test_user_errors(rng):
    A = stable_nonsymmetric(rng, 4)
    with pytest.raises(NeurodecorrError, match="does not match"):
        settle(A, np.ones(5))
    with pytest.raises(NeurodecorrError, match="NaN"):
        settle(A, np.array([1.0, np.nan, 0, 0]))
    with pytest.raises(NeurodecorrError, match="euler-maruyama"):
        settle(A, np.ones(4), "euler", noise_std=0.1, rng=0)
    with pytest.raises(NeurodecorrError, match="seed"):
        settle(A, np.ones(4), "euler-maruyama", noise_std=0.1)
    with pytest.raises(NeurodecorrError, match="unknown method"):
        settle(A, np.ones(4), "heun")
    with pytest.raises(NeurodecorrError, match="tau_s"):
        settle(A, np.ones(4), tau_s=0.0)
    with pytest.raises(NeurodecorrError, match="dt"):
        Euler(dt_s=-1.0)
    with pytest.raises(NeurodecorrError, match="dtype"):
        settle(A, np.ones(4), dtype="float16")


class _RowReader(IdealReader):
    """The ideal product through a reader that is not exactly ``IdealReader``: Euler then keeps
    the batch row-major (its general path), the reference for the column-major fast path."""


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_euler_column_layout_equals_the_row_layout_and_the_solve(dtype):
    rng = np.random.default_rng(5)
    n, batch = 37, 23
    A = stable_nonsymmetric(rng, n)
    X = rng.standard_normal((batch, n))
    fast = settle(LateralField(A, leak=0.2, dtype=dtype), X, "euler",
                  criterion=SettleCriterion(tol=1e-5))
    rows = settle(LateralField(A, leak=0.2, dtype=dtype,
                               reader=_RowReader(A.astype(dtype))), X, "euler",
                  criterion=SettleCriterion(tol=1e-5))
    assert fast.success and rows.success
    assert fast.y.flags.c_contiguous and fast.y.dtype == dtype
    # the same steps and checks; only the order of the GEMM's sums may differ
    assert fast.nsteps == rows.nsteps
    np.testing.assert_array_equal(fast.t_settle, rows.t_settle)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(fast.y, rows.y, rtol=0, atol=1e3 * eps * np.abs(rows.y).max())
    exact = np.linalg.solve(A + 0.2 * np.eye(n), X.T).T
    assert np.max(np.abs(fast.y - exact)) < 1e-4 * np.abs(exact).max()


@pytest.mark.parametrize("method", ["euler", "chebyshev"])
def test_euler_in_blocks_on_threads_equals_one_thread(method):
    """Three blocks of 40 samples on worker threads: the same checks, steps and states."""
    from neurodecorr.ode.controllers import ChebyshevCycle

    rng = np.random.default_rng(9)
    n, batch = 30, 120
    A = stable_nonsymmetric(rng, n)
    X = rng.standard_normal((batch, n))
    X[7] *= 1e-3  # samples settle at different checks
    controller = ChebyshevCycle() if method == "chebyshev" else None
    runs = [settle(LateralField(A), X, Euler(workers=w), controller=controller,
                   criterion=SettleCriterion(tol=1e-8)) for w in (1, 3)]
    one, blocks = runs
    stepper = Euler(workers=3).init(LateralField(A), X, np.zeros_like(X), None, 1.0, 1e-8)
    assert [b.Y.shape[0] for b in stepper.blocks] == [40, 40, 40]
    assert one.success and blocks.success
    assert blocks.nsteps == one.nsteps and blocks.nfev == one.nfev
    np.testing.assert_array_equal(blocks.t_settle, one.t_settle)
    np.testing.assert_allclose(blocks.y, one.y, rtol=0, atol=1e-13 * np.abs(one.y).max())
    exact = np.linalg.solve(A, X.T).T
    assert np.max(np.abs(blocks.y - exact)) < 1e-6 * np.abs(exact).max()


def test_euler_blocks_keep_a_trajectory_and_refuse_bad_workers():
    rng = np.random.default_rng(10)
    A = stable_nonsymmetric(rng, 12)
    X = rng.standard_normal((64, 12))
    times = np.linspace(0.0, 2e-6, 9)
    runs = [settle(LateralField(A), X, Euler(dt_s=5e-8, workers=w), t_eval=times,
                   criterion=SettleCriterion(tol=1e-6)) for w in (1, 2)]
    np.testing.assert_allclose(runs[1].y_eval, runs[0].y_eval, rtol=0, atol=1e-13)
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(NeurodecorrError, match="workers"):
            Euler(workers=bad)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("leak", [0.0, 0.2])
@pytest.mark.parametrize("workers", [1, 2])
def test_euler_steps_between_checks_are_the_plain_iteration(dtype, leak, workers):
    """The steps the loop hands to ``Stepper.run`` in one call (here 3 between checks, and a
    last run cut short by the time limit) are numpy's ``ȳ ← ȳ + h (x − ȳ Aᵀ − λȳ)`` to the
    bit, and equal the step-by-step path a trajectory takes."""
    rng = np.random.default_rng(12)
    n, batch, steps = 20, 64, 23
    A = stable_nonsymmetric(rng, n)
    X = rng.standard_normal((batch, n))
    field = LateralField(A, leak=leak, dtype=dtype)
    dt = 0.05e-6
    criterion = SettleCriterion(tol=0.0, max_time_s=steps * dt, check_every=3)
    bulk = settle(field, X, Euler(dt_s=dt, workers=workers), criterion=criterion)
    assert bulk.nsteps == steps and bulk.t == pytest.approx(steps * dt)
    f = np.dtype(dtype).type
    Xd, At, h, lam = X.astype(dtype), field.A.T, f(dt / field.tau_s), f(leak)
    Y = np.zeros_like(Xd)
    for _ in range(steps):
        Y = Y + h * (Xd - Y @ At - lam * Y)
    np.testing.assert_array_equal(bulk.y, Y)
    stepwise = settle(field, X, Euler(dt_s=dt, workers=workers), criterion=criterion,
                      t_eval=[steps * dt / 2])
    np.testing.assert_array_equal(stepwise.y, bulk.y)
    assert (stepwise.nsteps, stepwise.nfev, stepwise.t) == (bulk.nsteps, bulk.nfev, bulk.t)


def test_the_residual_check_kernel_is_numpys():
    """``kernels.relative_residual`` against the numpy expressions it replaces: values, the
    largest (NaN when any is NaN, as ``np.max``), and which samples newly settle."""
    from neurodecorr.ode import kernels

    rng = np.random.default_rng(13)
    rsq = rng.random(50) ** 8
    scale = rng.random(50) + 0.5
    t_settle = np.where(rng.random(50) < 0.3, 1e-6, np.nan)
    for tol, poison in ((1e-3, None), (0.0, None), (1e-3, np.inf), (1e-3, np.nan)):
        r = rsq.copy()
        if poison is not None:
            r[17] = poison
        residual, newly, ts = np.empty(50), np.ones(50, bool), t_settle.copy()
        worst, count = kernels.relative_residual(r, scale, tol, 2e-6, residual, ts, newly)
        expected = np.sqrt(r) / scale
        np.testing.assert_array_equal(residual, expected)
        np.testing.assert_array_equal(worst, np.max(expected))
        mask = np.isnan(t_settle) & (expected < tol)
        np.testing.assert_array_equal(newly, mask)
        assert count == mask.sum() and (tol == 0.0) == (count == 0)
        marked = np.where(mask, 2e-6, t_settle) if np.isfinite(np.max(expected)) else t_settle
        np.testing.assert_array_equal(ts, marked)
