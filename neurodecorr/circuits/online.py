"""On-line learning of the lateral matrix: settle → local update of ``A`` → next input.

This is what a chip does: each input (or minibatch) is held on the nodes, the lateral circuit
settles to ``x̄ = A⁻¹ x``, and each node updates its own row of ``A`` from its total lateral
input ``(A x̄)_i`` and the broadcast states ``x̄_j`` (Ahmad 2024, Appendix C), scaled by one
global gain. The update is the first-order rule ``A ← g⁻¹ (A + η ⟨(A x̄) x̄ᵀ⟩)`` or, for batch
size 1, the exact Sherman–Morrison rule ``A ← g⁻¹ (A + η (A x̄) x̄ᵀ / (1 − η x̄ᵀx̄))`` (both in
:mod:`neurodecorr.core.inverse`). The products ``A x̄`` used by the update are those the
settled circuit provides.

:class:`OnlineLearner` runs the vectorised loop (any integrator, any batch size);
:func:`learn_online_nodewise` runs the same loop node by node (Euler settling, per-node updates).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurodecorr.core.inverse import (
    first_order_update,
    first_order_update_nodewise,
    sherman_morrison_update,
    sherman_morrison_update_nodewise,
)
from neurodecorr.core.rules import DecorrelationConfig
from neurodecorr.errors import NeurodecorrError
from neurodecorr.ode import (
    Euler,
    LateralField,
    OptimalStep,
    SettleCriterion,
    check_eigenvalues,
    kernels,
    make_method,
    settle,
)
from neurodecorr.ode.horizon import plan_horizon

UPDATES = ("first_order", "exact")


@dataclass
class OnlineHistory:
    """Per-update records of an on-line run."""

    gain: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    residual: list[float] = field(default_factory=list)
    settling_time_s: list[float] = field(default_factory=list)


def _check_update(update: str, batch_size: int, config: DecorrelationConfig) -> None:
    if update not in UPDATES:
        raise NeurodecorrError(f"update: unknown update '{update}'; choose one of: "
                               f"{', '.join(UPDATES)}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise NeurodecorrError(f"batch_size: must be a positive integer, got {batch_size}")
    if update == "exact" and (batch_size != 1 or config.rule != "ahmad" or config.centre):
        raise NeurodecorrError("update exact: the Sherman-Morrison rule is exact for one sample "
                               "at a time, rule 'ahmad', without centring")


class OnlineLearner:
    """Learns ``A`` on-line by settling the circuit and applying the local rule.

    Parameters
    ----------
    n : int
        Number of nodes.
    config : DecorrelationConfig
        Rule, η, subsampling and centring (as for the linear form).
    A : array_like, optional
        Initial lateral matrix (default the identity, i.e. no decorrelation).
    update : {'first_order', 'exact'}
    method : str or Solver
        How each settle is integrated (default Euler with the optimal step).
    criterion : SettleCriterion, optional
    tau_s, leak, dtype, reader_factory :
        Field settings; ``reader_factory(A)`` builds a reader for each new ``A`` (ideal GEMM
        when None). ``A`` itself is kept in float64.
    """

    def __init__(self, n: int, config: DecorrelationConfig | None = None, *,
                 A: np.ndarray | None = None, update: str = "first_order",
                 method: object = "euler", criterion: SettleCriterion | None = None,
                 tau_s: float = 1e-6, leak: float = 0.0, dtype: object = np.float64,
                 reader_factory=None) -> None:
        self.config = config or DecorrelationConfig()
        _check_update(update, 1, self.config)
        self.A = np.eye(n) if A is None else np.array(A, dtype=np.float64)
        if self.A.shape != (n, n):
            raise NeurodecorrError(f"A: expected shape ({n}, {n}), got {self.A.shape}")
        self.update = update
        self.solver, self.controller = make_method(method)
        self.criterion = criterion or SettleCriterion()
        self.tau_s, self.leak, self.dtype = tau_s, leak, dtype
        self.reader_factory = reader_factory
        self.mean = np.zeros(n) if self.config.centre else None
        self.history = OnlineHistory()

    def field(self) -> LateralField:
        """The circuit with the current ``A``."""
        reader = None if self.reader_factory is None else self.reader_factory(self.A)
        return LateralField(self.A, tau_s=self.tau_s, leak=self.leak, dtype=self.dtype,
                            reader=reader)

    def step(self, X: np.ndarray) -> None:
        """Settle the batch ``X`` (rows are samples) and update ``A`` once."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        _check_update(self.update, X.shape[0], self.config)
        if self.mean is not None:
            m = self.config.momentum
            self.mean = (1.0 - m) * self.mean + m * X.mean(axis=0)
            # the running mean settles with the batch, so the centred states are A⁻¹(x − μ)
            X_in = np.vstack([X, self.mean])
        else:
            X_in = X
        result = settle(self.field(), X_in, self.solver, controller=self.controller,
                        criterion=self.criterion)
        if not result.success:
            raise NeurodecorrError(f"on-line learning: update {len(self.history.gain) + 1} did "
                                   f"not settle: {result.message}")
        Xbar = np.asarray(result.y, dtype=np.float64)
        if self.mean is not None:
            centred, Xbar = Xbar[:-1] - Xbar[-1], Xbar[:-1]
        else:
            centred = None
        if self.update == "exact":
            self.A, gain = sherman_morrison_update(self.A, X[0], Xbar[0], self.config)
        else:
            self.A, gain = first_order_update(self.A, X, Xbar, self.config, centred)
        if not np.all(np.isfinite(self.A)):
            raise NeurodecorrError("on-line learning diverged (non-finite A); reduce eta")
        h = self.history
        h.gain.append(gain)
        h.steps.append(result.nsteps)
        h.residual.append(result.max_residual)
        h.settling_time_s.append(result.t)

    def run(self, X: np.ndarray, batch_size: int = 1, progress: bool = False) -> np.ndarray:
        """Stream the rows of ``X`` in order, ``batch_size`` at a time; return the final ``A``."""
        X = np.asarray(X, dtype=np.float64)
        _check_update(self.update, batch_size, self.config)
        starts = range(0, X.shape[0] - batch_size + 1, batch_size)
        if progress:
            from rich.progress import track

            starts = track(starts, description="on-line learning")
        for s in starts:
            self.step(X[s:s + batch_size])
        return self.A


