"""``neurodecorr spice-check``: the lateral layer in ngspice against the ODE simulator."""

from __future__ import annotations

from functools import partial

import click

from neurodecorr.io import check_outputs, json_bytes, write_outputs
from neurodecorr.spice.drawing import with_draw_options


@click.command(name="spice-check")
@partial(with_draw_options, option=click.option)
@click.option("--ngspice", "executable", default="ngspice", show_default=True,
              help="The ngspice executable (a name on PATH or a path).")
@click.option("--settle-tol", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=1e-3, show_default=True,
              help="Settling times: when max |xbar(t) - xbar(T)| falls below this fraction "
                   "of max |xbar(T)| for good.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Write the comparison as JSON.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Write both transients and their difference as a PNG.")
@click.option("--netlist", "netlist_path", type=click.Path(dir_okay=False),
              help="Also write the netlist that was simulated.")
def command(matrix_path, network_path, layer, circuit, input_path, sample, seed, t_stop_s,
            executable, settle_tol, json_path, plot_path, netlist_path) -> None:
    """Simulate the lateral circuit in ngspice (batch mode) and with the ODE simulator.

    Both run the same drawn circuit with noise off. Prints the maximum relative error of the
    transient and of the settled state (after the closed-form finite-gain correction, and
    without it) and both settling times.
    """
    from neurodecorr.spice import draw, plot_check, spice_check, write_netlist

    check_outputs({"--json": json_path, "--plot": plot_path, "--netlist": netlist_path},
                  inputs={"--matrix": matrix_path, "--network": network_path,
                          "--input": input_path})
    c = draw(circuit, matrix_path=matrix_path, network_path=network_path, layer=layer,
             input_path=input_path, sample=sample, seed=seed, t_stop_s=t_stop_s)
    check = spice_check(c, executable, settle_tol)
    files = {}
    if json_path:
        files[json_path] = json_bytes({"command": "spice-check", **check.summary()})
    if plot_path:
        files[plot_path] = plot_check(check)
    if netlist_path:
        files[netlist_path] = write_netlist(c).encode()
    write_outputs(files)
    click.echo(check.table())
