"""Compare a Lava run with the torch reference on the same network and samples."""

from __future__ import annotations

import numpy as np

from neurodecorr.core.network import Network
from neurodecorr.lava.export import LavaExport, prediction_stages
from neurodecorr.lava.fixed import predict_error
from neurodecorr.lava.graph import run_export


def reference_logits(network: Network, X: np.ndarray) -> np.ndarray:
    """Exact float64 logits from :func:`neurodecorr.reference.forward` (torch, CPU)."""
    from neurodecorr.reference import forward

    return np.asarray(forward(network, X, device="cpu"), dtype=np.float64)


def evaluate(network: Network, export: LavaExport, X: np.ndarray, progress=None) -> dict:
    """Run ``X`` in Lava and report its error to the reference.

    Returns
    -------
    dict
        ``max_abs_err``, ``rel_err`` (``‖y − y_ref‖_F / ‖y_ref‖_F``), ``argmax_agreement``,
        ``rms_err``, ``steps``, ``wall_s``, ``samples``, ``n_processes``, ``steps_per_s`` and,
        in fixed point, ``predicted_rms_err`` (from the bit widths, :func:`predict_error`).
    """
    ref = reference_logits(network, X)
    run = run_export(export, X, progress)
    err = run.outputs - ref
    result = {
        "precision": export.precision, "mapping": export.mapping, "samples": int(X.shape[0]),
        "max_abs_err": float(np.max(np.abs(err))),
        "rel_err": float(np.linalg.norm(err) / np.linalg.norm(ref)),
        "argmax_agreement": float(np.mean(run.outputs.argmax(1) == ref.argmax(1))),
        "rms_err": float(np.sqrt(np.mean(err**2))),
        "steps": run.steps, "steps_per_sample": export.steps_per_sample,
        "wall_s": run.wall_s, "steps_per_s": run.steps / run.wall_s if run.wall_s else None,
        "n_processes": run.n_processes,
    }
    if export.precision == "fixed":
        pred = predict_error(prediction_stages(network, export), X)
        result["frac_bits"] = [export.frac_bits] + [
            int(la["frac_bits"]) for la in export.layers if la["type"] == "lateral"]
        result["predicted_rms_err"] = float(np.sqrt(np.mean(pred**2)))
    return result
