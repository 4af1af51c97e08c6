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

from neurodecorr.core.checked import Checked, setting, setting_problem, type_problem
from neurodecorr.devices import fits
from neurodecorr.devices.fits import LogOrPolynomial
from neurodecorr.errors import NeurodecorrError

SCHEMES = ("differential", "reference")
PULSED_MODELS = ("constant_step", "linear_step", "soft_bounds", "exp_step", "pow_step",
                 "piecewise_step")
D2D_DISTRIBUTIONS = ("normal", "lognormal", "gamma")
UNIT_CELLS = ("pair", "one_sided")
READ_MODELS = ("constant", "state_dependent")
FLICKER_MODELS = ("none", "power", "piecewise", "log10")
DRIFT_MODELS = ("power_law", "log_relaxation", "retention")
NOISE_MANAGEMENT = ("abs_max", "max", "constant", "none")
BOUND_MANAGEMENT = ("none", "iterative")
IR_DROP_MODELS = ("analytic", "nodal")
COMPENSATIONS = ("none", "global", "column")


class _Group(Checked):
    """Shared parsing and validation of one TOML table into a dataclass.

    A group validates itself on construction, wherever it comes from (a TOML file, a
    ``dataclasses.replace`` of a preset, a literal in code): a bad value raises a one-line
    :class:`NeurodecorrError` naming the table and the key. ``where`` in every check is the
    ``"file: [table]"`` prefix that error messages start with.

    A field holding a fitted curve (:class:`~neurodecorr.devices.fits.LogOrPolynomial`) is
    written flat in the table, one key per parameter (``nu_mean_slope``, ``nu_mean_max``, ...):
    :meth:`to_table` and :meth:`from_table` speak those keys, and so do the error messages.
    """

    table: ClassVar[str] = ""
    #: key -> the values it may take (merged over the bases, :func:`~neurodecorr.core.
    #: checked.declared`)
    choices: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: key -> the interval its value (or every element of a tuple) lies in, ``"[0, inf)"``
    ranges: ClassVar[dict[str, str]] = {}
    #: the field that names the model, and model -> the keys only that model reads
    model_keys: ClassVar[tuple[str, dict[str, tuple[str, ...]]] | None] = None

    def __post_init__(self) -> None:
        self.validate_table(f"[{self.table}]", self._non_default_keys())

    def validate_table(self, where: str, given: set[str]) -> None:
        """Every check of the table (:mod:`neurodecorr.core.checked`): the types, each field's
        :func:`~neurodecorr.core.checked.setting`, no key of another model
        (:attr:`model_keys`), then the group's own :meth:`validate` of relations between
        keys."""
        for key, value, type_name in _typed_items(self):
            problem = type_problem(value, type_name)
            _check(problem is None, where, key, problem or "")
        for f in dataclasses.fields(self):
            problem = setting_problem(getattr(self, f.name), f)
            _check(problem is None, where, f.name, problem or "")
        if self.model_keys is not None:
            model, keys = self.model_keys
            self._check_model_keys(where, given, getattr(self, model), keys)
        self.validate(where, given)

    def _non_default_keys(self) -> set[str]:
        defaults = _default_table(type(self))
        return {key for key, value in self.to_table().items() if value != defaults[key]}

    @classmethod
    def from_table(cls, raw: Any, origin: str) -> _Group:
        if not isinstance(raw, dict):
            raise NeurodecorrError(f"{origin}: [{cls.table}] must be a table")
        types = {key: type_name for key, _, type_name in _typed_items(cls)}
        flat: dict[str, Any] = {}
        for key, value in raw.items():
            where = f"{origin}: [{cls.table}] {key}"
            if key not in types:
                allowed = ", ".join(sorted(types))
                raise NeurodecorrError(f"{where}: unknown key (allowed: {allowed})")
            flat[key] = _coerce(value, types[key], where)
        values = {}
        for f in dataclasses.fields(cls):
            if isinstance(f.default, LogOrPolynomial):
                if any(key.startswith(f"{f.name}_") for key in flat):
                    values[f.name] = f.default.with_flat(f.name, flat)
            elif f.name in flat:
                values[f.name] = flat[f.name]
        try:
            group = cls(**values)
            # the keys the file sets explicitly (a default value may still be misplaced)
            group.validate_table(f"[{cls.table}]", set(raw))
        except NeurodecorrError as exc:
            raise NeurodecorrError(f"{origin}: {exc}") from None
        return group

    def validate(self, where: str, given: set[str]) -> None:
        """Check ranges and relations between keys; ``given`` holds the keys set explicitly (or
        away from their default)."""

    @staticmethod
    def _check_model_keys(where: str, given: set[str], model: str,
                          model_keys: dict[str, tuple[str, ...]]) -> None:
        """A key that belongs to another model is a mistake, not a silent no-op."""
        own = set(model_keys.get(model, ()))
        for key in sorted(given):
            owners = [m for m, ks in model_keys.items() if key in ks]
            _check(not owners or key in own, where, key,
                   f"applies to model {' or '.join(owners)}, not {model}")

    def to_table(self) -> dict[str, Any]:
        """The table's flat keys and values (a fitted curve as its ``name_*`` keys)."""
        table: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            table.update(_flat(f.name, getattr(self, f.name)))
        return table


