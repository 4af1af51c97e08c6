"""``neurodecorr circuits list|show``: the shipped circuit descriptions and their sources."""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from neurodecorr.circuits.description import list_circuits, load_circuit
from neurodecorr.terminal import echo_json, terminal_width

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def _console() -> Console:
    # the same width as the other listings, also when stdout is a file or a pipe
    return Console(width=terminal_width())


@click.group(name="circuits")
def command() -> None:
    """List and show circuit descriptions (shipped TOML files, or your own by path)."""


@command.command(name="list")
@_JSON
def list_command(as_json: bool) -> None:
    """One line per shipped circuit."""
    circuits = [load_circuit(name) for name in list_circuits()]
    if as_json:
        echo_json([{"name": c.name, "description": c.description, "source": c.source,
                    "tau_s": c.lateral.tau_s, "mismatch_sigma_rel": c.lateral.mismatch_sigma_rel,
                    "rail_V": c.lateral.rail_V if c.lateral.rail else None,
                    "noise_std": c.lateral.noise_std, "lateral_device": c.lateral.device,
                    "forward_device": c.forward.device} for c in circuits])
        return
    table = Table(title="circuits")
    for col in ("name", "tau", "mismatch", "rails", "noise RMS", "devices (lateral/forward)"):
        table.add_column(col)
    for c in circuits:
        lat = c.lateral
        table.add_row(c.name, f"{lat.tau_s:.3g} s", f"{lat.mismatch_sigma_rel:.3g}",
                      f"±{lat.rail_V:g} V" if lat.rail else "none", f"{lat.noise_std:.3g}",
                      f"{lat.device} / {c.forward.device}")
    _console().print(table)


@command.command(name="show")
@click.argument("name")
@_JSON
def show_command(name: str, as_json: bool) -> None:
    """Every parameter of one circuit (name or path), with units and sources."""
    c = load_circuit(name)
    if as_json:
        echo_json({**c.to_dict(), "file": str(c.path)})
        return
    console = _console()
    # text from a file is escaped: rich would read "[lateral]" as a markup tag and drop it
    console.print(f"[bold]{escape(c.name)}[/bold]: {escape(c.description)}\n"
                  f"file: {escape(str(c.path))}\nsource: {escape(c.source)}")
    for table_name, values in c.to_dict().items():
        if not isinstance(values, dict):
            continue
        table = Table(title=escape(f"[{table_name}]"), show_header=False)
        table.add_column("key")
        table.add_column("value")
        for key, value in values.items():
            table.add_row(escape(key), escape(str(value)))
        console.print(table)
    lat = c.lateral
    console.print(f"derived: tau = {lat.tau_s:.4g} s, leak = {lat.leak:.3g}/tau, "
                  f"noise density = {lat.noise_density_V_per_rtHz:.3g} V/rtHz, "
                  f"state noise RMS = {lat.noise_std:.3g}, rail = {lat.rail}")
