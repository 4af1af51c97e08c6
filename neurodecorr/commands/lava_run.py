"""``neurodecorr lava-run``: run a Lava bundle and compare it with the reference and labels."""

from __future__ import annotations

import click

from neurodecorr.data import LOADERS


@click.command(name="lava-run")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--dataset", required=True, type=click.Choice(sorted(LOADERS)),
              help="Data set whose test samples are run.")
@click.option("--samples", type=int, default=200, show_default=True,
              help="Number of test samples (the first N).")
@click.option("--chunk-timeout", type=float, default=120.0, show_default=True,
              help="Seconds a chunk of Lava steps may take before the run is killed.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Write the comparison as JSON.")
def command(folder, dataset, samples, chunk_timeout, json_path) -> None:
    """Run the bundle in FOLDER in Lava's CPU simulation; compare with the torch reference.

    Ctrl-C or SIGTERM stops Lava cleanly at the end of its chunk; a second one kills it.
    """
    from neurodecorr.io import check_outputs, write_json
    from neurodecorr.lava.evaluate import evaluate_bundle
    from neurodecorr.progress import progress_bar

    check_outputs({"--json": json_path}, inputs={"FOLDER": folder})
    with progress_bar(None, "Lava steps") as advance:
        seen = [0]

        def progress(done: int, total: int) -> None:
            advance(done - seen[0])
            seen[0] = done

        result = evaluate_bundle(folder, dataset, samples, chunk_timeout, progress)
    if json_path:
        write_json(json_path, result)
    line = (f"{result['samples']} samples, {result['steps']} Lava steps in "
            f"{result['wall_s']:.2f} s: max |err| {result['max_abs_err']:.3g}, "
            f"rel err {result['rel_err']:.3g}, argmax agreement "
            f"{100 * result['argmax_agreement']:.1f} %, accuracy "
            f"{100 * result['accuracy']:.1f} % (reference "
            f"{100 * result['reference_accuracy']:.1f} %)")
    if "predicted_rms_err" in result:
        line += (f"; rms err {result['rms_err']:.3g} (predicted from bit widths "
                 f"{result['predicted_rms_err']:.3g})")
    if not result["loihi_structure"]:
        line += " [layer mapping: a CPU-only emulation, not deployable on Loihi]"
    click.echo(line)