def _flat(name: str, value: Any) -> dict[str, Any]:
    return value.flat(name) if isinstance(value, LogOrPolynomial) else {name: value}


def _default_table(cls: type) -> dict[str, Any]:
    """The flat keys of a group class with their default values."""
    table: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        default = (f.default if f.default is not dataclasses.MISSING
                   else f.default_factory() if f.default_factory is not dataclasses.MISSING
                   else None)
        table.update(_flat(f.name, default))
    return table


def _typed_items(group: Any) -> list[tuple[str, Any, str]]:
    """``(flat key, value, type name)`` of a group instance, or of a class with its defaults."""
    items = []
    for f in dataclasses.fields(group):
        value = getattr(group, f.name, f.default)
        if isinstance(f.default, LogOrPolynomial):
            curve = value if isinstance(value, LogOrPolynomial) else f.default
            items += [(key, v, "tuple[float, ...]" if key.endswith("_poly") else "float")
                      for key, v in curve.flat(f.name).items()]
        else:
            items.append((f.name, value, str(f.type)))
    return items


def _check_curve(group: Any, where: str, name: str) -> None:
    """A fitted curve's clip range: ``0 <= name_min <= name_max``; a break needs the
    polynomial above it."""
    curve = getattr(group, name)
    _check(curve.lo >= 0, where, f"{name}_min", f"must be >= 0, got {curve.lo}")
    _check(curve.hi >= curve.lo, where, f"{name}_max", f"must be >= {name}_min")
    _check(curve.brk <= 0 or bool(curve.poly), where, f"{name}_poly",
           "a break point needs the polynomial above it")


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


class MappingConfig(_Group):
    """How a weight becomes conductances.

    ``differential``: w = s (G⁺ − G⁻)/(G_max − G_min), one of the pair at G_min.
    ``reference``: w = 2 s (G − G_ref)/(G_max − G_min), G_ref = (G_min + G_max)/2 held by one
    reference device per output row. ``s = headroom · max|W|`` is the per-array weight scale.
    """

    table: ClassVar[str] = "mapping"
    scheme: str = setting("differential", one_of=SCHEMES)
    g_min_uS: float = setting(0.0, within="[0, inf)")
    g_max_uS: float = 25.0
    headroom: float = setting(1.0, within="[1, inf)")
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        _check(self.g_max_uS > self.g_min_uS, where, "g_max_uS",
               f"G_min >= G_max ({self.g_min_uS} >= {self.g_max_uS} uS)")

    @property
    def g_range_uS(self) -> float:
        return self.g_max_uS - self.g_min_uS


class ProgrammingConfig(_Group):
    """Programming a target conductance.

    σ_prog(g) = Σ_k c_k (g/G_max)^k µS (Nandakumar 2019 ICECS; aihwkit ``PCMLikeNoiseModel``);
    ``levels`` equally spaced states in [G_min, G_max] (0: continuous); up to
    ``write_verify_iterations`` re-programmings of devices further than the tolerance from target.
    """

    table: ClassVar[str] = "programming"
    noise_poly_uS: tuple[float, ...] = (0.0,)
    levels: int = 0
    write_verify_iterations: int = setting(0, within="[0, inf)")
    write_verify_tolerance_uS: float = setting(0.0, within="[0, inf)")
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        _check(len(self.noise_poly_uS) >= 1, where, "noise_poly_uS", "needs a coefficient")
        _check(self.levels == 0 or self.levels >= 2, where, "levels",
               f"must be 0 (continuous) or >= 2, got {self.levels}")

    def sigma_uS(self, g_norm: np.ndarray) -> np.ndarray:
        """σ_prog at normalised conductance g/G_max."""
        return fits.polynomial(self.noise_poly_uS, g_norm)


