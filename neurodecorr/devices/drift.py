"""Slow physics of one device array: drift and accumulated 1/f read noise, with a physical clock.

Every device keeps the time of its programming; its age a = t − t_prog drives one drift model
(one class per physics, chosen by ``[drift] model``):

- :class:`PowerLawDrift` (PCM; Nandakumar 2019 ICECS, Joshi 2020; aihwkit
  ``PCMLikeNoiseModel``, ``HermesNoiseModel``): g(a) = g_prog ((a + t0)/t0)^(−ν),
  ν ~ |N(μ(g), σ(g))| drawn per device at programming.
- :class:`LogRelaxation` (CMO/HfOx ReRAM; Falcone et al. 2025; aihwkit ``ReRamCMONoiseModel``):
  g(a) = g_prog + m L + (s0 + s1 L) ξ with L = ln(max(a, t0)/t0), ξ ~ N(0, 1) fixed per device
  (each device follows its own relaxation path; every read has aihwkit's marginal).
- :class:`Retention` (capacitor leak, Li 2018; aihwkit ``lifetime``): g − G_min decays as
  exp(−a/τ).

Accumulated 1/f noise (Nandakumar 2019): g + A(g) ε(a) with ε a process of independent
Gaussian increments in the variable v(a) = max(ln((c(a) + t_r)/(2 t_r)), 0): reading again later
adds N(0, v(a₂) − v(a₁)), so consecutive reads are correlated as real 1/f noise is, while every
read has the closed-form marginal. c(a) is the drift model's clock: a + t0 for the power law
(aihwkit ``t = t_inference + t_0``), a otherwise (aihwkit ``ReRamCMONoiseModel`` uses
t_inference). A(g) is the amplitude of :mod:`neurodecorr.devices.read_noise`.

Writes (on-chip learning) move a device's conductance but keep its clock: the device is
re-expressed as the programmed conductance that, drifted to its current age, reads the written
value. A write that changes nothing leaves the device exactly as if it were untouched, and no
write sequence decays a device faster than its age does. aihwkit's pulsed ``WeightDrifter``
(``src/rpucuda/weight_drifter.cpp``) instead restarts a device's clock when a write changes it by
more than ``reset_tol`` and drifts with (max(t − t_reset, t0)/t0)^(−ν); restarting at every
write made the decay compound with the write rate (a device rewritten every second with no net
change lost 96 % in 1000 s against 59 % untouched). ν stays the device's own, as in aihwkit's
``WeightDrifter`` (drawn once per device).
"""

from __future__ import annotations

import numpy as np

from neurodecorr.devices import kernels, read_noise
from neurodecorr.devices.config import DriftConfig, MappingConfig, ReadConfig
from neurodecorr.devices.rng_handle import Handles


