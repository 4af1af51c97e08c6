"""Batched pulse trains (numba): every rank-1 write of one update in one compiled call.

:meth:`~neurodecorr.devices.Crossbar.write_batch` writes ``ΔW = lr Σ_k d_k x_kᵀ`` as K
stochastic pulse trains, one after another. The numpy reference
(:meth:`~neurodecorr.devices.Crossbar.write_rank1`, :func:`~neurodecorr.devices.pulsed.
pulse_train`, :func:`~neurodecorr.devices.pulsed.apply_train`) does each train with a dozen
whole-array numpy passes and a Python loop over its slots; :func:`write_trains` does the same
arithmetic in one pass over the coincidences, as aihwkit's CPU updater does
(``PulsedRPUWeightUpdater::updateVectorWithDevice``, ``rpu_weight_updater.cpp``: for each slot,
for each firing row, ``doSparseUpdate`` over the firing columns).

Per term k (the reference's order, so that the same generator gives the same numbers):

1. ``BL = min(⌈K⌉, BL_max)``, ``K = |lr| max|x| max|d| / dw_min``, row and column
   probabilities ``min(sqrt(K/BL) |d_i|/max|d|, 1)`` and ``min(sqrt(K/BL) |x_j|/max|x|, 1)``;
   the row bits (BL × out uniforms), then the column bits (BL × in);
2. slot by slot, every device of a firing row and a firing column gets one pulse of sign
   ``sign(lr d_i x_j)`` (one cycle-to-cycle Gaussian each, in row-major order of the slot's
   block), starting from ``w − offset`` (the hidden weight) the first time it is hit in the term;
3. write noise: the devices the term touched get a fresh offset ``σ_wn dw_min ξ`` (row-major);
4. a touched device whose apparent weight changed is written back through the mapping
   (stuck devices keep their conductance), and later terms read it back as the reference's
   next ``write_rank1`` does.

Random numbers come from the crossbar's own :class:`numpy.random.Generator`, drawn inside the
kernel: numba's ``Generator.random`` and ``Generator.standard_normal`` run numpy's algorithms
on the same bit generator, number for number (see :mod:`neurodecorr.devices.kernels`), so the
kernel and the reference consume one stream identically. What the kernel leaves out of the
reference is only round-off: the reference converts every written device to a programmed
conductance and back (drift inverse) between terms; the kernel keeps the conductances it wrote
and hands them to :meth:`~neurodecorr.devices.drift.DeviceArray.rewrite` once per update.
Tested against the reference to 1e-12 (``tests/test_pulse_kernels.py``).

The kernels use numba's ``numpy`` error model: a float division by zero would give inf instead
of raising, and every division here has a divisor checked positive (``dw_min``, ``bl``,
``max|x|``, ``max|d|``, bounds through ``max(…, 1e-12)``, ``G_range``), so the results are
those of the Python error model without its zero test in the pulse loop (5–7 % of a write).

JIT compilation is cached on disk (``cache=True``); numba falls back to ``NUMBA_CACHE_DIR`` or
a user cache directory when the package directory is read-only.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from neurodecorr.devices.rng_handle import generator
from neurodecorr.numba_cache import ensure_cache_dir

ensure_cache_dir(__file__)

#: ``[pulsed] model`` -> the kernel's code of its state dependence
MODELS = {"constant_step": 0, "linear_step": 1, "soft_bounds": 2, "exp_step": 3,
          "pow_step": 4, "piecewise_step": 5}
#: ``stats`` entries returned by :func:`write_trains`
STATS = ("pulse_slots", "line_pulses", "device_pulses")


def model_params(cfg) -> np.ndarray:
    """The six scalar parameters of ``cfg.model``'s step response, in the kernel's order:
    ``(γ_up, γ_down, 0, …)`` (linear, soft bounds, pow), ``(a, b, A_up, A_down, γ_up, γ_down)``
    (exp)."""
    if cfg.model == "exp_step":
        return np.array([cfg.exp_a, cfg.exp_b, cfg.exp_a_up, cfg.exp_a_down, cfg.exp_gamma_up,
                         cfg.exp_gamma_down])
    gammas = (1.0, 1.0) if cfg.model == "soft_bounds" else (cfg.gamma_up, cfg.gamma_down)
    return np.array([*gammas, 0.0, 0.0, 0.0, 0.0])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _factor(model, w, up, b_min, b_max, p0, p1, p2, p3, p4, p5):
    """``f_d(w)`` of the closed-form models (0–4), scalars only: the hot loop calls it once per
    pulse, and a call that passes arrays costs more than the arithmetic."""
    if model == 0:
        return 1.0
    if model == 1 or model == 2:
        if up:
            f = 1.0 - p0 * (w / b_max if b_max > 0 else 0.0)
        else:
            f = 1.0 - p1 * (w / b_min if b_min < 0 else 0.0)
        return max(f, 0.0)
    if model == 3:
        z = 2.0 * p0 * w / max(b_max - b_min, 1e-12) + p1
        if up:
            f = 1.0 - p2 * math.exp(p4 * z)
        else:
            f = 1.0 - p3 * math.exp(-p5 * z)
        return max(f, 0.0)
    span = max(b_max - b_min, 1e-12)
    if up:
        return max(2.0 * (b_max - w) / span, 0.0) ** p0
    return max(2.0 * (w - b_min) / span, 0.0) ** p1


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _piecewise(w, up, b_min, b_max, nodes_up, nodes_down):
    """``f_d(w)`` interpolated between nodes equally spaced over ``[b_min, b_max]`` (model 5)."""
    nodes = nodes_up if up else nodes_down
    n = nodes.size - 1
    if n == 0:
        return nodes[0]
    pos = min(max((w - b_min) / max(b_max - b_min, 1e-12) * n, 0.0), float(n))
    k = min(int(math.floor(pos)), n - 1)
    t = pos - k
    return (1 - t) * nodes[k] + t * nodes[k + 1]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def step_factor(model, w, up, b_min, b_max, p, nodes_up, nodes_down):
    """``f_d(w)`` of one device (:mod:`neurodecorr.devices.pulsed`, same operation order)."""
    if model == 5:
        return _piecewise(w, up, b_min, b_max, nodes_up, nodes_down)
    return _factor(model, w, up, b_min, b_max, p[0], p[1], p[2], p[3], p[4], p[5])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def write_trains(xs, ds, lr_norm, dw_min, bl_max, rng,
                 model, p, nodes_up, nodes_down, dw_up, dw_down, b_min, b_max, c2c, wn_std,
                 reference, g_min, g_range, stuck_a, stuck_b,
                 cur, off, ga, gb, changed, touched_terms, stats):
    """The K pulse trains of rows ``xs`` (K, in) and ``ds`` (K, out), in place.

    Parameters
    ----------
    lr_norm : float
        The rate in normalised weight units (``lr / scale``).
    model, p, nodes_up, nodes_down
        The step response (:data:`MODELS`, :func:`model_params`, piecewise nodes).
    dw_up, dw_down, b_min, b_max : (out, in)
        Per-device steps and bounds (:class:`~neurodecorr.devices.pulsed.PulsedDevices`).
    c2c : (4,)
        ``(σ_c2c, c2c_add_norm, c2c_slope, c2c_additive)``.
    wn_std : float
        ``σ_wn dw_min``: standard deviation of the write-noise offset (0: none).
    reference : bool
        Mapping scheme: single device against its row's reference ``gb[i, 0]``; else a
        differential pair ``(ga, gb)``.
    stuck_a, stuck_b : bool arrays
        Stuck devices keep their conductance.
    cur : (out, in)
        In: the weights the conductances read now; out: after the writes.
    off : (out, in)
        The write-noise offsets (``Crossbar._w_offset``), updated.
    ga, gb
        The conductances (µS) as read now; the written devices' new values on return.
    changed : (out, in) bool
        Set where a device was written (the mask for ``DeviceArray.rewrite``).
    touched_terms : (K,) bool
        Set for the terms that reached at least one device.
    stats : (3,) int64
        Incremented by :data:`STATS`.
    """
    rng = generator(rng)
    n_out, n_in = cur.shape
    h = np.empty_like(cur)
    stamp = np.full(cur.shape, -1, dtype=np.int64)
    p_rows = np.empty(n_out)
    p_cols = np.empty(n_in)
    row_hit = np.zeros(n_out, dtype=np.bool_)
    sign = 1.0 if lr_norm >= 0 else -1.0
    p0, p1, p2, p3, p4, p5 = p[0], p[1], p[2], p[3], p[4], p[5]
    c2c_rel, c2c_add, c2c_slope = c2c[0], c2c[1], c2c[2]
    complex_noise = c2c_add > 0 or c2c_slope > 0
    additive = c2c[3] != 0
    for k in range(xs.shape[0]):
        x = xs[k]
        d = ds[k]
        mx = 0.0
        for j in range(n_in):
            mx = max(mx, abs(x[j]))
        md = 0.0
        for i in range(n_out):
            md = max(md, abs(d[i]))
        if mx == 0 or md == 0 or lr_norm == 0:
            continue
        kk = abs(lr_norm) * mx * md / dw_min
        bl = int(min(max(math.ceil(kk), 1), bl_max))
        amp = math.sqrt(kk / bl)
        for i in range(n_out):
            p_rows[i] = min(amp * abs(d[i]) / md, 1.0)
        for j in range(n_in):
            p_cols[j] = min(amp * abs(x[j]) / mx, 1.0)
        rows = np.empty((bl, n_out), dtype=np.bool_)
        cols = np.empty((bl, n_in), dtype=np.bool_)
        lines = 0
        for b in range(bl):
            for i in range(n_out):
                rows[b, i] = rng.random() < p_rows[i]
                lines += rows[b, i]
        for b in range(bl):
            for j in range(n_in):
                cols[b, j] = rng.random() < p_cols[j]
                lines += cols[b, j]
        stats[0] += bl
        stats[1] += lines
        any_hit = False
        for b in range(bl):
            n_cols = 0
            for j in range(n_in):
                n_cols += cols[b, j]
            if n_cols == 0:
                continue
            for i in range(n_out):
                if not rows[b, i]:
                    continue
                row_hit[i] = True
                any_hit = True
                s_row = sign * (1.0 if d[i] > 0 else (-1.0 if d[i] < 0 else 0.0))
                for j in range(n_in):
                    if not cols[b, j]:
                        continue
                    if stamp[i, j] != k:
                        stamp[i, j] = k
                        h[i, j] = cur[i, j] - off[i, j]
                    s_col = 1.0 if x[j] > 0 else (-1.0 if x[j] < 0 else 0.0)
                    # one pulse (PulsedDevices.pulse): clip, step × f(w), cycle noise, clip
                    up = s_row * s_col > 0
                    lo, hi = b_min[i, j], b_max[i, j]
                    w = min(max(h[i, j], lo), hi)
                    step = dw_up[i, j] if up else -dw_down[i, j]
                    if model == 5:
                        f = _piecewise(w, up, lo, hi, nodes_up, nodes_down)
                    else:
                        f = _factor(model, w, up, lo, hi, p0, p1, p2, p3, p4, p5)
                    delta = step * f
                    if c2c_rel > 0:
                        xi = c2c_rel * rng.standard_normal()
                        if complex_noise:
                            delta = delta + (abs(delta) + c2c_add + c2c_slope * abs(w)) * xi
                        elif additive:
                            delta = delta + abs(step) * xi
                        else:
                            delta = delta * (1.0 + xi)
                    h[i, j] = min(max(w + delta, lo), hi)
                    stats[2] += 1
        if not any_hit:
            continue
        touched_terms[k] = True
        for i in range(n_out):
            if not row_hit[i]:
                continue
            row_hit[i] = False
            for j in range(n_in):
                if stamp[i, j] != k:
                    continue
                if wn_std > 0:
                    off[i, j] = wn_std * rng.standard_normal()
                target = h[i, j] + off[i, j]
                if target == cur[i, j]:
                    continue
                changed[i, j] = True
                if reference:
                    if not stuck_a[i, j]:
                        ga[i, j] = max(gb[i, 0] + 0.5 * g_range * target, 0.0)
                    cur[i, j] = 2.0 * (ga[i, j] - gb[i, 0]) / g_range
                else:
                    if not stuck_a[i, j]:
                        ga[i, j] = g_min + g_range * max(target, 0.0)
                    if not stuck_b[i, j]:
                        gb[i, j] = g_min + g_range * max(-target, 0.0)
                    cur[i, j] = (ga[i, j] - gb[i, j]) / g_range
