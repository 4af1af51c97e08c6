"""``neurodecorr export-spice``: one lateral layer as an ngspice netlist."""

from __future__ import annotations

import sys
from functools import partial

import click

from neurodecorr.io import check_outputs, write_outputs
from neurodecorr.spice.drawing import with_draw_options


@click.command(name="export-spice")
@partial(with_draw_options, option=click.option)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write the netlist (.cir).")
def command(matrix_path, network_path, layer, circuit, input_path, sample, seed, t_stop_s,
            out_path) -> None:
    """Write the lateral circuit of --matrix (or of --network --layer) as an ngspice netlist.

    One op-amp integrator per node (the circuit description's gain and pole), R and C with the
    mismatch drawn from --seed, the lateral matrix as conductance pairs programmed on the
    description's device, the input sample as sources, the rails as clamps, and a transient
    over the settle horizon. Run it with: ngspice -b OUT -r OUT.raw
    """
    from neurodecorr.spice import draw, write_netlist

    check_outputs({"--out": out_path}, inputs={"--matrix": matrix_path,
                                               "--network": network_path, "--input": input_path})
    c = draw(circuit, matrix_path=matrix_path, network_path=network_path, layer=layer,
             input_path=input_path, sample=sample, seed=seed, t_stop_s=t_stop_s)
    write_outputs({out_path: write_netlist(c).encode()})
    pairs = int((c.G_pos_S != 0).sum() + (c.G_neg_S != 0).sum())
    print(f"export-spice: {c.n} nodes, {pairs} lateral conductances, transient to "
          f"{c.t_stop_s * 1e6:.4g} us -> {out_path}", file=sys.stderr)
