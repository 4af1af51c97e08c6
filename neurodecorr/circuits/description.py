"""Circuit descriptions: the analogue circuit a layer is built from, as validated TOML.

A circuit file (top-level ``circuits/*.toml``, loaded by name or by path) describes one layer
of a chip: the lateral decorrelation circuit, the forward crossbar and the activation circuit,
plus optional energies per event. Every physical quantity is SI with its unit in the key name.

The lateral circuit is one integrating node per input line (an op-amp integrator with resistor
``R`` and capacitor ``C``):

* time constant ``τ_i = R_i C_i``, where component mismatch draws each node's ``R_i`` and ``C_i``
  with relative spread ``mismatch_sigma_rel`` (fixed per chip, from the seed);
* finite op-amp gain ``A_ol`` leaks every node towards zero with ``λ = 1/A_ol`` (units of 1/τ);
  an optional single pole ``opamp_pole_Hz`` of the op-amp is not part of this first-order model
  (the SPICE export writes it; :mod:`neurodecorr.spice` gives its effect in closed form);
* op-amp output rails clip every node's voltage to ``±rail_V``; ``volts_per_unit`` converts
  the state x̄ (dimensionless) to volts;
* thermal noise of the resistor, one-sided density ``e_n² = 4 k_B T R`` (plus the op-amp's input
  noise ``e_op``), turns the ODE into an SDE. For a node with ``A = I`` the stationary RMS voltage
  is ``e_n / (2 sqrt(τ))``, which for the resistor alone is ``sqrt(k_B T / C)`` — the kT/C noise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from neurodecorr.circuits.updates import UpdateConfig
from neurodecorr.core.checked import setting
from neurodecorr.devices.config import _check, _Group, _Tables
from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import load_toml
from neurodecorr.resources import package_dir

CIRCUIT_DIR = package_dir("neurodecorr.circuits", "presets_toml")
BOLTZMANN_J_PER_K = 1.380649e-23
ACTIVATION_KINDS = ("relu", "leaky_relu", "identity")
#: what the chip does when a learned lateral matrix loses stability (:mod:`~.lateral`)
ON_UNSTABLE = ("stop", "reprogram", "clamp")
#: the diagonal reference of a lateral array (:mod:`~.lateral`)
REFERENCES = ("none", "fixed", "node")


class _ArrayKeys(UpdateConfig, _Group):
    """What the lateral and the forward array share: the device preset of their crossbar, its
    tile size, the weight headroom, and how it takes updates: ``update`` (an algorithm of
    :mod:`neurodecorr.circuits.updates`) and that algorithm's parameters, the fields of
    :class:`~neurodecorr.circuits.updates.UpdateConfig` under the same names. Checked by
    :class:`CircuitConfig` (which names the file and table)."""

    device: str = "ideal"
    tile_size: int = setting(0, within="[0, inf)")
    weight_headroom: float = setting(2.0, within="(0, inf)")

    #: the table checks itself (not as a bare UpdateConfig: its errors name the table)
    __post_init__ = _Group.__post_init__

    def validate(self, where: str, given: set[str]) -> None:
        _check(self.granularity == 0 or self.granularity_steps == 0, where,
               "granularity_steps", "give either granularity (weight units) or "
               "granularity_steps (device steps), not both")

    def update_config(self, algorithm: str | None = None) -> UpdateConfig:
        """The array's :class:`UpdateConfig`; ``algorithm`` overrides ``update``."""
        keys = {f.name: getattr(self, f.name) for f in dataclasses.fields(UpdateConfig)}
        if algorithm is not None:
            keys["update"] = algorithm
        return UpdateConfig(**keys)



