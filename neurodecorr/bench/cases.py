"""The kinds of benchmark case and how each one runs.

Every kind declares its parameters (name → default; the default's type is the required type) and
a ``run(params, context)`` returning one result row. Accuracy is always measured against the
torch reference (:mod:`neurodecorr.reference`); speed is reported as ratios measured inside the
same run, which survive a noisy machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurodecorr.errors import NeurodecorrError


@dataclass(frozen=True)
class CaseKind:
    """A kind of case: its parameters with defaults, and the function that runs it."""

    defaults: dict[str, Any]
    run: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]

    def validate(self, params: dict[str, Any], where: str) -> None:
        for key, value in params.items():
            if key not in self.defaults:
                raise NeurodecorrError(f"{where}: unknown key '{key}'")
            want = type(self.defaults[key])
            ok = isinstance(value, want) or (want is float and isinstance(value, int))
            if not ok or isinstance(value, bool) is not isinstance(self.defaults[key], bool):
                raise NeurodecorrError(f"{where}: '{key}' must be {want.__name__}, "
                                       f"got {type(value).__name__}")

    def with_defaults(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**self.defaults, **params}


def best_time(fn: Callable[[], object], repeats: int = 3) -> float:
    """Fastest of ``repeats`` wall-clock timings of ``fn()`` (seconds): least disturbed run."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def correlated_inputs(n: int, batch: int, seed: int) -> np.ndarray:
    """Inputs ``x = L z`` with a random mixing ``L``: correlated, unit power per component."""
    rng = np.random.default_rng(seed)
    L = rng.normal(size=(n, n)) / np.sqrt(n) + np.eye(n)
    X = rng.normal(size=(batch, n)) @ L.T
    return X / np.sqrt(np.mean(X**2))


def case_inputs(data: str, n: int, batch: int, seed: int) -> np.ndarray:
    """``mnist1d`` training inputs (first ``batch`` rows) or ``synthetic`` correlated inputs."""
    if data == "mnist1d":
        from neurodecorr.data import load_dataset

        return load_dataset("mnist1d").x_train[:batch]
    if data == "synthetic":
        return correlated_inputs(n, batch, seed)
    raise NeurodecorrError(f"data must be 'mnist1d' or 'synthetic', got '{data}'")


def _run_decorrelation(p: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
    """Learn a decorrelator with the numpy core (linear and recurrent forms) and the torch
    reference on the same minibatch stream; compare the matrices and the decorrelation."""
    import torch

    from neurodecorr import reference as ref
    from neurodecorr.core import DecorrelationConfig, InverseDecorrelator, LinearDecorrelator
    from neurodecorr.core.fit import minibatches
    from neurodecorr.core.metrics import offdiag_corr_rms

    X = case_inputs(p["data"], p["n"], p["samples"], p["seed"])
    cfg = DecorrelationConfig(rule=p["rule"], eta=p["eta"])
    batches = list(minibatches(X.shape[0], p["batch"], p["epochs"], p["seed"]))
    device = ctx["reference_device"]

    def core_linear():
        dec = LinearDecorrelator(X.shape[1], cfg)
        for idx in batches:
            dec.update(X[idx])
        return dec.M

    def core_recurrent():
        dec = InverseDecorrelator(X.shape[1], cfg)
        for idx in batches:
            dec.update(X[idx])
        return dec.A

    Xt = torch.as_tensor(X, dtype=torch.float64, device=device)

    def reference_linear():
        M = torch.eye(X.shape[1], dtype=torch.float64, device=device)
        for idx in batches:
            M, _ = ref.linear_update(M, Xt[idx], cfg)
        return M.cpu().numpy()

    M, A, M_ref = core_linear(), core_recurrent(), reference_linear()
    t_core = best_time(core_linear, ctx["repeats"])
    t_ref = best_time(reference_linear, ctx["repeats"])
    samples = sum(len(idx) for idx in batches)
    rel_error = float(np.linalg.norm(M - M_ref) / np.linalg.norm(M_ref))
    before = offdiag_corr_rms(X)
    return {
        "n": X.shape[1], "batch": p["batch"], "device": "software",
        "rel_error": rel_error,
        "offdiag_corr_rms_before": before,
        "offdiag_corr_rms_linear": offdiag_corr_rms(X @ M.T),
        "offdiag_corr_rms_recurrent": offdiag_corr_rms(np.linalg.solve(A, X.T).T),
        "inverse_defect": float(np.linalg.norm(A @ M - np.eye(len(M))) / np.sqrt(len(M))),
        "samples_per_s": samples / t_core,
        "reference_samples_per_s": samples / t_ref,
    }


CASE_KINDS: dict[str, CaseKind] = {
    "decorrelation": CaseKind(
        defaults={"data": "mnist1d", "n": 40, "samples": 4000, "batch": 64, "epochs": 10,
                  "rule": "ahmad", "eta": 5e-3, "seed": 0},
        run=_run_decorrelation,
    ),
}
