"""Fixed-point on-chip learning of the lateral matrix: the integer rule and its bit-true emulation.

Lava 0.10's fixed-point ``LearningDense`` (``PyLearningDenseModelBitApproximate``,
``lava/magma/core/model/py/connection.py``) learns 9-bit weights from unsigned 7-bit traces. The
node-local ``ahmad`` rule ``ΔA_ij = η (A x̄)_i x̄_j`` (Ahmad 2024) is mapped onto it as follows.

**Time multiplexing of one payload.** A learning neuron ``i`` (:class:`~neurodecorr.lava.procs.
process.LearningNeuron`) holds ``v_i = x̄_i·2^F`` (24 bits) and settles
``v ← v + ⌊(x − A v) · 2^−k⌋`` (Euler step ``α = 2^−k``) with ``A v`` from the ``LearningDense``
(weights ``w = A·2^a``, ``weight_exp = −a``). An epoch is one sample of ``T`` steps (``t`` is the
step, ``t mod T`` its phase):

- phases ``2 … T−1``: update ``v`` and send it (graded, the recurrent sum);
- phase ``0`` (last step, the engine learns after it): do not update; send the 7-bit
  offset-encoded code ``p = 2 (q_x + 64)``, ``q_x = clip(⌊v · 2^(b−F)⌋, −63, 63)`` — with
  ``GradedSpikeCfg.OVERWRITE`` the engine stores ``x1 = round(p/2) = q_x + 64`` (``p ≥ 2``, so it
  always spikes) — and on ``y2`` the code ``q_y + 64`` of its recurrent current ``(A x̄)_i``,
  which came from the same ``v``;
- phase ``1``: the recurrent input is ``W·p`` (the code, not the state): discard it, send ``v``.

**The rule.** ``dw = 2^e · u0 · (x1 − 64) · (y2 − 64)`` decodes the offsets inside the engine
(a factor may carry a constant). Lava evaluates it as ``((x1−64)(y2−64)·m ≫ 3) ≪ (e + 7)`` in a
16-bit accumulator that holds ``w ≪ 7``, rounds stochastically to the weight's 9 bits and clips
to ``[−256, 255]``. In weight LSBs ``Δw = ⌊q_x q_y / 8⌋ · 2^e`` (before rounding) and
``ΔA = η (A x̄)_i x̄_j`` needs ``2^(e−3) = η·2^(a−2b)``; the engine needs ``e ≥ −7``.

**Stochastic rounding.** Lava draws **one** uniform number per epoch (``ConnVarRandom``, seed 2)
and rounds every synapse up when its fraction exceeds it; the traces decay stochastically once
per step with one number per epoch (``TraceRandom``, seeds ``rng_seed`` and ``rng_seed + 2``,
advanced twice per step). :func:`emulate` replays those streams, so it equals Lava's run bit for
bit. ``stochastic=False`` rounds to nearest instead (what a deterministic engine would do): a
per-sample ``Δw`` below half an LSB is then lost.

The power-preserving gain ``g`` of the ``ahmad`` rule is a per-layer scalar, see
:func:`gain_code`. The engine floors each product before its shift; the rule's constant
cancels their mean (:attr:`FixedLearningPlan.terms`, :func:`floor_errors`).

**Split** (``FixedLearningPlan.split``): ``A = D + Δ`` with the diagonal in a register of each
neuron, applied as its self term (:func:`diagonal_current`) and learned by the neuron itself
(:func:`diagonal_update`), and only the off-diagonal ``Δ`` in synapses, at a finer grid
(``a`` = 9). The synapses are a ``LearningDense`` whose diagonal stays at zero by the rule's
form: every product that does not vanish with ``w`` carries a synaptic tag as a factor, 0 on the
diagonal (:func:`split_tags`), so the engine's change of a diagonal synapse is exactly 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava.fixed import mul_shift, saturate, shift_floor

#: Lava's learning-engine widths (``lava/magma/core/learning/constants.py``)
TRACE_MAX = 127
ACC_MAX = 2**15 - 1
ACC_SHIFT = 7  # 16-bit accumulator − 9-bit signed weight
W_MIN, W_MAX = -256, 255
EPOCH_TIME_BITS = 6
#: the offset that makes a signed 7-bit code an unsigned trace
OFFSET = 64
#: x1 decay time constant: long enough that the stochastic decay practically never fires
X1_TAU = 2**30
#: Loihi3FLearningRule's fixed post-synaptic time constant
Y_TAU = 2**16 - 1
#: ConnVarRandom's fixed seed
SR_SEED = 2
#: fractional bits of the 12-bit multiplier (``[0, 2)``) a split neuron's diagonal uses
DIAG_MULT_BITS = 11
DIAG_MULT_MAX = 2**12 - 1
#: a split plan's ``tag_1`` (``t``) of every off-diagonal synapse (0 on the diagonal). Lava's
#: applier shifts a product right by its factors' widths beyond the 15-bit accumulator
#: (``LearningRuleApplierBitApprox.apply``; ``t`` is 9 bits wide, ``FACTOR_TO_WIDTH_DICT``): the
#: Hebbian product ``(x1−64)(y2−64)`` is shifted by 3, with ``t`` by 12. Written with mantissa 4,
#: ``4·t = 2^9`` restores the same floor, ``⌊q·2^9 / 2^12⌋ = ⌊q / 2^3⌋``, within tag_1's 8 bits
SPLIT_TAG = 128
SPLIT_HEBB_MANTISSA = 4


@dataclass(frozen=True)
class RuleTerms:
    """How the rule writes its two products' scales and the constant that offsets their floors."""

    hebb_mantissa: int
    """scaling mantissa ``m`` of the Hebbian product (its scale ``2^e`` as ``m·2^(e − log2 m)``)"""
    gain_mantissa: int
    """the same for the gain product"""
    constant: int
    """``K``, added every epoch in accumulator units (``2^−7`` weight LSB)"""
    residual: float
    """the products' predicted mean floor error plus ``K``, in accumulator units"""

    @property
    def constant_exp(self) -> int:
        """``K = m_K·2^j``: the power of two ``j`` (Lava's constants have a 4-bit mantissa)."""
        return (self.constant & -self.constant).bit_length() - 1 if self.constant else 0

    @property
    def constant_mantissa(self) -> int:
        return self.constant >> self.constant_exp


