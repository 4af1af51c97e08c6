"""How far a settle may go: the default horizon, and the work estimated against the step budget.

**Horizon.** The residual of the circuit is ``r(t) = e^{−S t/τ} r(0)`` (``S = A + λI``), and
from ``x̄₀ = 0`` the relative residual starts at 1, so the circuit has settled to ``tol`` once
``‖e^{−S t/τ}‖₂ ≤ tol``. For a normal ``S`` that is ``e^{−a t/τ}``, ``a = min Re μ``; a
non-normal ``S`` can grow first, and a horizon from the spectrum alone can be far too short
(for ``A = I + 0.05·(strictly upper ones)`` Euler's optimal step makes the spectral radius of
the iteration zero, and the old rule stopped after one step). We use Van Loan's bound from a
Schur form ``S = Q (D + N) Q*`` (Van Loan 1977, *SIAM J. Numer. Anal.* 14, 971, Thm 2;
Golub & Van Loan, *Matrix Computations*, 4th ed., §9.3.2):

    ‖e^{−S s}‖₂ ≤ e^{−a s} Σ_{k=0}^{n−1} (ν s)^k / k!,      ν = ‖N‖_F,

with ν Henrici's departure from normality, computed from the spectrum the settle already has
(:attr:`~neurodecorr.ode.term.LateralField.departure_from_normality`). Why this one: it holds
for every matrix, it is exact for normal ones (ν = 0), and it costs nothing beyond the
eigenvalues. The log-norm bound ``e^{−ω s}`` (ω the smallest eigenvalue of the symmetric part)
is valid too but useless whenever that symmetric part is indefinite (``A = [[1, 4], [0, 1]]``:
ω = −1, while the circuit settles); pseudospectral bounds are tighter but need an SVD at every
point of a grid in the complex plane. Van Loan's bound grows pessimistic for large random
matrices (its sum has n terms), so where it would lengthen the horizon the log-norm bound is
computed too and the smaller of the two (both valid) is used (:func:`settle_time_bound`).
The default horizon is the larger of twice that settling time and the earlier rule, five times
the time the discrete iteration's asymptotic contraction needs (kept so that noisy circuits,
integrated to the horizon, keep their horizon).

**Exact powers.** Both bounds describe the continuous flow; a fixed-step solver runs the
discrete iteration ``r_{k+1} = G r_k`` of its residual (Euler: ``G = I − hS``; a cycle: the
product of its steps' matrices), and for the matrices of a chip the bounds are far from it. A
64-node read matrix of a ReRAM lateral array with a node reference (``min Re μ`` = 0.50,
eigenvalue spread 10.5, symmetric part barely positive definite) settled in tens of steps
while the log-norm bound asked for 830 τ; Gaussian test matrices with ``ω < 0`` show Van
Loan's bound 20–25 times the exact ``‖e^{−Ss}‖₂ ≤ tol`` time. Where the bounds would
lengthen the horizon of a fixed-step settle and the matrix is small enough
(:data:`EXACT_POWER_FLOPS`), the powers themselves are computed
(:func:`exact_cycles`): ``K`` is the first count with ``‖G^K‖_F ≤ tol`` (the Frobenius norm
bounds the 2-norm from above), and the horizon is a whole multiple ``m K`` of it, so that
``‖G^{mK}‖₂ ≤ ‖G^K‖₂^m ≤ tol`` holds at its end, transient growth included. The powers'
largest norm (the transient peak) times the rounding unit and the eigenvalue spread must stay
below ``tol``: a larger peak amplifies the rounding of the early steps above it, and the
bounds are kept.

**Budget.** Every settle has a step budget (``SettleCriterion.max_steps``). Before the first
step the work is estimated: the steps an explicit time limit needs, or the steps the slowest
mode needs to reach ``tol``. A settle that cannot fit is refused with a message naming the
cause (the time limit, or the slowest mode and the eigenvalue spread); one whose default
horizon alone exceeds the budget runs up to the budget and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from neurodecorr.errors import NeurodecorrError
from neurodecorr.ode.contraction import iteration_apply, supports, taylor_factors

#: multiple of the asymptotic settling time that is the horizon of a normal matrix
ASYMPTOTIC_FACTOR = 5.0
#: multiple of Van Loan's settling time that is the horizon of a non-normal matrix
TRANSIENT_FACTOR = 2.0
#: work allowed for the exact powers of one iteration matrix (multiply-adds, 2 n³ per power;
#: 381 powers at n = 64, about 0.1 s): beyond it the bounds set the horizon
EXACT_POWER_FLOPS = 2e8


def iteration_matrix(solver, S: np.ndarray, cycle_h: np.ndarray) -> np.ndarray:
    """``G = Π_k R(−h_k S)``: what one cycle of fixed steps does to the residual.

    ``R`` is the solver's stability polynomial (Euler and Euler–Maruyama ``1 + z``, RK4 its
    degree-4 Taylor polynomial; :func:`~neurodecorr.ode.contraction.supports`), applied to
    the identity by :func:`~neurodecorr.ode.contraction.iteration_apply`.
    """
    G = np.eye(S.shape[0])
    for h in np.asarray(cycle_h, dtype=np.float64):
        G = iteration_apply(solver, S, float(h))(G)
    return G


def exact_cycles(solver, field, cycle_h: np.ndarray, tol: float
                 ) -> tuple[int, float] | None:
    """A count ``K`` with ``‖G^K‖_F ≤ tol`` (``G`` the cycle's :func:`iteration_matrix`), and
    the transient peak, an upper bound of ``max_{k<K} ‖G^k‖₂`` (``‖G⁰‖₂ = 1``).

    The powers are multiplied out one by one within :data:`EXACT_POWER_FLOPS`: ``K`` is then
    the first count, and the peak ``max(1, max_{0<k<K} ‖G^k‖_F)``. When ``L`` powers fit the
    work and ``‖G^L‖_F`` is still above ``tol``, the rest is found by repeated squaring
    (Golub & Van Loan, *Matrix Computations*, 4th ed., §9.2.2, for the matrix exponential):
    ``G^{2L}, G^{4L}, …``, one product each, until ``G^{L 2^j}`` is below ``tol`` with the
    rounding of the squarings added (an absolute bound grown as ``e' = 2‖Q‖_F e + e² + n ε
    ‖Q‖_F²`` per square, Higham, *Accuracy and Stability*, §3.5). ``K = L 2^j`` is then a
    count, not the first, and the peak is ``max(1, max_{k≤L} ‖G^k‖_F) · Π_{i<j} max(1,
    ‖G^{L 2^i}‖_F)``: every ``k < K`` is ``q L + r`` with ``r < L`` and ``q`` a sum of
    distinct powers of two below ``2^j``, and the norms are submultiplicative. Why: a chip's
    lateral matrix with a slow complex mode (``Re μ`` = 0.02–0.08, eigenvalue spread 200–300:
    Tiki-Taka on PCM and ECRAM) needs thousands of Euler steps, beyond the one-by-one
    budget, and the bounds then asked for 10⁵ and more.

    None when the powers overflow or do not reach ``tol``, or when the peak times the
    rounding unit and the eigenvalue spread reaches ``tol`` (the rounding of early steps,
    amplified by the peak, would stay above it). Cached per field, solver, cycle and
    ``tol``.
    """
    key = ("exact cycles", solver.name, tuple(np.asarray(cycle_h, dtype=np.float64)), tol)
    if key in field.plans:
        return field.plans[key]
    # building G takes one product per step and polynomial factor, each power one more
    products = int(EXACT_POWER_FLOPS // (2.0 * field.n ** 3))
    limit = products - len(cycle_h) * len(taylor_factors(solver))
    if limit < 1:  # a large matrix: not even G is affordable, the bounds decide
        field.plans[key] = None
        return None
    spread = eigenvalue_spread(field)
    eps = float(np.finfo(field.dtype).eps)
    G = iteration_matrix(solver, field.system_matrix, cycle_h)
    P, peak, found = G, 1.0, None
    for k in range(1, limit + 1):
        size = float(np.linalg.norm(P))
        if not math.isfinite(size):
            break
        if size <= tol:
            found = (k, peak)
            break
        peak = max(peak, size)
        if peak * eps * spread >= tol:
            break
        if k == limit:
            found = _squared_cycles(P, k, size, peak, tol, eps * spread, field.n * eps)
            break
        P = G @ P
    field.plans[key] = found
    return found


#: the most squarings after the one-by-one powers: counts up to ``L 2^60``, far beyond any
#: step budget (the horizon is then refused against the budget, with its reason)
MAX_SQUARINGS = 60


def _squared_cycles(Q: np.ndarray, count: int, size: float, peak: float, tol: float,
                    amplified_eps: float, gamma: float) -> tuple[int, float] | None:
    """Repeated squaring of ``Q = G^count`` (``size = ‖Q‖_F > tol``) for
    :func:`exact_cycles`: ``(count 2^j, peak)`` at the first square below ``tol`` with its
    rounding bound, or None."""
    error = 0.0  # bound on ‖computed Q − exact Q‖_F; the one-by-one powers count as exact
    factor = 1.0  # Π max(1, ‖G^{L 2^i}‖_F) over the squares passed
    for _ in range(MAX_SQUARINGS):
        factor *= max(1.0, size)
        if peak * factor * amplified_eps >= tol:
            return None
        error = 2.0 * size * error + error * error + gamma * size * size
        Q = Q @ Q
        count *= 2
        size = float(np.linalg.norm(Q))
        if not math.isfinite(size) or not math.isfinite(error):
            return None
        if size + error <= tol:
            return count, peak * factor
    return None


def eigenvalue_spread(field) -> float:
    """``max|μ| / min|μ|`` of the circuit matrix, computed once per field."""
    if ("spread",) not in field.plans:
        mu = np.abs(field.eigenvalues)
        field.plans[("spread",)] = float(np.max(mu) / np.min(mu))
    return field.plans[("spread",)]


def transient_time(eigenvalues: np.ndarray, departure: float, tol: float) -> float:
    """Smallest ``s = t/τ`` after which Van Loan's bound on ``‖e^{−S s}‖₂`` stays below ``tol``.

    The log of the bound, ``f(s) = −a s + log Σ_{k<n} (ν s)^k/k!``, is concave in ``s`` (the
    ratio of consecutive truncated exponential series decreases), and ``f(0) = 0 ≥ ln tol``,
    so there is one crossing of ``ln tol``, found by bisection.
    """
    mu = np.asarray(eigenvalues)
    a, n = float(np.min(mu.real)), mu.size
    target = math.log(min(max(tol, 1e-300), 1.0))
    if departure <= 0:
        return -target / a
    k = np.arange(n)
    log_factorial = gammaln(k + 1)

    def log_bound(s: float) -> float:
        # log-sum-exp shifted by the largest term, as scipy.special.logsumexp computes it,
        # without its array-API dispatch (the bisection calls this ~65 times per settle)
        terms = k * math.log(departure * s) - log_factorial
        top = float(np.max(terms))
        return -a * s + (math.log(float(np.sum(np.exp(terms - top)))) + top)

    hi = -target / a
    while log_bound(hi) > target:
        hi *= 2.0
    lo = 0.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if log_bound(mid) > target else (lo, mid)
    return hi


def settle_time_bound(field, tol: float, enough: float) -> float:
    """``s = t/τ`` after which ``‖e^{−S s}‖₂ ≤ tol``: the smaller of two valid bounds.

    Van Loan's (:func:`transient_time`) holds for every matrix but grows pessimistic with the
    departure from normality of a large random matrix (n = 256: horizons hundreds of times
    too long, which a noisy circuit integrates in full). When it exceeds ``enough`` (the time
    below which it would not move the horizon), the log-norm bound ``e^{−ω s}``, ω the
    smallest eigenvalue of ``(S + Sᵀ)/2``, is tried as well; it holds when ω > 0. Both are
    computed once per field and tolerance.
    """
    key = ("settle-time bound", tol)
    if key not in field.plans:
        s = transient_time(field.eigenvalues, field.departure_from_normality, tol)
        if s > enough:
            omega = field.numerical_abscissa
            if omega > 0:
                s = min(s, math.log(1.0 / min(max(tol, 1e-300), 1.0)) / omega)
        field.plans[key] = s
    return field.plans[key]


@dataclass(frozen=True)
class Horizon:
    """Where the settle loop stops: circuit time ``t_end_s`` or ``max_steps`` steps.

    ``by_budget``: the budget, not the time limit, ends the run.
    """

    t_end_s: float
    max_steps: int
    by_budget: bool


def _spectrum(field) -> str:
    mu = field.eigenvalues
    a = float(np.min(mu.real))
    return (f"its slowest mode has Re μ = {a:.3g} (eigenvalue spread max|μ|/min Re μ = "
            f"{float(np.max(np.abs(mu))) / a:.3g})")


def plan_horizon(field, criterion, solver, cycle_h: np.ndarray | None, rho_cycle: float,
                 label: str | None = None, norm: float | None = None) -> Horizon:
    """The time limit and step limit of a settle, after checking the work against the budget.

    Parameters
    ----------
    field : LateralField
    criterion : SettleCriterion
    solver : Solver
        Adaptive solvers estimate their own steps (``solver.estimate_steps``).
    cycle_h : ndarray or None
        The controller's steps ``h = dt/τ`` of one cycle; None for an adaptive solver.
    rho_cycle : float
        The contraction of the residual over one cycle (ignored for an adaptive solver).
    label : str, optional
        The method's name in messages.
    norm : float, optional
        ``‖G‖₂ < 1`` of one step's iteration matrix when the controller chose a 2-norm
        contraction (non-normal matrices): the residual falls below ``tol`` within
        ``ln(1/tol) / ln(1/norm)`` steps, which the default horizon then covers.
    """
    tol, budget, tau = criterion.tol, criterion.max_steps, field.tau_s
    label = label or solver.label
    what = "A + leak*I" if field.leak else "A"
    log_tol = max(math.log(1.0 / max(tol, 1e-300)), 1.0)
    if cycle_h is None:
        cycle_s, length = float("nan"), 1
        rate = float(np.min(field.eigenvalues.real)) / tau
    else:
        cycle_s, length = float(np.sum(cycle_h)) * tau, len(cycle_h)
        rate = -math.log(max(rho_cycle, 1e-300)) / cycle_s

    def steps_to(t_s: float) -> float:
        if cycle_h is None:
            return solver.estimate_steps(field, t_s)
        return length * math.ceil(t_s / cycle_s - 1e-9)

    if criterion.max_time_s is not None:
        t_end = criterion.max_time_s
        need = steps_to(t_end)
        if need > budget:
            raise NeurodecorrError(
                f"max_time: {t_end:.4g} s is about {need:.3g} {label} steps "
                f"(tau = {tau:.3g} s), over the step budget max_steps = {budget}; shorten the "
                f"time limit or raise max_steps")
        return Horizon(t_end, budget if cycle_h is None else int(need), False)
    settle_s = log_tol / rate
    if not field.noisy and steps_to(settle_s) > budget:
        raise NeurodecorrError(
            f"{what}: {_spectrum(field)}; reaching tol {tol:.3g} takes about "
            f"{steps_to(settle_s):.3g} {label} steps, over the step budget max_steps = "
            f"{budget}; condition the matrix (a leak raises the slowest mode), loosen tol or "
            f"raise max_steps")
    enough = ASYMPTOTIC_FACTOR / TRANSIENT_FACTOR * settle_s / tau
    transient_s = settle_time_bound(field, tol, enough) * tau
    cycles = None
    if cycle_h is not None and transient_s > enough * tau and supports(solver):
        # the bounds lengthen the horizon: count the iteration's own powers where affordable
        exact = exact_cycles(solver, field, cycle_h, tol)
        cycles = None if exact is None else exact[0]
    if cycles is not None:
        # a whole multiple of K cycles: ‖G^{mK}‖₂ ≤ ‖G^K‖₂^m ≤ tol at the end
        block = cycles * cycle_s
        t_end = block * math.ceil(max(ASYMPTOTIC_FACTOR * settle_s, TRANSIENT_FACTOR * block)
                                  / block - 1e-9)
    else:
        t_end = max(ASYMPTOTIC_FACTOR * settle_s, TRANSIENT_FACTOR * transient_s)
    if norm is not None and cycle_h is not None and cycles is None:
        # a guaranteed monotone contraction: enough cycles for the bound itself to reach tol
        t_end = max(t_end, cycle_s * math.ceil(log_tol / -math.log(norm) / length))
    need = steps_to(t_end)
    if field.noisy and need > budget:
        raise NeurodecorrError(
            f"{what}: a noisy circuit is integrated to its horizon, {t_end:.4g} s here ("
            f"{_spectrum(field)}), which is about {need:.3g} {label} steps, over the step "
            f"budget max_steps = {budget}; set a shorter max_time or raise max_steps")
    if cycle_h is None:
        return Horizon(t_end, budget, False)
    return Horizon(t_end, int(min(need, budget)), need > budget)


def precision_warning(field, tol: float, eps: float) -> str | None:
    """A warning when the dtype's rounding alone may keep the residual above ``tol``.

    An iterate of ``S x̄ = x`` carries a rounding residual of about ``eps · ‖S‖ ‖x̄‖/‖x‖``,
    up to ``eps · κ(S)``; the eigenvalue spread ``max|μ| / min|μ|`` stands in for κ (equal
    for a normal ``S``, a lower bound otherwise).
    """
    spread = eigenvalue_spread(field)
    if spread * eps < tol:
        return None
    return (f"eigenvalue spread {spread:.3g} of the circuit matrix: rounding alone can leave a "
            f"relative residual up to {spread * eps:.2g} (spread x eps), above tol {tol:.3g}; "
            f"the settle may end at its time limit")