class LateralCircuit(_ArrayKeys):
    """The lateral integrator array (see the module docstring for the equations)."""

    table: ClassVar[str] = "lateral"
    R_ohm: float = setting(1.0e6, within="(0, inf)")
    C_F: float = setting(1.0e-12, within="(0, inf)")
    mismatch_sigma_rel: float = setting(0.0, within="[0, 0.3)")
    opamp_gain: float = setting(0.0, within="[0, inf)")
    opamp_pole_Hz: float = setting(0.0, within="[0, inf)")
    rail_V: float = setting(0.0, within="[0, inf)")
    volts_per_unit: float = setting(1.0, within="(0, inf)")
    temperature_K: float = setting(0.0, within="[0, inf)")
    opamp_noise_V_per_rtHz: float = setting(0.0, within="[0, inf)")
    settle_tol: float = setting(1e-6, within="[0, 1)")
    settle_window_s: float = setting(0.0, within="[0, inf)")
    dt_s: float = setting(0.0, within="[0, inf)")
    on_unstable: str = setting("stop", one_of=ON_UNSTABLE)
    #: the diagonal reference in the nodes' own feedback (see :mod:`neurodecorr.circuits.lateral`):
    #: ``none`` (the array holds all of ``Ã``), ``fixed`` (``c·G·I``, ``c = reference_level``)
    #: or ``node`` (one digital coefficient per node holding ``Ã``'s diagonal)
    reference: str = setting("none", one_of=REFERENCES)
    reference_level: float = setting(1.0, within="(0, inf)")
    #: with a reference: the least weight mapped to the deviation array's full range
    reference_range: float = setting(1.0, within="(0, inf)")
    #: fold the gain register back into the conductances when ``G`` leaves
    #: ``(1/gain_fold, gain_fold)``: the array is re-programmed to ``Ã/G`` and ``G ← 1``
    #: (``0``: never; see :meth:`~neurodecorr.circuits.lateral.LateralArray.fold_gain`)
    gain_fold: float = setting(0.0, within="[0, inf)")
    source: str = ""

    def validate(self, where: str, given: set[str]) -> None:
        super().validate(where, given)
        for key in ("reference_level", "reference_range"):
            _check(self.reference != "none" or key not in given, where, key,
                   "needs a reference (fixed or node)")
        _check(self.reference == "fixed" or "reference_level" not in given, where,
               "reference_level", "applies to reference = \"fixed\" only")
        _check(self.opamp_pole_Hz == 0 or self.opamp_gain > 0, where, "opamp_pole_Hz",
               "a pole needs a finite opamp_gain")
        _check(self.settle_tol > 0 or self.settle_window_s > 0, where, "settle_tol",
               "0 needs a settle_window_s")
        _check(self.gain_fold == 0 or self.gain_fold > 1, where, "gain_fold",
               "must be 0 (never) or above 1")

    @property
    def tau_s(self) -> float:
        """Nominal ``τ = R C`` in seconds."""
        return self.R_ohm * self.C_F

    @property
    def leak(self) -> float:
        """``λ = 1/A_ol`` in units of 1/τ (0 for an ideal op-amp, ``opamp_gain = 0``)."""
        return 1.0 / self.opamp_gain if self.opamp_gain > 0 else 0.0

    @property
    def noise_density_V_per_rtHz(self) -> float:
        """``sqrt(4 k_B T R + e_op²)``: one-sided input noise density of a node."""
        return float(np.sqrt(4 * BOLTZMANN_J_PER_K * self.temperature_K * self.R_ohm
                             + self.opamp_noise_V_per_rtHz**2))

    @property
    def noise_std(self) -> float:
        """Stationary RMS state noise of a node with ``A = I`` (state units): e_n/(2√τ)/V_unit."""
        return self.noise_density_V_per_rtHz / (2 * np.sqrt(self.tau_s)) / self.volts_per_unit

    @property
    def rail(self) -> float | None:
        """Rail in state units (``None``: no rails)."""
        return self.rail_V / self.volts_per_unit if self.rail_V > 0 else None

    def node_components(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Per-node ``(R_i, C_i)`` in ohm and farad, with independent Gaussian mismatch."""
        if self.mismatch_sigma_rel == 0:
            return np.full(n, self.R_ohm), np.full(n, self.C_F)
        r = 1 + self.mismatch_sigma_rel * rng.standard_normal(n)
        c = 1 + self.mismatch_sigma_rel * rng.standard_normal(n)
        return self.R_ohm * r, self.C_F * c

    def node_tau_s(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Per-node ``τ_i = R_i C_i`` (see :meth:`node_components`)."""
        R, C = self.node_components(n, rng)
        return R * C


class ForwardCircuit(_ArrayKeys):
    """The forward crossbar: its device preset (with periphery), tile size and updates."""

    table: ClassVar[str] = "forward"
    source: str = ""


class ActivationCircuit(_Group):
    """The activation circuit: ``relu``, ``leaky_relu`` (slope below zero) or ``identity``,
    clipped to ``±rail_V`` (0: no rail) at the same ``volts_per_unit`` as the lateral array."""

    table: ClassVar[str] = "activation"
    kind: str = setting("leaky_relu", one_of=ACTIVATION_KINDS)
    negative_slope: float = setting(0.01, within="[0, inf)")
    rail_V: float = setting(0.0, within="[0, inf)")
    source: str = ""


class EnergyModel(_Group):
    """Energy per event in joules (all 0: no energy estimate)."""

    table: ClassVar[str] = "energy"
    crossbar_read_J: float = setting(0.0, within="[0, inf)")
    integration_step_J: float = setting(0.0, within="[0, inf)")
    adc_conversion_J: float = setting(0.0, within="[0, inf)")
    dac_conversion_J: float = setting(0.0, within="[0, inf)")
    pulse_J: float = setting(0.0, within="[0, inf)")
    buffer_access_J: float = setting(0.0, within="[0, inf)")
    digital_mac_J: float = setting(0.0, within="[0, inf)")
    source: str = ""

    @property
    def enabled(self) -> bool:
        return any(getattr(self, f.name) > 0 for f in dataclasses.fields(self)
                   if f.name.endswith("_J"))


GROUPS = (LateralCircuit, ForwardCircuit, ActivationCircuit, EnergyModel)
_TOP_KEYS = {"name", "description", "source"}


@dataclass(frozen=True)
class CircuitConfig(_Tables):
    """A whole layer's circuit: lateral array, forward crossbar, activation, energies."""

    tables: ClassVar[dict[str, type[_Group]]] = {group.table: group for group in GROUPS}
    lateral: LateralCircuit = field(default_factory=LateralCircuit)
    forward: ForwardCircuit = field(default_factory=ForwardCircuit)
    activation: ActivationCircuit = field(default_factory=ActivationCircuit)
    energy: EnergyModel = field(default_factory=EnergyModel)
    path: str = ""

    def __post_init__(self) -> None:
        """Validate on construction, wherever the config comes from (a file, ``replace``, code):
        the strings and every table's type (:meth:`_Tables.check_tables`; each table checked its
        keys when it was made), and a name."""
        where = self.path or self.name or "circuit"
        self.check_tables(where)
        if not self.name:
            raise NeurodecorrError(f"{where}: name: must not be empty")



def list_circuits() -> list[str]:
    """Names of the circuit files shipped in ``circuits/``."""
    return sorted(p.stem for p in CIRCUIT_DIR.glob("*.toml"))


def load_circuit(name_or_path: str) -> CircuitConfig:
    """Load a shipped circuit by name or a user's file by path; validate every key."""
    path = Path(name_or_path)
    if not (path.suffix == ".toml" or "/" in name_or_path or path.is_file()):
        path = CIRCUIT_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            raise NeurodecorrError(f"unknown circuit '{name_or_path}'; shipped circuits: "
                                   f"{', '.join(list_circuits())}")
    elif not path.is_file():
        raise NeurodecorrError(f"circuit file not found: {name_or_path}")
    raw = load_toml(path, "circuit")
    origin = str(path)
    tables = {g.table: g for g in GROUPS}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in tables:
            values[key] = tables[key].from_table(value, origin)
        elif key in _TOP_KEYS:
            if not isinstance(value, str):
                raise NeurodecorrError(f"{origin}: {key}: expected a string")
            values[key] = value
        else:
            raise NeurodecorrError(f"{origin}: unknown key '{key}' (allowed: "
                                   f"{', '.join(sorted(_TOP_KEYS | set(tables)))})")
    values.setdefault("name", path.stem)
    config = CircuitConfig(path=origin, **values)
    _check_devices(config, path.parent)
    return config


def _check_devices(config: CircuitConfig, folder: Path) -> None:
    """Every device a circuit names must load (a preset name, or a path relative to the file)."""
    from neurodecorr.devices import load_device

    for group in (config.lateral, config.forward):
        name = group.device
        candidate = folder / name
        if not Path(name).is_absolute() and name.endswith(".toml") and candidate.is_file():
            name = str(candidate)
            object.__setattr__(config, group.table, dataclasses.replace(group, device=name))
        try:
            load_device(name)
        except NeurodecorrError as exc:
            raise NeurodecorrError(f"{config.path}: [{group.table}] device: {exc}") from None
