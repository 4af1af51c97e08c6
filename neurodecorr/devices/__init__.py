"""Analogue device models and the preset library.

:func:`load_device` reads a preset (``devices/<name>.toml`` at the repository top level) or a
user's TOML file into a validated :class:`DeviceConfig`; :class:`Crossbar` programs a weight
matrix onto those devices and reads and writes it at physical times.
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
from neurodecorr.devices.presets import PRESET_DIR, list_presets, load_device

__all__ = [
    "ADCConfig",
    "Crossbar",
    "DACConfig",
    "DeviceConfig",
    "DriftConfig",
    "FaultsConfig",
    "IRDropConfig",
    "MappingConfig",
    "OutputConfig",
    "PRESET_DIR",
    "ProgrammingConfig",
    "PulsedConfig",
    "ReadConfig",
    "list_presets",
    "load_device",
]
