"""Compare a Lava run with the torch reference and with the labels, on the same samples."""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

from neurodecorr.core.network import Network
from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava.export import LavaExport, prediction_stages
from neurodecorr.lava.fixed import predict_error
from neurodecorr.lava.graph import LavaRun, run_export
from neurodecorr.lava.supervisor import CHUNK_TIMEOUT_S, run_supervised


def reference_logits(network: Network, X: np.ndarray) -> np.ndarray:
    """Exact float64 logits from :func:`neurodecorr.reference.forward` (torch, CPU)."""
    from neurodecorr.reference import forward

    return np.asarray(forward(network, X, device="cpu"), dtype=np.float64)


def compare(network: Network, export: LavaExport, X: np.ndarray, run: LavaRun,
            labels: np.ndarray | None = None) -> dict:
    """Report a Lava run's error to the reference (and its accuracy, given ``labels``).

    Returns
    -------
    dict
        ``loihi_structure`` (False for the ``layer`` mapping, a CPU-only emulation),
        ``max_abs_err``, ``rel_err`` (``‖y − y_ref‖_F / ‖y_ref‖_F``), ``argmax_agreement``,
        ``rms_err``, ``steps``, ``wall_s``, ``samples``, ``n_processes``, ``steps_per_s``;
        with ``labels`` also ``accuracy`` and ``reference_accuracy`` (argmax equals the label);
        in fixed point also ``predicted_rms_err`` (from the bit widths, :func:`predict_error`).
    """
    ref = reference_logits(network, X)
    err = run.outputs - ref
    result = {
        "precision": export.precision, "mapping": export.mapping,
        "loihi_structure": export.mapping == "loihi", "samples": int(X.shape[0]),
        "max_abs_err": float(np.max(np.abs(err))),
        "rel_err": float(np.linalg.norm(err) / np.linalg.norm(ref)),
        "argmax_agreement": float(np.mean(run.outputs.argmax(1) == ref.argmax(1))),
        "rms_err": float(np.sqrt(np.mean(err**2))),
        "steps": run.steps, "steps_per_sample": export.steps_per_sample,
        "wall_s": run.wall_s, "steps_per_s": run.steps / run.wall_s if run.wall_s else None,
        "n_processes": run.n_processes,
    }
    if labels is not None:
        result["accuracy"] = float(np.mean(run.outputs.argmax(1) == labels))
        result["reference_accuracy"] = float(np.mean(ref.argmax(1) == labels))
    if export.precision == "fixed":
        pred = predict_error(prediction_stages(network, export), X)
        result["frac_bits"] = [export.frac_bits] + [
            int(la["frac_bits"]) for la in export.layers if la["type"] == "lateral"]
        result["predicted_rms_err"] = float(np.sqrt(np.mean(pred**2)))
    return result


def evaluate(network: Network, export: LavaExport, X: np.ndarray, progress=None) -> dict:
    """Run ``X`` in Lava in this process (:func:`run_export`) and :func:`compare` it."""
    return compare(network, export, X, run_export(export, X, progress))


def evaluate_bundle(folder: str | os.PathLike, dataset: str, samples: int = 200,
                    chunk_timeout_s: float = CHUNK_TIMEOUT_S,
                    progress: Callable[[int, int], None] | None = None) -> dict:
    """Check everything, then run a bundle's first ``samples`` test samples in a supervised
    Lava worker (:func:`neurodecorr.lava.supervisor.run_supervised`) and :func:`compare`.

    Every parameter, the bundle (:func:`neurodecorr.lava.bundle.read_bundle`) and the data set
    (the one in the bundle's manifest, when it records one) are checked before any process
    starts. ``progress(steps, total)`` is called after every
    chunk. The result adds ``dataset``, ``accuracy`` on the labels and the package ``versions``.
    """
    from neurodecorr.data import load_dataset
    from neurodecorr.lava.bundle import read_bundle
    from neurodecorr.lava.compat import INSTALL_HINT, lava_available
    from neurodecorr.provenance import package_versions

    if not lava_available():
        raise NeurodecorrError(INSTALL_HINT)
    if samples < 1:
        raise NeurodecorrError(f"--samples: must be at least 1, got {samples}")
    if not (math.isfinite(chunk_timeout_s) and chunk_timeout_s > 0):
        raise NeurodecorrError(f"--chunk-timeout: must be a positive number of seconds, got "
                               f"{chunk_timeout_s}")
    bundle = read_bundle(folder)
    recorded = bundle.manifest.get("dataset")
    if recorded is not None and recorded != dataset:  # the network and its ranges are for that one
        raise NeurodecorrError(f"--dataset: the bundle {folder} was exported for {recorded!r}, "
                               f"not {dataset!r}")
    data = load_dataset(dataset)
    if data.x_test.shape[1] != bundle.export.n_in:
        raise NeurodecorrError(f"--dataset: {dataset} has {data.x_test.shape[1]} features, the "
                               f"exported network takes {bundle.export.n_in}")
    if samples > data.x_test.shape[0]:
        raise NeurodecorrError(f"--samples: {dataset} has only {data.x_test.shape[0]} test "
                               "samples")
    X, y = data.x_test[:samples], data.y_test[:samples]
    total = samples * bundle.export.steps_per_sample + bundle.export.latency
    done = [0]

    def report(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], total)

    run = run_supervised("neurodecorr.lava.graph.run_export",
                         {"export": bundle.export, "X": X, "chunk_timeout_s": chunk_timeout_s},
                         chunk_timeout_s=chunk_timeout_s, progress=report)
    result = compare(bundle.network, bundle.export, X, run, labels=y)
    result.update(dataset=dataset, versions=package_versions())
    return result
