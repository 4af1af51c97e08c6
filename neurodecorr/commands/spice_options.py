"""The options ``export-spice`` and ``spice-check`` share: which circuit, which input sample.

Not a command: a decorator both command modules apply, so that the two read the same circuit
from the same options.
"""

from __future__ import annotations

import click


def circuit_options(command):
    """Add --matrix/--network/--layer, --circuit, --input/--sample, --seed and --t-stop."""
    options = [
        click.option("--matrix", "matrix_path", type=click.Path(dir_okay=False),
                     help="Lateral matrix A (n, n) as .npy."),
        click.option("--network", "network_path", type=click.Path(dir_okay=False),
                     help="A network .npz; with --layer, that layer's lateral circuit."),
        click.option("--layer", type=int, default=None,
                     help="With --network: the layer (0-based)."),
        click.option("--circuit", default=None,
                     help="Circuit description, name or TOML path (default: the network's "
                          "own, else rc-opamp)."),
        click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
                     help="Input x as .npy: one sample (n,) or a batch (batch, n)."),
        click.option("--sample", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Which row of a batch --input to hold on the nodes."),
        click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Seed of the mismatch and the device programming."),
        click.option("--t-stop", "t_stop_s", type=click.FloatRange(min=0, min_open=True),
                     default=None,
                     help="End of the transient in seconds (default: the settle horizon)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command