def residue_mean(k: int) -> float:
    """``ε_k = E[(P mod 2^k)]/2^k`` for ``P = a·b`` with ``a``, ``b`` uniform modulo ``2^k``.

    The mean fraction a right shift by ``k`` floors away from a product of two integers whose
    low bits are independent and uniform (0, 0.125, 0.25, 0.344, 0.406, 0.445 for k = 0…5;
    ½ − 2^−(k+1) would hold for a uniform ``P`` itself: a product is even three times in four).
    """
    if k <= 0:
        return 0.0
    a = np.arange(2**k)
    return float(np.mean(np.outer(a, a) % 2**k)) / 2**k


def _mantissas(E: int) -> tuple[int, ...]:
    """Power-of-two scaling mantissas ``m ≤ 4`` that keep the exponent ``E − log2 m ≥ −7``."""
    return tuple(m for m in (1, 2, 4) if E - int(math.log2(m)) >= -7)


def _floor_error(E: int, m: int, r: int) -> float:
    """Mean error (accumulator units, negative) Lava's floor leaves in a product scaled ``2^E``
    written with mantissa ``m`` and shifted right by ``r``: ``−2^(E+7)/m · ε_(r − log2 m)``."""
    return -(2.0 ** (E + 7) / m) * residue_mean(r - int(math.log2(m)))


def _representable(K: int) -> int:
    """The nearest ``m·2^j`` (``m < 8``, ``j ≥ 0``) to the non-negative integer ``K``."""
    candidates = [m << j for j in range(16) for m in range(8)]
    return min(candidates, key=lambda c: (abs(c - K), c))


def _scale(E: int, m: int) -> str:
    """A rule's scaling factor ``2^E`` with mantissa ``m``: ``m*2^(E − log2 m)``."""
    if m == 1:
        return f"2^{E}"
    return f"{m}*2^{E - int(math.log2(m))}"


