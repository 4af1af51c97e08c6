"""``neurodecorr devices list|show``: the device and periphery presets, with their sources."""

from __future__ import annotations

import click

from neurodecorr.devices.config import GROUPS
from neurodecorr.devices.presets import PRESET_DIR, describe_preset, list_presets, load_raw
from neurodecorr.errors import NeurodecorrError
from neurodecorr.terminal import echo_json, fold, terminal_width

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group(name="devices")
def command() -> None:
    """List and show analogue device presets (shipped TOML files, or your own by path)."""


@command.command(name="list")
@_JSON
def list_cmd(as_json: bool) -> None:
    """List the presets with their kind, description and source."""
    names = list_presets()
    if not names:
        raise NeurodecorrError(f"no presets found in {PRESET_DIR}")
    rows = []
    for name in names:
        _, raw = load_raw(name)
        rows.append({"name": name, "kind": raw.get("kind", "device"),
                     "description": raw.get("description", ""), "source": raw.get("source", "")})
    if as_json:
        echo_json(rows)
        return
    width = terminal_width()
    name_w = max(len(r["name"]) for r in rows) + 2
    indent = name_w + 12
    for r in rows:
        first = f"{r['name']:{name_w}s}{r['kind']:12s}"
        click.echo("\n".join(fold(r["description"], width, indent, first)))
        click.echo("\n".join(fold(r["source"], width, indent, " " * indent + "source: ")))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


@command.command(name="show")
@click.argument("name")
@_JSON
def show_cmd(name: str, as_json: bool) -> None:
    """Show one preset (or a TOML file by path): every parameter with its value and source.

    Parameters the file does not set are shown with their defaults, marked "(default)".
    """
    preset = describe_preset(name)
    if as_json:
        echo_json(preset.to_json())
        return
    width = terminal_width()
    click.echo(f"{preset.name}  ({preset.file})")
    click.echo("\n".join(fold(preset.description, width, 2, "  ")))
    click.echo("\n".join(fold(preset.source, width, 10, "  source: ")))
    if preset.declared_periphery:
        click.echo(f"  periphery: {preset.declared_periphery}")
    if preset.replaced:
        click.echo(f"  periphery replaced by: {preset.periphery}")
    for key in GROUPS:
        if key in preset.tables:
            _show_table(key, preset.tables[key], preset.given[key], width)
        elif preset.is_device:
            click.echo(f"[{key}]  ideal (not modelled)")


def _show_table(key: str, values: dict, given: dict, width: int) -> None:
    click.echo(f"[{key}]")
    key_w = max([len(k) for k in values] + [len("source")]) + 1
    indent = key_w + 5
    for k, v in values.items():
        if k == "source":
            continue
        mark = "" if k in given else "  (default)"
        click.echo("\n".join(fold(f"{_fmt(v)}{mark}", width, indent, f"  {k:{key_w}s} = ")))
    click.echo("\n".join(fold(values.get("source") or "-", width, indent,
                               f"  {'source':{key_w}s} : ")))

