"""The horizon and step of a non-normal matrix whose bounds are far from its iteration (issue #15).

A chip's lateral read matrix (a node reference on the diagonal, device errors off it) can have
a symmetric part that is barely positive definite (``ω → 0⁺``) while its slowest mode is fast:
the field-of-values step ``ω/σ²`` and the log-norm horizon ``ln(1/tol)/ω`` then asked for
about 9 × 10⁵ Euler steps (ReRAM, ``reference_range = 1``, epoch 10 of the decorrelation task).
The planner now counts the exact powers of the iteration matrix. Truth: the powers
``(I − hS)^K`` by ``numpy.linalg.matrix_power`` and their 2-norm by a dense SVD, the fixed point
by ``numpy.linalg.solve``, the trajectory of the continuous circuit by ``scipy.integrate.
solve_ivp``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from neurodecorr.ode import LateralField, SettleCriterion, settle
from neurodecorr.ode.controllers.optimal import PEAK_LIMIT
from neurodecorr.ode.horizon import exact_cycles
from neurodecorr.ode.results import Result
from neurodecorr.ode.solvers import Euler
from neurodecorr.ode.stability import optimal_h

N, TOL = 64, 1e-6


def barely_dissipative(omega: float, seed: int = 0) -> np.ndarray:
    """A reference diagonal 0.65 plus Gaussian off-diagonal errors (σ = 0.045, as a ReRAM
    lateral array at range 1 after its writes), shifted so that the smallest eigenvalue of the
    symmetric part is ``omega``; the spectrum keeps ``min Re μ`` well above it."""
    rng = np.random.default_rng(seed)
    off = 0.045 * rng.standard_normal((N, N))
    np.fill_diagonal(off, 0.0)
    S = 0.65 * np.eye(N) + off
    w = np.linalg.eigvalsh((S + S.T) / 2)[0]
    return S + (omega - w) * np.eye(N)


class NoisyFlagReader:
    """The exact product, declared noisy: the settle runs to its horizon (as a device read
    with output noise), and its end state is the noiseless iteration's."""

    exact = False
    noisy = True

    def __init__(self, S: np.ndarray) -> None:
        self.S = S

    def read(self, Y, t_s, out):
        np.matmul(Y, self.S.T, out=out)
        return out

    def matrix(self, t_s=0.0):
        return self.S


def two_norm_of_power(S: np.ndarray, h: float, k: int) -> float:
    return float(np.linalg.norm(np.linalg.matrix_power(np.eye(len(S)) - h * S, k), 2))


@pytest.mark.parametrize("omega", [1e-3, 0.0334])
def test_noisy_settle_of_a_barely_dissipative_matrix_fits_the_budget(omega):
    S = barely_dissipative(omega)
    mu = np.linalg.eigvals(S)
    assert mu.real.min() > 5 * omega           # the bounds, not the circuit, are slow
    x = np.random.default_rng(1).standard_normal((3, N))
    field = LateralField(S, reader=NoisyFlagReader(S))
    out = settle(field, x, "euler")
    # the eigen-optimal step, run to a horizon inside the budget (the old plan asked for
    # ln(1e6)/ω · σ²/ω steps: 1.6e8 at ω = 1e-3)
    h = out.dt_s / field.tau_s
    assert h == pytest.approx(optimal_h(Euler(), mu), rel=1e-12)
    assert out.result is Result.HORIZON and out.nsteps <= SettleCriterion().max_steps
    assert out.nsteps < 2000
    # at the horizon the iteration matrix has contracted below tol (dense SVD)
    assert two_norm_of_power(S, h, out.nsteps) <= TOL
    # the states are the fixed point to within ‖S⁻¹‖₂ · tol · ‖x‖ (numpy.linalg.solve)
    exact = np.linalg.solve(S, x.T).T
    bound = np.linalg.norm(np.linalg.inv(S), 2) * TOL * np.linalg.norm(x, axis=1)
    assert np.all(np.linalg.norm(out.y - exact, axis=1) <= bound)


