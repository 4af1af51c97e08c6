"""Update algorithms of an analogue array: how a digital update ``ΔW`` reaches the devices.

Every array of a chip (forward crossbar, lateral matrix) is an :class:`AnalogArray`: it reads
like a :class:`~neurodecorr.devices.Crossbar` and takes updates ``ΔW = lr Σ_k d_k x_kᵀ``
(rank-1 terms) through one of these algorithms (``update`` in the circuit's ``[forward]`` /
``[lateral]`` table, or ``train --update``):

``sgd``
    Each rank-1 term one stochastic pulse train (``Crossbar.write_rank1``; Gokmen & Vlasov
    2016). The mean is exact, the pulse-count noise grows with the unsigned update.
``mixed-precision``
    Nandakumar et al. 2020 (Front. Neurosci. 14:406), aihwkit ``MixedPrecisionCompound``: the
    update accumulates in a digital matrix ``χ ← χ + ΔW``; every ``transfer_every`` updates each
    device gets ``n_ij = trunc(χ_ij/ε)`` pulses of the sign of ``χ_ij`` (``ε`` the granularity,
    ``granularity`` in weight units or ``granularity_steps`` in device steps, by default
    ``max(1, round(σ_c2c²))`` device steps, :func:`default_steps_per_count`) and
    ``χ`` keeps the remainder ``χ_ij − n_ij ε``
    (aihwkit ``rpu_mixedprec_device.cpp``, ``doTransfer``). The pulses are written row by row,
    as aihwkit does. Unlike aihwkit, ``x`` and ``d`` are not quantised before the outer product
    (its ``n_x_bins = n_d_bins = 0`` setting).
``tiki-taka``, ``ttv2``, ``chopped-ttv2``, ``agad``
    Two arrays, a fast ``A`` (programmed at zero) that takes the gradient pulses and a slow
    ``C`` holding the weights; reads see ``W = γ (A − r) + C`` (``gamma``; aihwkit's default is
    0, ours 0.5 for ``tiki-taka`` and ``ttv2``, see :class:`UpdateConfig`).
    Every ``transfer_every`` updates ``transfer_columns`` columns ``j`` of ``A`` (cycling; all by
    default) are read with one-hot inputs, ``v = A e_j`` (noisy analogue reads), and moved into
    ``C``:

    * ``tiki-taka`` (Gokmen & Haensch 2020, Front. Neurosci. 14:103; aihwkit
      ``TransferCompound``): ``C ← C + transfer_lr (v − r_j) e_jᵀ`` by a stochastic pulse train,
      ``r`` the symmetry point of ``A`` (below);
    * ``ttv2`` (Gokmen 2021, Front. Artif. Intell. 4:699148; ``BufferedTransferCompound``):
      ``H_j ← H_j + transfer_lr (v − r_j)/ε_A`` in a digital buffer; where ``|H_ij| ≥ 1``,
      ``C_ij`` gets ``n = clip(trunc(H_ij), ±transfer_max_pulses)`` pulses and
      ``H_ij ← momentum · H_ij`` (aihwkit's ``forget_buffer``; without it
      ``H_ij ← H_ij − (1 − momentum) n``, aihwkit ``rpu_chopped_transfer_device.cpp``,
      ``readAndUpdate``);
    * ``chopped-ttv2`` (Rasch et al. 2024, Nat. Commun. "Fast and robust analog in-memory deep
      neural network training"; ``ChoppedTransferCompound``): as ``ttv2`` with no symmetry-point
      reference, but the input ``x_j`` of the gradient into ``A`` is multiplied by a chopper
      ``c_j = ±1`` and the read column by the same ``c_j``, so ``A``'s offset enters ``H`` with
      alternating sign and cancels; ``c_j`` flips with probability ``chop_prob`` at each
      transfer of column ``j`` (``in_chop_random``);
    * ``agad`` (Rasch et al. 2024; ``DynamicTransferCompound``): as ``chopped-ttv2`` with the
      choppers flipped every ``n = ceil(1/chop_prob)`` transfers of a column, and the reference
      of ``A`` tracked on the fly: a running mean ``m ← (1 − κ) m + κ v`` with
      ``κ = min(tail_weightening/n, 1)``; at a chopper switch the reference becomes ``m``, and
      ``H ← H + c (v − reference) s`` (``s`` the buffer rate below). No write before the first
      ``n`` transfers (``rpu_dynamic_transfer_device.cpp``, ``readAndUpdate``).

    The chopped pair runs, by default, as aihwkit's chopped presets configure
    ``ChoppedTransferCompound`` and ``DynamicTransferCompound``
    (``simulator/presets/configs.py``, ``ChoppedTTv2ReRamESPreset``, ``AGADReRamESPreset``;
    the C++ of aihwkit 0.9.2, ``rpu_chopped_transfer_device.cpp``):

    - ``auto_scale``: the rate into ``A`` is ``fast_lr · BL · δ_A / (m_x m_d)``, ``m_x``,
      ``m_d`` running means of each sample's ``max|x|``, ``max|d|``: a sample at the running
      maxima asks for ``fast_lr · BL`` pulses, whatever the gradient's size; the SGD step does
      not enter (``getPulseCountAutoLR``, ``updateAutoScale``);
    - ``auto_granularity`` ``g``: the buffer rate is ``s = |lr| transfer_lr P / (δ_A g)``,
      ``P`` the samples per sweep of ``A``'s columns, so that per sample ``C`` moves on average
      by ``|lr| transfer_lr (δ_C/δ_A) A / g``, a low-pass of ``A`` over about ``g`` samples
      (``getTransferLRScale``, ``getBufferGranularity``); with ``g = 0``,
      ``s = transfer_lr/ε_C`` (not scaled by the SGD step, as ``ttv2`` here);
    - ``transfer_max_pulses`` 1 (the presets' ``transfer_update`` ``desired_bl = 1``),
      ``fast_lr`` 0.5, ``transfer_lr`` 1, ``chop_prob`` 0.01 (chopped TTv2) and 0.02 (AGAD),
      ``forget_buffer`` with ``momentum`` 0.

    Not modelled: ``out_chop_prob`` (0 in the presets), ``correct_gradient_magnitudes``,
    ``buffer_cap`` and ``experimental_*`` (off), ``units_in_mbatch`` (the presets count
    ``transfer_every`` in samples; ours counts updates, each a mini-batch, and reads
    ``transfer_columns`` columns per transfer, all by default: about one sweep per
    mini-batch, where aihwkit reads one column per sample).

    Symmetry point (``tiki-taka``, ``ttv2``): a zero update pulls an asymmetric device to its
    symmetry point, where up and down steps balance; that point must act as ``A``'s zero. At
    construction ``A`` gets ``symmetry_pulses`` alternating up/down pulses on every device
    (aihwkit's calibration), and the digital reference ``r`` is ``A``'s weights afterwards.

Digital work is counted (``buffer_reads``, ``buffer_writes``, ``digital_macs``) beside the
crossbars' own counters (:mod:`neurodecorr.circuits.costs`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from neurodecorr.core.checked import Checked, setting
from neurodecorr.errors import NeurodecorrError

UPDATES = ("sgd", "mixed-precision", "tiki-taka", "ttv2", "chopped-ttv2", "agad")
TRANSFERS = UPDATES[2:]
CHOPPED = ("chopped-ttv2", "agad")
#: what a 0 of these :class:`UpdateConfig` fields stands for, per algorithm. Tiki-Taka and TTv2
#: keep this project's values; the chopped pair take aihwkit's chopped presets
#: (``presets/configs.py``, ``ChoppedTTv2ReRamESPreset``: ``fast_lr=0.5``,
#: ``in_chop_prob=0.01``; ``AGADReRamESPreset``: ``in_chop_prob=0.02``; both
#: ``transfer_lr = 1`` (the ``TransferCompound`` default) and ``transfer_update =
#: PresetUpdateParameters(desired_bl=1)``: one pulse per device and transfer at most).
#: ``transfer_max_pulses`` 0 left as 0 means the device's ``bl_max``.
ALGORITHM_DEFAULTS = {
    "tiki-taka": {"transfer_lr": 0.1, "fast_lr": 1.0},
    "ttv2": {"transfer_lr": 0.1, "fast_lr": 1.0},
    "chopped-ttv2": {"transfer_lr": 1.0, "fast_lr": 0.5, "chop_prob": 0.01,
                     "transfer_max_pulses": 1},
    "agad": {"transfer_lr": 1.0, "fast_lr": 0.5, "chop_prob": 0.02, "transfer_max_pulses": 1},
}
DIGITAL_EVENTS = ("buffer_reads", "buffer_writes", "digital_macs")


class UpdateConfig(Checked):
    """One array's update algorithm and its parameters (see the module docstring).

    Attributes
    ----------
    update : str
        The algorithm, one of :data:`UPDATES`.
    granularity : float
        Mixed precision: ``ε`` in weight units, rounded to whole device steps ``dw_min`` (at
        least one); 0: :func:`default_steps_per_count` steps.
    granularity_steps : int
        Mixed precision: ``ε`` in device steps, the same count on every array whatever its
        weight scale (exclusive with ``granularity``); 0: as ``granularity`` says. ReRAM on
        the decorrelation task learns best with counts about as large as its write noise
        (75 steps, docs/chip.md, "ReRAM on the decorrelation task").
    transfer_every : int
        Updates between two transfers (χ → devices, or one column of ``A`` → ``C``).
    transfer_lr : float
        Transfer algorithms: the rate of the column read into ``C`` (or ``H``); 0: the
        algorithm's default (:data:`ALGORITHM_DEFAULTS`, as the three fields below).
    fast_lr : float
        Transfer algorithms: multiplies the learning rate of the gradient written into ``A``;
        with ``auto_scale``, the fraction of ``BL`` pulses asked at the running maxima.
    gamma : float
        Tiki-Taka and TTv2: reads see ``γ (A − r) + C``. The choppers of ``chopped-ttv2`` and
        ``agad`` leave ``A`` chopped, so those read ``C`` alone (``γ = 0``). 0.5 by default:
        with ``γ = 0`` the loop gradient → ``A`` → ``C`` is an undamped double integrator on a
        symmetric device and oscillates (tests/test_updates.py's quadratic problem).
    momentum : float
        TTv2 family: what of ``H`` stays after a transfer pulse (``forget_buffer``).
    forget_buffer : bool
        TTv2 family: after a transfer ``H ← momentum·H`` (true) or ``H ← H − (1 − momentum) n``.
    transfer_max_pulses : int
        TTv2 family: at most this many pulses per device and transfer; 0: the algorithm's
        default (1 for the chopped pair, the device's ``bl_max`` for ``ttv2``).
    chop_prob : float
        Chopped TTv2: flip probability per transfer; AGAD: flips every ``ceil(1/chop_prob)``.
    auto_scale : bool
        Chopped pair: the rate into ``A`` normalised by running maxima (module docstring).
    auto_momentum : float
        Chopped pair: ``auto_scale``'s running maxima keep ``1 − (1 − auto_momentum)/K`` per
        sample of a ``K``-sample update.
    auto_granularity : float
        Chopped pair: the buffer low-pass in samples (module docstring); 0: off.
    tail_weightening : float
        AGAD: weight of the running mean of ``A``'s reads.
    symmetry_pulses : int
        Tiki-Taka, TTv2: up/down pulse pairs of the symmetry-point calibration; 0: ``3/dw_min``
        (at most 20 000).
    transfer_columns : int
        Transfer algorithms: columns of ``A`` read per transfer (cycling); 0: all of them, one
        sweep per transfer. aihwkit reads one column per sample (``transfer_every = 1``,
        ``units_in_mbatch = False``), about one sweep per mini-batch for our layer sizes.
    """

    update: str = setting("sgd", one_of=UPDATES)
    granularity: float = setting(0.0, within="[0, inf)")
    granularity_steps: int = setting(0, within="[0, inf)")
    transfer_every: int = setting(1, within="[1, inf)")
    transfer_lr: float = setting(0.0, within="[0, inf)")
    fast_lr: float = setting(0.0, within="[0, inf)")
    gamma: float = setting(0.5, within="[0, inf)")
    momentum: float = setting(0.0, within="[0, 1)")
    forget_buffer: bool = True
    transfer_max_pulses: int = setting(0, within="[0, inf)")
    chop_prob: float = setting(0.0, within="[0, 1]")
    auto_scale: bool = True
    auto_momentum: float = setting(0.99, within="[0, 1)")
    auto_granularity: float = setting(1000.0, within="[0, inf)")
    tail_weightening: float = setting(5.0, within="(0, inf)")
    symmetry_pulses: int = setting(0, within="[0, inf)")
    transfer_columns: int = setting(0, within="[0, inf)")

    def check(self) -> None:
        """The fields one by one, then the one pair that excludes each other."""
        super().check()
        if self.granularity > 0 and self.granularity_steps > 0:
            raise NeurodecorrError("granularity_steps: give either granularity (weight units) "
                                   "or granularity_steps (device steps), not both")

    @property
    def algorithm(self) -> str:
        return self.update

    def resolved(self) -> UpdateConfig:
        """The configuration with every 0 that stands for a default replaced by the
        algorithm's value (:data:`ALGORITHM_DEFAULTS`)."""
        defaults = ALGORITHM_DEFAULTS.get(self.update, {})
        given = {k: v for k, v in defaults.items() if getattr(self, k) == 0}
        return dataclasses.replace(self, **given) if given else self


#: most entries of ``x`` (rounds × columns) per kernel call of :func:`pulse_counts`: 64 MB of
#: float64, which bounds its memory when a count runs into the thousands per device
MAX_WRITE_ENTRIES = 1 << 23


def pulse_counts(crossbar, counts: np.ndarray, t_s: float, per_count: int = 1) -> None:
    """Send ``per_count·|n_ij|`` pulses of sign ``n_ij`` to each device, deterministically.

    Row by row and pulse round by pulse round: a rank-1 write with ``d = e_i``, ``x_j = sign
    n_ij`` on the columns still owed a pulse and a rate of one device step, which makes every
    bit-stream probability 1 and the train one slot long (:func:`~neurodecorr.devices.pulsed.
    pulse_train` with ``K = 1``): exactly one pulse per selected device. The rounds go to the
    crossbar in order, in batches of at most :data:`MAX_WRITE_ENTRIES` entries of ``x`` (one
    kernel call each), so memory stays bounded however large a count is; each batch is one
    write of the array (its devices' write noise is re-drawn once per batch).
    """
    step = crossbar.config.pulsed.dw_min_norm * crossbar.scale * (1.0 - 1e-12)
    counts = counts * per_count
    eye = np.eye(crossbar.shape[0])
    most = max(1, MAX_WRITE_ENTRIES // counts.shape[1])  # rounds per kernel call
    xs, rows, held = [], [], 0

    def flush() -> None:
        nonlocal xs, rows, held
        if held:
            crossbar.write_batch(np.concatenate(xs), eye[np.concatenate(rows)], step, t_s)
        xs, rows, held = [], [], 0

    for i in np.flatnonzero(np.any(counts != 0, axis=1)):
        magnitude, sign = np.abs(counts[i]), np.sign(counts[i])
        last = int(np.max(magnitude))
        for first in range(1, last + 1, most):
            r = np.arange(first, min(first + most, last + 1))
            if held + r.size > most:
                flush()
            xs.append(sign * (magnitude >= r[:, None]))
            rows.append(np.full(r.size, i))
            held += r.size
    flush()


def default_steps_per_count(pulsed) -> int:
    """Mixed precision's default granularity in device steps: ``max(1, round(σ_c2c²))``.

    ``n`` pulses deliver ``n δ`` with cycle-to-cycle noise of standard deviation ``√n σ_c2c δ``
    (``σ_c2c`` = ``c2c_rel``, relative to the step ``δ``), so a count carries more update than
    noise once ``n ≥ σ_c2c²``. One step (Nandakumar et al. 2020's choice, aihwkit's default
    ``granularity = dw_min``) for the ideal, ECRAM (0.3) and PCM (0.6) presets; 25 for ReRAM,
    whose cycle noise is 5 steps (aihwkit ``ReRamESPresetDevice``, ``dw_min_std = 5``).
    """
    return max(1, round(pulsed.c2c_rel ** 2))


class AnalogArray:
    """An array written by plain SGD pulse trains (``sgd``); the base of the other algorithms.

    Parameters
    ----------
    device : DeviceConfig
    weights : ndarray, shape (out, in)
    rng : numpy.random.Generator
    t_program_s : float
    weight_scale : float, optional
    drift_compensation : str
        As :class:`~neurodecorr.devices.Crossbar` (the array holding the weights).
    config : UpdateConfig
    """

    def __init__(self, device, weights: np.ndarray, rng: np.random.Generator,
                 t_program_s: float = 0.0, weight_scale: float | None = None,
                 config: UpdateConfig | None = None, drift_compensation: str = "none") -> None:
        from neurodecorr.devices import Crossbar

        self.update_config = config or UpdateConfig()
        r_main, self._rng = rng.spawn(2)
        self.crossbar = Crossbar(device, weights, r_main, t_program_s=t_program_s,
                                 weight_scale=weight_scale, drift_compensation=drift_compensation)
        self.digital = dict.fromkeys(DIGITAL_EVENTS, 0)
        self.n_updates = 0

    # -- reading: the crossbar holding the weights ------------------------------------------

    def __getattr__(self, name: str):
        """Everything else a reader asks of a crossbar (``noisy``, ``time_dependent``, ...)
        is the weight array's: the array stays a drop-in :class:`~neurodecorr.devices.Crossbar`
        as the device model grows."""
        if name == "crossbar":
            raise AttributeError(name)
        return getattr(self.crossbar, name)

    @property
    def config(self):
        return self.crossbar.config

    @property
    def shape(self) -> tuple[int, int]:
        return self.crossbar.shape

    @property
    def scale(self) -> float:
        """The weight that maps to the full conductance range."""
        return self.crossbar.scale

    def arrays(self) -> list:
        """Every crossbar of the array (for the cost counters)."""
        return [self.crossbar]

    @property
    def counters(self) -> dict[str, int]:
        """Crossbar counters summed over :meth:`arrays`, plus the digital operations."""
        out = dict(self.digital)
        for xbar in self.arrays():
            for k, v in xbar.counters.items():
                out[k] = out.get(k, 0) + v
        return out

    def matvec(self, X: np.ndarray, t_s: float, out: np.ndarray | None = None) -> np.ndarray:
        return self.crossbar.matvec(X, t_s, out=out)

    def read_weights(self, t_s: float) -> np.ndarray:
        return self.crossbar.read_weights(t_s)

    def effective_weights(self, t_s: float) -> np.ndarray:
        return self.crossbar.effective_weights(t_s)

    @property
    def granularity(self) -> float:
        """One device step in weight units."""
        return self.crossbar.config.pulsed.dw_min_norm * self.crossbar.scale

    # -- writing ----------------------------------------------------------------------------

    def update(self, xs: np.ndarray, ds: np.ndarray, lr: float, t_s: float) -> None:
        """``W ← W + lr Σ_k d_k x_kᵀ`` (rows of ``xs`` and ``ds``) by the array's algorithm."""
        self.n_updates += 1
        self.crossbar.write_batch(xs, ds, lr, t_s)

    def reprogram(self, weights: np.ndarray, t_s: float) -> None:
        """Program ``weights`` afresh (write-verify), clearing every digital accumulator."""
        from neurodecorr.devices import Crossbar

        old = self.crossbar
        self.crossbar = Crossbar(old.config, weights, self._rng.spawn(1)[0], t_program_s=t_s,
                                 weight_scale=old.scale, drift_compensation=old.compensation)
        for k, v in old.counters.items():
            self.crossbar.counters[k] += v


class MixedPrecisionArray(AnalogArray):
    """``mixed-precision``: digital ``χ``, integer pulse counts (see the module docstring)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.chi = np.zeros(self.shape)
        # ε in whole device steps: a count is that many pulses
        self.steps_per_count = default_steps_per_count(self.crossbar.config.pulsed)
        cfg = self.update_config
        if cfg.granularity > 0:
            self.steps_per_count = max(round(cfg.granularity / self.granularity), 1)
        elif cfg.granularity_steps > 0:
            self.steps_per_count = int(cfg.granularity_steps)
        self.epsilon = self.steps_per_count * self.granularity

    def update(self, xs: np.ndarray, ds: np.ndarray, lr: float, t_s: float) -> None:
        xs, ds = np.atleast_2d(xs), np.atleast_2d(ds)
        self.chi += lr * (ds.T @ xs)
        n_el = self.chi.size
        self.digital["digital_macs"] += xs.shape[0] * n_el
        self.digital["buffer_reads"] += n_el
        self.digital["buffer_writes"] += n_el
        self.n_updates += 1
        if self.n_updates % self.update_config.transfer_every == 0:
            self.transfer(t_s)

    def transfer(self, t_s: float) -> None:
        """Pulse ``trunc(χ/ε)`` into every device; ``χ`` keeps the remainder."""
        n = np.trunc(self.chi / self.epsilon)
        self.chi -= n * self.epsilon
        self.digital["buffer_reads"] += self.chi.size
        self.digital["buffer_writes"] += int(np.count_nonzero(n))
        pulse_counts(self.crossbar, n, t_s, self.steps_per_count)

    def reprogram(self, weights: np.ndarray, t_s: float) -> None:
        super().reprogram(weights, t_s)
        self.chi[...] = 0.0


class TransferArray(AnalogArray):
    """The transfer algorithms: fast ``A``, slow ``C`` (the weights), digital buffer ``H``."""

    def __init__(self, device, weights, rng, t_program_s=0.0, weight_scale=None,
                 config: UpdateConfig | None = None, drift_compensation: str = "none") -> None:
        from neurodecorr.devices import Crossbar

        super().__init__(device, weights, rng, t_program_s, weight_scale, config,
                         drift_compensation)
        self.update_config = cfg = self.update_config.resolved()
        r_fast, self._rng_chop = self._rng.spawn(2)
        self.fast = Crossbar(device, np.zeros(self.shape), r_fast, t_program_s=t_program_s,
                             weight_scale=self.crossbar.scale)
        n_out, n_in = self.shape
        self.H = np.zeros(self.shape)
        self.reference = np.zeros(self.shape)
        self.chopper = np.ones(n_in)
        self.column = 0
        self.transfers = 0
        self._mean = np.zeros(self.shape)
        self._switched = np.zeros(n_in, dtype=bool)
        self._period = max(math.ceil(1.0 / cfg.chop_prob), 2) if cfg.chop_prob else 2
        self._chopped = cfg.update in CHOPPED
        # auto_scale's running maxima of |x| and |d| (aihwkit m_x_, m_d_; 0: none seen yet)
        self.m_x = self.m_d = 0.0
        # the SGD step of the last update and the samples since the last transfer
        self._lr = 0.0
        self._samples = 0
        self.gamma = cfg.gamma if cfg.update in ("tiki-taka", "ttv2") else 0.0
        if cfg.update in ("tiki-taka", "ttv2"):
            self._calibrate_symmetry_point(t_program_s)

    def arrays(self) -> list:
        return [self.crossbar, self.fast]

    def _calibrate_symmetry_point(self, t_s: float) -> None:
        """Alternating up/down pulses on every device of ``A``; ``r`` = what ``A`` holds then."""
        pulsed = self.fast.config.pulsed
        n = self.update_config.symmetry_pulses or min(math.ceil(3.0 / pulsed.dw_min_norm), 20000)
        step = pulsed.dw_min_norm * self.fast.scale * (1.0 - 1e-12)
        # n up/down pairs, one batch of writes
        xs = np.tile(np.array([1.0, -1.0])[:, None], (n, self.shape[1]))
        self.fast.write_batch(xs, np.ones((2 * n, self.shape[0])), step, t_s)
        self.reference = self.fast.effective_weights(t_s)

    def matvec(self, X, t_s, out=None):
        y = self.crossbar.matvec(X, t_s, out=out)
        if self.gamma:
            y += self.gamma * (self.fast.matvec(X, t_s) - np.asarray(X) @ self.reference.T)
        return y

    def read_weights(self, t_s):
        w = self.crossbar.read_weights(t_s)
        return w + self.gamma * (self.fast.read_weights(t_s) - self.reference) if self.gamma else w

    def effective_weights(self, t_s):
        w = self.crossbar.effective_weights(t_s)
        if self.gamma:
            w = w + self.gamma * (self.fast.effective_weights(t_s) - self.reference)
        return w

    def update(self, xs, ds, lr, t_s):
        cfg = self.update_config
        xs = np.atleast_2d(xs)
        rate = lr * cfg.fast_lr
        if self._chopped:
            xs = xs * self.chopper
            if cfg.auto_scale:
                ds = self._auto_scaled(xs, np.atleast_2d(ds))
                rate = math.copysign(1.0, lr)
        self.fast.write_batch(xs, ds, rate, t_s)
        self._lr = abs(lr)
        self._samples += xs.shape[0]
        self.n_updates += 1
        if self.n_updates % cfg.transfer_every == 0:
            self.transfer(t_s)

    def _auto_scaled(self, xs: np.ndarray, ds: np.ndarray) -> np.ndarray:
        """``auto_scale``: each sample's ``d`` times its rate into ``A``,
        ``fast_lr · BL · δ_A / (m_x m_d)``, so that a sample at the running maxima asks for
        ``fast_lr · BL`` pulses (``BL`` the device's ``bl_max``, ``δ_A`` its step in weight
        units) whatever the gradient's size, and the SGD step does not enter (aihwkit
        ``ChoppedTransferRPUDevice::getPulseCountLearningRate`` →
        ``getPulseCountAutoLR``, ``scale_fast_lr = False``). ``m_x``, ``m_d`` are running
        means of the samples' ``max|x|``, ``max|d|`` with weight ``τ = (1 − auto_momentum)/K``
        per sample (``K`` the samples of the update; ``updateAutoScale``, called per sample
        from ``initUpdateCycle``), the first nonzero value taken as is. Scaling a sample's
        ``d`` is scaling its rate: the pulse train's length and probabilities depend on the
        product ``rate · max|x| · max|d|`` only."""
        cfg = self.update_config
        pulsed = self.fast.config.pulsed
        base = cfg.fast_lr * pulsed.bl_max * pulsed.dw_min_norm * self.fast.scale
        tau = (1.0 - cfg.auto_momentum) / xs.shape[0]
        rates = np.empty(xs.shape[0])
        for k, (mx, md) in enumerate(zip(np.abs(xs).max(axis=1), np.abs(ds).max(axis=1),
                                         strict=True)):
            self.m_x = _running_max(self.m_x, float(mx), tau)
            self.m_d = _running_max(self.m_d, float(md), tau)
            rates[k] = base / (self.m_x * self.m_d) if self.m_x > 0 and self.m_d > 0 else base
        self.digital["digital_macs"] += 4 * xs.shape[0]
        return ds * rates[:, None]

    def transfer(self, t_s: float) -> None:
        """Read ``transfer_columns`` columns of ``A`` (cycling) and move them towards ``C``
        (see the module docstring); the pulse counts of a sweep go to ``C`` together."""
        cfg = self.update_config
        n_cols = cfg.transfer_columns or self.shape[1]
        self._buffer_rate = self._buffer_scale(self._samples * self.shape[1] / n_cols)
        self._samples = 0
        counts = np.zeros(self.shape)
        for _ in range(n_cols):
            self._transfer_column(t_s, counts)
        if counts.any():
            pulse_counts(self.crossbar, counts, t_s)

    def _buffer_scale(self, period: float) -> float | None:
        """What one read ``v`` adds to the buffer ``H`` per unit of ``v`` (``H`` counts pulses
        of ``C``).

        ``chopped-ttv2`` and ``agad`` with ``auto_granularity`` ``g > 0``: aihwkit's
        ``|lr| · transfer_lr / b`` with the buffer granularity ``b = δ_A g / P``
        (``ChoppedTransferRPUDeviceMetaParameter::getTransferLRScale`` and
        ``getBufferGranularity``, ``scale_transfer_lr = True``, ``buffer_granularity = 1``),
        ``δ_A`` the step of ``A`` in weight units, ``P`` the samples per sweep of ``A``'s
        columns (aihwkit ``in_size · transfer_every`` with one column read per sample; here
        the samples since the last transfer times ``n_in / transfer_columns``, the same
        number for that schedule). Per sample ``C`` then moves, on average, by
        ``|lr| transfer_lr (δ_C/δ_A) A / g``: a low-pass over about ``g`` samples whatever
        the layer size and schedule. Otherwise ``transfer_lr / ε`` (``ε`` the step of ``C``),
        the rate not scaled by the SGD step (``None``: the caller divides, as before).
        """
        cfg = self.update_config
        if self._chopped and cfg.auto_granularity > 0:
            step_a = self.fast.config.pulsed.dw_min_norm * self.fast.scale
            return self._lr * cfg.transfer_lr * period / (step_a * cfg.auto_granularity)
        return None

    def _transfer_column(self, t_s: float, counts: np.ndarray) -> None:
        cfg = self.update_config
        j = self.column
        self.column = (j + 1) % self.shape[1]
        e = np.zeros(self.shape[1])
        e[j] = 1.0
        v = np.asarray(self.fast.matvec(e, t_s), dtype=np.float64)
        n_out = self.shape[0]
        if cfg.update == "tiki-taka":
            self.crossbar.write_rank1(e, v - self.reference[:, j], cfg.transfer_lr, t_s)
            return
        if cfg.update == "agad":
            signal = self._dynamic_reference(j, v)
        elif cfg.update == "chopped-ttv2":
            signal = self.chopper[j] * v
        else:
            signal = v - self.reference[:, j]
        if self._buffer_rate is None:
            h = self.H[:, j] + signal * cfg.transfer_lr / self.granularity
        else:
            h = self.H[:, j] + signal * self._buffer_rate
        limit = cfg.transfer_max_pulses or self.crossbar.config.pulsed.bl_max
        steps = np.clip(np.trunc(h), -limit, limit)
        fired = steps != 0
        if cfg.forget_buffer:
            h[fired] *= cfg.momentum
        else:
            h[fired] -= (1.0 - cfg.momentum) * steps[fired]
        self.H[:, j] = h
        self.digital["digital_macs"] += n_out
        self.digital["buffer_reads"] += n_out
        self.digital["buffer_writes"] += n_out
        self.transfers += 1
        if cfg.update == "chopped-ttv2" and self._rng_chop.random() < cfg.chop_prob:
            self.chopper[j] = -self.chopper[j]
        if not (cfg.update == "agad" and self.transfers <= self._period * self.shape[1]):
            counts[:, j] = steps

    def _dynamic_reference(self, j: int, v: np.ndarray) -> np.ndarray:
        """AGAD: chopped signal against the reference tracked from ``A``'s reads."""
        cfg = self.update_config
        if self._switched[j]:
            self.reference[:, j] = self._mean[:, j]
            self._switched[j] = False
        signal = self.chopper[j] * (v - self.reference[:, j])
        kappa = min(cfg.tail_weightening / self._period, 1.0)
        self._mean[:, j] += kappa * (v - self._mean[:, j])
        self.digital["buffer_writes"] += 2 * v.size
        reads_of_column = self.transfers // self.shape[1] + 1
        if reads_of_column % self._period == 0:
            self.chopper[j] = -self.chopper[j]
            self._switched[j] = True
        return signal

    def reprogram(self, weights, t_s):
        super().reprogram(weights, t_s)
        self.H[...] = 0.0


def _running_max(m: float, value: float, tau: float) -> float:
    """aihwkit ``ChoppedTransferRPUDeviceMetaParameter::updateAutoScale``: the first positive
    value as is, then ``m ← (1 − τ) m + τ value``; a zero value leaves ``m``."""
    if m <= 0.0:
        return value
    if value <= 0.0:
        return m
    return (1.0 - tau) * m + tau * value


def make_array(device, weights: np.ndarray, rng: np.random.Generator, t_program_s: float = 0.0,
               weight_scale: float | None = None, config: UpdateConfig | None = None,
               drift_compensation: str = "none") -> AnalogArray:
    """The :class:`AnalogArray` of ``config.update`` holding ``weights`` on ``device``."""
    config = config or UpdateConfig()
    cls = {"sgd": AnalogArray, "mixed-precision": MixedPrecisionArray}.get(config.update,
                                                                           TransferArray)
    return cls(device, weights, rng, t_program_s, weight_scale, config, drift_compensation)
