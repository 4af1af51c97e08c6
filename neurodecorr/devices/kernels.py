"""Fused element-wise passes (numba) around the one GEMM of an analogue read.

One read of :class:`~neurodecorr.devices.Crossbar` costs one GEMM ``ŷ = x̂ Ŵᵀ`` and
O(batch · n) element-wise work (:mod:`neurodecorr.devices.periphery` gives the equations):

- :func:`dac_pass`, before the GEMM, in one pass over ``X``: the abs-max scale α of each
  sample, the DAC ``x̂ = Q_dac(x/α)``, and the standard deviation of the output-referred noise
  of each sample, ``σ_b = sqrt(σ_out² + σ_read² · (Σ_j x̂_bj² [+ (Σ_j x̂_bj)²]))``.
- :func:`adc_pass`, after the GEMM, in one pass over ``ŷ``: add ``σ_b · ξ`` (ξ ~ N(0, 1) drawn
  by numba from the caller's :class:`numpy.random.Generator`), the ADC ``Q_adc``, and the
  output gain ``s · α_b · c_i`` (weight scale, DAC scale, drift compensation of column i).

numpy would spend about eight passes over memory and as many temporaries on the same work, and
its own Gaussian sampler is slower than numba's compiled copy of it. numba's
``Generator.standard_normal`` runs numpy's float64 ziggurat on the same bit generator, so a draw
here equals ``rng.standard_normal`` of numpy, number for number, and advances the generator
alike (same seed, same result). The noise is drawn in float64 and rounded once, with the rest
of the output, to the working dtype.
"""

from __future__ import annotations

import numba
import numpy as np

from neurodecorr.devices.rng_handle import generator
from neurodecorr.numba_cache import ensure_cache_dir

ensure_cache_dir(__file__)

_SUMS = {"reassoc", "nsz", "contract"}  # reorder sums of squares (vectorised); keep NaN/inf


@numba.njit(cache=True, nogil=True, fastmath=_SUMS)
def _moments(v):
    """``(Σ v², Σ v)`` of one row, accumulated in float64."""
    sq = 0.0
    s = 0.0
    for j in range(v.shape[0]):
        x = np.float64(v[j])
        sq += x * x
        s += x
    return sq, s


@numba.njit(cache=True, nogil=True)
def _abs_max(v):
    """``max_j |v_j|`` of one row, in float64, with four independent running maxima (a single
    one is a dependency chain the compiler may not vectorise)."""
    m0 = m1 = m2 = m3 = 0.0
    n = v.shape[0]
    k = n - n % 4
    for j in range(0, k, 4):
        m0 = max(m0, abs(np.float64(v[j])))
        m1 = max(m1, abs(np.float64(v[j + 1])))
        m2 = max(m2, abs(np.float64(v[j + 2])))
        m3 = max(m3, abs(np.float64(v[j + 3])))
    for j in range(k, n):
        m0 = max(m0, abs(np.float64(v[j])))
    return max(max(m0, m1), max(m2, m3))


@numba.njit(cache=True, nogil=True)
def _max(v):
    """``max_j v_j`` of one row, in float64."""
    m = np.float64(v[0])
    for j in range(1, v.shape[0]):
        m = max(m, np.float64(v[j]))
    return m


@numba.njit(cache=True, nogil=True)
def dac_pass(X, XN, quantise, nm_mode, thres, bm_scale, step, r, read_var, out_var,  # noqa: N803
             reference, gain, sd):
    """DAC and per-sample noise level of one read.

    Parameters
    ----------
    X : (batch, in) float32 or float64
        The inputs.
    XN : (batch, in), the dtype of X
        Receives ``x̂`` when ``quantise`` (else unused: the GEMM reads ``X`` itself).
    quantise : bool
        Whether there is a DAC.
    nm_mode : int
        Noise management (aihwkit ``computeNoiseManagement``): 0 none (α = 1), 1 abs-max
        (α = max_j |x_j|), 2 max (α = max_j x_j), 3 constant (α = ``thres``); for 1 and 2 a
        positive ``thres`` caps α. A non-positive α becomes 1.
    thres : float
        The noise-management threshold.
    bm_scale : (batch,) float64
        Bound management's extra input scale of each sample (α ← α · bm_scale).
    step, r : float
        The DAC's LSB and range (float64 arithmetic; ``x̂`` is rounded once to the dtype of X).
    read_var, out_var : float
        ``σ_read²`` per unit ``Σ x̂²`` and ``σ_out²``, in normalised output units.
    reference : bool
        Reference-column scheme: the read noise also scales with ``(Σ_j x̂_j)²``.
    gain : (batch,) float64
        Multiplied in place by ``α`` of each sample.
    sd : (batch,) float64
        Receives ``σ_b``.
    """
    b, n = X.shape
    for i in range(b):
        alpha = 1.0
        if quantise:
            if nm_mode == 1 or nm_mode == 2:
                m = _abs_max(X[i]) if nm_mode == 1 else _max(X[i])
                if thres > 0:
                    m = min(m, thres)
                if m > 0:
                    alpha = m
            elif nm_mode == 3:
                alpha = thres
            alpha *= bm_scale[i]
            # one multiply instead of two divisions; the level can differ from
            # rint(x / α / δ) only within a few ulp of a rounding boundary
            inv = 1.0 / (alpha * step)
            for j in range(n):
                XN[i, j] = min(max(np.rint(np.float64(X[i, j]) * inv) * step, -r), r)
            sq, s = _moments(XN[i])
        else:
            sq, s = _moments(X[i])
        if reference:
            sq += s * s
        gain[i] *= alpha
        sd[i] = np.sqrt(out_var + read_var * sq)


