"""Example 3: train a decorrelated network, export it to Lava and run it there.

A 64-16-10 network with decorrelation (rule ``ahmad``) is trained in software on the
scikit-learn digits. It is exported twice: in floating point and in fixed point (the integer
arithmetic of Loihi-style cores, scaled from the training inputs). Each export is written as
an HDF5 exchange file, read back, and run in Lava's CPU simulation on test samples; the outputs
are compared with the network's own forward pass and scored on the labels. Run it as
``python docs/examples/lava_export.py OUT_DIR`` (needs lava-nc).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from neurodecorr.data import load_dataset
from neurodecorr.io import write_outputs
from neurodecorr.lava import export_network
from neurodecorr.lava.exchange import export_bytes, load_export
from neurodecorr.lava.export import prediction_stages
from neurodecorr.lava.fixed import predict_error
from neurodecorr.lava.graph import run_export
from neurodecorr.learning import TrainConfig, Trainer


def main(out_dir: str | Path, samples: int = 60, seed: int = 0) -> dict:
    """Train, export, run; write the exchange files and return what Lava computed."""
    out_dir = Path(out_dir)
    data = load_dataset("digits")
    config = TrainConfig(dataset="digits", algorithm="bp", decorrelation="ahmad", hidden=(16,),
                         epochs=3, batch_size=32, lr=3e-3, decor_lr=1e-3, seed=seed)
    trainer = Trainer(config, data)
    trainer.fit()
    network = trainer.network
    network.metadata["dataset"] = "digits"
    network.save(out_dir / "network.npz")

    X, y = data.x_test[:samples], data.y_test[:samples]
    reference = network.forward(X)  # the network's own numpy forward pass
    results = {"reference_acc": float(np.mean(reference.argmax(1) == y))}
    for precision in ("float", "fixed"):
        calibration = data.x_train if precision == "fixed" else None
        export = export_network(network, precision, "layer", calibration)
        path = out_dir / f"network-{precision}.h5"
        write_outputs({path: export_bytes(export)})
        run = run_export(load_export(path), X)
        err = run.outputs - reference
        results[precision] = {
            "outputs": run.outputs, "steps": run.steps, "wall_s": run.wall_s,
            "rel_err": float(np.linalg.norm(err) / np.linalg.norm(reference)),
            "argmax_agreement": float(np.mean(run.outputs.argmax(1) == reference.argmax(1))),
            "accuracy": float(np.mean(run.outputs.argmax(1) == y)),
            "rms_err": float(np.sqrt(np.mean(err**2))),
            "frac_bits": export.frac_bits,
        }
        if precision == "fixed":
            # first-order prediction of the rounding error from the bit widths
            predicted = predict_error(prediction_stages(network, export), X)
            results[precision]["predicted_rms_err"] = float(np.sqrt(np.mean(predicted**2)))
    results["reference"] = reference
    results["labels"] = y
    return results


if __name__ == "__main__":
    r = main(sys.argv[1] if len(sys.argv) > 1 else ".")
    print(f"reference accuracy {100 * r['reference_acc']:.1f}%")
    for precision in ("float", "fixed"):
        p = r[precision]
        print(f"Lava {precision:5s}: accuracy {100 * p['accuracy']:.1f}%, relative error to the "
              f"reference {p['rel_err']:.2e}, argmax agreement {100 * p['argmax_agreement']:.0f}%"
              f", {p['steps']} Lava steps in {p['wall_s']:.1f} s")