def test_the_step_is_the_eigen_optimal_one_and_its_count_is_exact():
    S = barely_dissipative(1e-3)
    field = LateralField(S)
    h = optimal_h(Euler(), field.eigenvalues)
    out = settle(field, np.ones(N), "euler")
    assert out.result is Result.SETTLED
    assert out.dt_s / field.tau_s == pytest.approx(h, rel=1e-12)
    K, peak = exact_cycles(Euler(), field, np.array([h]), TOL)
    assert 1.0 <= peak <= PEAK_LIMIT
    # K is the first power whose Frobenius norm is below tol: its 2-norm is too, and the
    # power before it is above tol in the Frobenius norm (dense products)
    G = np.eye(N) - h * S
    assert np.linalg.norm(np.linalg.matrix_power(G, K), 2) <= TOL
    assert np.linalg.norm(np.linalg.matrix_power(G, K - 1)) > TOL
    # and the transient peak bounds the 2-norms of the powers before K: 1 (G⁰ = I) or the
    # largest Frobenius norm of G¹ … G^{K−1}
    norms = [np.linalg.norm(np.linalg.matrix_power(G, k)) for k in range(1, K)]
    assert peak == pytest.approx(max([1.0] + norms), rel=1e-9)


def test_the_continuous_circuit_settles_at_the_rate_of_its_slowest_mode():
    """The circuit itself is fast: the trajectory of ``dx̄/ds = x − S x̄`` (solve_ivp) has its
    residual below tol by ``s`` ≈ ln(1/tol)/min Re μ (a few transient factors), two orders
    below the log-norm bound ``ln(1/tol)/ω`` that set the old horizon."""
    S = barely_dissipative(1e-3)
    x = np.random.default_rng(2).standard_normal(N)
    a = float(np.linalg.eigvals(S).real.min())
    s_mode = np.log(1 / TOL) / a
    sol = solve_ivp(lambda s, y: x - S @ y, (0.0, 3 * s_mode), np.zeros(N), method="LSODA",
                    rtol=1e-10, atol=1e-12, dense_output=True)
    r = np.linalg.norm(x - S @ sol.sol(3 * s_mode)) / np.linalg.norm(x)
    assert r < TOL
    assert 3 * s_mode < np.log(1 / TOL) / 1e-3 / 50
    # and the planned horizon of the noisy settle is of that order, not of the bound's
    field = LateralField(S, reader=NoisyFlagReader(S))
    out = settle(field, x, "euler")
    assert out.t / field.tau_s < 20 * s_mode


def test_a_large_transient_keeps_the_contracting_step():
    """``I + 0.5 U`` (n = 50): the eigen-optimal step makes the residual grow by about 1e6
    before it falls, above :data:`PEAK_LIMIT`; the 2-norm-contracting step stays."""
    A = np.eye(50) + 0.5 * np.triu(np.ones((50, 50)), 1)
    field = LateralField(A)
    out = settle(field, np.ones(50), "euler")
    h = out.dt_s / field.tau_s
    assert out.result is Result.SETTLED
    assert np.linalg.norm(np.eye(50) - h * A, 2) < 1.0


def test_a_matrix_too_large_for_the_power_budget_skips_the_powers(monkeypatch):
    """Above the work budget (n ≈ 370 for one Euler step) the bounds decide at once: the
    iteration matrix, an n × n product per step, is not even built."""
    from neurodecorr.ode import horizon

    def never(*args):
        raise AssertionError("built the iteration matrix of a matrix over the budget")

    monkeypatch.setattr(horizon, "iteration_matrix", never)
    # the smallest n whose budget (2 n³ per product) holds no power beyond building G
    n = int(np.ceil((horizon.EXACT_POWER_FLOPS / 4) ** (1 / 3)))
    field = LateralField(np.eye(n) + 0.01 * np.random.default_rng(0).standard_normal((n, n)))
    assert exact_cycles(Euler(), field, np.array([0.5]), TOL) is None
    monkeypatch.undo()
    small = LateralField(barely_dissipative(0.05))
    assert exact_cycles(Euler(), small, np.array([0.5]), TOL) is not None


def slow_complex_mode(seed: int = 0, n: int = N) -> np.ndarray:
    """A non-normal matrix shaped like the lateral read matrices Tiki-Taka left on PCM and
    ECRAM: a slow complex pair ``0.05 ± 0.6i``, the other modes spread to 10 (eigenvalue
    spread 200), Gaussian coupling above the diagonal of its real Schur form."""
    rng = np.random.default_rng(seed)
    B = np.diag(np.concatenate([[0.05, 0.05], rng.uniform(0.3, 10.0, n - 2)]))
    B[0, 1], B[1, 0] = 0.6, -0.6
    B += np.triu(0.3 * rng.standard_normal((n, n)), 1)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return Q @ B @ Q.T