@numba.njit(cache=True, nogil=True)
def adc_pass(Y, rng, noisy, sd, quantise, step, r, gain, col_gain, z, clipped,  # noqa: N803
             per_output, var):
    """Output noise, ADC and output gain of one read, in place on ``Y``.

    ``Y[b, i] ← Q_adc(Y[b, i] + sd[b] · ξ) · gain[b] · col_gain[i]``, with ξ ~ N(0, 1) drawn
    from ``rng`` in row-major order when ``noisy``, and ``Q_adc`` the identity unless
    ``quantise`` (LSB ``step``, range ``r``, float64; ``v · (1/δ)`` replaces ``v/δ``, which
    can change a level only within rounding of a half-LSB boundary). ``z`` is a float64 scratch
    row of length ``out``: drawing a row first leaves the arithmetic to a vectorised loop.
    """
    rng = generator(rng)
    b, n = Y.shape
    inv = 1.0 / step
    for i in range(b):
        s = sd[i]
        g = gain[i]
        hit = False
        if noisy:
            for j in range(n):
                z[j] = rng.standard_normal()
        for j in range(n):
            v = np.float64(Y[i, j])
            if per_output:
                v += np.sqrt(s * s + np.float64(var[i, j])) * z[j]
            elif noisy:
                v += s * z[j]
            if quantise:
                v = min(max(np.rint(v * inv) * step, -r), r)
                hit = hit or abs(v) >= r
            Y[i, j] = v * g * col_gain[j]
        clipped[i] = hit


@numba.njit(cache=True, nogil=True)
def flicker_step(eps, v_eps, v, rng, forward):
    """Advance the accumulated 1/f state of every device in place
    (:meth:`~neurodecorr.devices.drift.DeviceArray.read_slow`).

    ``forward`` (a read later than the last): ``ε ← ε + sqrt(max(v − v_ε, 0)) ξ``,
    ``v_ε ← max(v, v_ε)``; otherwise (reading the past) a fresh ``ε = sqrt(v) ξ``, ``v_ε = v``.
    ``v`` has one entry per device, or one for all (devices of one age). ξ ~ N(0, 1) from
    ``rng`` (a generator or its :func:`~neurodecorr.devices.rng_handle.handle`) in row-major
    order: numpy's ``rng.standard_normal(eps.shape)``, number for number (the arrays are
    C-contiguous).
    """
    rng = generator(rng)
    e, ve, vv = eps.ravel(), v_eps.ravel(), v.ravel()
    shared = vv.size == 1
    for i in range(e.size):
        vi = vv[0] if shared else vv[i]
        if forward:
            e[i] += np.sqrt(max(vi - ve[i], 0.0)) * rng.standard_normal()
            ve[i] = max(vi, ve[i])
        else:
            e[i] = np.sqrt(vi) * rng.standard_normal()
            ve[i] = vi


@numba.njit(cache=True, nogil=True)
def flicker_read(eps, v_eps, v, rng, forward, g, q, out):
    """:func:`flicker_step`, then the read of the relative 1/f amplitudes
    ``out = g + (|g| q) ε`` (:meth:`~neurodecorr.devices.read_noise.Flicker.amplitude`, in
    numpy's operation order), in the same pass: the same numbers as the step followed by the
    numpy expression."""
    flicker_step(eps, v_eps, v, rng, forward)
    gg, qq, ee, oo = g.ravel(), q.ravel(), eps.ravel(), out.ravel()
    for i in range(oo.size):
        oo[i] = gg[i] + abs(gg[i]) * qq[i] * ee[i]


@numba.njit(cache=True, nogil=True)
def pair_variance_t(a, b, per_uS, range_sq, out):  # noqa: N803
    """``out[j, i] = per_uS (|a_ij| + |b_ij|) / range_sq``: the per-read variance matrix of a
    differential pair (:meth:`~neurodecorr.devices.read_noise.PerReadNoise.variance_matrix`,
    same operation order), written transposed, as the read's GEMM takes it."""
    n_out, n_in = a.shape
    for i in range(n_out):
        for j in range(n_in):
            out[j, i] = per_uS * (abs(a[i, j]) + abs(b[i, j])) / range_sq
