"""Device configuration: small parameter groups composed into one :class:`DeviceConfig`.

Each group is a frozen dataclass whose field names are the TOML keys of one table of a preset
file (``devices/*.toml``). Every physical quantity carries its unit in its name (``_uS``
microsiemens, ``_s`` seconds); ``_norm`` means "in normalised units" (weights divided by the
array's weight scale, inputs divided by the input scale); ``_rel`` is a fraction of the nominal
value; keys without a suffix are dimensionless. The layout follows aihwkit's parameter groups
(``simulator/parameters/io.py``, ``training.py``) and CrossSim's split of programming error, drift
and read noise.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from neurodecorr.errors import NeurodecorrError

SCHEMES = ("differential", "reference")
PULSED_MODELS = ("constant_step", "linear_step", "soft_bounds", "exp_step", "pow_step")
NOISE_MANAGEMENT = ("abs_max", "none")
COMPENSATIONS = ("none", "global", "column")


class _Group:
    """Shared parsing and validation of one TOML table into a dataclass.

    ``where`` in every check is the ``"file: [table] key"`` prefix that error messages start with.
    """

    table: ClassVar[str] = ""

    @classmethod
    def from_table(cls, raw: Any, origin: str) -> _Group:
        if not isinstance(raw, dict):
            raise NeurodecorrError(f"{origin}: [{cls.table}] must be a table")
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in raw.items():
            where = f"{origin}: [{cls.table}] {key}"
            if key not in known:
                allowed = ", ".join(sorted(known))
                raise NeurodecorrError(f"{where}: unknown key (allowed: {allowed})")
            values[key] = _coerce(value, known[key].type, where)
        group = cls(**values)
        group.validate(f"{origin}: [{cls.table}]", set(raw))
        return group

    def validate(self, where: str, given: set[str]) -> None:
        """Check ranges; ``given`` holds the keys the file set explicitly."""

    def to_table(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _coerce(value: Any, type_name: Any, where: str) -> Any:
    """Check a TOML value against the field's annotation (a string under postponed evaluation)."""
    t = str(type_name)
    if t == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise NeurodecorrError(f"{where}: expected a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise NeurodecorrError(f"{where}: must be finite, got {value}")
        return float(value)
    if t == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise NeurodecorrError(f"{where}: expected an integer, got {type(value).__name__}")
        return value
    if t == "bool":
        if not isinstance(value, bool):
            raise NeurodecorrError(f"{where}: expected true or false, got {type(value).__name__}")
        return value
    if t == "str":
        if not isinstance(value, str):
            raise NeurodecorrError(f"{where}: expected a string, got {type(value).__name__}")
        return value
    if t == "tuple[float, ...]":
        if not isinstance(value, list) or not value:
            raise NeurodecorrError(f"{where}: expected a non-empty list of numbers")
        return tuple(_coerce(v, "float", where) for v in value)
    raise AssertionError(f"unsupported field type {t}")  # a programming error, not a user one


def _check(ok: bool, where: str, key: str, problem: str) -> None:
    if not ok:
        raise NeurodecorrError(f"{where} {key}: {problem}")


def _one_of(value: str, allowed: tuple[str, ...], where: str, key: str) -> None:
    _check(value in allowed, where, key, f"must be one of {', '.join(allowed)}; got {value!r}")


@dataclass(frozen=True)
class MappingConfig(_Group):
    """How a weight becomes conductances.

    ``differential``: w = s (G⁺ − G⁻)/(G_max − G_min), one of the pair at G_min.
    ``reference``: w = 2 s (G − G_ref)/(G_max − G_min), G_ref = (G_min + G_max)/2 held by one
    reference device per output row. ``s = headroom · max|W|`` is the per-array weight scale.
    """

    table: ClassVar[str] = "mapping"
    scheme: str = "differential"
    g_min_uS: float = 0.0
    g_max_uS: float = 25.0
    headroom: float = 1.0
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        _one_of(self.scheme, SCHEMES, where, "scheme")
        _check(self.g_min_uS >= 0, where, "g_min_uS", f"must be >= 0, got {self.g_min_uS}")
        _check(self.g_max_uS > self.g_min_uS, where, "g_max_uS",
               f"G_min >= G_max ({self.g_min_uS} >= {self.g_max_uS} uS)")
        _check(self.headroom >= 1.0, where, "headroom", f"must be >= 1, got {self.headroom}")

    @property
    def g_range_uS(self) -> float:
        return self.g_max_uS - self.g_min_uS


@dataclass(frozen=True)
class ProgrammingConfig(_Group):
    """Programming a target conductance.

    σ_prog(g) = Σ_k c_k (g/G_max)^k µS (Nandakumar 2019; aihwkit ``PCMLikeNoiseModel``);
    ``levels`` equally spaced states in [G_min, G_max] (0: continuous); up to
    ``write_verify_iterations`` re-programmings of devices further than the tolerance from target.
    """

    table: ClassVar[str] = "programming"
    noise_poly_uS: tuple[float, ...] = (0.0,)
    levels: int = 0
    write_verify_iterations: int = 0
    write_verify_tolerance_uS: float = 0.0
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        _check(self.levels == 0 or self.levels >= 2, where, "levels",
               f"must be 0 (continuous) or >= 2, got {self.levels}")
        _check(self.write_verify_iterations >= 0, where, "write_verify_iterations",
               f"must be >= 0, got {self.write_verify_iterations}")
        _check(self.write_verify_tolerance_uS >= 0, where, "write_verify_tolerance_uS",
               f"negative noise tolerance {self.write_verify_tolerance_uS}")

    def sigma_uS(self, g_norm: np.ndarray) -> np.ndarray:
        """σ_prog at normalised conductance g/G_max (Horner evaluation of the polynomial)."""
        out = np.zeros_like(np.asarray(g_norm, dtype=float))
        for c in reversed(self.noise_poly_uS):
            out = out * g_norm + c
        return out


@dataclass(frozen=True)
class ReadConfig(_Group):
    """Noise on reading.

    Per-read: each device's conductance is read as G + σ_r ξ with fresh ξ at every read (applied
    output-referred, exactly in distribution). Accumulated 1/f noise (PCM, Nandakumar 2019;
    aihwkit ``PCMLikeNoiseModel``): σ_1/f = G Q_s sqrt(ln((t + t_r)/(2 t_r))),
    Q_s = min(c/(G/G_max)^e, Q_max), t the age since the last write; off when c = 0.
    """

    table: ClassVar[str] = "read"
    noise_uS: float = 0.0
    flicker_q_coeff: float = 0.0
    flicker_q_exponent: float = 0.65
    flicker_q_max: float = 0.2
    flicker_t_read_s: float = 250e-9
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        _check(self.noise_uS >= 0, where, "noise_uS", f"negative noise {self.noise_uS}")
        _check(self.flicker_q_coeff >= 0, where, "flicker_q_coeff",
               f"negative noise {self.flicker_q_coeff}")
        _check(self.flicker_q_max >= 0, where, "flicker_q_max",
               f"negative noise {self.flicker_q_max}")
        _check(self.flicker_q_exponent >= 0, where, "flicker_q_exponent",
               f"must be >= 0, got {self.flicker_q_exponent}")
        _check(self.flicker_t_read_s > 0, where, "flicker_t_read_s",
               f"must be > 0, got {self.flicker_t_read_s}")


@dataclass(frozen=True)
class DriftConfig(_Group):
    """Power-law drift g(t) = g_prog ((t + t0)/t0)^(−ν), t the age since the last write.

    ν ~ |N(μ(g), σ(g))| per device, μ = clip(a_μ ln(g/G_max) + b_μ, μ_min, μ_max), likewise σ
    (Nandakumar 2019; aihwkit ``PCMLikeNoiseModel``). Optional retention: the part of the
    conductance above G_min decays as exp(−t/τ) (capacitor leak, Li 2018); 0 disables it.
    """

    table: ClassVar[str] = "drift"
    t0_s: float = 20.0
    nu_mean_slope: float = 0.0
    nu_mean_intercept: float = 0.0
    nu_mean_min: float = 0.0
    nu_mean_max: float = 0.0
    nu_std_slope: float = 0.0
    nu_std_intercept: float = 0.0
    nu_std_min: float = 0.0
    nu_std_max: float = 0.0
    retention_tau_s: float = 0.0
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        _check(self.t0_s > 0, where, "t0_s", f"must be > 0, got {self.t0_s}")
        for lo, hi in (("nu_mean_min", "nu_mean_max"), ("nu_std_min", "nu_std_max")):
            _check(getattr(self, lo) >= 0, where, lo, f"must be >= 0, got {getattr(self, lo)}")
            _check(getattr(self, hi) >= getattr(self, lo), where, hi, f"must be >= {lo}")
        _check(self.retention_tau_s >= 0, where, "retention_tau_s",
               f"must be >= 0, got {self.retention_tau_s}")

    @property
    def enabled(self) -> bool:
        return self.nu_mean_max > 0 or self.nu_std_max > 0 or self.retention_tau_s > 0

    def nu_mean(self, g_norm: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            lg = np.log(np.maximum(g_norm, 1e-12))
        return np.clip(self.nu_mean_slope * lg + self.nu_mean_intercept,
                       self.nu_mean_min, self.nu_mean_max)

    def nu_std(self, g_norm: np.ndarray) -> np.ndarray:
        lg = np.log(np.maximum(g_norm, 1e-12))
        return np.clip(self.nu_std_slope * lg + self.nu_std_intercept,
                       self.nu_std_min, self.nu_std_max)


@dataclass(frozen=True)
class FaultsConfig(_Group):
    """Stuck devices: each device is independently stuck at G_min, at G_max, or at a uniformly
    random conductance with the given probabilities (fixed per device from the seed)."""

    table: ClassVar[str] = "faults"
    stuck_g_min_frac: float = 0.0
    stuck_g_max_frac: float = 0.0
    stuck_random_frac: float = 0.0
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        keys = ("stuck_g_min_frac", "stuck_g_max_frac", "stuck_random_frac")
        for key in keys:
            v = getattr(self, key)
            _check(0.0 <= v <= 1.0, where, key, f"fraction {v} outside [0, 1]")
        total = sum(getattr(self, k) for k in keys)
        _check(total <= 1.0, where, "stuck_random_frac", f"stuck fractions sum to {total} > 1")


_MODEL_KEYS = {
    "linear_step": ("gamma_up", "gamma_down"),
    "pow_step": ("gamma_up", "gamma_down"),
    "exp_step": ("exp_a_up", "exp_a_down", "exp_gamma_up", "exp_gamma_down", "exp_a", "exp_b"),
}


@dataclass(frozen=True)
class PulsedConfig(_Group):
    """Pulsed (on-chip learning) updates in normalised weight units (aihwkit pulsed devices).

    Per pulse of direction d = ±1 on device ij: Δw = d·δ_d,ij·f_d(w)·(1 + σ_c2c ξ) (or
    d·δ_d,ij·(f_d(w) + σ_c2c ξ) with ``c2c_additive``), with
    δ_up = dw_min_ij (1 + β_ij), δ_down = dw_min_ij (1 − β_ij), dw_min_ij = dw_min (1 + σ_d2d ξ),
    β_ij = up_down + σ_β ξ, then clipping to the device's bounds. f_d(w) is the model's state
    dependence (see :mod:`neurodecorr.devices.pulsed`).
    """

    table: ClassVar[str] = "pulsed"
    model: str = "constant_step"
    dw_min_norm: float = 0.001
    up_down: float = 0.0
    w_min_norm: float = -1.0
    w_max_norm: float = 1.0
    d2d_dw_min_rel: float = 0.0
    d2d_up_down: float = 0.0
    d2d_bounds_rel: float = 0.0
    c2c_rel: float = 0.0
    c2c_additive: bool = False
    write_noise_rel: float = 0.0
    gamma_up: float = 0.0
    gamma_down: float = 0.0
    exp_a_up: float = 0.00081
    exp_a_down: float = 0.36833
    exp_gamma_up: float = 12.44625
    exp_gamma_down: float = 12.78785
    exp_a: float = 0.244
    exp_b: float = 0.2425
    bl_max: int = 31
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        _one_of(self.model, PULSED_MODELS, where, "model")
        own = set(_MODEL_KEYS.get(self.model, ()))
        for key in sorted(given):
            owners = [m for m, ks in _MODEL_KEYS.items() if key in ks]
            _check(not owners or key in own, where, key,
                   f"applies to model {' or '.join(owners)}, not {self.model}")
        _check(self.dw_min_norm > 0, where, "dw_min_norm", f"must be > 0, got {self.dw_min_norm}")
        _check(-1.0 < self.up_down < 1.0, where, "up_down",
               f"must be in (-1, 1), got {self.up_down}")
        _check(-1.0 <= self.w_min_norm < 0.0, where, "w_min_norm",
               f"must be in [-1, 0), got {self.w_min_norm}")
        _check(0.0 < self.w_max_norm <= 1.0, where, "w_max_norm",
               f"must be in (0, 1], got {self.w_max_norm}")
        for key in ("d2d_dw_min_rel", "d2d_up_down", "d2d_bounds_rel", "c2c_rel",
                    "write_noise_rel"):
            v = getattr(self, key)
            _check(v >= 0, where, key, f"negative noise {v}")
        for key in ("gamma_up", "gamma_down"):
            _check(getattr(self, key) >= 0, where, key, f"must be >= 0, got {getattr(self, key)}")
        _check(self.bl_max >= 1, where, "bl_max", f"must be >= 1, got {self.bl_max}")


@dataclass(frozen=True)
class DACConfig(_Group):
    """Input converter: per-sample scale α = max|x| (``abs_max``) or 1 (``none``), then clip to
    ±range and quantise to a symmetric grid of step range/(2^(bits−1) − 1)."""

    table: ClassVar[str] = "dac"
    bits: int = 8
    range_norm: float = 1.0
    noise_management: str = "abs_max"
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        _check(self.bits >= 1, where, "bits", f"bits < 1 ({self.bits})")
        _check(self.bits <= 32, where, "bits", f"must be <= 32, got {self.bits}")
        _check(self.range_norm > 0, where, "range_norm", f"must be > 0, got {self.range_norm}")
        _one_of(self.noise_management, NOISE_MANAGEMENT, where, "noise_management")


@dataclass(frozen=True)
class ADCConfig(_Group):
    """Output converter: clip to ±range and quantise with step range/(2^(bits−1) − 1)."""

    table: ClassVar[str] = "adc"
    bits: int = 8
    range_norm: float = 10.0
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        _check(self.bits >= 1, where, "bits", f"bits < 1 ({self.bits})")
        _check(self.bits <= 32, where, "bits", f"must be <= 32, got {self.bits}")
        _check(self.range_norm > 0, where, "range_norm", f"must be > 0, got {self.range_norm}")


@dataclass(frozen=True)
class OutputConfig(_Group):
    """Additive Gaussian noise on each output before the ADC, in normalised output units."""

    table: ClassVar[str] = "output"
    noise_norm: float = 0.0
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        _check(self.noise_norm >= 0, where, "noise_norm", f"negative noise {self.noise_norm}")


@dataclass(frozen=True)
class IRDropConfig(_Group):
    """aihwkit's fast analytic IR-drop model; ``scale`` 0 disables it. ``g_ratio`` is the wire
    conductance per segment divided by G_max."""

    table: ClassVar[str] = "ir_drop"
    scale: float = 0.0
    g_ratio: float = 5.714e5
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        _check(self.scale >= 0, where, "scale", f"must be >= 0, got {self.scale}")
        _check(self.g_ratio > 0, where, "g_ratio", f"must be > 0, got {self.g_ratio}")


#: table name -> group class, in the order they are documented and printed
GROUPS: dict[str, type[_Group]] = {
    "mapping": MappingConfig,
    "programming": ProgrammingConfig,
    "read": ReadConfig,
    "drift": DriftConfig,
    "faults": FaultsConfig,
    "pulsed": PulsedConfig,
    "dac": DACConfig,
    "adc": ADCConfig,
    "output": OutputConfig,
    "ir_drop": IRDropConfig,
}
PERIPHERY_GROUPS = ("dac", "adc", "output", "ir_drop")


@dataclass(frozen=True)
class DeviceConfig:
    """One device model with its periphery. ``dac``/``adc`` None means an ideal converter."""

    name: str = "custom"
    description: str = ""
    source: str = ""
    origin: str = ""
    mapping: MappingConfig = field(default_factory=MappingConfig)
    programming: ProgrammingConfig = field(default_factory=ProgrammingConfig)
    read: ReadConfig = field(default_factory=ReadConfig)
    drift: DriftConfig = field(default_factory=DriftConfig)
    faults: FaultsConfig = field(default_factory=FaultsConfig)
    pulsed: PulsedConfig = field(default_factory=PulsedConfig)
    dac: DACConfig | None = None
    adc: ADCConfig | None = None
    output: OutputConfig = field(default_factory=OutputConfig)
    ir_drop: IRDropConfig = field(default_factory=IRDropConfig)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as nested plain data (for JSON summaries and ``devices show``)."""
        out: dict[str, Any] = {"name": self.name, "description": self.description,
                               "source": self.source}
        for key in GROUPS:
            group = getattr(self, key)
            if group is not None:
                table = group.to_table()
                out[key] = {k: list(v) if isinstance(v, tuple) else v for k, v in table.items()}
        return out
