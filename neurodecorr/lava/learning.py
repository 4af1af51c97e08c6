"""On-chip learning of the lateral matrix in Lava: ``LearningDense`` with a Loihi 3-factor rule.

The recurrent synapses of the Loihi mapping hold ``w = −α A``. The node-local first-order rule
with the power-preserving gain (Ahmad 2024; :func:`neurodecorr.core.inverse.first_order_update`)

    A ← (A + η (A x̄) x̄ᵀ)(1 − βγ),   i.e.   Δw_ij = (1 − βγ)·(−α η (A x̄)_i x̄_j) − βγ w_ij,

with ``γ = 1 − 1/g`` (``β = 1``: ``A ← (A + η (A x̄) x̄ᵀ)/g``), is a sum of products of pre-
and post-synaptic traces and the weight, so Lava's ``Loihi3FLearningRule`` expresses it as
``dw = C·u0·x1·y2 − C·u0·x1·y2·y3 − u0·w·y3``:

- ``x1``: the pre-synaptic graded payload ``x̄`` with ``GradedSpikeCfg.OVERWRITE``, which stores
  ``x̄/2`` (``lava/magma/core/model/py/connection.py``); a trace time constant of ``2⁵⁰`` steps
  (0 gives NaN in the float model) keeps it undecayed within an epoch;
- ``y2``: the neuron's own lateral current ``(A x̄)_i = −a_rec/α``, scaled by ``s``, sent by
  the :class:`~neurodecorr.lava.procs.process.Integrator` on ``s_out_y2``; Lava decays it over
  the epoch by ``exp(−t_epoch/y2_tau)`` (``y2_tau = 2¹⁶ − 1`` is fixed by the 3-factor rule),
  which the neuron pre-compensates;
- ``u0``: once per learning epoch; ``t_epoch`` = steps per sample, so ``A`` learns once per
  sample from the settled state, like the reference.

- ``y3``: ``βγ`` from the per-layer :class:`~neurodecorr.lava.procs.process.GainRegister`,
  which sums the layer's powers ``x_i²`` and ``x̄_i²`` (sent by every neuron) and computes
  ``g = ‖x‖ / ‖x̄'‖``, ``x̄' = (1 − η‖x̄‖²) x̄`` (:func:`neurodecorr.core.linear.power_gain`
  of one sample); it reaches the neurons one step later, which forward it (pre-compensated
  like ``y2``). ``β`` weighs each sample's gain as the fixed-point rule does
  (:attr:`neurodecorr.lava.fixed_learning.FixedLearningPlan.beta`, default ``2⁻⁴``):
  ``A ← (A + ηΔ)(1 − β(1 − 1/g))``; ``β = 1`` is the ``ahmad`` gain of a batch of one sample,
  ``(A + ηΔ)/g``.

``C = −2αη/s`` must be ``m·2^e`` with integer ``m``; choosing ``s = 2αη`` makes ``C = −1``.
Fixed point: :func:`learn_on_chip_fixed` and :mod:`neurodecorr.lava.fixed_learning`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from neurodecorr.core.inverse import first_order_update
from neurodecorr.core.rules import DecorrelationConfig
from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava.compat import import_lava
from neurodecorr.lava.fixed_learning import FixedLearningPlan
from neurodecorr.lava.runtime import lava_session
from neurodecorr.lava.settling import contraction, settling_plan

RULE = "-2^0 * u0 * x1 * y2"
#: the rule with the gain: (1 − βγ)·hebbian − βγ·w (y3 = βγ)
RULE_GAIN = "-2^0 * u0 * x1 * y2 + 2^0 * u0 * x1 * y2 * y3 - 2^0 * u0 * w * y3"
#: x1 time constant in steps: long enough that x1 does not decay within an epoch (float model,
#: which decays it by exp(−t/τ) up to the epoch's end: 2^30 left a relative error of about
#: T·2^−30 in every Hebbian term, a floor of ~1e-8 on A whatever the settling tolerance)
TRACE_TAU = 2**50
#: weight β of one sample's gain, the fixed-point rule's default 2^−4
GAIN_WEIGHT = 2.0 ** -FixedLearningPlan.gain_shift
#: Euler step as a fraction of the plan's step for the initial A: A grows as it learns
ALPHA_MARGIN = 0.5


@dataclass
class OnChipLearning:
    """Lateral matrix learned in Lava and by the reference rule on the same stream."""

    A_lava: np.ndarray
    A_reference: np.ndarray
    steps: int
    wall_s: float


def local_rule_step(A: np.ndarray, x: np.ndarray, cfg: DecorrelationConfig, beta: float,
                    gain: bool = True) -> np.ndarray:
    """One sample of the local rule with a weighted gain: ``A ← (A + ηΔ)(1 − β(1 − 1/g))``.

    ``x̄ = A⁻¹x`` exactly; :func:`neurodecorr.core.inverse.first_order_update` (``ahmad``, Ahmad
    2024) gives ``A' = (A + η (A x̄) x̄ᵀ)/g`` and ``g``, and ``g·A'·(1 − β + β/g)`` weighs the gain:
    ``β = 1`` is ``A'`` itself (the gain of a batch of one sample), ``β = 2^−s`` to first order
    ``g^−β``, the gain a batch of ``2^s`` samples would measure; ``gain=False`` is ``g·A'``.
    """
    xbar = np.linalg.solve(A, x)
    A_new, g = first_order_update(A, x[None, :], xbar[None, :], cfg)
    if gain and beta == 1.0:
        return A_new  # the ahmad rule itself, bit for bit
    return g * A_new * ((1.0 - beta + beta / g) if gain else 1.0)


def reference_stream(A0: np.ndarray, X: np.ndarray, eta: float, gain: bool = True,
                     beta: float = GAIN_WEIGHT) -> np.ndarray:
    """neurodecorr's local rule sample by sample (:func:`local_rule_step`):
    ``x̄ = A⁻¹x``, ``A ← (A + η (A x̄) x̄ᵀ)(1 − β(1 − 1/g))``; ``gain=False`` leaves the gain out.
    """
    cfg = DecorrelationConfig(rule="ahmad", eta=eta)
    A = np.array(A0, dtype=np.float64)
    for x in X:
        A = local_rule_step(A, x, cfg, beta, gain)
    return A


def _connect_learning(neuron, dense, register) -> None:
    """Wire a neuron population, its recurrent ``LearningDense`` and the gain register (or None)."""
    neuron.s_out.connect(dense.s_in)
    dense.a_out.connect(neuron.a_rec)
    neuron.s_out_bap.connect(dense.s_in_bap)
    neuron.s_out_y1.connect(dense.s_in_y1)
    neuron.s_out_y2.connect(dense.s_in_y2)
    neuron.s_out_y3.connect(dense.s_in_y3)
    if register is not None:
        neuron.s_out_px.connect(register.px_in)
        neuron.s_out_pv.connect(register.pv_in)
        register.gain_out.connect(neuron.gain_in)


def learn_on_chip(A0: np.ndarray, X: np.ndarray, eta: float, tol: float = 1e-10,
                  progress=None, gain: bool = True, beta: float = GAIN_WEIGHT
                  ) -> OnChipLearning:
    """Stream the rows of ``X`` through the Loihi mapping and learn ``A`` with ``LearningDense``.

    Parameters
    ----------
    A0 : ndarray, shape (n, n)
        Initial lateral matrix.
    X : ndarray, shape (N, n)
        Input stream; each sample is held until the integrators settle to ``tol``.
    eta : float
        Learning rate η.
    gain : bool
        Include the gain ``g`` (the ``ahmad`` rule); False learns ``A + η (A x̄) x̄ᵀ`` only.
    beta : float
        Weight of each sample's gain, ``A ← (A + ηΔ)(1 − β(1 − 1/g))``, in ``(0, 1]``
        (the gain register sends ``βγ``); 1 applies each sample's ``g`` in full.
    """
    import_lava()
    from lava.magma.core.learning.constants import GradedSpikeCfg
    from lava.magma.core.learning.learning_rule import Loihi3FLearningRule
    from lava.proc.dense.process import Dense, LearningDense
    from lava.proc.io.source import RingBuffer

    from neurodecorr.lava.procs.models import MODELS
    from neurodecorr.lava.procs.process import GainRegister, Integrator

    if not 0.0 < beta <= 1.0:
        raise NeurodecorrError(f"beta={beta}: the gain's weight must lie in (0, 1]")
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    n = A0.shape[0]
    alpha = ALPHA_MARGIN * settling_plan(A0, tol).alpha
    T = math.ceil(math.log(tol) / math.log(contraction(A0, alpha))) + 3
    rule = Loihi3FLearningRule(dw=RULE_GAIN if gain else RULE, x1_tau=TRACE_TAU, t_epoch=T)
    # Lava decays the post-synaptic traces over the epoch with the rule's fixed y2_tau:
    # pre-compensate, so that y2 equals (A x̄)·s when the rule is applied.
    y2_gain = float(np.exp(T / rule.y2_tau))
    source = RingBuffer(data=np.repeat(X.T, T, axis=1))
    d_in = Dense(weights=alpha * np.eye(n), num_message_bits=24)
    d_rec = LearningDense(weights=-alpha * np.asarray(A0, dtype=np.float64), num_message_bits=24,
                          learning_rule=rule, graded_spike_cfg=GradedSpikeCfg.OVERWRITE)
    neuron = Integrator(shape=n, alpha=alpha, y2_scale=2.0 * alpha * eta * y2_gain,
                        y3_scale=y2_gain)
    source.s_out.connect(d_in.s_in)
    d_in.a_out.connect(neuron.a_in)
    register = GainRegister(shape=n, plan={"eta": eta, "beta": beta}) if gain else None
    _connect_learning(neuron, d_rec, register)
    with lava_session(source, "floating_pt", MODELS["floating_pt"]) as session:
        session.run(X.shape[0] * T, progress)
        w = np.asarray(d_rec.weights.get(), dtype=np.float64)
    return OnChipLearning(A_lava=-w / alpha,
                          A_reference=reference_stream(A0, X, eta, gain, beta),
                          steps=session.steps, wall_s=session.wall_s)


@dataclass
class FixedOnChipLearning:
    """Weights learned by Lava's fixed-point ``LearningDense`` and the state it ended in."""

    weights: np.ndarray
    v: np.ndarray
    steps: int
    wall_s: float
    d: np.ndarray | None = None  # a split plan's diagonal registers