_FLICKER_KEYS = {
    "power": ("flicker_q_coeff", "flicker_q_exponent"),
    "piecewise": ("flicker_q_slope", "flicker_q_intercept", "flicker_q_min", "flicker_q_break",
                  "flicker_q_poly"),
    "log10": ("flicker_k_uS",),
}


class ReadConfig(_Group):
    """Noise on reading (:mod:`neurodecorr.devices.read_noise`).

    Per-read noise, fresh at every read, applied output-referred (exact in distribution):
    ``constant``: each device reads G + σ_r ξ; ``state_dependent``: G + σ_r sqrt(G/G_max) ξ,
    the device-level form of aihwkit's ``WeightNoiseType.PCM_READ`` (output noise
    w_noise · sqrt(Σ_j |w_ij| x_j²), ``rpu_forward_backward_pass.cpp``).

    Accumulated 1/f noise of relative amplitude Q_s(g) and standard deviation
    g Q_s sqrt(ln((a + t_r)/(2 t_r))) at age a (Nandakumar 2019 ICECS):
    ``power``: Q_s = min(c g^(−e), Q_max) (aihwkit ``PCMLikeNoiseModel``);
    ``piecewise``: the fitted curve ``flicker_q`` (keys ``flicker_q_slope``, ``_intercept``,
    ``_min``, ``_max``, ``_break``, ``_poly``), clip(a ln g + b, Q_min, Q_max) below
    ``flicker_q_break``, a polynomial above (aihwkit ``HermesNoiseModel``); ``log10``:
    absolute σ = K log10(G/µS) sqrt(ln(...)) µS (aihwkit ``ReRamCMONoiseModel``); ``none``: off.

    Read asymmetry (``polarity_d2d_rel`` σ_p; aihwkit ``w_read_asymmetry_dtod``): a negative
    input sees device ij's weight scaled by a_ij = 1 + σ_p ξ_ij, fixed per device (PCM's
    polarity dependence), so y = W x⁺ + (W ∘ a) x⁻.
    """

    table: ClassVar[str] = "read"
    model_keys = ("flicker_model", _FLICKER_KEYS)
    model: str = setting("constant", one_of=READ_MODELS)
    noise_uS: float = setting(0.0, within="[0, inf)")
    flicker_model: str = setting("power", one_of=FLICKER_MODELS)
    flicker_q_coeff: float = setting(0.0, within="[0, inf)")
    flicker_q_exponent: float = setting(0.65, within="[0, inf)")
    #: Q_s of ``piecewise``; its ``hi`` (``flicker_q_max``) also caps ``power``
    flicker_q: LogOrPolynomial = LogOrPolynomial(hi=0.2)
    flicker_k_uS: float = setting(0.0, within="[0, inf)")
    flicker_t_read_s: float = setting(250e-9, within="(0, inf)")
    polarity_d2d_rel: float = setting(0.0, within="[0, inf)")
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        _check_curve(self, where, "flicker_q")

    @property
    def has_flicker(self) -> bool:
        return {"none": False, "power": self.flicker_q_coeff > 0,
                "piecewise": self.flicker_q.hi > 0 or bool(self.flicker_q.poly),
                "log10": self.flicker_k_uS > 0}[self.flicker_model]


_DRIFT_KEYS = {
    "power_law": ("nu_mean_slope", "nu_mean_intercept", "nu_mean_min", "nu_mean_max",
                  "nu_mean_break", "nu_mean_poly", "nu_std_slope", "nu_std_intercept",
                  "nu_std_min", "nu_std_max", "nu_std_break", "nu_std_poly"),
    "log_relaxation": ("relax_mean_uS", "relax_std_uS", "relax_std_slope_uS"),
    "retention": ("retention_tau_s",),
}


