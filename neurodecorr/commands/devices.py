"""``neurodecorr devices list|show``: the device and periphery presets, with their sources."""

from __future__ import annotations

import click

from neurodecorr.devices.config import GROUPS
from neurodecorr.devices.presets import PRESET_DIR, list_presets, load_device, load_raw
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
    config = load_device(name) if _is_device(name) else None
    path, raw = load_raw(name.partition("+")[0] if config is not None else name)
    periphery = (name.partition("+")[2] or raw.get("periphery")) if config is not None else None
    if config is None:
        tables = {}
        for key in GROUPS:
            if key in raw:
                GROUPS[key].from_table(raw[key], str(path))
                tables[key] = raw[key]
        given_by_table = tables
    else:
        periph_raw = load_raw(periphery)[1] if periphery else {}
        tables = config.to_dict()
        given_by_table = {key: {**periph_raw.get(key, {}), **raw.get(key, {})} for key in GROUPS}
    if as_json:
        echo_json({"name": raw.get("name", path.stem), "file": str(path),
                   "kind": raw.get("kind", "device"), "description": raw.get("description", ""),
                   "source": raw.get("source", ""), "periphery": periphery,
                   "tables": {k: tables.get(k) for k in GROUPS
                              if config is not None or k in tables}})
        return
    width = terminal_width()
    click.echo(f"{raw.get('name', path.stem)}  ({path})")
    click.echo("\n".join(fold(raw.get("description", ""), width, 2, "  ")))
    click.echo("\n".join(fold(raw.get("source", ""), width, 10, "  source: ")))
    if raw.get("periphery"):
        click.echo(f"  periphery: {raw['periphery']}")
    if name.partition("+")[2]:
        click.echo(f"  periphery replaced by: {periphery}")
    for key in GROUPS:
        if key in tables:
            _show_table(key, tables[key], given_by_table[key], width)
        elif config is not None:
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


def _is_device(name: str) -> bool:
    path, raw = load_raw(name.partition("+")[0])
    return raw.get("kind", "device") == "device"