class NoDrift:
    """The conductance stays as programmed.

    A model is split into the per-device terms that depend only on age and parameters
    (:meth:`terms`: the drift factor, the shift; transcendental, so :class:`DeviceArray` keeps
    them for the last read time) and their cheap application to conductances
    (:meth:`apply_terms`, :meth:`inverse_terms`)."""

    def __init__(self, cfg: DriftConfig, mapping: MappingConfig):
        self.cfg, self.mapping = cfg, mapping

    def draw(self, g_prog: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Per-device parameters of the model for devices programmed to ``g_prog``."""
        return np.zeros_like(g_prog)

    def clock(self, age_s: np.ndarray) -> np.ndarray:
        return age_s

    def terms(self, age_s: np.ndarray, p: np.ndarray) -> np.ndarray | None:
        """What the model needs of each device's age (None: nothing)."""
        return None

    def apply_terms(self, g_prog: np.ndarray, terms) -> np.ndarray:
        return g_prog

    def inverse_terms(self, g_now: np.ndarray, terms) -> np.ndarray:
        return g_now

    def apply(self, g_prog: np.ndarray, age_s: np.ndarray, p: np.ndarray) -> np.ndarray:
        return self.apply_terms(g_prog, self.terms(age_s, p))

    def programmed_for(self, g_now: np.ndarray, age_s: np.ndarray, p: np.ndarray) -> np.ndarray:
        """The g_prog that :meth:`apply` takes to ``g_now`` at ``age_s`` (the inverse)."""
        return self.inverse_terms(g_now, self.terms(age_s, p))


class PowerLawDrift(NoDrift):
    """g(a) = g_prog ((a + t0)/t0)^(−ν), ν ~ |N(μ(g/G_max), σ(g/G_max))| per device."""

    def draw(self, g_prog: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return draw_nu(g_prog, self.cfg, self.mapping.g_max_uS, rng)

    def clock(self, age_s: np.ndarray) -> np.ndarray:
        return age_s + self.cfg.t0_s

    def terms(self, age_s: np.ndarray, p: np.ndarray) -> np.ndarray:
        return drift_factor(age_s, p, self.cfg.t0_s)

    def apply_terms(self, g_prog: np.ndarray, terms: np.ndarray) -> np.ndarray:
        return g_prog * terms

    def inverse_terms(self, g_now: np.ndarray, terms: np.ndarray) -> np.ndarray:
        return g_now / terms


class LogRelaxation(NoDrift):
    """g(a) = g_prog + m L + (s0 + s1 L) ξ for a > 0, L = ln(max(a, t0)/t0); ξ per device."""

    def draw(self, g_prog: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal(g_prog.shape)

    def terms(self, age_s: np.ndarray, p: np.ndarray) -> np.ndarray:
        """The shift m L + (s0 + s1 L) ξ (0 at age 0)."""
        c = self.cfg
        log_t = np.log(np.maximum(age_s, c.t0_s) / c.t0_s)
        shift = c.relax_mean_uS * log_t + (c.relax_std_uS + c.relax_std_slope_uS * log_t) * p
        return np.where(age_s > 0, shift, 0.0)

    def apply_terms(self, g_prog: np.ndarray, terms: np.ndarray) -> np.ndarray:
        return g_prog + terms

    def inverse_terms(self, g_now: np.ndarray, terms: np.ndarray) -> np.ndarray:
        return g_now - terms


class Retention(NoDrift):
    """g(a) = G_min + (g_prog − G_min) exp(−a/τ)."""

    def terms(self, age_s: np.ndarray, p: np.ndarray) -> np.ndarray:
        return np.exp(-age_s / self.cfg.retention_tau_s)

    def apply_terms(self, g_prog: np.ndarray, terms: np.ndarray) -> np.ndarray:
        g_min = self.mapping.g_min_uS
        return g_min + (g_prog - g_min) * terms

    def inverse_terms(self, g_now: np.ndarray, terms: np.ndarray) -> np.ndarray:
        # exp(a/τ) overflows for old devices; memoryless decay lets the caller restart instead
        raise AssertionError("retention restarts the clock on a write")


MODELS = {"power_law": PowerLawDrift, "log_relaxation": LogRelaxation, "retention": Retention}


def drift_model(cfg: DriftConfig, mapping: MappingConfig) -> NoDrift:
    """The drift physics the configuration names (:class:`NoDrift` when it is switched off)."""
    return MODELS[cfg.model](cfg, mapping) if cfg.enabled else NoDrift(cfg, mapping)


def draw_nu(g_prog_uS: np.ndarray, drift: DriftConfig, g_max_uS: float,
            rng: np.random.Generator) -> np.ndarray:
    """ν ~ |N(μ(g), σ(g))| per device."""
    g_norm = g_prog_uS / g_max_uS
    mu = drift.nu_mean(g_norm)
    sd = drift.nu_std(g_norm)
    return np.abs(mu + sd * rng.standard_normal(g_norm.shape))


def drift_factor(age_s: np.ndarray, nu: np.ndarray, t0_s: float) -> np.ndarray:
    """((a + t0)/t0)^(−ν)."""
    # ν·(−L) equals (−ν)·L bit for bit; the exponential is taken in place
    factor = np.multiply(nu, -np.log1p(age_s / t0_s))
    return np.exp(factor, out=factor) if isinstance(factor, np.ndarray) else np.exp(factor)


#: below this fraction of changed devices, :meth:`DeviceArray.rewrite` works on their indices
#: (the same element-wise arithmetic; boolean masks cost whole-array passes)
SPARSE_FRACTION = 0.25


class DeviceArray:
    """The state of one array of devices: programmed conductance, clock, drift and 1/f state.

    Parameters
    ----------
    g_prog_uS : ndarray
        Conductances just after programming (µS).
    t_write_s : float
        Physical time of that programming (the devices' clocks start here).
    stuck, stuck_uS : ndarray
        Stuck-device mask and values; stuck devices are read at their stuck value forever.
    g_target_uS : ndarray, optional
        The targets of the programming: the drift parameters are drawn from them, as aihwkit
        does (``BaseNoiseModel.apply_noise``: ``generate_drift_coefficients(g_target)``); the
        1/f amplitude from the programmed values. Default: the programmed values.
    """

    def __init__(self, g_prog_uS: np.ndarray, t_write_s: float, stuck: np.ndarray,
                 stuck_uS: np.ndarray, mapping: MappingConfig, drift: DriftConfig,
                 read: ReadConfig, rng: np.random.Generator,
                 g_target_uS: np.ndarray | None = None):
        self.mapping, self.drift, self.read = mapping, drift, read
        self.model = drift_model(drift, mapping)
        self.stuck = stuck
        self.stuck_uS = stuck_uS
        self.g_prog = np.where(stuck, stuck_uS, g_prog_uS)
        self.t_write = np.full(self.g_prog.shape, float(t_write_s))
        self.params = self.model.draw(self.g_prog if g_target_uS is None else g_target_uS, rng)
        self.flicker = read_noise.Flicker(read, mapping)
        self.q = self.flicker.q(self.g_prog)
        self.q[stuck] = 0.0
        self.eps = np.zeros(self.g_prog.shape)
        self.v_eps = np.zeros(self.g_prog.shape)
        self.t_eps = float(t_write_s)
        # (t, drift terms, flicker variance) of the last time asked: one training batch reads,
        # writes and reads back at one time, and only the clocks and parameters change them
        self._at: tuple = (None, None, None)
        self._drifted: tuple = (None, None)  # (t, conductances) until the next write
        self._has_stuck = bool(np.any(stuck))
        self._handles = Handles()
        self._clock0: float | None = float(t_write_s)  # the one clock all devices share

    @property
    def nu(self) -> np.ndarray:
        """The drift exponents (zeros unless the model is the power law)."""
        if isinstance(self.model, PowerLawDrift):
            return np.where(self.stuck, 0.0, self.params)
        return np.zeros(self.g_prog.shape)

    def rewrite(self, mask: np.ndarray, g_new_uS: np.ndarray, t_s: float) -> None:
        """Devices in ``mask`` read ``g_new_uS`` just after a write at ``t_s`` (stuck ones
        ignore it). Their clock keeps running (see the module docstring); retention, being
        memoryless, restarts it, which is the same law."""
        if self._has_stuck:
            mask = mask & ~self.stuck
        self._drifted = (None, None)
        idx = mask.ravel().nonzero()[0]
        if idx.size == 0:
            return
        if idx.size < SPARSE_FRACTION * mask.size:
            # few devices (a PCM update moves a few per cent): work on their indices
            self._rewrite_at(idx, g_new_uS.reshape(-1), t_s)
            return
        # whole-array passes selected by the mask: a batch of writes touches most devices,
        # where boolean indexing would cost three passes
        if self.flicker.enabled:
            np.copyto(self.q, self.flicker.q(g_new_uS), where=mask)
        if isinstance(self.model, Retention):
            np.copyto(self.g_prog, g_new_uS, where=mask)
            self.t_write[mask] = t_s
            self._clocks_changed()
            return
        np.copyto(self.g_prog, self.model.inverse_terms(g_new_uS, self._terms(t_s)), where=mask)

    def _rewrite_at(self, idx: np.ndarray, g_flat: np.ndarray, t_s: float) -> None:
        """:meth:`rewrite` of the devices at flat indices ``idx``: the same element-wise
        arithmetic on those devices only."""
        g = g_flat[idx]
        if self.flicker.enabled:
            self.q.put(idx, self.flicker.q(g))
        if isinstance(self.model, Retention):
            self.g_prog.put(idx, g)
            self.t_write.put(idx, t_s)
            self._clocks_changed()
            return
        terms = self._terms(t_s)
        if getattr(terms, "ndim", 0) == 2:
            terms = terms.reshape(-1)[idx]
        self.g_prog.put(idx, self.model.inverse_terms(g, terms))

    def reprogram(self, mask: np.ndarray, g_prog_uS: np.ndarray, g_target_uS: np.ndarray,
                  t_s: float, rng: np.random.Generator) -> None:
        """Devices in ``mask`` were reset and programmed afresh at ``t_s`` (a refresh): their
        clock restarts, drift parameters are redrawn for the new target, the 1/f state
        clears."""
        mask = mask & ~self.stuck
        self._drifted = (None, None)
        self.g_prog[mask] = g_prog_uS[mask]
        self.t_write[mask] = t_s
        self.params[mask] = self.model.draw(g_target_uS[mask], rng)
        self.q[mask] = self.flicker.q(g_prog_uS[mask])
        self.eps[mask] = 0.0
        self.v_eps[mask] = 0.0
        self._clocks_changed()

    def age(self, t_s: float) -> np.ndarray:
        return np.maximum(t_s - self.t_write, 0.0)

    def _clocks_changed(self) -> None:
        """After ``t_write`` changed: whether the devices still share one clock."""
        first = self.t_write.flat[0]
        self._clock0 = float(first) if np.all(self.t_write == first) else None
        self._at = (None, None, None)

    def _common_age(self, t_s: float):
        """The devices' age at ``t_s``: one number while they share one clock (writes keep
        the clocks, so until a refresh or re-programming), which spares the transcendental
        functions of age a pass over the array; else the array."""
        if self._clock0 is not None:
            return max(t_s - self._clock0, 0.0)
        return self.age(t_s)

    def _terms(self, t_s: float):
        """The drift model's terms at ``t_s`` (kept for the last time asked)."""
        if self._at[0] != t_s:
            self._at = (t_s, self.model.terms(self._common_age(t_s), self.params), None)
        return self._at[1]

    def drifted(self, t_s: float) -> np.ndarray:
        """Noiseless conductance at time ``t_s`` (drift only). The array returned is shared
        (kept until the next write or time): read it, do not modify it."""
        if type(self.model) is NoDrift:
            return self.g_prog
        if self._drifted[0] != t_s:
            g = self.model.apply_terms(self.g_prog, self._terms(t_s))
            self._drifted = (t_s, np.where(self.stuck, self.stuck_uS, g) if self._has_stuck
                             else g)
        return self._drifted[1]

    def read_slow(self, t_s: float, rng: np.random.Generator) -> np.ndarray:
        """Conductance at ``t_s`` with drift and the accumulated 1/f noise (advances ε)."""
        g = self.drifted(t_s)
        if not self.flicker.enabled:
            return g
        terms = self._terms(t_s)
        v = self._at[2]
        if v is None:
            # one variance for devices of one age, else one per device
            v = np.ascontiguousarray(read_noise.flicker_variance(
                self.model.clock(self._common_age(t_s)), self.read.flicker_t_read_s),
                dtype=float).reshape(-1)
            self._at = (t_s, terms, v)
        # independent increments later, a fresh draw with the right marginal for the past
        forward, self.t_eps = t_s >= self.t_eps, t_s
        if self.flicker.relative:
            out = np.empty_like(g)
            kernels.flicker_read(self.eps, self.v_eps, v, self._handles(rng), forward, g,
                                 self.q, out)
            return out
        kernels.flicker_step(self.eps, self.v_eps, v, self._handles(rng), forward)
        return g + self.flicker.amplitude(g, self.q) * self.eps
