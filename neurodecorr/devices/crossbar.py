"""A crossbar array of analogue devices with its periphery and a physical clock.

The array stores a weight matrix W (out, in) as conductances (differential pair or single device
with a reference column), programmed with noise, finite levels and write-verify, with stuck
devices. Every device remembers the physical time of its last write; reads at time t see
power-law drift and accumulated 1/f noise as functions of each device's own age, so drift goes
on while the array learns on-line (aihwkit instead resets its drift clock on every write).

Cost of one read (:meth:`Crossbar.matvec`): one GEMM plus two fused O(batch · n) passes
(:mod:`neurodecorr.devices.kernels`) for the converters, the per-read noise (output-referred,
exact in distribution), the output noise and the drift compensation. The drifted
conductance matrix (O(n²) to build) is cached and rebuilt only when a write happened or the read
time moved by more than ``time_rtol · (age + t0)`` since the cached time, where ``age`` is the
youngest device's age: the drift factor then changes by at most ν · time_rtol relative
(≤ 1e-4 for the PCM preset at the default 1e-3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from neurodecorr.devices import compensation, kernels
from neurodecorr.devices.config import COMPENSATIONS, DeviceConfig
from neurodecorr.devices.drift import DeviceArray
from neurodecorr.devices.faults import draw_stuck
from neurodecorr.devices.mapping import check_weights, to_conductances, to_weights, weight_scale
from neurodecorr.devices.periphery import ir_drop, lsb
from neurodecorr.devices.programming import program
from neurodecorr.devices.pulsed import PulsedDevices, apply_train, pulse_train
from neurodecorr.errors import NeurodecorrError


@dataclass
class _ReadCache:
    t_s: float
    w_norm: np.ndarray
    by_dtype: dict = field(default_factory=dict)

    def weights(self, dtype: np.dtype) -> np.ndarray:
        if dtype not in self.by_dtype:
            self.by_dtype[dtype] = np.ascontiguousarray(self.w_norm, dtype=dtype)
        return self.by_dtype[dtype]

    def abs_weights(self, dtype: np.dtype) -> np.ndarray:
        key = ("abs", dtype)
        if key not in self.by_dtype:
            self.by_dtype[key] = np.abs(self.weights(dtype))
        return self.by_dtype[key]


class Crossbar:
    """Weights (out, in) programmed onto analogue devices, read and written at physical times.

    Parameters
    ----------
    config : DeviceConfig
        The device and periphery model (:func:`~neurodecorr.devices.load_device`).
    weights : ndarray, shape (out, in)
        The matrix to program.
    rng : numpy.random.Generator
        All randomness (programming, faults, device-to-device, reads, writes, probes) flows from
        independent child streams of this generator.
    t_program_s : float
        Physical time of programming (s).
    drift_compensation : {"none", "global", "column"}
        Digital rescaling from probe reads through the noisy path (see
        :mod:`neurodecorr.devices.compensation`).
    weight_scale : float, optional
        Weight that maps to the full conductance range; default ``headroom · max|W|``.
    time_rtol : float
        Relative tolerance on read time for reusing the drifted conductance matrix.
    """

    def __init__(self, config: DeviceConfig, weights: np.ndarray, rng: np.random.Generator,
                 t_program_s: float = 0.0, drift_compensation: str = "none",
                 weight_scale: float | None = None, time_rtol: float = 1e-3):
        if drift_compensation not in COMPENSATIONS:
            raise NeurodecorrError(f"drift compensation must be one of {', '.join(COMPENSATIONS)};"
                                   f" got {drift_compensation!r}")
        if not math.isfinite(t_program_s):
            raise NeurodecorrError(f"programming time must be finite, got {t_program_s}")
        w = check_weights(weights)
        self.config = config
        self.shape = w.shape
        self.compensation = drift_compensation
        self.time_rtol = float(time_rtol)
        if weight_scale is not None and not (math.isfinite(weight_scale) and weight_scale > 0):
            raise NeurodecorrError(f"weight scale must be a positive number, got {weight_scale}")
        self.scale = float(weight_scale) if weight_scale is not None else weight_scale_of(
            w, config)
        if np.max(np.abs(w), initial=0.0) > self.scale * (1 + 1e-12):
            raise NeurodecorrError(f"weights reach {np.max(np.abs(w)):.4g}, beyond the weight "
                                   f"scale {self.scale:.4g} that maps to G_max")
        (r_prog, r_fault, r_d2d, r_state, self._rng_read, self._rng_flicker, self._rng_write,
         r_probe) = rng.spawn(8)
        self._rng_state = r_state
        self.counters: dict[str, int] = dict.fromkeys(
            ("reads", "read_vectors", "macs", "dac_conversions", "adc_conversions",
             "programmed_devices", "writes", "pulse_slots", "line_pulses", "device_pulses",
             "drift_refreshes", "compensation_reads"), 0)

        m = config.mapping
        targets = to_conductances(w / self.scale, m)
        self._arrays: list[DeviceArray] = []
        for target in targets:
            g, ops = program(target, config.programming, m, r_prog)
            self.counters["programmed_devices"] += ops
            stuck, stuck_uS = draw_stuck(target.shape, config.faults, m, r_fault)
            self._arrays.append(DeviceArray(g, t_program_s, stuck, stuck_uS, m, config.drift,
                                            config.read, r_state))
        self.pulsed = PulsedDevices(config.pulsed, self.shape, r_d2d)
        self._w_offset = np.zeros(self.shape)
        self._t_last_write = float(t_program_s)
        self._cache: _ReadCache | None = None
        self._read_sigma = self._read_noise_coefficient()
        self._probes = compensation.probes(self.shape[1], r_probe)
        self._work: dict = {}
        self._unit_gain = np.ones(self.shape[0])
        self._col_gain = self._unit_gain
        self._ref_readout: np.ndarray | None = None
        self._comp: np.ndarray | float = 1.0
        self._comp_t: float | None = None
        if self.compensation != "none":
            self._measure_reference(self._t_last_write)

    # -- reading ---------------------------------------------------------------------------

    @property
    def time_dependent(self) -> bool:
        return self.config.drift.enabled or self.config.read.flicker_q_coeff > 0

    def _read_noise_coefficient(self) -> float:
        """σ of the per-read noise of one output per unit ‖x̂‖ (normalised units).

        Differential: Var = 2 (σ_r/ΔG)² Σ x̂²; reference: (2σ_r/ΔG)² (Σ x̂² + (Σ x̂)²)."""
        m = self.config.mapping
        sr = self.config.read.noise_uS / m.g_range_uS
        return math.sqrt(2.0) * sr if m.scheme == "differential" else 2.0 * sr

    def _check_time(self, t_s: float) -> float:
        t_s = float(t_s)
        if not math.isfinite(t_s):
            raise NeurodecorrError(f"read time must be finite, got {t_s}")
        if t_s < self._t_last_write:
            raise NeurodecorrError(f"time t = {t_s:g} s precedes the last write of the array "
                                   f"at {self._t_last_write:g} s")
        return t_s

    def _cache_valid(self, t_s: float) -> bool:
        c = self._cache
        if c is None:
            return False
        if not self.time_dependent or t_s == c.t_s:
            return True
        youngest = c.t_s - self._t_last_write
        return abs(t_s - c.t_s) <= self.time_rtol * (youngest + self.config.drift.t0_s)

    def _refresh(self, t_s: float) -> _ReadCache:
        if self._cache_valid(t_s):
            return self._cache
        a, b = (arr.read_slow(t_s, self._rng_flicker) for arr in self._arrays)
        self._cache = _ReadCache(t_s, to_weights(a, b, self.config.mapping))
        self.counters["drift_refreshes"] += 1
        return self._cache

    def _workspace(self, shape: tuple[int, int], dtype: np.dtype) -> tuple[np.ndarray, ...]:
        """Buffers of one read shape, reused across reads: x̂, row gain, noise σ per sample and
        one row of Gaussian draws."""
        key = (shape, dtype)
        if key not in self._work:
            if len(self._work) >= 4:
                self._work.clear()
            self._work[key] = (np.empty(shape, dtype=dtype), np.empty(shape[0]),
                               np.empty(shape[0]), np.empty(self.shape[0]))
        return self._work[key]

    def _read(self, X: np.ndarray, cache: _ReadCache, out: np.ndarray, col_gain: np.ndarray,
              count: bool = True) -> np.ndarray:
        """One analogue read into ``out`` in physical output units, column ``i`` scaled by
        ``col_gain[i]`` (drift compensation).

        DAC and noise level in one fused pass, the GEMM, IR drop, then noise, ADC and gains in
        a second fused pass (:mod:`neurodecorr.devices.kernels`). Per-read device noise and
        output noise are independent Gaussians on each output, so one draw with the summed
        variance is exact in distribution: O(batch · out) draws per read.
        """
        cfg = self.config
        dtype = X.dtype
        wn = cache.weights(dtype)
        xn, gain, sd, z = self._workspace(X.shape, dtype)
        gain.fill(self.scale)
        dac, adc = cfg.dac, cfg.adc
        noisy = self._read_sigma > 0 or cfg.output.noise_norm > 0
        if dac is not None or noisy:
            kernels.dac_pass(X, xn, dac is not None,
                             dac is not None and dac.noise_management == "abs_max",
                             lsb(dac.bits, dac.range_norm) if dac else 1.0,
                             dac.range_norm if dac else 1.0, self._read_sigma ** 2,
                             cfg.output.noise_norm ** 2, cfg.mapping.scheme == "reference",
                             gain, sd)
        if dac is None:
            xn = X
        np.matmul(xn, wn.T, out=out)
        if cfg.ir_drop.scale > 0:
            out[...] = ir_drop(xn, wn, cache.abs_weights(dtype), out, cfg.ir_drop)
        kernels.adc_pass(out, self._rng_read, noisy, sd, adc is not None,
                         lsb(adc.bits, adc.range_norm) if adc else 1.0,
                         adc.range_norm if adc else 1.0, gain, col_gain, z)
        if count:
            n_b = X.shape[0]
            self.counters["reads"] += 1
            self.counters["read_vectors"] += n_b
            self.counters["macs"] += n_b * self.shape[0] * self.shape[1]
            self.counters["dac_conversions"] += n_b * self.shape[1] if cfg.dac else 0
            self.counters["adc_conversions"] += n_b * self.shape[0] if cfg.adc else 0
        return out

    def _probe_readout(self, cache: _ReadCache) -> np.ndarray:
        self.counters["compensation_reads"] += self._probes.shape[0]
        y = np.empty((self._probes.shape[0], self.shape[0]))
        return compensation.readout(self._read(self._probes, cache, y, self._unit_gain,
                                               count=False))

    def _measure_reference(self, t_s: float) -> None:
        self._ref_readout = self._probe_readout(self._refresh(t_s))
        self._comp, self._comp_t = 1.0, None
        self._col_gain = self._unit_gain

    def matvec(self, X: np.ndarray, t_s: float, out: np.ndarray | None = None) -> np.ndarray:
        """What the array and its periphery return for ``X @ W.T`` read at time ``t_s``.

        Parameters
        ----------
        X : ndarray, shape (batch, in) or (in,)
            Inputs; float32 and float64 are preserved, anything else becomes float64.
        t_s : float
            Physical time of the read (s), not earlier than the last write.
        out : ndarray, shape (batch, out), optional
            C-contiguous buffer of the dtype of ``X`` (2-D ``X`` only) that receives the result,
            as ``np.matmul(..., out=)``: a settle reuses one buffer for every read.
        """
        t_s = self._check_time(t_s)
        X = np.asarray(X)
        single = X.ndim == 1
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        X2 = X[None, :] if single else X
        if X2.ndim != 2 or X2.shape[1] != self.shape[1]:
            raise NeurodecorrError(f"crossbar read: input of shape {X.shape} does not fit an "
                                   f"array with {self.shape[1]} inputs")
        X2 = np.ascontiguousarray(X2)
        shape = (X2.shape[0], self.shape[0])
        if out is None:
            out = np.empty(shape, dtype=X2.dtype)
        elif single or out.shape != shape or out.dtype != X2.dtype or not out.flags.c_contiguous:
            raise NeurodecorrError(f"crossbar read: out must be a C-contiguous {X2.dtype} array "
                                   f"of shape {shape}")
        cache = self._refresh(t_s)
        self._update_compensation(cache)
        y = self._read(X2, cache, out, self._col_gain)
        return y[0] if single else y

    def _update_compensation(self, cache: _ReadCache) -> None:
        """Measure the compensation once per drifted matrix, through the noisy probe reads."""
        if self.compensation != "none" and self._comp_t != cache.t_s:
            self._comp = compensation.factor(self.compensation, self._ref_readout,
                                             self._probe_readout(cache))
            self._comp_t = cache.t_s
            self._col_gain = np.broadcast_to(np.asarray(self._comp, dtype=np.float64),
                                             (self.shape[0],)).copy()

    def compensation_gain(self, t_s: float) -> np.ndarray:
        """The digital gain ``c_i`` each output ``i`` of a read at ``t_s`` is multiplied by.

        Ones without drift compensation; otherwise the factor measured through the noisy probe
        reads (once per drifted matrix: the one :meth:`matvec` at ``t_s`` applies).
        """
        t_s = self._check_time(t_s)
        self._update_compensation(self._refresh(t_s))
        return self._col_gain.copy()

    def read_weights(self, t_s: float) -> np.ndarray:
        """The matrix a read at ``t_s`` multiplies by, before per-read noise and converters.

        ``diag(c) · s · W(t)``: the conductances' weights with drift and the accumulated 1/f
        noise (the cached state reads at ``t_s`` use), times the compensation gain ``c`` of
        :meth:`compensation_gain`. The mean of many reads of ``x`` is this matrix times ``x``
        (up to the converters' rounding); a circuit that reads the array integrates it.
        """
        c = self.compensation_gain(t_s)
        return c[:, None] * (self.scale * self._cache.w_norm)

    def conductances(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """The two device arrays' conductances (µS) as the slow physics leaves them at ``t_s``:
        drift, retention and accumulated 1/f noise, without per-read noise.

        ``(G⁺, G⁻)`` for the differential scheme, ``(G, G_ref)`` for the reference scheme."""
        t_s = self._check_time(t_s)
        self._cache = None
        a, b = (arr.read_slow(t_s, self._rng_flicker) for arr in self._arrays)
        return a, b

    def effective_weights(self, t_s: float) -> np.ndarray:
        """The noiseless weights the conductances encode at ``t_s`` (drift and retention, no
        read noise of any kind)."""
        t_s = self._check_time(t_s)
        a, b = (arr.drifted(t_s) for arr in self._arrays)
        return self.scale * to_weights(a, b, self.config.mapping)

    @property
    def nu(self) -> tuple[np.ndarray, np.ndarray]:
        """The drift exponents of the two device arrays."""
        return self._arrays[0].nu, self._arrays[1].nu

    @property
    def stuck(self) -> tuple[np.ndarray, np.ndarray]:
        """The stuck-device masks of the two device arrays."""
        return self._arrays[0].stuck, self._arrays[1].stuck

    # -- writing ---------------------------------------------------------------------------

    def write_rank1(self, x: np.ndarray, d: np.ndarray, lr: float, t_s: float) -> None:
        """Write ΔW with E[ΔW] = lr · d xᵀ by stochastic pulse trains at time ``t_s``.

        Each device that receives pulses starts from its current (drifted) state, moves by the
        pulsed update model, is re-drawn its write noise, and restarts its drift clock at
        ``t_s``. Stuck devices do not change; the reference column is never written.
        """
        t_s = self._check_time(t_s)
        x = np.asarray(x, dtype=float).ravel()
        d = np.asarray(d, dtype=float).ravel()
        if x.size != self.shape[1] or d.size != self.shape[0]:
            raise NeurodecorrError(f"crossbar write: x of size {x.size} and d of size {d.size} "
                                   f"do not fit an array of shape {self.shape}")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(d)) and math.isfinite(lr)):
            raise NeurodecorrError("crossbar write: x, d and lr must be finite")
        cfg = self.config
        train = pulse_train(x, d, lr / self.scale, cfg.pulsed, self._rng_write)
        self.counters["writes"] += 1
        self.counters["pulse_slots"] += train.length
        self.counters["line_pulses"] += int(train.rows.sum() + train.cols.sum())
        if train.length == 0:
            return
        a_arr, b_arr = self._arrays
        current = to_weights(a_arr.drifted(t_s), b_arr.drifted(t_s), cfg.mapping)
        hidden, touched, pulses = apply_train(current - self._w_offset, train, self.pulsed,
                                              self._rng_write)
        self.counters["device_pulses"] += pulses
        if not touched.any():
            return
        if cfg.pulsed.write_noise_rel > 0:
            noise = (cfg.pulsed.write_noise_rel * cfg.pulsed.dw_min_norm
                     * self._rng_write.standard_normal(self.shape))
            self._w_offset = np.where(touched, noise, self._w_offset)
        new_a, new_b = to_conductances(hidden + self._w_offset, cfg.mapping)
        a_arr.rewrite(touched, new_a, t_s, self._rng_state)
        if cfg.mapping.scheme == "differential":
            b_arr.rewrite(touched, new_b, t_s, self._rng_state)
        self._t_last_write = t_s
        self._cache = None
        if self.compensation != "none":
            self._measure_reference(t_s)


def weight_scale_of(weights: np.ndarray, config: DeviceConfig) -> float:
    """The per-array scale s = headroom · max|W| of :mod:`neurodecorr.devices.mapping`."""
    return weight_scale(weights, config.mapping.headroom)
