"""``neurodecorr circuits list|show``: the shipped circuit descriptions and their sources."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from neurodecorr.circuits.description import list_circuits, load_circuit


@click.group(name="circuits")
def command() -> None:
    """List and show circuit descriptions (shipped TOML files, or your own by path)."""


@command.command(name="list")
def list_command() -> None:
    """One line per shipped circuit."""
    table = Table(title="circuits")
    for col in ("name", "tau", "mismatch", "rails", "noise RMS", "devices (lateral/forward)"):
        table.add_column(col)
    for name in list_circuits():
        c = load_circuit(name)
        lat = c.lateral
        table.add_row(name, f"{lat.tau_s:.3g} s", f"{lat.mismatch_sigma_rel:.3g}",
                      f"±{lat.rail_V:g} V" if lat.rail else "none", f"{lat.noise_std:.3g}",
                      f"{lat.device} / {c.forward.device}")
    Console().print(table)


@command.command(name="show")
@click.argument("name")
def show_command(name: str) -> None:
    """Every parameter of one circuit (name or path), with units and sources."""
    c = load_circuit(name)
    console = Console()
    console.print(f"[bold]{c.name}[/bold]: {c.description}\nfile: {c.path}\nsource: {c.source}")
    for table_name, values in c.to_dict().items():
        if not isinstance(values, dict):
            continue
        table = Table(title=f"[{table_name}]", show_header=False)
        table.add_column("key")
        table.add_column("value")
        for key, value in values.items():
            table.add_row(key, str(value))
        console.print(table)
    lat = c.lateral
    console.print(f"derived: tau = {lat.tau_s:.4g} s, leak = {lat.leak:.3g}/tau, "
                  f"noise density = {lat.noise_density_V_per_rtHz:.3g} V/rtHz, "
                  f"state noise RMS = {lat.noise_std:.3g}, rail = {lat.rail}")