@dataclass(frozen=True)
class FixedLearningPlan:
    """Integer scales of the on-chip rule."""

    F: int = 12
    """fractional bits of ``x̄`` and ``x`` in the neuron"""
    a: int = 7
    """fractional bits of the weights, ``A = w·2^−a`` (``|A_ij| < 2``). The learned ``A``
    tends to ``C^½`` for inputs of covariance ``C``, whose entries are at most 1 for
    unit-variance inputs. Each extra bit halves the variance of ``A``'s stochastic-rounding
    noise: the per-sample change doubles in LSBs (and its rounding variance with it, while it
    is below one LSB) while an LSB's size in ``A`` halves."""
    b: int = 4
    """fractional bits of the 7-bit codes"""
    k: int = 1
    """Euler step ``2^−k``"""
    T: int = 16
    """steps per sample: one learning epoch"""
    e: int = -7
    """the Hebbian term's exponent"""
    rng_seed: int = 0
    """the learning rule's trace seed"""
    c: int = 6
    """fractional bits of the gain code ``q_γ = round((1 − 1/g)·2^c)`` (``|γ| < 1``)"""
    gain_shift: int = 4
    """each sample applies the gain with the weight ``β = 2^−gain_shift`` (see :attr:`beta`)"""
    p: int = 6
    """fractional bits of the power payloads"""
    gain: bool = True
    """whether the rule contains the gain term"""
    floor_compensation: bool = True
    """compensate the engine's floors of both products (:attr:`terms`); False is the earlier
    rule, which added back only half a unit of the gain product's floor"""
    split: bool = False
    """``A = D + Δ``: the diagonal ``D`` is a register of each neuron, which applies it as its
    own self term and learns it (node-local, :func:`diagonal_update`); the synapses hold only
    the off-diagonal ``Δ = w·2^−a`` (a ``LearningDense`` whose diagonal the tags keep at 0,
    :func:`split_tags`), whose entries are smaller than ``A``'s diagonal, so ``a`` can be
    larger. The Hebbian product is then written with mantissa 1 only (:data:`SPLIT_TAG`)"""
    D: int = 20
    """fractional bits of a split neuron's diagonal register ``d`` (24 bits: ``d < 8``); the
    self term multiplies by its top 12 bits, ``d >> (D − 11)``"""

    @property
    def eta(self) -> float:
        """The learning rate the integer rule realises: ``η = 2^(e−3+2b−a)``."""
        return 2.0 ** (self.e - 3 + 2 * self.b - self.a)

    @property
    def beta(self) -> float:
        """The weight of one sample's gain: ``A ← (A + ηΔ)(1 − β(1 − 1/g))``.

        ``β = 1`` is the ``ahmad`` rule's gain for a batch of one sample, which rescales ``A``
        to each single sample's power: ``A``'s scale then jumps from sample to sample (its
        largest eigenvalue between 1.0 and 2.9 over 8000 samples in float at η = 2⁻¹⁰) and, with
        ``γ`` clipped and rounded, random-walks in fixed point until the Euler step's stability
        limit is passed. ``β = 2^−4`` spreads the gain over about 16 samples, as a batch of 16
        would measure it (to first order ``g^−β``).
        """
        return 2.0 ** -self.gain_shift

    @property
    def e_gain(self) -> int:
        """Exponent of the gain term: ``⌊−w·q_γ / 32⌋·2^e_gain`` must be ``−β·w·q_γ·2^−c``."""
        return 5 - self.c - self.gain_shift

    @property
    def terms(self) -> RuleTerms:
        """Mantissas of the two products and the constant that compensates their floors.

        Lava multiplies a product's factors by the scaling mantissa ``m`` (4 bits) before it
        shifts them right by ``r`` (3 for two traces, 5 for weight × trace), then left by
        ``s + 7``; a scale ``2^E`` written as ``m·2^(E − log2 m)`` floors at a granularity of
        ``G = 2^(E + 7)/m`` accumulator units (``2^−7`` weight LSB) instead of ``2^(E + 7)``, with
        ``s = E − log2 m ≥ −7``. For a product ``P`` of two integers with independent uniform
        residues the floor's mean error is ``−G·ε_k``, ``ε_k = E[(P mod 2^k)]/2^k``,
        ``k = r − log2 m`` (:func:`residue_mean`). The rule adds the integer constant ``K``
        (accumulator units, ``K·2^−7·u0``) that cancels the sum of both products' mean errors
        best, over the mantissas the exponent range allows; ties keep the smaller mantissas.
        """
        if not self.floor_compensation:
            K = 2 ** (self.e_gain + 6) if self.gain else 0
            bias = _floor_error(self.e, 1, 3)
            bias += _floor_error(self.e_gain, 1, 5) if self.gain else 0.0
            return RuleTerms(1, 1, K, bias + K)
        best = None
        # a split rule's tagged Hebbian product keeps Lava's floor only with mantissa 1
        for m_h in (1,) if self.split else _mantissas(self.e):
            for m_g in _mantissas(self.e_gain) if self.gain else (1,):
                bias = _floor_error(self.e, m_h, 3)
                if self.gain:
                    bias += _floor_error(self.e_gain, m_g, 5)
                K = _representable(round(-bias))
                cand = RuleTerms(m_h, m_g, K, bias + K)
                if best is None or abs(cand.residual) < abs(best.residual) - 1e-12:
                    best = cand
        return best

    @property
    def rule(self) -> str:
        """The rule string for ``Loihi3FLearningRule``."""
        t = self.terms
        if self.split:
            # gated by the tag t (0 on the diagonal); 4·t = 2^9 undoes t's 9 bits of shift
            hebb = (f"{SPLIT_HEBB_MANTISSA}*2^{self.e} * u0 * (x1 - {OFFSET}) * (y2 - {OFFSET})"
                    " * t")
        else:
            hebb = (f"{_scale(self.e, t.hebb_mantissa)} * u0 * (x1 - {OFFSET}) * "
                    f"(y2 - {OFFSET})")
        if self.gain:
            # w·(y3 − 64) vanishes on a split plan's diagonal by itself (w = 0 there)
            hebb += f" - {_scale(self.e_gain, t.gain_mantissa)} * u0 * w * (y3 - {OFFSET})"
        if t.constant:
            # the engine floors both products: add their mean error back (a split plan's
            # gated by the tag d, 1 off the diagonal: a 9-bit factor adds no shift to it)
            m, j = t.constant_mantissa, t.constant_exp - 7
            hebb += f" + {f'{m}*' if m != 1 else ''}2^{j} * u0" + (" * d" if self.split else "")
        return hebb

    def check(self) -> None:
        """Refuse scales Lava's engine cannot represent."""
        lowest = self.e_gain - (0 if self.floor_compensation else 1)
        for name, e in (("e", self.e), ("5 - c - gain_shift", lowest)):
            if not -7 <= e <= 8:
                raise NeurodecorrError(f"learning exponent {name}={e}: Lava's engine needs -7..8")
        if not 3 <= self.T < 2**EPOCH_TIME_BITS:
            raise NeurodecorrError(f"steps per sample T={self.T}: the within-epoch time has "
                                   f"{EPOCH_TIME_BITS} bits (3..63)")
        if self.b >= self.F:
            raise NeurodecorrError("code bits b must be below the state's fractional bits F")
        if self.split and self.e - 3 - self.a + self.D < 0:
            raise NeurodecorrError(f"diagonal bits D={self.D}: the neuron's Hebbian term "
                                   f"q_x q_y·2^(e-3-a+D) needs D >= {3 + self.a - self.e}")


