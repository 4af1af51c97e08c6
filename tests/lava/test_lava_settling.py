"""The Lava plan's sub-steps: enough for non-normal matrices, the simulator's budget refusal.

Truths: the Richardson closed form for a symmetric matrix, ``numpy.linalg.solve`` for the
fixed point the Euler iteration must reach, and the exact numpy forward for the Lava run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurodecorr.cli import main
from neurodecorr.core import Layer, Network, NumpyBackend
from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava.backend import LavaBackend
from neurodecorr.lava.settling import settling_plan


def _non_normal(n: int = 50) -> np.ndarray:
    """``I + 0.05·(strictly upper ones)``: all eigenvalues 1, far from normal."""
    return np.eye(n) + 0.05 * np.triu(np.ones((n, n)), 1)


def _near_singular(n: int = 6, smallest: float = 1e-12) -> np.ndarray:
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((n, n)))
    return Q @ np.diag(np.linspace(smallest, 1.0, n)) @ Q.T


@pytest.mark.parametrize("kappa", [1.5, 10.0, 1e3])
def test_symmetric_plan_is_the_richardson_count(kappa):
    """For a symmetric A the plan is the asymptotic one, as before the budget: the step
    α = min(2/(λmin+λmax), 0.999/max A_ii) (Saad, §4.2, and the leak's 12-bit bound), the
    contraction ρ = max |1 − αλ| and n = ⌈ln tol / ln ρ⌉ sub-steps."""
    rng = np.random.default_rng(2)
    Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    lam = np.geomspace(1.0 / kappa, 1.0, 8)
    A = Q @ np.diag(lam) @ Q.T
    plan = settling_plan(A, tol=1e-9)
    alpha = min(2 / (lam[0] + lam[-1]), 0.999 / np.max(np.diag(A)))
    rho = max(abs(1 - alpha * lam[0]), abs(1 - alpha * lam[-1]))
    assert plan.alpha == pytest.approx(alpha, rel=1e-4)
    assert plan.rho == pytest.approx(rho, rel=1e-4)
    assert plan.n_total == math.ceil(math.log(1e-9) / math.log(plan.rho))
    assert plan.n_total == pytest.approx(math.log(1e-9) / math.log(rho), abs=1.5)


def test_non_normal_plan_reaches_tol_for_every_input():
    """ρ = 0.001 at α = 0.999 promises 4 sub-steps, but ‖(I − αA)⁴‖₂ = 0.73; the plan's
    count brings the Euler iterate to ``solve(A, x)`` within tol for any x."""
    A = _non_normal()
    tol = 1e-9
    plan = settling_plan(A, tol=tol)
    M = np.eye(50) - plan.alpha * A
    assert plan.n_total > math.ceil(math.log(tol) / math.log(plan.rho))
    assert np.linalg.norm(np.linalg.matrix_power(M, plan.n_total), 2) <= tol * (1 + 1e-9)
    assert np.linalg.norm(np.linalg.matrix_power(M, plan.n_total - 1), 2) > tol
    # the worst input: the right singular vector of the largest gain of M^n (for the error
    # from x̄₀ = 0, e₀ = −A⁻¹x), plus random ones
    _, _, vt = np.linalg.svd(np.linalg.matrix_power(M, plan.n_total))
    X = np.vstack([A @ vt[0], np.random.default_rng(0).standard_normal((20, 50))])
    for x in X:
        xbar = np.zeros(50)
        for _ in range(plan.n_total):
            xbar = xbar + plan.alpha * (x - A @ xbar)
        exact = np.linalg.solve(A, x)
        assert np.linalg.norm(xbar - exact) <= 1.001 * tol * np.linalg.norm(exact)


def test_near_singular_matrix_is_refused_naming_the_slowest_mode():
    with pytest.raises(NeurodecorrError) as err:
        settling_plan(_near_singular(), tol=1e-9, what="layer 0 lateral matrix")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("layer 0 lateral matrix: ")
    assert "slowest mode has Re μ = 1e-12" in message and "max_steps = 100000" in message


def _network(A: np.ndarray) -> Network:
    rng = np.random.default_rng(3)
    n = A.shape[0]
    return Network([Layer(rng.standard_normal((3, n)) / np.sqrt(n), np.zeros(3),
                          np.linalg.inv(A), "identity")])


def test_export_lava_refuses_a_near_singular_network(tmp_path, capsys):
    _network(_near_singular()).save(tmp_path / "net.npz")
    before = set(tmp_path.rglob("*"))
    assert main(["export-lava", str(tmp_path / "net.npz"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "slowest mode" in err[0], err
    assert set(tmp_path.rglob("*")) == before


def test_lava_backend_refuses_a_near_singular_network_before_running():
    with pytest.raises(NeurodecorrError, match="slowest mode"):
        LavaBackend().forward(_network(_near_singular()), np.ones((1, 6)))


def test_lava_backend_settles_a_non_normal_network():
    """Before the fix the Lava run stopped after 4 sub-steps (x̄ relative error 1.9e-2)."""
    A = _non_normal()
    net = _network(A)
    X = np.random.default_rng(4).standard_normal((2, 50))
    exact = NumpyBackend().forward(net, X)
    trace = LavaBackend("float", "loihi", tol=1e-9).forward(net, X)
    error = np.linalg.norm(trace.xbar[0] - exact.xbar[0]) / np.linalg.norm(exact.xbar[0])
    assert error <= 1e-8
