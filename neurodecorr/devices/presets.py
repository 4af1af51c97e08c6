"""Device presets: TOML files shipped inside the package (``neurodecorr/devices/presets_toml/``).

A device file holds top-level ``name``, ``description``, ``source``, an optional
``periphery = "<preset or path>"`` and the tables of :data:`~neurodecorr.devices.config.GROUPS`.
A periphery file (``kind = "periphery"``) holds only the ``dac``, ``adc``, ``output`` and
``ir_drop`` tables. Tables given in the device file replace those of its periphery. A name of
the form ``"DEVICE+PERIPHERY"`` (``"pcm+periphery-10bit"``) swaps the periphery on the command
line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurodecorr.devices.config import GROUPS, PERIPHERY_GROUPS, DeviceConfig
from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import load_toml
from neurodecorr.resources import package_dir

# Package data, so that a wheel carries the presets (importlib.resources, not __file__ walks).
PRESET_DIR = package_dir("neurodecorr.devices", "presets_toml")
_TOP_KEYS = {"name", "description", "source", "kind", "periphery"}
_KINDS = ("device", "periphery")


def list_presets(kind: str | None = None) -> list[str]:
    """Names of the shipped preset files (optionally only ``device`` or ``periphery``)."""
    if not PRESET_DIR.is_dir():
        return []
    names = sorted(p.stem for p in PRESET_DIR.glob("*.toml"))
    if kind is None:
        return names
    return [n for n in names if _kind_of(load_toml(PRESET_DIR / f"{n}.toml", n)) == kind]


def _kind_of(raw: dict[str, Any]) -> str:
    kind = raw.get("kind", "device")
    return kind if isinstance(kind, str) else "device"


def resolve(name_or_path: str, relative_to: Path | None = None) -> Path:
    """A preset name or a path to a TOML file -> the file, or a one-line error."""
    candidate = Path(name_or_path)
    if relative_to is not None and not candidate.is_absolute():
        near = relative_to / candidate
        if near.is_file():
            return near
    if candidate.suffix == ".toml" or "/" in name_or_path or candidate.is_file():
        if not candidate.is_file():
            raise NeurodecorrError(f"device file not found: {name_or_path}")
        return candidate
    preset = PRESET_DIR / f"{name_or_path}.toml"
    if not preset.is_file():
        known = ", ".join(list_presets()) or "none"
        raise NeurodecorrError(f"unknown device preset {name_or_path!r} (known: {known})")
    return preset


def load_device(name_or_path: str, periphery: str | None = None) -> DeviceConfig:
    """Load and validate a device preset by name, or a user's TOML file by path.

    Parameters
    ----------
    name_or_path : str
        A preset name (``"pcm"``), a path to a TOML file, or ``"DEVICE+PERIPHERY"``.
    periphery : str, optional
        A periphery preset name or path that replaces the file's own periphery.

    Raises
    ------
    NeurodecorrError
        One line naming the file and the key: unknown key, wrong type, value out of range,
        malformed TOML, unknown preset.
    """
    if not isinstance(name_or_path, str) or not name_or_path:
        raise NeurodecorrError("device: expected a preset name or a path to a TOML file")
    if "+" in name_or_path and not Path(name_or_path).is_file():
        base, _, extra = name_or_path.partition("+")
        if periphery is not None:
            raise NeurodecorrError(f"device {name_or_path!r}: periphery given twice")
        return load_device(base, periphery=extra)
    raw, origin = _read_checked(name_or_path, None, "device")
    path = Path(origin)
    if _kind_of(raw) != "device":
        raise NeurodecorrError(f"{origin}: kind: a periphery file, not a device; "
                               "use it as DEVICE+PERIPHERY or as the periphery key of a device")
    tables: dict[str, Any] = {}
    periph_ref = periphery if periphery is not None else raw.get("periphery")
    if periph_ref is not None:
        tables.update(_load_periphery(periph_ref, path.parent if periphery is None else None,
                                      origin))
    for key in GROUPS:
        if key in raw and not (periphery is not None and key in PERIPHERY_GROUPS):
            tables[key] = (raw[key], origin)
    groups = {key: GROUPS[key].from_table(table, where) for key, (table, where) in tables.items()}
    return DeviceConfig(
        name=str(raw.get("name", path.stem)),
        description=str(raw.get("description", "")),
        source=str(raw.get("source", "")),
        origin=origin,
        **groups,
    )


def _check_top(raw: dict[str, Any], origin: str) -> None:
    for key, value in raw.items():
        if key in GROUPS:
            continue
        if key not in _TOP_KEYS:
            allowed = ", ".join(sorted(_TOP_KEYS | set(GROUPS)))
            raise NeurodecorrError(f"{origin}: {key}: unknown key (allowed: {allowed})")
        if not isinstance(value, str):
            raise NeurodecorrError(f"{origin}: {key}: expected a string, "
                                   f"got {type(value).__name__}")
    kind = raw.get("kind", "device")
    if kind not in _KINDS:
        raise NeurodecorrError(f"{origin}: kind: must be one of {', '.join(_KINDS)}; got {kind!r}")


def _read_checked(ref: str, relative_to: Path | None, what: str) -> tuple[dict[str, Any], str]:
    """A preset or user file, read and its top-level keys checked; with the origin for errors."""
    path = resolve(ref, relative_to)
    raw = load_toml(path, what)
    _check_top(raw, str(path))
    return raw, str(path)


def _load_periphery(ref: str, relative_to: Path | None, referrer: str) -> dict[str, Any]:
    raw, origin = _read_checked(ref, relative_to, "periphery")
    if _kind_of(raw) != "periphery":
        raise NeurodecorrError(f"{referrer}: periphery: {origin} is not a periphery file "
                               "(it needs kind = \"periphery\")")
    if "periphery" in raw:
        raise NeurodecorrError(f"{origin}: periphery: a periphery file cannot name another")
    for key in raw:
        if key in GROUPS and key not in PERIPHERY_GROUPS:
            raise NeurodecorrError(f"{origin}: [{key}]: not allowed in a periphery file "
                                   f"(only {', '.join(PERIPHERY_GROUPS)})")
    return {key: (raw[key], origin) for key in PERIPHERY_GROUPS if key in raw}


def load_raw(name_or_path: str) -> tuple[Path, dict[str, Any]]:
    """The file behind a preset name or path, and its parsed TOML with its top-level keys
    checked (for ``devices show``)."""
    path = resolve(name_or_path)
    raw = load_toml(path, "device")
    _check_top(raw, str(path))
    return path, raw


@dataclass(frozen=True)
class PresetDescription:
    """One preset (or TOML file) as ``neurodecorr devices show`` reports it.

    Attributes
    ----------
    name, file, kind, description, source : str
        From the file's top keys (``name`` defaults to the file's stem).
    is_device : bool
        A device (its tables complete, defaults filled in) rather than a periphery file (only
        the tables it sets, each checked).
    declared_periphery : str or None
        The file's own ``periphery`` key.
    periphery : str or None
        The periphery in force: ``NAME+PERIPHERY`` replaces the declared one.
    replaced : bool
        Whether ``+PERIPHERY`` replaced it.
    tables : dict
        Group -> parameter table (a device: every group it models).
    given : dict
        Group -> the parameters the file (or its periphery) sets; the others are defaults.
    """

    name: str
    file: str
    kind: str
    description: str
    source: str
    is_device: bool
    declared_periphery: str | None
    periphery: str | None
    replaced: bool
    tables: dict[str, dict[str, Any]]
    given: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` report: the top keys and every group (``null``: not modelled)."""
        return {"name": self.name, "file": self.file, "kind": self.kind,
                "description": self.description, "source": self.source,
                "periphery": self.periphery,
                "tables": {k: self.tables.get(k) for k in GROUPS
                           if self.is_device or k in self.tables}}


def describe_preset(name: str) -> PresetDescription:
    """Every parameter of a preset (``NAME`` or ``NAME+PERIPHERY``) or TOML file, with what the
    file itself sets, for showing it; a periphery file's tables are checked, not completed."""
    is_device = load_raw(name.partition("+")[0])[1].get("kind", "device") == "device"
    path, raw = load_raw(name.partition("+")[0] if is_device else name)
    if is_device:
        config = load_device(name)
        periphery = name.partition("+")[2] or raw.get("periphery")
        periph_raw = load_raw(periphery)[1] if periphery else {}
        tables = config.to_dict()
        given = {key: {**periph_raw.get(key, {}), **raw.get(key, {})} for key in GROUPS}
    else:
        periphery = None
        tables = {}
        for key in GROUPS:
            if key in raw:
                GROUPS[key].from_table(raw[key], str(path))
                tables[key] = raw[key]
        given = tables
    return PresetDescription(
        name=raw.get("name", path.stem), file=str(path), kind=raw.get("kind", "device"),
        description=raw.get("description", ""), source=raw.get("source", ""),
        is_device=is_device, declared_periphery=raw.get("periphery"), periphery=periphery,
        replaced=bool(name.partition("+")[2]), tables=tables, given=given)