@pytest.mark.parametrize("seed", [0, 1])
def test_a_slow_complex_mode_is_counted_by_squaring(seed):
    """Beyond the one-by-one powers the count continues by repeated squaring: at ``K`` the
    power's 2-norm is below tol (dense SVD of ``matrix_power``), the peak bounds every power
    before it, and the noisy settle fits the budget (the bounds asked for 1.2e5 steps)."""
    from neurodecorr.ode import horizon

    S = slow_complex_mode(seed)
    field = LateralField(S, reader=NoisyFlagReader(S))
    h = optimal_h(Euler(), field.eigenvalues)
    K, peak = exact_cycles(Euler(), field, np.array([h]), TOL)
    one_by_one = int(horizon.EXACT_POWER_FLOPS // (2.0 * N ** 3)) - 1
    assert K > one_by_one and K % one_by_one == 0
    G = np.eye(N) - h * S
    assert np.linalg.norm(np.linalg.matrix_power(G, K), 2) <= TOL
    P, largest = np.eye(N), 1.0
    for _ in range(K - 1):
        P = G @ P
        largest = max(largest, np.linalg.norm(P, 2))
    assert largest <= peak * (1 + 1e-9)
    # the noisy settle at the eigen-optimal step ends at its horizon inside the budget, on
    # the fixed point (numpy.linalg.solve) to within ‖S⁻¹‖₂ · tol · ‖x‖
    x = np.random.default_rng(3).standard_normal((2, N))
    out = settle(field, x, "euler")
    assert out.result is Result.HORIZON and out.nsteps <= SettleCriterion().max_steps
    assert out.dt_s / field.tau_s == pytest.approx(h, rel=1e-12)
    assert two_norm_of_power(S, h, out.nsteps) <= TOL
    bound = np.linalg.norm(np.linalg.inv(S), 2) * TOL * np.linalg.norm(x, axis=1)
    assert np.all(np.linalg.norm(out.y - np.linalg.solve(S, x.T).T, axis=1) <= bound)


def test_squaring_overshoots_the_first_count_by_less_than_twice(monkeypatch):
    """A symmetric ``S`` (normal ``G``): ``‖G^k‖_F² = Σ |1 − h μ_i|^{2k}`` is decreasing, so the
    first count below tol is known in closed form, and the doubling lands in
    ``[K_first, 2 K_first)``. The work budget is cut so that squaring starts after 5 powers."""
    from neurodecorr.ode import horizon

    n = 20
    monkeypatch.setattr(horizon, "EXACT_POWER_FLOPS", 2.0 * n ** 3 * 6)
    rng = np.random.default_rng(4)
    mu = np.geomspace(0.02, 1.0, n)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    S = (Q * mu) @ Q.T
    field = LateralField(S)
    h = 1.0
    K, peak = exact_cycles(Euler(), field, np.array([h]), TOL)
    k = np.arange(1, 5000)
    frob = np.sqrt(np.sum(np.abs(1 - h * mu)[None, :] ** (2 * k[:, None]), axis=1))
    first = int(k[np.argmax(frob <= TOL)])
    assert first > 5 and first <= K < 2 * first and K % 5 == 0
    assert peak == pytest.approx(max(1.0, frob[0]) * np.prod(
        [max(1.0, frob[5 * 2 ** i - 1]) for i in range(int(np.log2(K // 5)))]), rel=1e-9)


def test_squaring_gives_up_on_an_iteration_that_does_not_contract(monkeypatch):
    """A step past Euler's stability limit (``|1 − h μ| > 1``): the squares overflow or stay
    above tol, and the bounds decide (None)."""
    from neurodecorr.ode import horizon

    monkeypatch.setattr(horizon, "EXACT_POWER_FLOPS", 2.0 * 20 ** 3 * 6)
    S = np.diag(np.linspace(0.5, 3.0, 20))
    assert exact_cycles(Euler(), LateralField(S), np.array([0.9]), TOL) is None