def plan_for(eta: float, T: int = 16, F: int = 12, a: int | None = None, b: int = 4, k: int = 1,
             rng_seed: int = 0, gain: bool = True, gain_shift: int = 4, split: bool = False
             ) -> FixedLearningPlan:
    """The plan whose rule realises ``eta`` (a power of two) at the given scales.

    ``a`` defaults to 7 (``|A_ij| < 2``), and to 9 with ``split`` (the synapses hold only the
    off-diagonal entries, ``|Δ_ij| < 0.5``).
    """
    if a is None:
        a = 9 if split else 7
    e = math.log2(eta) + 3 - 2 * b + a
    if e != round(e):
        raise NeurodecorrError(f"eta={eta}: the on-chip rate must be a power of two")
    plan = FixedLearningPlan(F=F, a=a, b=b, k=k, T=T, e=int(e), rng_seed=rng_seed, gain=gain,
                             gain_shift=gain_shift, split=split)
    plan.check()
    return plan


def _round_shift(v: np.ndarray, plan: FixedLearningPlan) -> np.ndarray:
    """``v·2^(b−F)`` rounded half up (add half an LSB, then floor): unbiased codes, since a
    floor's −½ LSB bias would add a constant to every product the rule accumulates."""
    return shift_floor(np.asarray(v, dtype=np.int64) + (1 << (plan.F - plan.b - 1)),
                       plan.b - plan.F)


def x_code(v: np.ndarray, plan: FixedLearningPlan) -> np.ndarray:
    """Signed 7-bit code of the state, ``clip(round(v·2^(b−F)), −63, 63)`` (−64 sends 0)."""
    return np.clip(_round_shift(v, plan), -63, 63)


def y_code(r: np.ndarray, plan: FixedLearningPlan) -> np.ndarray:
    """Signed 7-bit code of the recurrent current ``(A x̄)_i``."""
    return np.clip(_round_shift(r, plan), -OFFSET, OFFSET - 1)


def neuron_step(phase: int, v: np.ndarray, x: np.ndarray, r: np.ndarray,
                plan: FixedLearningPlan) -> tuple[np.ndarray, np.ndarray]:
    """One step of the learning neuron: ``(v, payload)`` (see the module docstring).

    On phase 0 the neuron also sends ``y2 = y_code(r) + 64`` (elsewhere ``64``, a zero code:
    the engine reads only the epoch's last ``y2``).
    """
    if phase == 0:
        return v, 2 * (x_code(v, plan) + OFFSET)
    if phase != 1:
        v = saturate(v + shift_floor(x - r, -plan.k))
    return v, v