class DriftConfig(_Group):
    """Slow change of the conductance with the device's age a (:mod:`neurodecorr.devices.drift`).

    ``power_law``: g(a) = g_prog ((a + t0)/t0)^(−ν), ν ~ |N(μ(g), σ(g))| per device, μ and σ
    fitted curves of g/G_max, ``nu_mean`` and ``nu_std``
    (:class:`~neurodecorr.devices.fits.LogOrPolynomial`, keys ``nu_mean_slope``, ...,
    ``nu_std_poly``; Nandakumar 2019 ICECS; aihwkit ``PCMLikeNoiseModel``,
    ``HermesNoiseModel``).
    ``log_relaxation``: g(a) = g_prog + m ln(a/t0) + (s0 + s1 ln(a/t0)) ξ µS for a > t0, ξ fixed
    per device (CMO/HfOx ReRAM, Falcone et al. 2025; aihwkit ``ReRamCMONoiseModel``).
    ``retention``: g − G_min decays as exp(−a/τ) (capacitor leak, Li 2018).
    """

    table: ClassVar[str] = "drift"
    model_keys = ("model", _DRIFT_KEYS)
    model: str = setting("power_law", one_of=DRIFT_MODELS)
    t0_s: float = setting(20.0, within="(0, inf)")
    nu_mean: LogOrPolynomial = LogOrPolynomial()
    nu_std: LogOrPolynomial = LogOrPolynomial()
    relax_mean_uS: float = 0.0
    relax_std_uS: float = setting(0.0, within="[0, inf)")
    relax_std_slope_uS: float = setting(0.0, within="[0, inf)")
    retention_tau_s: float = setting(0.0, within="[0, inf)")
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        for name in ("nu_mean", "nu_std"):
            _check_curve(self, where, name)

    @property
    def enabled(self) -> bool:
        if self.model == "power_law":
            return any(curve.hi > 0 or curve.poly for curve in (self.nu_mean, self.nu_std))
        if self.model == "log_relaxation":
            return self.relax_mean_uS != 0 or self.relax_std_uS > 0 or self.relax_std_slope_uS > 0
        return self.retention_tau_s > 0


class FaultsConfig(_Group):
    """Stuck devices: each device is independently stuck at G_min, at G_max, or at a uniformly
    random conductance with the given probabilities (fixed per device from the seed)."""

    table: ClassVar[str] = "faults"
    stuck_g_min_frac: float = setting(0.0, within="[0, 1]")
    stuck_g_max_frac: float = setting(0.0, within="[0, 1]")
    stuck_random_frac: float = setting(0.0, within="[0, 1]")
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        total = self.stuck_g_min_frac + self.stuck_g_max_frac + self.stuck_random_frac
        _check(total <= 1.0, where, "stuck_random_frac", f"stuck fractions sum to {total} > 1")


_PULSED_KEYS = {
    "linear_step": ("gamma_up", "gamma_down"),
    "pow_step": ("gamma_up", "gamma_down"),
    "exp_step": ("exp_a_up", "exp_a_down", "exp_gamma_up", "exp_gamma_down", "exp_a", "exp_b",
                 "c2c_add_norm", "c2c_slope"),
    "piecewise_step": ("piecewise_up", "piecewise_down"),
}