def learn_online_nodewise(X: np.ndarray, config: DecorrelationConfig, *,
                          A: np.ndarray | None = None, batch_size: int = 1,
                          update: str = "first_order", criterion: SettleCriterion | None = None,
                          tau_s: float = 1e-6, leak: float = 0.0) -> np.ndarray:
    """The on-line loop computed node by node: the reference for :class:`OnlineLearner`.

    Each batch settles under :func:`kernels.settle_nodewise` (Euler, node by node, with the step
    and step limit the vectorised Euler integrator would choose), then every node updates its
    own row with :func:`first_order_update_nodewise` or :func:`sherman_morrison_update_nodewise`.
    Centring is not modelled here.
    """
    if config.centre:
        raise NeurodecorrError("learn_online_nodewise: centring is not modelled node by node")
    _check_update(update, batch_size, config)
    criterion = criterion or SettleCriterion()
    X = np.asarray(X, dtype=np.float64)
    A = np.eye(X.shape[1]) if A is None else np.array(A, dtype=np.float64)
    euler = Euler()
    for s in range(0, X.shape[0] - batch_size + 1, batch_size):
        Xb = np.ascontiguousarray(X[s:s + batch_size])
        fld = LateralField(A, tau_s=tau_s, leak=leak)
        check_eigenvalues(fld.eigenvalues)
        cycle = OptimalStep().plan(euler, fld, criterion)
        horizon = plan_horizon(fld, criterion, euler, cycle.h, cycle.rho)
        Y = np.zeros_like(Xb)
        _, rel = kernels.settle_nodewise(A, Xb, Y, float(cycle.h[0]), leak, criterion.tol,
                                         criterion.check_every, horizon.max_steps)
        if not np.max(rel) < criterion.tol:
            raise NeurodecorrError(f"on-line learning: batch at row {s} did not settle")
        if update == "exact":
            A = sherman_morrison_update_nodewise(A, Xb[0], Y[0], config)
        else:
            A = first_order_update_nodewise(A, Xb, Y, config)
    return A
