"""Analogue device models and the preset library.

:func:`load_device` reads a preset (``neurodecorr/devices/presets_toml/<name>.toml``, package
data) or a user's TOML file into a :class:`DeviceConfig`, which validates itself on construction
wherever it comes from; :class:`Crossbar` programs a weight matrix onto those devices and reads
and writes it at physical times. One module per physics: :mod:`~neurodecorr.devices.drift`,
:mod:`~neurodecorr.devices.read_noise`, :mod:`~neurodecorr.devices.pulsed`,
:mod:`~neurodecorr.devices.periphery`, :mod:`~neurodecorr.devices.ir_drop`,
:mod:`~neurodecorr.devices.compensation`, :mod:`~neurodecorr.devices.programming`,
:mod:`~neurodecorr.devices.faults`, :mod:`~neurodecorr.devices.mapping`.
"""

from neurodecorr.devices.config import (
    ADCConfig,
    DACConfig,
    DeviceConfig,
    DriftConfig,
    FaultsConfig,
    IRDropConfig,
    MappingConfig,
    OutputConfig,
    ProgrammingConfig,
    PulsedConfig,
    ReadConfig,
)
from neurodecorr.devices.crossbar import Crossbar
from neurodecorr.devices.fits import LogOrPolynomial
from neurodecorr.devices.presets import PRESET_DIR, list_presets, load_device

__all__ = [
    "ADCConfig",
    "Crossbar",
    "DACConfig",
    "DeviceConfig",
    "DriftConfig",
    "FaultsConfig",
    "IRDropConfig",
    "LogOrPolynomial",
    "MappingConfig",
    "OutputConfig",
    "PRESET_DIR",
    "ProgrammingConfig",
    "PulsedConfig",
    "ReadConfig",
    "list_presets",
    "load_device",
]
