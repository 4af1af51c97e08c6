"""Bit-true numpy emulation of a fixed-point export, step by step as Lava runs it.

Lava advances every process once per step. What one step does, per process (the timing of
``lava/proc/io/source.py``'s ``RingBuffer`` and ``lava/proc/dense/models.py``'s
``PyDenseModelBitAcc``, re-implemented here without Lava):

- the source sends column ``(t − 1) mod L`` of its data (each sample repeated
  ``steps_per_sample`` times, encoded as ``round(x · 2^F)``);
- a ``Dense`` first sends what it accumulated in the previous step (zero at first), then
  receives its input of this step and accumulates ``⌊(W s) · 2^weight_exp⌋``;
- a stage (bias, gain, activation, optional lateral sub-steps) and an integrator neuron
  receive their synaptic input of this step and send their new state in the same step.

The neurons' arithmetic comes from :mod:`neurodecorr.lava.fixed` (the functions Lava's
fixed-point models call); the schedule, the ``Dense`` arithmetic and the wiring here are
independent of Lava. A test requires Lava's outputs to equal these to the last bit.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava import fixed
from neurodecorr.lava.export import LavaExport


class _Dense:
    def __init__(self, weight, exp: int) -> None:
        self.w, self.exp = np.asarray(weight, dtype=np.int64), int(exp)
        self.buffer = np.zeros(self.w.shape[0], dtype=np.int64)
        self.sent = self.buffer

    def step(self, s_in: np.ndarray) -> np.ndarray:
        self.sent = self.buffer
        self.buffer = fixed.shift_floor(self.w @ s_in, self.exp)
        return self.sent


class _Stage:
    def __init__(self, layer: dict) -> None:
        self.p = layer
        self.state = np.zeros(layer["shape"][0], dtype=np.int64)

    def step(self, a: np.ndarray) -> np.ndarray:
        p = self.p
        z = fixed.saturate(fixed.mul_shift(fixed.saturate(a), p["gain"], p["gain_shift"])
                           + np.asarray(p["bias"], dtype=np.int64))
        x = fixed.activate_int(z, p["activation"], p["slope_mant"], p["slope_shift"])
        if not p["decorrelate"]:
            self.state = x
            return x
        v, lateral = self.state, np.asarray(p["lateral"], dtype=np.int64)
        for _ in range(p["n_sub"]):
            v = fixed.saturate(fixed.decay(v, p["leak"]) + x
                               - fixed.shift_floor(lateral @ v, p["lateral_exp"]))
        self.state = v
        return v


class _Integrator:
    def __init__(self, layer: dict) -> None:
        self.p = layer
        self.d_in = _Dense(layer["weight_in"], layer["weight_in_exp"])
        self.d_rec = _Dense(layer["weight_rec"], layer["weight_rec_exp"])
        self.v = np.zeros(layer["shape"][0], dtype=np.int64)

    def step(self, s_in: np.ndarray) -> np.ndarray:
        a_in = self.d_in.step(s_in)
        a_rec = fixed.shift_floor(self.d_rec.buffer, -self.p["rec_shift"])  # sent this step
        self.v = fixed.saturate(fixed.decay(self.v, self.p["decay"])
                                + fixed.saturate(a_in + a_rec))
        self.d_rec.step(self.v)
        return self.v


def emulate(export: LavaExport, X: np.ndarray) -> np.ndarray:
    """Integer outputs (one row per sample, at scale ``2^out_frac_bits``) of a fixed export.

    Runs ``N · steps_per_sample + latency`` steps and keeps the last stage's state at the end
    of each sample's window, exactly as :func:`neurodecorr.lava.graph.run_export` records it.
    """
    if export.precision != "fixed":
        raise NeurodecorrError("the bit-true emulation is for fixed-point exports")
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    T, n = export.steps_per_sample, X.shape[0]
    data = np.repeat(fixed.to_fixed(X, export.frac_bits), T, axis=0)
    procs = []
    for layer in export.layers[1:]:
        kind = layer["type"]
        if kind == "dense":
            procs.append(_Dense(layer["weight"], layer["weight_exp"]))
        elif kind == "integrator":
            procs.append(_Integrator(layer))
        else:
            procs.append(_Stage(layer))
    out = np.zeros((n, export.n_out), dtype=np.int64)
    phase = T + export.latency
    for t in range(1, n * T + export.latency + 1):
        signal = data[(t - 1) % data.shape[0]]
        for proc in procs:
            signal = proc.step(signal)
        offset = t - phase
        if offset >= 0 and offset % T == 0 and offset // T < n:
            out[offset // T] = signal
    return out