class PulsedConfig(_Group):
    """Pulsed (on-chip learning) updates in normalised weight units (aihwkit pulsed devices).

    Per pulse of direction d = ±1 on device ij: Δw = d·δ_d,ij·f_d(w)·(1 + σ_c2c ξ) (or
    d·δ_d,ij·f_d(w) + d·δ_d,ij·σ_c2c ξ with ``c2c_additive``, aihwkit ``mult_noise = False``),
    with aihwkit's convention (``rpu_pulsed_device.cpp``, ``populate``)
    δ_up = dw_min (γ_ij + min(β, 0) + r_ij), δ_down = dw_min (γ_ij − max(β, 0) − r_ij),
    β = ``up_down``, r_ij = σ_β ξ, γ_ij the device-to-device gain (``d2d_distribution``:
    1 + σ ξ, exp(σ ξ), or Gamma with mean 1 and sd σ), then clipping to the device's bounds.
    f_d(w) is the model's state dependence (see :mod:`neurodecorr.devices.pulsed`).

    ``unit_cell = "one_sided"`` (differential pair only): each device of the pair is only ever
    potentiated, G⁺ by up pulses and G⁻ by down pulses, each in [0, b_max]; every
    ``refresh_every`` writes a pair whose larger device is above ``refresh_upper_thres`` and
    smaller one above ``refresh_lower_thres`` of the range is reset and re-programmed to its
    difference (aihwkit ``OneSidedUnitCell``, ``rpu_onesided_device.cpp``; ``PCMPresetUnitCell``).
    """

    table: ClassVar[str] = "pulsed"
    model_keys = ("model", _PULSED_KEYS)
    model: str = setting("constant_step", one_of=PULSED_MODELS)
    dw_min_norm: float = setting(0.001, within="(0, inf)")
    up_down: float = setting(0.0, within="(-1, 1)")
    w_min_norm: float = setting(-1.0, within="[-1, 0)")
    w_max_norm: float = setting(1.0, within="(0, 1]")
    d2d_distribution: str = setting("normal", one_of=D2D_DISTRIBUTIONS)
    d2d_dw_min_rel: float = setting(0.0, within="[0, inf)")
    d2d_up_down: float = setting(0.0, within="[0, inf)")
    d2d_bounds_rel: float = setting(0.0, within="[0, inf)")
    c2c_rel: float = setting(0.0, within="[0, inf)")
    c2c_additive: bool = False
    c2c_add_norm: float = setting(0.0, within="[0, inf)")
    c2c_slope: float = setting(0.0, within="[0, inf)")
    write_noise_rel: float = setting(0.0, within="[0, inf)")
    gamma_up: float = setting(0.0, within="[0, inf)")
    gamma_down: float = setting(0.0, within="[0, inf)")
    exp_a_up: float = 0.00081
    exp_a_down: float = 0.36833
    exp_gamma_up: float = 12.44625
    exp_gamma_down: float = 12.78785
    exp_a: float = 0.244
    exp_b: float = 0.2425
    piecewise_up: tuple[float, ...] = setting((1.0,), within="[0, inf)")
    piecewise_down: tuple[float, ...] = setting((1.0,), within="[0, inf)")
    bl_max: int = setting(31, within="[1, inf)")
    unit_cell: str = setting("pair", one_of=UNIT_CELLS)
    refresh_every: int = setting(0, within="[0, inf)")
    refresh_upper_thres: float = setting(0.75, within="[0, 1]")
    refresh_lower_thres: float = setting(0.25, within="[0, 1]")
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        # aihwkit's ExpStepDevice has no additive cycle-to-cycle noise (rpu_expstep_device.cpp)
        _check(not (self.model == "exp_step" and self.c2c_additive), where, "c2c_additive",
               "exp_step noise is multiplicative (use c2c_add_norm for an additive part)")
        _check(len(self.piecewise_up) == len(self.piecewise_down), where, "piecewise_down",
               "needs as many nodes as piecewise_up")
        _check(self.unit_cell == "one_sided" or self.refresh_every == 0, where, "refresh_every",
               "refresh applies to the one_sided unit cell")
        _check(self.unit_cell == "pair" or self.write_noise_rel == 0, where, "write_noise_rel",
               "write noise of the one_sided unit cell is not modelled")
        _check(self.refresh_lower_thres <= self.refresh_upper_thres, where,
               "refresh_upper_thres", "must be >= refresh_lower_thres")


class _Converter(_Group):
    """What both converters are: ``bits`` of resolution over ``±range_norm``, quantised with
    step range/(2^(bits−1) − 1) (:func:`neurodecorr.devices.periphery.quantise`)."""

    bits: int = setting(8, within="[1, 32]")
    range_norm: float = setting(1.0, within="(0, inf)")



class DACConfig(_Converter):
    """Input converter (aihwkit ``IOParameters``: ``noise_management``, ``nm_thres``,
    ``inp_bound``, ``inp_res``, ``inp_noise``).

    Per-sample scale α (noise management): ``abs_max`` max_j |x_j|, ``max`` max_j x_j,
    ``constant`` the threshold, ``none`` 1; a positive ``nm_thres_norm`` caps abs_max and max
    (α = min(·, thres)) and is the constant. Then x̂ = clip(Q(x/α), ±range) with step
    range/(2^(bits−1) − 1), plus Gaussian input noise σ_in ξ after the converter.
    """

    table: ClassVar[str] = "dac"
    noise_management: str = setting("abs_max", one_of=NOISE_MANAGEMENT)
    nm_thres_norm: float = setting(0.0, within="[0, inf)")
    noise_norm: float = setting(0.0, within="[0, inf)")
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        super().validate(where, given)
        _check(self.noise_management != "constant" or self.nm_thres_norm > 0, where,
               "nm_thres_norm", "constant noise management needs a positive threshold")