def split_tags(n: int) -> tuple[np.ndarray, np.ndarray]:
    """A split plan's synaptic tags ``(tag_1, tag_2)`` = ``(t, d)``: :data:`SPLIT_TAG` and 1 off
    the diagonal, 0 on it. The rule has no ``dt`` or ``dd``, so the engine never changes them."""
    off = 1 - np.eye(n, dtype=np.int64)
    return SPLIT_TAG * off, off


def diagonal_current(d: np.ndarray, v: np.ndarray, plan: FixedLearningPlan) -> np.ndarray:
    """A split neuron's self term ``D_ii x̄_i``: its 12-bit multiplier ``d >> (D − 11)``
    (saturated at 4095, ``D_ii < 2``) times ``v``, shifted right by 11 rounding toward zero
    (:func:`neurodecorr.lava.fixed.mul_shift`)."""
    return mul_shift(v, _multiplier(d, plan), DIAG_MULT_BITS)


def _multiplier(d: np.ndarray, plan: FixedLearningPlan) -> np.ndarray:
    return np.minimum(np.right_shift(d, plan.D - DIAG_MULT_BITS), DIAG_MULT_MAX)


def diagonal_update(d: np.ndarray, qx: np.ndarray, qy: np.ndarray, q_gamma: int,
                    plan: FixedLearningPlan) -> np.ndarray:
    """A split neuron learns its diagonal at the epoch's end, as the synapses learn theirs:
    ``D ← D + η q_y q_x 2^−2b − β γ D`` in units of ``2^−D``.

    The Hebbian term is ``q_x q_y·2^(e−3−a+D)`` (exact: an integer for the allowed ``D``);
    ``βγD = d·q_γ·2^−(c+s)`` is rounded to nearest (half up). Saturated to the 24-bit
    register, ``[0, 2^23)``.
    """
    hebb = (qx * qy) << (plan.e - 3 - plan.a + plan.D)
    if plan.gain:
        shift = plan.c + plan.gain_shift
        hebb = hebb - shift_floor(d * q_gamma + (1 << (shift - 1)), -shift)
    return np.clip(d + hebb, 0, 2**23 - 1)


def diagonal_matrix(d: np.ndarray, plan: FixedLearningPlan) -> np.ndarray:
    """The diagonal the split neurons realise, ``min(d >> (D − 11), 4095)·2^−11``."""
    return np.diag(_multiplier(d, plan) * 2.0**-DIAG_MULT_BITS)


def power(v: np.ndarray, plan: FixedLearningPlan) -> np.ndarray:
    """A neuron's power payload ``(⌊v·2^(p−F)⌋)²`` (24-bit saturated) for the gain register."""
    return saturate(np.square(shift_floor(v, plan.p - plan.F)))


def gain_code(p_x: int, p_xbar: int, plan: FixedLearningPlan) -> int:
    """The per-layer gain register: ``q_γ = clip(round((1 − 1/g)·2^c), −64, 63)``.

    ``g = ‖x‖ / (‖x̄‖ (1 − η‖x̄‖²))`` is :func:`neurodecorr.core.linear.power_gain` of one sample
    after the update (``x̄' = (I − η x̄x̄ᵀ) x̄``), from the layer-wide sums ``p_x = Σ x_i²`` and
    ``p_xbar = Σ x̄_i²`` in units of ``2^−2p``. Division and square root happen in this one
    register, not in the neurons; 0 when the layer is silent.
    """
    shrink = 1.0 - plan.eta * p_xbar * 2.0 ** (-2 * plan.p)
    if p_x <= 0 or p_xbar <= 0 or shrink <= 0:
        return 0
    inv_gain = math.sqrt(p_xbar / p_x) * shrink
    return int(np.clip(round((1.0 - inv_gain) * 2**plan.c), -OFFSET, OFFSET - 1))


def _decay(trace: np.ndarray, tau: int, steps: int, random: float) -> np.ndarray:
    """Lava's stochastic trace decay (``_decay_trace``), ``steps`` times with one random number.

    The number is the same for every step of the epoch, so once a step leaves the traces
    unchanged every later step does too.
    """
    for _ in range(steps):
        value = np.exp(-1 / tau) * trace
        decayed = (np.floor(value) + (random < value % 1).astype(int)).astype(int)
        if np.array_equal(decayed, trace):
            break
        trace = decayed
    return trace


