"""``neurodecorr devices list|show``: the device and periphery presets, with their sources."""

from __future__ import annotations

import click

from neurodecorr.devices.config import GROUPS
from neurodecorr.devices.presets import PRESET_DIR, list_presets, load_device, load_raw
from neurodecorr.errors import NeurodecorrError


@click.group(name="devices")
def command() -> None:
    """List and show analogue device presets (shipped TOML files, or your own by path)."""


@command.command(name="list")
def list_cmd() -> None:
    """List the presets with their kind, description and source."""
    names = list_presets()
    if not names:
        raise NeurodecorrError(f"no presets found in {PRESET_DIR}")
    for name in names:
        path, raw = load_raw(name)
        kind = raw.get("kind", "device")
        click.echo(f"{name:20s} {kind:10s} {raw.get('description', '')}")
        click.echo(f"{'':31s} source: {raw.get('source', '')}")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


@command.command(name="show")
@click.argument("name")
def show_cmd(name: str) -> None:
    """Show one preset (or a TOML file by path): every parameter with its value and source.

    Parameters the file does not set are shown with their defaults, marked "(default)".
    """
    config = load_device(name) if _is_device(name) else None
    path, raw = load_raw(name.partition("+")[0] if config is not None else name)
    click.echo(f"{raw.get('name', path.stem)}  ({path})")
    click.echo(f"  {raw.get('description', '')}")
    click.echo(f"  source: {raw.get('source', '')}")
    if raw.get("periphery"):
        click.echo(f"  periphery: {raw['periphery']}")
    if config is None:
        for key in GROUPS:
            if key in raw:
                GROUPS[key].from_table(raw[key], str(path))
                _show_table(key, raw[key], raw[key])
        return
    periphery = name.partition("+")[2] or raw.get("periphery")
    if name.partition("+")[2]:
        click.echo(f"  periphery replaced by: {periphery}")
    periph_raw = load_raw(periphery)[1] if periphery else {}
    tables = config.to_dict()
    for key in GROUPS:
        if key not in tables:
            click.echo(f"[{key}]  ideal (not modelled)")
            continue
        given = {**periph_raw.get(key, {}), **raw.get(key, {})}
        _show_table(key, tables[key], given)


def _show_table(key: str, values: dict, given: dict) -> None:
    click.echo(f"[{key}]")
    for k, v in values.items():
        if k == "source":
            continue
        mark = "" if k in given else "  (default)"
        click.echo(f"  {k:28s} = {_fmt(v)}{mark}")
    click.echo(f"  {'source':28s} : {values.get('source') or '-'}")


def _is_device(name: str) -> bool:
    path, raw = load_raw(name.partition("+")[0])
    return raw.get("kind", "device") == "device"