def learn_on_chip_fixed(w0: np.ndarray, X_int: np.ndarray, plan, progress=None,
                        d0: np.ndarray | None = None) -> FixedOnChipLearning:
    """Learn ``A = w·2^−a`` in Lava's fixed-point ``LearningDense`` (bit-approximate model).

    A :class:`~neurodecorr.lava.procs.process.LearningNeuron` population settles ``x̄`` through
    the learning ``Dense`` (``weight_exp = −a``) and emits the offset-encoded 7-bit codes; the
    engine applies ``plan.rule`` once per sample (``t_epoch = T``). The integer update and its
    bit-true emulation are in :mod:`neurodecorr.lava.fixed_learning`.

    Parameters
    ----------
    w0 : ndarray of int, shape (n, n)
        Initial weights, even integers in [−256, 254].
    X_int : ndarray of int, shape (N, n)
        Samples with ``plan.F`` fractional bits, each held for ``plan.T`` steps.
    plan : neurodecorr.lava.fixed_learning.FixedLearningPlan
        A split plan (``A = D + Δ``) keeps the diagonal in the neurons' registers ``d``
        (``w0``'s diagonal must be 0); the ``LearningDense`` then carries the tags of
        :func:`~neurodecorr.lava.fixed_learning.split_tags`, which keep its diagonal at 0.
    d0 : ndarray of int, shape (n,), optional
        A split plan's initial diagonal registers (units ``2^−D``; default ``2^D``, ``D = I``).
    """
    import_lava()
    from lava.magma.core.learning.constants import GradedSpikeCfg
    from lava.magma.core.learning.learning_rule import Loihi3FLearningRule
    from lava.proc.dense.process import LearningDense
    from lava.proc.io.source import RingBuffer

    from neurodecorr.lava.fixed_learning import X1_TAU, split_tags
    from neurodecorr.lava.procs.models import MODELS
    from neurodecorr.lava.procs.process import GainRegister, LearningNeuron

    plan.check()
    X_int = np.atleast_2d(np.asarray(X_int, dtype=np.int64))
    n = w0.shape[0]
    tags = {}
    if plan.split:
        if np.any(np.diag(w0)):
            raise NeurodecorrError("w0: a split plan has no diagonal synapses; its diagonal "
                                   "must be zero")
        d0 = np.full(n, 1 << plan.D, dtype=np.int64) if d0 is None else np.asarray(d0)
        if d0.shape != (n,) or not np.issubdtype(d0.dtype, np.integer) or \
                np.any(d0 < 0) or np.any(d0 >= 1 << 23):
            raise NeurodecorrError(f"d0: a split plan's diagonal registers must be {n} "
                                   "integers in [0, 2^23) (24-bit state, units 2^-D)")
        tag_1, tag_2 = split_tags(n)
        tags = {"tag_1": tag_1, "tag_2": tag_2}
    rule = Loihi3FLearningRule(dw=plan.rule, x1_tau=X1_TAU, t_epoch=plan.T,
                               rng_seed=plan.rng_seed)
    source = RingBuffer(data=np.repeat(X_int.T, plan.T, axis=1).astype(np.int32))
    dense = LearningDense(weights=np.asarray(w0, dtype=np.int32), weight_exp=-plan.a,
                          num_message_bits=24, learning_rule=rule,
                          graded_spike_cfg=GradedSpikeCfg.OVERWRITE, **tags)
    neuron = LearningNeuron(shape=n, plan=asdict(plan), d0=d0 if plan.split else None)
    source.s_out.connect(neuron.a_in)
    _connect_learning(neuron, dense, GainRegister(shape=n, plan=asdict(plan)))
    with lava_session(source, "fixed_pt", MODELS["fixed_pt"]) as session:
        session.run(X_int.shape[0] * plan.T, progress)
        weights = np.asarray(dense.weights.get()).astype(np.int64)
        v = np.asarray(neuron.v.get()).astype(np.int64)
        d = np.asarray(neuron.d.get()).astype(np.int64) if plan.split else None
    return FixedOnChipLearning(weights=weights, v=v, steps=session.steps,
                               wall_s=session.wall_s, d=d)