def _product(values: np.ndarray, widths: int, E: int, m: int = 1) -> np.ndarray:
    """One product of Lava's ``LearningRuleApplierBitApprox`` scaled ``m·2^(E − log2 m)``:
    times the mantissa, shifted right by the factor widths beyond the accumulator, left by the
    exponent, clipped."""
    shifted = np.left_shift(np.right_shift(values * m, max(0, widths + 4 - 15)),
                            E - int(math.log2(m)) + 7)
    return np.clip(shifted, -ACC_MAX - 2, ACC_MAX)


def engine_update(w: np.ndarray, x1: np.ndarray, y2: np.ndarray, y3: np.ndarray,
                  plan: FixedLearningPlan, random: float) -> np.ndarray:
    """Lava's bit-approximate update for ``plan.rule`` (one epoch).

    ``dw = 2^e·u0·(x1−64)·(y2−64) − 2^e_gain·u0·w·(y3−64) + K·2^−7·u0`` (:attr:`~Fixed
    LearningPlan.terms` gives the mantissas the scales are written with, and ``K``), evaluated
    as ``LearningRuleApplierBitApprox.apply`` (factors 7 or 9 bits, 4-bit mantissa, products
    shifted into the 16-bit accumulator and clipped one after the other), then
    ``_stochastic_round_synaptic_variable`` and ``clip_weights``; ``random`` is the epoch's
    shared number (0.5 rounds to nearest).
    """
    terms = plan.terms
    w = w.astype(np.int64)
    hebb = _product((y2[:, None] - OFFSET) * (x1[None, :] - OFFSET), 14, plan.e,
                    terms.hebb_mantissa)
    acc = np.clip((w << ACC_SHIFT) + hebb, -ACC_MAX - 2, ACC_MAX)
    if plan.gain:
        shrink = _product(-(w * (y3[:, None] - OFFSET)), 16, plan.e_gain, terms.gain_mantissa)
        acc = np.clip(acc + shrink, -ACC_MAX - 2, ACC_MAX)
    if terms.constant:
        acc = np.clip(acc + terms.constant, -ACC_MAX - 2, ACC_MAX)
    scaled = acc / 2**ACC_SHIFT  # 2^(15 − 8): the weight's 8 magnitude bits in the accumulator
    rounded = np.floor(scaled) + (random < scaled % 1).astype(int)
    w_new = (rounded * 2**ACC_SHIFT).astype(np.int64) >> ACC_SHIFT
    return np.clip(w_new, W_MIN, W_MAX)


@dataclass
class FixedLearningRun:
    """Weights after every sample and the codes the engine saw."""

    weights: np.ndarray  # (N + 1, n, n), the initial weights first
    x1: np.ndarray  # (N, n)
    y2: np.ndarray  # (N, n)
    gain_code: np.ndarray  # (N,), q_γ the engine saw (after its trace decay)
    d: np.ndarray | None = None  # (N + 1, n): a split plan's diagonal registers

    def matrices(self, plan: FixedLearningPlan) -> np.ndarray:
        """``A`` after every sample: ``w·2^−a``, plus the neurons' diagonal when split."""
        A = self.weights * 2.0**-plan.a
        if plan.split:
            A = A + np.stack([diagonal_matrix(d, plan) for d in self.d])
        return A


def _randoms(seed: int, count: int) -> np.ndarray:
    return np.random.default_rng(seed).random(count)


ROUNDINGS = ("lava", "independent", "nearest")


