"""Non-normal matrices: the default step and horizon of the fixed-step solvers settle them, and
every settle reports the residual of the states it returns (issue #13).

Truth: ``numpy.linalg.solve`` for the fixed point, ``‖x − A x̄‖/‖x‖`` computed here from the
returned states, and, for normal matrices, the plan rebuilt from the eigen-optimal step and
the horizon rule that main used (``optimal_h``, ``spectral_radius``, ``plan_horizon``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurodecorr.ode import LateralField, SettleCriterion, settle
from neurodecorr.ode.contraction import norm_estimate
from neurodecorr.ode.horizon import plan_horizon
from neurodecorr.ode.results import Result
from neurodecorr.ode.solvers import RK4, Euler
from neurodecorr.ode.stability import optimal_h, spectral_radius


def upper_ones(n: int, c: float) -> np.ndarray:
    """``I + c U``, U strictly upper-triangular ones: every eigenvalue is 1, and the
    departure from normality grows with ``c n``."""
    return np.eye(n) + c * np.triu(np.ones((n, n)), 1)


def relative_residual(A: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.linalg.norm(x - y @ A.T, axis=1) / np.linalg.norm(x, axis=1)


@pytest.mark.parametrize("method", ["euler", "rk4", "chebyshev"])
@pytest.mark.parametrize("c", [0.05, 0.3, 0.5, 1.0])
def test_default_options_settle_upper_triangular_matrices(method, c):
    n, tol = 50, 1e-6
    A = upper_ones(n, c)
    x = np.random.default_rng(13).standard_normal((3, n))
    out = settle(A, x, method)
    assert out.result is Result.SETTLED, out.message
    assert out.success and not out.warnings
    # the reported residual is that of the returned states
    true = relative_residual(A, x, out.y)
    np.testing.assert_allclose(out.residual, true, rtol=1e-6, atol=1e-15)
    assert true.max() < tol
    # and the states are the linear solve to within ‖A⁻¹‖₂ · tol · ‖x‖
    exact = np.linalg.solve(A, x.T).T
    bound = np.linalg.norm(np.linalg.inv(A), 2) * tol * np.linalg.norm(x, axis=1)
    assert np.all(np.linalg.norm(out.y - exact, axis=1) <= bound)


@pytest.mark.parametrize("solver", [Euler(), RK4()])
def test_chosen_step_contracts_in_the_two_norm(solver):
    """For Euler the field-of-values bound: ‖I − hA‖₂ ≤ sqrt(1 − ω²/σ²) at h = ω/σ² (checked
    by a dense SVD here, not by the power iteration the planner uses)."""
    A = upper_ones(50, 0.5)
    field = LateralField(A)
    out = settle(field, np.ones(50), solver.name)
    h = out.dt_s / field.tau_s
    hA = h * A
    G = np.eye(50) - hA
    if solver.name == "rk4":
        G = np.eye(50) - hA + hA @ hA / 2 - hA @ hA @ hA / 6 + hA @ hA @ hA @ hA / 24
    assert np.linalg.norm(G, 2) < 1.0
    if solver.name == "euler":
        omega = np.linalg.eigvalsh((A + A.T) / 2)[0]
        sigma = np.linalg.norm(A, 2)
        assert np.linalg.norm(G, 2) <= math.sqrt(1 - (omega / sigma) ** 2) + 1e-9


def normal_matrices():
    rng = np.random.default_rng(7)
    n = 40
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    spd = (Q * np.linspace(0.2, 3.0, n)) @ Q.T
    K = rng.standard_normal((n, n))
    rotating = 2.0 * np.eye(n) + 0.3 * (K - K.T)  # normal, not symmetric: complex spectrum
    return [(spd + spd.T) / 2, rotating]


@pytest.mark.parametrize("index", [0, 1])
@pytest.mark.parametrize("solver", [Euler(), RK4()])
def test_normal_matrix_plan_is_the_eigen_optimal_one(solver, index):
    """Step and horizon of a normal matrix are main's: the eigen-optimal step, the horizon
    rule without a norm, and the same number of steps as a plain Euler/RK4 loop at that step."""
    A = normal_matrices()[index]
    field = LateralField(A)
    criterion = SettleCriterion()
    h = optimal_h(solver, field.eigenvalues)
    rho = spectral_radius(solver, h, field.eigenvalues)
    before = plan_horizon(LateralField(A), criterion, solver, np.array([h]), rho)
    x = np.random.default_rng(3).standard_normal((2, A.shape[0]))
    out = settle(field, x, solver.name, criterion=criterion)
    assert out.dt_s == h * field.tau_s
    after = plan_horizon(field, criterion, solver, np.array([out.dt_s / field.tau_s]), rho)
    assert after == before
    # a reference loop at main's step, checked every check_every steps
    y, k = np.zeros_like(x), 0
    while np.max(relative_residual(A, x, y)) >= criterion.tol:
        for _ in range(criterion.check_every):
            r = x - y @ A.T
            if solver.name == "euler":
                y = y + h * r
            else:
                k1 = r
                k2 = x - (y + h / 2 * k1) @ A.T
                k3 = x - (y + h / 2 * k2) @ A.T
                k4 = x - (y + h * k3) @ A.T
                y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            k += 1
    assert out.result is Result.SETTLED and out.nsteps == k


def test_power_iteration_estimates_the_two_norm():
    A = upper_ones(30, 1.0)
    v = np.random.default_rng(0).standard_normal(30)
    estimate, _ = norm_estimate(lambda u: A @ u, lambda u: A.T @ u, v / np.linalg.norm(v))
    assert estimate == pytest.approx(np.linalg.norm(A, 2), rel=1e-6)


def test_no_contracting_step_warns_only_when_the_settle_fails():
    """``I + 2.5 U``: the symmetric part is indefinite, so no step is guaranteed to contract; the
    eigen step diverges and the result names the non-normality. A random non-normal matrix
    with an indefinite symmetric part that settles carries no warning."""
    n = 20
    A = upper_ones(n, 2.5)
    assert np.linalg.eigvalsh((A + A.T) / 2)[0] < 0
    out = settle(A, np.ones(n), "euler")
    assert out.result is Result.DIVERGED
    assert any(w.startswith("non-normal matrix") for w in out.warnings)
    rng = np.random.default_rng(0)
    B = np.eye(256) + 0.9 * rng.standard_normal((256, 256)) / 16
    assert np.linalg.eigvalsh((B + B.T) / 2)[0] < 0
    x = rng.standard_normal((2, 256))
    out = settle(B, x, "euler")
    assert out.result is Result.SETTLED and not out.warnings
    assert relative_residual(B, x, out.y).max() < 1e-6


def test_exact_reports_the_residual_of_its_returned_states():
    """λ_min = 1e-12: the propagated residual reaches tol, the states formed from the linear
    solve do not; the result says so (status 0, not a success) with the true residual."""
    rng = np.random.default_rng(1)
    n = 20
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (Q * np.geomspace(1e-12, 1.0, n)) @ Q.T
    A = (A + A.T) / 2
    x = rng.standard_normal((3, n))
    out = settle(A, x, "exact")
    true = relative_residual(A, x, out.y)
    np.testing.assert_allclose(out.residual, true, rtol=1e-9)
    assert true.max() > 1e-6
    assert out.result is Result.ROUNDING and not out.success
    assert f"{true.max():.3g}" in out.message
    assert np.all(np.isnan(out.t_settle[true >= 1e-6]))
    # a well-conditioned matrix still settles, its reported residual that of its states
    out = settle(upper_ones(n, 0.5), x, "exact")
    assert out.result is Result.SETTLED
    np.testing.assert_allclose(out.residual, relative_residual(upper_ones(n, 0.5), x, out.y),
                               rtol=1e-9)