class ADCConfig(_Converter):
    """Output converter: clip to ±range and quantise with step range/(2^(bits−1) − 1).

    Bound management ``iterative`` (aihwkit ``BoundManagementType.ITERATIVE``): when an output
    of a sample clips, the read is repeated with the sample's input halved (its α doubled), up
    to ``bm_max_passes`` reads in all.
    """

    table: ClassVar[str] = "adc"
    range_norm: float = setting(10.0, within="(0, inf)")
    bound_management: str = setting("none", one_of=BOUND_MANAGEMENT)
    bm_max_passes: int = setting(10, within="[1, inf)")
    source: str = ""


class OutputConfig(_Group):
    """Before the ADC, in normalised output units (aihwkit ``IOParameters``):
    S-shaped non-linearity y ← y/(1 + |c_i y|), c_i = (nonlinearity/R)(1 + σ_nl ξ_i) fixed per
    output (``out_nonlinearity``, ``out_nonlinearity_std``; R the ADC range); read asymmetry
    y ← (1 − a) y for y < 0 (``out_asymmetry``); additive Gaussian noise σ_out ξ."""

    table: ClassVar[str] = "output"
    noise_norm: float = setting(0.0, within="[0, inf)")
    nonlinearity: float = setting(0.0, within="[0, inf)")
    nonlinearity_d2d_rel: float = setting(0.0, within="[0, inf)")
    asymmetry: float = setting(0.0, within="(-1, 1)")
    source: str = ""


class IRDropConfig(_Group):
    """Voltage drop on the wires; ``scale`` 0 disables it. ``g_ratio`` is the wire conductance
    per segment divided by G_max.

    ``analytic``: aihwkit's fast model (``rpu_forward_backward_pass.cpp`` ``applyIrDrop``);
    ``nodal``: the resistive network solved exactly (:mod:`neurodecorr.devices.ir_drop`).
    """

    table: ClassVar[str] = "ir_drop"
    model: str = setting("analytic", one_of=IR_DROP_MODELS)
    scale: float = setting(0.0, within="[0, inf)")
    g_ratio: float = setting(5.714e5, within="(0, inf)")
    source: str = ""


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
class _Tables:
    """A configuration file made of tables (a device preset, a circuit description): its
    ``name``, ``description`` and ``source`` strings, then one :class:`_Group` per table.

    A subclass names its tables in ``tables`` (table -> group class; those in ``optional`` may
    be ``None``). :meth:`check_tables` refuses, with one line naming the file, a string field
    that is not a string and a table that is not its group (a ``replace`` that puts a wrong
    object in it); each group has checked its own keys when it was made.
    """

    tables: ClassVar[dict[str, type[_Group]]] = {}
    optional: ClassVar[tuple[str, ...]] = ()
    name: str = ""
    description: str = ""
    source: str = ""

    def check_tables(self, where: str) -> None:
        for f in dataclasses.fields(self):
            if str(f.type) == "str" and not isinstance(getattr(self, f.name), str):
                raise NeurodecorrError(f"{where}: {f.name}: expected a string")
        for key, cls in self.tables.items():
            value = getattr(self, key)
            if not (isinstance(value, cls) or (value is None and key in self.optional)):
                raise NeurodecorrError(f"{where}: [{key}]: expected a {cls.__name__}, got "
                                       f"{type(value).__name__}")

    def to_dict(self) -> dict[str, Any]:
        """The configuration as nested plain data (JSON summaries, ``devices show``)."""
        out: dict[str, Any] = {"name": self.name, "description": self.description,
                               "source": self.source}
        for key in self.tables:
            group = getattr(self, key)
            if group is not None:
                out[key] = {k: list(v) if isinstance(v, tuple) else v
                            for k, v in group.to_table().items()}
        return out


@dataclass(frozen=True)
class DeviceConfig(_Tables):
    """One device model with its periphery. ``dac``/``adc`` None means an ideal converter.

    Checked on construction (:meth:`_Tables.check_tables`, and the unit cell against the
    mapping scheme).
    """

    tables: ClassVar[dict[str, type[_Group]]] = GROUPS
    optional: ClassVar[tuple[str, ...]] = ("dac", "adc")
    name: str = "custom"
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

    def __post_init__(self) -> None:
        where = self.origin or self.name
        self.check_tables(where)
        if self.pulsed.unit_cell == "one_sided" and self.mapping.scheme != "differential":
            raise NeurodecorrError(f"{where}: [pulsed] unit_cell: one_sided needs the "
                                   "differential scheme")
