"""A crossbar array of analogue devices with its periphery and a physical clock.

The array stores a weight matrix W (out, in) as conductances (differential pair or single device
with a reference column), programmed with noise, finite levels and write-verify, with stuck
devices. Every device keeps the physical time of its programming; reads at time t see drift and
accumulated 1/f noise as functions of each device's own age, and writes move a device without
restarting its clock (:mod:`neurodecorr.devices.drift` gives the rule and how it differs from
aihwkit's per-device reset), so drift goes on while the array learns on-line.

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

from neurodecorr.devices import compensation, kernels, pulse_kernels
from neurodecorr.devices.config import COMPENSATIONS, DeviceConfig, IRDropConfig
from neurodecorr.devices.drift import DeviceArray
from neurodecorr.devices.faults import draw_stuck
from neurodecorr.devices.ir_drop import effective_weights
from neurodecorr.devices.mapping import check_weights, to_conductances, to_weights, weight_scale
from neurodecorr.devices.periphery import (
    apply_output_nonidealities,
    ir_drop,
    lsb,
    output_curvature,
)
from neurodecorr.devices.programming import program
from neurodecorr.devices.pulsed import (
    OneSidedPair,
    PulsedDevices,
    apply_train,
    pulse_train,
    refresh_mask,
)
from neurodecorr.devices.read_noise import PerReadNoise
from neurodecorr.devices.rng_handle import Handles
from neurodecorr.errors import NeurodecorrError


@dataclass
class _ReadCache:
    t_s: float
    w_norm: np.ndarray
    noise_var_t: tuple | None = None  # (Vᵀ, v_ref) of the state-dependent read noise
    by_dtype: dict = field(default_factory=dict)

    def weights(self, dtype: np.dtype) -> np.ndarray:
        if dtype not in self.by_dtype:
            self.by_dtype[dtype] = np.ascontiguousarray(self.w_norm, dtype=dtype)
        return self.by_dtype[dtype]

    def nodal_weights(self, dtype: np.dtype, cfg: IRDropConfig) -> np.ndarray:
        """The effective matrix of the nodal IR-drop solve (one sparse solve per state)."""
        key = ("nodal", dtype)
        if key not in self.by_dtype:
            self.by_dtype[key] = np.ascontiguousarray(effective_weights(self.w_norm, cfg),
                                                      dtype=dtype)
        return self.by_dtype[key]

    def polarity_weights(self, dtype: np.dtype, w_read: np.ndarray,
                         polarity: np.ndarray) -> np.ndarray:
        """W ∘ a, the matrix negative inputs see (read asymmetry)."""
        key = ("polarity", dtype)
        if key not in self.by_dtype:
            self.by_dtype[key] = np.ascontiguousarray(w_read * polarity, dtype=dtype)
        return self.by_dtype[key]

    def abs_weights(self, dtype: np.dtype) -> np.ndarray:
        key = ("abs", dtype)
        if key not in self.by_dtype:
            self.by_dtype[key] = np.abs(self.weights(dtype))
        return self.by_dtype[key]


#: how :meth:`Crossbar.write_batch` runs its pulse trains
ENGINES = ("numba", "numpy")
#: the engine of a crossbar built without one (a whole chip on the numpy reference: set this
#: to ``"numpy"`` before building it)
DEFAULT_ENGINE = "numba"
_NM_MODES = {"none": 0, "abs_max": 1, "max": 2, "constant": 3}
_NO_VAR = np.zeros((1, 1))


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
    engine : {"numba", "numpy"}, optional
        How :meth:`write_batch` runs its pulse trains (the same numbers either way; ``numpy``
        is the reference); default :data:`DEFAULT_ENGINE`. A public attribute: it may be
        changed between writes.
    """

    def __init__(self, config: DeviceConfig, weights: np.ndarray, rng: np.random.Generator,
                 t_program_s: float = 0.0, drift_compensation: str = "none",
                 weight_scale: float | None = None, time_rtol: float = 1e-3,
                 engine: str | None = None):
        if drift_compensation not in COMPENSATIONS:
            raise NeurodecorrError(f"drift compensation must be one of {', '.join(COMPENSATIONS)};"
                                   f" got {drift_compensation!r}")
        if not math.isfinite(t_program_s):
            raise NeurodecorrError(f"programming time must be finite, got {t_program_s}")
        engine = engine or DEFAULT_ENGINE
        if engine not in ENGINES:
            raise NeurodecorrError(f"crossbar engine must be one of {', '.join(ENGINES)}; got "
                                   f"{engine!r}")
        w = check_weights(weights)
        self.config = config
        self.engine = engine
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
        (self._rng_prog, r_fault, r_d2d, self._rng_state, self._rng_read, self._rng_flicker,
         self._rng_write, r_probe) = rng.spawn(8)
        # the kernels' view of the read and write streams (rng_handle: no per-call unboxing)
        self._h_read, self._h_write = Handles(), Handles()
        self.counters: dict[str, int] = dict.fromkeys(
            ("reads", "read_vectors", "macs", "dac_conversions", "adc_conversions",
             "programmed_devices", "writes", "pulse_slots", "line_pulses", "device_pulses",
             "drift_refreshes", "compensation_reads", "unit_cell_refreshes"), 0)

        m = config.mapping
        targets = to_conductances(w / self.scale, m)
        self._arrays: list[DeviceArray] = []
        for target in targets:
            g, ops = program(target, config.programming, m, self._rng_prog)
            self.counters["programmed_devices"] += ops
            stuck, stuck_uS = draw_stuck(target.shape, config.faults, m, r_fault)
            self._arrays.append(DeviceArray(g, t_program_s, stuck, stuck_uS, m, config.drift,
                                            config.read, self._rng_state, g_target_uS=target))
        one_sided = config.pulsed.unit_cell == "one_sided"
        self.pulsed = (OneSidedPair(config.pulsed, self.shape, r_d2d) if one_sided
                       else PulsedDevices(config.pulsed, self.shape, r_d2d))
        self._w_offset = np.zeros(self.shape)
        pulsed = config.pulsed
        self._model_params = pulse_kernels.model_params(pulsed)
        self._nodes = (np.asarray(pulsed.piecewise_up, dtype=float),
                       np.asarray(pulsed.piecewise_down, dtype=float))
        self._c2c = np.array([pulsed.c2c_rel, pulsed.c2c_add_norm, pulsed.c2c_slope,
                              float(pulsed.c2c_additive)])
        self._writes = 0
        self._t_last_write = float(t_program_s)
        self._cache: _ReadCache | None = None
        self._noise = PerReadNoise(config.read, m)
        self._read_sigma = self._noise.coefficient
        self._curvature = output_curvature(config.output, config.adc, self.shape[0], r_probe)
        # drawn last from this stream, and only when asked for, so other draws stay as they were
        self.polarity = (1.0 + config.read.polarity_d2d_rel * r_probe.standard_normal(self.shape)
                         if config.read.polarity_d2d_rel > 0 else None)
        self._work: dict = {}
        self._unit_gain = np.ones(self.shape[0])
        self._col_gain = self._unit_gain
        adc = config.adc
        self._probes = compensation.probes(
            self.shape[1], compensation.group_size(adc.range_norm if adc else None,
                                                   self.shape[1]), r_probe)
        self._ref_probe_out: np.ndarray | None = None
        self._comp: np.ndarray | float = 1.0
        self._comp_t: float | None = None
        if self.compensation != "none":
            self._ref_probe_out = self._probe_outputs(self._refresh(self._t_last_write))

    # -- reading ---------------------------------------------------------------------------

    @property
    def noisy(self) -> bool:
        """Whether two reads of one input can differ: per-read device, input or output noise,
        or accumulated 1/f noise (which moves whenever the read time does)."""
        cfg = self.config
        return bool(cfg.read.noise_uS > 0 or cfg.read.has_flicker or cfg.output.noise_norm > 0
                    or (cfg.dac is not None and cfg.dac.noise_norm > 0))

    @property
    def time_dependent(self) -> bool:
        return self.config.drift.enabled or self.config.read.has_flicker

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
        noise_var = (self._noise.variance_matrix_t(a, b) if self._noise.state_dependent
                     else None)
        self._cache = _ReadCache(t_s, to_weights(a, b, self.config.mapping), noise_var)
        self.counters["drift_refreshes"] += 1
        return self._cache

    def _workspace(self, shape: tuple[int, int], dtype: np.dtype) -> tuple[np.ndarray, ...]:
        """Buffers of one read shape, reused across reads: x̂, row gain, noise σ per sample, one
        row of Gaussian draws, the bound-management scale and clip flag of each sample."""
        key = (shape, dtype)
        if key not in self._work:
            if len(self._work) >= 4:
                self._work.clear()
            self._work[key] = (np.empty(shape, dtype=dtype), np.empty(shape[0]),
                               np.empty(shape[0]), np.empty(self.shape[0]), np.ones(shape[0]),
                               np.zeros(shape[0], dtype=bool))
        return self._work[key]

    def _read(self, X: np.ndarray, cache: _ReadCache, out: np.ndarray, col_gain: np.ndarray,
              count: bool = True) -> np.ndarray:
        """One analogue read into ``out`` in physical output units, column ``i`` scaled by
        ``col_gain[i]`` (drift compensation).

        DAC and noise level in one fused pass, the GEMM, IR drop, then noise, ADC and gains in
        a second fused pass (:mod:`neurodecorr.devices.kernels`). Per-read device noise and
        output noise are independent Gaussians on each output, so one draw with the summed
        variance is exact in distribution: O(batch · out) draws per read. Bound management
        ``iterative`` reads the samples whose outputs clipped again with their input halved
        (aihwkit ``BoundManagementType.ITERATIVE``).
        """
        adc = self.config.adc
        xn, gain, sd, z, bm, clipped = self._workspace(X.shape, X.dtype)
        bm.fill(1.0)
        self._read_once(X, cache, out, col_gain, xn, gain, sd, z, bm, clipped)
        reads = 1
        if adc is not None and adc.bound_management == "iterative":
            while reads < adc.bm_max_passes and clipped.any():
                idx = np.flatnonzero(clipped)
                sub = np.ascontiguousarray(X[idx])
                ws = self._workspace(sub.shape, X.dtype)
                ws[4][:] = bm[idx] * 2.0
                sub_out = np.empty((idx.size, self.shape[0]), dtype=X.dtype)
                self._read_once(sub, cache, sub_out, col_gain, *ws)
                out[idx] = sub_out
                bm[idx] = ws[4]
                clipped[:] = False
                clipped[idx] = ws[5]
                reads += 1
        if count:
            n_b = X.shape[0]
            self.counters["reads"] += reads
            self.counters["read_vectors"] += n_b
            self.counters["macs"] += n_b * self.shape[0] * self.shape[1]
            self.counters["dac_conversions"] += n_b * self.shape[1] if self.config.dac else 0
            self.counters["adc_conversions"] += n_b * self.shape[0] if adc else 0
        return out

    def _read_once(self, X: np.ndarray, cache: _ReadCache, out: np.ndarray, col_gain: np.ndarray,
                   xn: np.ndarray, gain: np.ndarray, sd: np.ndarray, z: np.ndarray,
                   bm: np.ndarray, clipped: np.ndarray) -> None:
        cfg = self.config
        dtype = X.dtype
        wn = cache.weights(dtype)
        gain.fill(self.scale)
        dac, adc = cfg.dac, cfg.adc
        noisy = (self._read_sigma > 0 or cfg.output.noise_norm > 0
                 or cache.noise_var_t is not None)
        if dac is not None or noisy:
            kernels.dac_pass(X, xn, dac is not None, _NM_MODES[dac.noise_management] if dac else 0,
                             dac.nm_thres_norm if dac else 0.0, bm,
                             lsb(dac.bits, dac.range_norm) if dac else 1.0,
                             dac.range_norm if dac else 1.0, self._read_sigma ** 2,
                             cfg.output.noise_norm ** 2, cfg.mapping.scheme == "reference",
                             gain, sd)
        if dac is None:
            xn = X
        elif dac.noise_norm > 0:
            # input noise after the DAC (aihwkit inp_noise), so the noise level is recomputed
            xn = xn + (dac.noise_norm * self._rng_read.standard_normal(xn.shape)).astype(dtype)
            sq = np.einsum("ij,ij->i", xn, xn, dtype=np.float64)
            if cfg.mapping.scheme == "reference":
                sq += np.sum(xn, axis=1, dtype=np.float64) ** 2
            sd[:] = np.sqrt(cfg.output.noise_norm ** 2 + self._read_sigma ** 2 * sq)
        nodal = cfg.ir_drop.scale > 0 and cfg.ir_drop.model == "nodal"
        w_read = cache.nodal_weights(dtype, cfg.ir_drop) if nodal else wn
        if self.polarity is None:
            np.matmul(xn, w_read.T, out=out)
        else:
            # read asymmetry: negative inputs see W ∘ a (one more GEMM)
            np.matmul(np.maximum(xn, 0), w_read.T, out=out)
            out += np.minimum(xn, 0) @ cache.polarity_weights(dtype, w_read, self.polarity).T
        if cfg.ir_drop.scale > 0 and not nodal:
            out[...] = ir_drop(xn, wn, cache.abs_weights(dtype), out, cfg.ir_drop)
        var = _NO_VAR
        if cache.noise_var_t is not None:
            var = self._state_dependent_variance(xn, cache)
        if self._curvature is not None or cfg.output.asymmetry != 0:
            out[...] = apply_output_nonidealities(out, self._curvature, cfg.output.asymmetry)
        kernels.adc_pass(out, self._h_read(self._rng_read), noisy, sd, adc is not None,
                         lsb(adc.bits, adc.range_norm) if adc else 1.0,
                         adc.range_norm if adc else 1.0, gain, col_gain, z, clipped,
                         var is not _NO_VAR, var)

    def _state_dependent_variance(self, xn: np.ndarray, cache: _ReadCache) -> np.ndarray:
        """σ_bi² = Σ_j V_ij x̂_bj² (+ v_ref,i (Σ_j x̂_bj)²): one GEMM of x̂² with V, in the
        working dtype; the fused ADC pass draws the noise."""
        v_t, v_ref = cache.noise_var_t
        key = ("noise_var", xn.dtype)
        if key not in cache.by_dtype:
            cache.by_dtype[key] = np.ascontiguousarray(v_t, dtype=xn.dtype)
        var = np.square(xn) @ cache.by_dtype[key]
        if v_ref is not None:
            var += (np.sum(xn, axis=1, dtype=np.float64)[:, None] ** 2 * v_ref).astype(var.dtype)
        return var

    def _probe_outputs(self, cache: _ReadCache) -> np.ndarray:
        """The probe reads (K × out) through the full noisy path."""
        self.counters["compensation_reads"] += self._probes.shape[0]
        y = np.empty((self._probes.shape[0], self.shape[0]))
        return self._read(self._probes, cache, y, self._unit_gain, count=False)

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
            self._comp = compensation.factor(self.compensation,
                                             compensation.readout(self._ref_probe_out),
                                             compensation.readout(self._probe_outputs(cache)))
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
        """Write ΔW with E[ΔW] = lr · d xᵀ by a stochastic pulse train at time ``t_s``.

        One term of :meth:`write_batch` (which gives the model)."""
        self.write_batch(np.asarray(x, dtype=float).reshape(1, -1),
                         np.asarray(d, dtype=float).reshape(1, -1), lr, t_s)

    def write_batch(self, xs: np.ndarray, ds: np.ndarray, lr: float, t_s: float) -> None:
        """Write ``ΔW`` with ``E[ΔW] = lr Σ_k d_k x_kᵀ`` at ``t_s``: one stochastic pulse train
        per row pair ``(x_k, d_k)``, written one after another.

        Each device that receives pulses starts from its current (drifted) state, moves by the
        pulsed update model and is re-drawn its write noise; its drift clock keeps running
        (:mod:`neurodecorr.devices.drift`). Stuck devices do not change. The reference column
        is never written: a device of the reference scheme moves relative to the reference's
        drifted conductance, not its nominal one.

        ``engine`` selects how: ``"numba"`` (default) runs all K trains in one compiled pass
        (:func:`~neurodecorr.devices.pulse_kernels.write_trains`); ``"numpy"`` is the
        reference, one :func:`~neurodecorr.devices.pulsed.pulse_train` and
        :func:`~neurodecorr.devices.pulsed.apply_train` per term. Both draw the same numbers
        from the array's write stream in the same order and agree to round-off. One-sided unit
        cells always take the numpy path.
        """
        t_s = self._check_time(t_s)
        # C order: one compiled signature of the kernel whatever layout the caller has
        xs = np.ascontiguousarray(np.atleast_2d(np.asarray(xs, dtype=float)))
        ds = np.ascontiguousarray(np.atleast_2d(np.asarray(ds, dtype=float)))
        if (xs.ndim != 2 or ds.ndim != 2 or xs.shape[0] != ds.shape[0]
                or xs.shape[1] != self.shape[1] or ds.shape[1] != self.shape[0]):
            raise NeurodecorrError(f"crossbar write: x of shape {xs.shape} and d of shape "
                                   f"{ds.shape} do not fit an array of shape {self.shape}")
        if not (np.isfinite(xs).all() and np.isfinite(ds).all() and math.isfinite(lr)):
            raise NeurodecorrError("crossbar write: x, d and lr must be finite")
        if self.engine == "numpy" or isinstance(self.pulsed, OneSidedPair):
            for x, d in zip(xs, ds, strict=True):
                self._write_train(x, d, lr, t_s)
        else:
            self._write_trains(xs, ds, lr, t_s)

    def _write_train(self, x: np.ndarray, d: np.ndarray, lr: float, t_s: float) -> None:
        """One pulse train, the numpy reference of :meth:`write_batch`."""
        cfg = self.config
        train = pulse_train(x, d, lr / self.scale, cfg.pulsed, self._rng_write)
        self.counters["writes"] += 1
        self.counters["pulse_slots"] += train.length
        self.counters["line_pulses"] += int(train.rows.sum() + train.cols.sum())
        if train.length == 0:
            return
        a_arr, b_arr = self._arrays
        g_a, g_b = a_arr.drifted(t_s), b_arr.drifted(t_s)
        if isinstance(self.pulsed, OneSidedPair):
            self._write_one_sided(g_a, g_b, train, t_s)
            self._after_write(x[None], d[None], lr, t_s)
            return
        current = to_weights(g_a, g_b, cfg.mapping)
        hidden, touched, pulses = apply_train(current - self._w_offset, train, self.pulsed,
                                              self._rng_write)
        self.counters["device_pulses"] += pulses
        if not touched.any():
            return
        if cfg.pulsed.write_noise_rel > 0:
            # fresh offsets for the touched devices only, in row-major order
            self._w_offset[touched] = (cfg.pulsed.write_noise_rel * cfg.pulsed.dw_min_norm
                                       * self._rng_write.standard_normal(np.count_nonzero(
                                           touched)))
        target = hidden + self._w_offset
        # pulses that cancel leave a device as it was (its drift state included)
        changed = touched & (target != current)
        if cfg.mapping.scheme == "differential":
            new_a, new_b = to_conductances(target, cfg.mapping, clip=False)
            a_arr.rewrite(changed, new_a, t_s)
            b_arr.rewrite(changed, new_b, t_s)
        else:
            # w = 2 (G − G_ref(t))/ΔG against the reference as it has drifted
            new_a = np.maximum(g_b + 0.5 * cfg.mapping.g_range_uS * target, 0.0)
            a_arr.rewrite(changed, new_a, t_s)
        self._after_write(x[None], d[None], lr, t_s)

    def _write_trains(self, xs: np.ndarray, ds: np.ndarray, lr: float, t_s: float) -> None:
        """All trains of :meth:`write_batch` in one kernel call; the conductances are rewritten
        once, with the values the last write of each device left."""
        cfg, m = self.config.pulsed, self.config.mapping
        a_arr, b_arr = self._arrays
        g_a, g_b = a_arr.drifted(t_s).copy(), b_arr.drifted(t_s).copy()
        current = to_weights(g_a, g_b, m)
        changed = np.zeros(self.shape, dtype=bool)
        touched = np.zeros(xs.shape[0], dtype=bool)
        stats = np.zeros(len(pulse_kernels.STATS), dtype=np.int64)
        dev = self.pulsed
        pulse_kernels.write_trains(
            xs, ds, lr / self.scale, cfg.dw_min_norm, cfg.bl_max,
            self._h_write(self._rng_write),
            pulse_kernels.MODELS[cfg.model], self._model_params,
            self._nodes[0], self._nodes[1], dev.dw_up, dev.dw_down, dev.b_min, dev.b_max,
            self._c2c, cfg.write_noise_rel * cfg.dw_min_norm, m.scheme == "reference",
            m.g_min_uS, m.g_range_uS, a_arr.stuck, b_arr.stuck, current, self._w_offset,
            g_a, g_b, changed, touched, stats)
        self.counters["writes"] += xs.shape[0]
        for key, value in zip(pulse_kernels.STATS, stats.tolist(), strict=True):
            self.counters[key] += value
        if not touched.any():
            return
        a_arr.rewrite(changed, g_a, t_s)
        if m.scheme == "differential":
            b_arr.rewrite(changed, g_b, t_s)
        self._after_write(xs[touched], ds[touched], lr, t_s)

    def _after_write(self, xs: np.ndarray, ds: np.ndarray, lr: float, t_s: float) -> None:
        self._t_last_write = t_s
        self._cache = None
        if self._ref_probe_out is not None:
            # the change the chip asked for, in the probe outputs' physical units
            self._ref_probe_out += lr * ((self._probes @ xs.T) @ ds)

    def _write_one_sided(self, g_a: np.ndarray, g_b: np.ndarray, train, t_s: float) -> None:
        """Pulses on a one-sided unit cell, then the refresh check (aihwkit
        ``OneSidedUnitCell``): up pulses potentiate G⁺, down pulses G⁻, each device in units
        of its range ΔG."""
        m, cfg = self.config.mapping, self.config.pulsed
        h_plus = (g_a - m.g_min_uS) / m.g_range_uS
        h_minus = (g_b - m.g_min_uS) / m.g_range_uS
        new_p, new_m, touched, pulses = self.pulsed.apply_train(h_plus, h_minus, train,
                                                                self._rng_write)
        self.counters["device_pulses"] += pulses
        a_arr, b_arr = self._arrays
        a_arr.rewrite(touched & (new_p != h_plus), m.g_min_uS + m.g_range_uS * new_p, t_s)
        b_arr.rewrite(touched & (new_m != h_minus), m.g_min_uS + m.g_range_uS * new_m, t_s)
        self._writes += 1
        if cfg.refresh_every > 0 and self._writes % cfg.refresh_every == 0:
            self._refresh_unit_cells(new_p, new_m, t_s)

    def _refresh_unit_cells(self, h_plus: np.ndarray, h_minus: np.ndarray, t_s: float) -> None:
        """Reset both devices of every pair that meets aihwkit's criterion and program the
        larger one to the difference (a full programming: the drift clocks restart). aihwkit
        writes the difference back by open-loop pulses; here it is programmed, with the
        programming noise of the preset."""
        m, cfg = self.config.mapping, self.config.pulsed
        mask = refresh_mask(h_plus, h_minus, cfg.w_max_norm, cfg.refresh_upper_thres,
                            cfg.refresh_lower_thres)
        if not mask.any():
            return
        diff = h_plus - h_minus
        targets = (m.g_min_uS + m.g_range_uS * np.maximum(diff, 0.0),
                   m.g_min_uS + m.g_range_uS * np.maximum(-diff, 0.0))
        for arr, target in zip(self._arrays, targets, strict=True):
            g, ops = program(target[mask], self.config.programming, m, self._rng_prog)
            g_full = np.zeros(self.shape)
            g_full[mask] = g
            arr.reprogram(mask, g_full, target, t_s, self._rng_state)
            self.counters["programmed_devices"] += ops
        self.counters["unit_cell_refreshes"] += int(np.count_nonzero(mask))


def weight_scale_of(weights: np.ndarray, config: DeviceConfig) -> float:
    """The per-array scale s = headroom · max|W| of :mod:`neurodecorr.devices.mapping`."""
    return weight_scale(weights, config.mapping.headroom)
