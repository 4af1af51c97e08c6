"""Conductance drift and accumulated 1/f read noise of one device array.

Drift (Nandakumar 2019, Joshi 2020; aihwkit ``PCMLikeNoiseModel``):
    g(t) = g_prog ((a + t0)/t0)^(−ν),  a = t − t_write  (the device's age),
    ν ~ |N(μ(g), σ(g))|, μ, σ clipped log-linear in g/G_max, drawn per device at each write.
Retention (capacitor leak, Li 2018): g − G_min decays as exp(−a/τ).
Accumulated 1/f noise: the relative deviation ε(a) has variance
    v(a) = Q_s² max(ln((a + t_r)/(2 t_r)), 0),  Q_s = min(c (g_prog/G_max)^(−e), Q_max),
so that σ_1/f = g(t) Q_s sqrt(ln((a + t_r)/(2 t_r))) at every age. ε is kept as a process with
independent Gaussian increments in v (a Brownian motion in the variable v): reading again later
adds N(0, v(a₂) − v(a₁)), so consecutive reads are correlated as real 1/f noise is, while every
read has the marginal of the closed form.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.devices.config import DriftConfig, MappingConfig, ReadConfig


def draw_nu(g_prog_uS: np.ndarray, drift: DriftConfig, g_max_uS: float,
            rng: np.random.Generator) -> np.ndarray:
    """ν ~ |N(μ(g), σ(g))| per device."""
    g_norm = g_prog_uS / g_max_uS
    mu = drift.nu_mean(g_norm)
    sd = drift.nu_std(g_norm)
    return np.abs(mu + sd * rng.standard_normal(g_norm.shape))


def drift_factor(age_s: np.ndarray, nu: np.ndarray, t0_s: float) -> np.ndarray:
    """((a + t0)/t0)^(−ν)."""
    return np.exp(-nu * np.log1p(age_s / t0_s))


def flicker_q(g_prog_uS: np.ndarray, read: ReadConfig, g_max_uS: float) -> np.ndarray:
    """Q_s = min(c (g/G_max)^(−e), Q_max), with g/G_max floored at 1e-3 as aihwkit does."""
    g_norm = np.maximum(np.abs(g_prog_uS) / g_max_uS, 1e-3)
    return np.minimum(read.flicker_q_coeff / g_norm**read.flicker_q_exponent, read.flicker_q_max)


def flicker_variance(age_s: np.ndarray, q: np.ndarray, t_read_s: float) -> np.ndarray:
    """v(a) = Q_s² max(ln((a + t_r)/(2 t_r)), 0)."""
    return q**2 * np.maximum(np.log((age_s + t_read_s) / (2.0 * t_read_s)), 0.0)


class DeviceArray:
    """The state of one array of devices: programmed conductance, write time, ν, 1/f state.

    Parameters
    ----------
    g_prog_uS : ndarray
        Conductances just after programming (µS).
    t_write_s : float
        Physical time of that programming.
    stuck, stuck_uS : ndarray
        Stuck-device mask and values; stuck devices are read at their stuck value forever.
    """

    def __init__(self, g_prog_uS: np.ndarray, t_write_s: float, stuck: np.ndarray,
                 stuck_uS: np.ndarray, mapping: MappingConfig, drift: DriftConfig,
                 read: ReadConfig, rng: np.random.Generator):
        self.mapping, self.drift, self.read = mapping, drift, read
        self.stuck = stuck
        self.stuck_uS = stuck_uS
        self.g_prog = np.where(stuck, stuck_uS, g_prog_uS)
        self.t_write = np.full(self.g_prog.shape, float(t_write_s))
        self.nu = np.zeros(self.g_prog.shape)
        self.q = np.zeros(self.g_prog.shape)
        self.eps = np.zeros(self.g_prog.shape)
        self.v_eps = np.zeros(self.g_prog.shape)
        self.t_eps = float(t_write_s)
        self._set_state_parameters(np.ones(self.g_prog.shape, dtype=bool), rng)

    @property
    def has_flicker(self) -> bool:
        return self.read.flicker_q_coeff > 0

    def _set_state_parameters(self, mask: np.ndarray, rng: np.random.Generator) -> None:
        g = self.g_prog[mask]
        if self.drift.nu_mean_max > 0 or self.drift.nu_std_max > 0:
            self.nu[mask] = draw_nu(g, self.drift, self.mapping.g_max_uS, rng)
        if self.has_flicker:
            self.q[mask] = flicker_q(g, self.read, self.mapping.g_max_uS)
        self.nu[self.stuck] = 0.0
        self.q[self.stuck] = 0.0

    def rewrite(self, mask: np.ndarray, g_new_uS: np.ndarray, t_s: float,
                rng: np.random.Generator) -> None:
        """Devices in ``mask`` were written at ``t_s`` to ``g_new_uS`` (stuck ones ignore it);
        their drift clock restarts and a fresh ν is drawn for the new state."""
        mask = mask & ~self.stuck
        self.g_prog[mask] = g_new_uS[mask]
        self.t_write[mask] = t_s
        self.eps[mask] = 0.0
        self.v_eps[mask] = 0.0
        self._set_state_parameters(mask, rng)

    def age(self, t_s: float) -> np.ndarray:
        return np.maximum(t_s - self.t_write, 0.0)

    def drifted(self, t_s: float) -> np.ndarray:
        """Noiseless conductance at time ``t_s`` (drift and retention only)."""
        if not self.drift.enabled:
            return self.g_prog
        age = self.age(t_s)
        g = self.g_prog * drift_factor(age, self.nu, self.drift.t0_s)
        if self.drift.retention_tau_s > 0:
            g_min = self.mapping.g_min_uS
            g = g_min + (g - g_min) * np.exp(-age / self.drift.retention_tau_s)
        return np.where(self.stuck, self.stuck_uS, g)

    def read_slow(self, t_s: float, rng: np.random.Generator) -> np.ndarray:
        """Conductance at ``t_s`` with drift and the accumulated 1/f noise (advances ε)."""
        g = self.drifted(t_s)
        if not self.has_flicker:
            return g
        v = flicker_variance(self.age(t_s), self.q, self.read.flicker_t_read_s)
        if t_s >= self.t_eps:
            self.eps += np.sqrt(np.maximum(v - self.v_eps, 0.0)) * rng.standard_normal(v.shape)
        else:
            # reading the past: a fresh draw with the right marginal
            self.eps = np.sqrt(v) * rng.standard_normal(v.shape)
        self.v_eps = np.maximum(v, self.v_eps) if t_s >= self.t_eps else v
        self.t_eps = t_s
        return g * (1.0 + self.eps)