def emulate(w0: np.ndarray, X_int: np.ndarray, plan: FixedLearningPlan,
            rounding: str = "lava", seed: int = 0, d0: np.ndarray | None = None
            ) -> FixedLearningRun:
    """Bit-true numpy model of :func:`neurodecorr.lava.learning.learn_on_chip_fixed`.

    Parameters
    ----------
    w0 : ndarray of int, shape (n, n)
        Initial weights (even, as Lava's mixed-sign ``Dense`` truncates them once).
    X_int : ndarray of int, shape (N, n)
        Input samples with ``F`` fractional bits; sample ``s`` drives steps ``sT+1 … (s+1)T``.
    d0 : ndarray of int, shape (n,), optional
        A split plan's initial diagonal registers (units ``2^−D``; default ``2^D``, ``D = I``);
        ``w0``'s diagonal must then be zero (no diagonal synapses).
    rounding : {"lava", "independent", "nearest"}
        ``lava``: Lava's stochastic rounding, one random number per epoch shared by every
        synapse (the Lava run equals this); ``independent``: one number per synapse (from
        ``seed``; not what Lava 0.10 does); ``nearest``: no stochastic rounding.
    """
    plan.check()
    if rounding not in ROUNDINGS:
        raise NeurodecorrError(f"rounding {rounding!r}: expected one of {', '.join(ROUNDINGS)}")
    per_synapse = np.random.default_rng(seed)
    X_int = np.asarray(X_int, dtype=np.int64)
    N, n = X_int.shape
    T = plan.T
    steps = N * T
    # one trace-decay number per step, advanced twice per step (x: seed, y: seed + 2)
    rx = _randoms(plan.rng_seed, 2 * steps + 1)
    ry = _randoms(plan.rng_seed + 2, 2 * steps + 1)
    rsr = _randoms(SR_SEED, N + 1)
    w = np.asarray(w0, dtype=np.int64).copy()
    weights = [w.copy()]
    if plan.split:
        if np.any(np.diag(w)):
            raise NeurodecorrError("a split plan has no diagonal synapses: w0's diagonal must "
                                   "be zero")
        d = np.full(n, 1 << plan.D, dtype=np.int64) if d0 is None else np.array(d0, np.int64)
        ds = [d.copy()]
    v = np.zeros(n, dtype=np.int64)
    a_buff = np.zeros(n, dtype=np.int64)
    gamma = 0
    xs, ys, gs = [], [], []
    for t in range(1, steps + 1):
        x = X_int[(t - 1) // T]
        phase = t % T
        # the recurrent current: the synapses' sum, plus a split neuron's own diagonal term
        # from the same v (the state it sent last step)
        r = a_buff + diagonal_current(d, v, plan) if plan.split else a_buff
        v, payload = neuron_step(phase, v, x, r, plan)
        if phase == T - 1:
            # the register's code reaches the engine one step later, on the epoch's last y3
            gamma = gain_code(int(power(x, plan).sum()), int(power(v, plan).sum()), plan)
        y2 = y_code(r, plan) + OFFSET if phase == 0 else None
        # Dense: sends last step's sum, then sums this step's payload (flooring weight_exp)
        a_buff = shift_floor(w @ payload, -plan.a)
        if phase == 0:
            # OVERWRITE: x1 = round(payload / 2); the code is the epoch's last payload
            x1_u = _decay(payload // 2, X1_TAU, T, rx[2 * t])
            y2_u = _decay(y2, Y_TAU, T, ry[2 * t])
            y3_u = _decay(np.full(n, gamma + OFFSET), Y_TAU, T, ry[2 * t])
            random = {"lava": rsr[t // T], "nearest": 0.5}.get(rounding)
            if random is None:
                random = per_synapse.random(w.shape)
            w = engine_update(w, x1_u, y2_u, y3_u, plan, random)
            if plan.split:
                np.fill_diagonal(w, 0)  # no diagonal synapses: the neuron learns its own
                d = diagonal_update(d, x_code(v, plan), y2 - OFFSET, gamma, plan)
                ds.append(d.copy())
            weights.append(w.copy())
            xs.append(x1_u)
            ys.append(y2_u)
            gs.append(y3_u[0] - OFFSET)
    return FixedLearningRun(weights=np.array(weights), x1=np.array(xs), y2=np.array(ys),
                            gain_code=np.array(gs), d=np.array(ds) if plan.split else None)


def floor_errors(run: FixedLearningRun, plan: FixedLearningPlan) -> np.ndarray:
    """Per sample and synapse, the engine's update minus the exact rule before the stochastic
    rounding, in accumulator units (``2^−7`` weight LSB): the floors of both products plus
    the constant ``K``, from the codes and weights of an :func:`emulate` run (no clipping).

    The exact rule is ``q_y q_x·2^(e+4) − w·q_γ·2^(e_gain+2)``.
    """
    qx, qy = run.x1 - OFFSET, run.y2 - OFFSET
    w = run.weights[:-1]
    q = qy[:, :, None] * qx[:, None, :]
    terms = plan.terms
    out = _product(q, 14, plan.e, terms.hebb_mantissa) - q * 2.0 ** (plan.e + 4)
    if plan.gain:
        wg = -(w * run.gain_code[:, None, None])
        out = (out + _product(wg, 16, plan.e_gain, terms.gain_mantissa)
               - wg * 2.0 ** (plan.e_gain + 2))
    return out + terms.constant


@dataclass
class LearningComparison:
    """Off-diagonal correlation RMS of ``x̄ = A⁻¹x`` on held-out samples, along a training run."""

    samples: np.ndarray  # sample counts at which the matrices were evaluated
    float_rule: np.ndarray  # the float local rule (exact x̄, the plan's gain weight β)
    float_full_gain: np.ndarray  # the same with β = 1: the ahmad gain of a batch of one
    float_on_grid: np.ndarray  # the float rule with A rounded to the weights' grid, as Lava does
    fixed: dict  # rounding -> scores of the integer rule (``lava`` is what Lava runs)
    input_rms: float  # of x itself
    float_matrix: np.ndarray
    fixed_matrix: np.ndarray
    fixed_max_eig: np.ndarray  # the largest |eigenvalue| of the ``lava`` run's A per sample


def correlated_stream(n: int, N: int, rho: float, seed: int) -> np.ndarray:
    """``N`` samples of ``n`` unit-variance inputs with pairwise correlation ``rho``."""
    C = (1.0 - rho) * np.eye(n) + rho * np.ones((n, n))
    z = np.random.default_rng(seed).standard_normal((N, n))
    return z @ np.linalg.cholesky(C).T


def compare_training(plan: FixedLearningPlan, X: np.ndarray, X_test: np.ndarray,
                     every: int = 100, roundings: tuple[str, ...] = ROUNDINGS
                     ) -> LearningComparison:
    """Train ``A`` from ``I`` on the stream ``X`` several ways and follow decorrelation.

    The float rule is :func:`neurodecorr.lava.learning.local_rule_step` (``ahmad``) sample by
    sample with the exact ``x̄ = A⁻¹x``, its gain ``g`` applied with the plan's weight,
    ``A ← (A + ηΔ)(1 − β(1 − 1/g))`` (undone when ``plan.gain`` is False), and once more with
    ``β = 1``, and once with ``A`` rounded after every sample to the weights' grid ``2^−a`` as
    Lava's engine rounds (stochastically, one shared random number per sample, clipped to
    9 bits) — the float rule with only the weights' resolution of the integer one; the integer
    rule is :func:`emulate` (equal to the Lava run) with each of ``roundings``, its
    ``A = w·2^−a``. Each matrix is scored by
    :func:`neurodecorr.core.metrics.offdiag_corr_rms` of ``A⁻¹ X_test`` every ``every`` samples
    (NaN where ``A`` is singular).
    """
    from neurodecorr.core.metrics import offdiag_corr_rms
    from neurodecorr.core.rules import DecorrelationConfig
    from neurodecorr.lava.learning import local_rule_step  # imports this module

    n = X.shape[1]
    cfg = DecorrelationConfig(rule="ahmad", eta=plan.eta)
    w0 = np.zeros((n, n), np.int64) if plan.split else np.eye(n, dtype=np.int64) << plan.a
    X_int = np.round(X * 2**plan.F).astype(np.int64)
    runs = {r: emulate(w0, X_int, plan, r) for r in dict.fromkeys(("lava",) + tuple(roundings))}
    checkpoints = np.arange(0, X.shape[0] + 1, every)

    def score(A):
        try:
            return offdiag_corr_rms(np.linalg.solve(A, X_test.T).T)
        except np.linalg.LinAlgError:  # a run that collapsed (all weights saturated)
            return float("nan")

    off_diagonal = ~np.eye(n, dtype=bool)

    def float_run(beta, on_grid=False):
        A = np.eye(n)
        scores = [score(A)]
        randoms = _randoms(SR_SEED, X.shape[0] + 1)
        for s, x in enumerate(X, start=1):
            A = local_rule_step(A, x, cfg, beta, plan.gain)
            if on_grid:
                w = A * 2**plan.a
                w = np.clip(np.floor(w) + (randoms[s] < w % 1), W_MIN, W_MAX)
                # split: only the off-diagonal entries are synapses on the grid
                A = np.where(off_diagonal, w * 2.0**-plan.a, A) if plan.split else w * 2.0**-plan.a
            if s % every == 0:
                scores.append(score(A))
        return np.array(scores), A

    float_scores, A = float_run(plan.beta)
    full_scores, _ = float_run(1.0)
    grid_scores, _ = float_run(plan.beta, on_grid=True)
    fixed = {r: np.array([score(A) for A in run.matrices(plan)[checkpoints]])
             for r, run in runs.items() if r in roundings}
    lava = runs["lava"].matrices(plan)
    return LearningComparison(samples=checkpoints, float_rule=float_scores,
                              float_full_gain=full_scores, float_on_grid=grid_scores,
                              fixed=fixed,
                              input_rms=offdiag_corr_rms(X_test), float_matrix=A,
                              fixed_matrix=lava[-1],
                              fixed_max_eig=np.max(np.abs(np.linalg.eigvals(lava)), axis=1))
