"""``neurodecorr evaluate``: a saved network deployed on a chip, accuracy against time."""

from __future__ import annotations

import click

from neurodecorr.data import LOADERS


@click.command(name="evaluate")
@click.argument("network_path", type=click.Path(dir_okay=False))
@click.option("--dataset", type=click.Choice(sorted(LOADERS)), default=None,
              help="Test set to score (default: the data set the network was trained on).")
@click.option("--device", default=None,
              help="Device preset of every array (name or path; default: the devices the "
                   "network records, those it was trained on).")
@click.option("--circuit", default=None,
              help="Circuit description (name or path, comma-separated per layer; default: "
                   "the circuits the network records, `ideal` for a software-trained one). "
                   "The recorded devices stay unless --device replaces them.")
@click.option("--times", default="1,3600,86400,3.15e7", show_default=True,
              help="Seconds after programming, comma-separated.")
@click.option("--drift-compensation", type=click.Choice(["none", "global", "column"]),
              default="none", show_default=True)
@click.option("--headroom", type=float, default=None,
              help="Weight mapped to G_max = headroom · max|W| (default: the circuit's).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False))
def command(network_path, dataset, device, circuit, times, drift_compensation, headroom, seed,
            json_path) -> None:
    """Program a network saved by `train --save-network` into a chip and score its test set
    at each time after programming (drift, 1/f and read noise, drift compensation)."""
    from neurodecorr.io import check_outputs, json_bytes, write_outputs
    from neurodecorr.learning.inference import evaluate_file, parse_times

    check_outputs({"--json": json_path}, inputs={"NETWORK": network_path})
    dataset, hardware, rows = evaluate_file(
        network_path, dataset, parse_times(times), device=device, circuit=circuit,
        drift_compensation=drift_compensation, headroom=headroom, seed=seed)
    for r in rows:
        click.echo(f"t = {r['t_s']:>10.4g} s   accuracy {100 * r['accuracy']:.1f}%")
    if json_path:
        write_outputs({json_path: json_bytes({
            "command": "evaluate", "network": str(network_path), "dataset": dataset,
            "device": device, "circuit": circuit, "hardware": hardware.to_dict(),
            "drift_compensation": drift_compensation,
            "headroom": headroom, "seed": seed, "results": rows})})
