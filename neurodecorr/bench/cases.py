"""The kinds of benchmark case and how each one runs.

Every kind declares its parameters (name → default; the default's type is the required type) and
a ``run(params, context)`` returning one result row. Accuracy is always measured against the
torch reference (:mod:`neurodecorr.reference`); speed is reported as ratios measured inside the
same run, which survive a noisy machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurodecorr.bench.measure import best_of
from neurodecorr.errors import NeurodecorrError


@dataclass(frozen=True)
class CaseKind:
    """A kind of case: its parameters with defaults, the function that runs it, and an optional
    check of the values (device names, ratio names) made when the scenario is loaded."""

    defaults: dict[str, Any]
    run: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
    check: Callable[[dict[str, Any], str], None] | None = None

    def validate(self, params: dict[str, Any], where: str) -> None:
        for key, value in params.items():
            if key not in self.defaults:
                raise NeurodecorrError(f"{where}: unknown key '{key}'")
            want = type(self.defaults[key])
            ok = isinstance(value, want) or (want is float and isinstance(value, int))
            if not ok or isinstance(value, bool) is not isinstance(self.defaults[key], bool):
                raise NeurodecorrError(f"{where}: '{key}' must be {want.__name__}, "
                                       f"got {type(value).__name__}")
        if self.check is not None:
            self.check(self.with_defaults(params), where)

    def with_defaults(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**self.defaults, **params}


def mixed_gaussian_inputs(n: int, batch: int, seed: int) -> np.ndarray:
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
        return mixed_gaussian_inputs(n, batch, seed)
    raise NeurodecorrError(f"data must be 'mnist1d' or 'synthetic', got '{data}'")


def _run_decorrelation(p: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
    """Learn a decorrelator with the numpy core (linear and recurrent forms) and the torch
    reference on the same minibatch stream; compare the matrices and the decorrelation."""
    import torch

    from neurodecorr import reference as ref
    from neurodecorr.core import DecorrelationConfig
    from neurodecorr.core.fit import fit_decorrelator, minibatches
    from neurodecorr.core.metrics import offdiag_corr_rms

    X = case_inputs(p["data"], p["n"], p["samples"], p["seed"])
    cfg = DecorrelationConfig(rule=p["rule"], eta=p["eta"])
    # the same stream fit_decorrelator draws from the same seed, replayed by the reference
    batches = list(minibatches(X.shape[0], p["batch"], p["epochs"], p["seed"]))
    device = ctx["reference_device"]

    def core(form: str) -> np.ndarray:
        return fit_decorrelator(X, cfg, form=form, epochs=p["epochs"], batch_size=p["batch"],
                                seed=p["seed"]).matrix

    Xt = torch.as_tensor(X, dtype=torch.float64, device=device)

    def reference_linear():
        M = torch.eye(X.shape[1], dtype=torch.float64, device=device)
        for idx in batches:
            M, _ = ref.linear_update(M, Xt[idx], cfg)
        return M.cpu().numpy()

    M, A, M_ref = core("linear"), core("recurrent"), reference_linear()
    t_core = best_of(lambda: core("linear"), ctx["repeats"])
    t_ref = best_of(reference_linear, ctx["repeats"])
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


RATIOS = ("gemm_fraction", "speedup_vs_solve_ivp", "device_overhead", "speedup_vs_lava")


def lateral_matrix(kind: str, X: np.ndarray, seed: int) -> np.ndarray:
    """``learned``: A = M⁻¹ fitted to ``X`` by the local rule (5 passes, η·⟨‖x‖²⟩ = 0.2);
    ``random``: a non-symmetric stable ``I + 0.3 G/√n``."""
    n = X.shape[1]
    if kind == "random":
        rng = np.random.default_rng(seed)
        return np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    from neurodecorr.core import DecorrelationConfig
    from neurodecorr.core.fit import fit_decorrelator

    eta = 0.2 / float(np.mean(np.sum(X**2, axis=1)))
    return fit_decorrelator(X, DecorrelationConfig(eta=eta), form="recurrent", epochs=5,
                            batch_size=64, seed=seed).matrix


def _require(ok: bool, where: str, key: str, problem: str) -> None:
    if not ok:
        raise NeurodecorrError(f"{where}: '{key}' {problem}")


# A case holds a few n × n matrices (the lateral matrix, its devices' conductance arrays, the
# reference's copy) and a few batch × n state arrays; beyond this bound it is refused when the
# scenario is read instead of failing in numpy's allocator after minutes of other cases.
CASE_MEMORY_LIMIT_BYTES = 4 * 2**30
_ARRAY_COPIES = 16


def _check_memory(n: int, batch: int, samples: int, where: str) -> None:
    need = 8.0 * _ARRAY_COPIES * (n * n + n * max(batch, samples))
    if need > CASE_MEMORY_LIMIT_BYTES:
        raise NeurodecorrError(
            f"{where}: n = {n} with batch = {batch} needs about {need / 2**30:.3g} GiB of arrays "
            f"(limit {CASE_MEMORY_LIMIT_BYTES / 2**30:.0f} GiB); choose a smaller n or batch")


def _check_common(p: dict[str, Any], where: str) -> None:
    """Ranges shared by the kinds: sizes, counts, data and dtype names, and the memory."""
    for key in ("n", "samples"):
        if key in p:
            _require(p[key] >= 2, where, key, f"must be at least 2, got {p[key]}")
    for key in ("batch", "epochs", "steps", "ivp_samples", "lava_n_sub"):
        if key in p:
            _require(p[key] >= 1, where, key, f"must be at least 1, got {p[key]}")
    for key in ("repeats", "seed"):
        if key in p:
            _require(p[key] >= 0, where, key, f"must be >= 0, got {p[key]}")
    if "data" in p:
        _require(p["data"] in ("mnist1d", "synthetic"), where, "data",
                 f"must be mnist1d or synthetic, got {p['data']!r}")
    if "dtype" in p:
        _require(p["dtype"] in ("float32", "float64"), where, "dtype",
                 f"must be float32 or float64, got {p['dtype']!r}")
    for n in [p["n"]] if "n" in p else [n for n in p.get("ns", []) if isinstance(n, int)]:
        _check_memory(n, p.get("batch", 1), p.get("samples", 0), where)


def _check_decorrelation(p: dict[str, Any], where: str) -> None:
    _check_common(p, where)
    from neurodecorr.core import RULES

    _require(p["rule"] in RULES, where, "rule", f"must be one of {', '.join(RULES)}")
    _require(p["eta"] > 0, where, "eta", f"must be positive, got {p['eta']}")


def _check_settle(p: dict[str, Any], where: str) -> None:
    from neurodecorr.circuits import METHODS

    _check_common(p, where)
    _require(p["matrix"] in ("learned", "random"), where, "matrix", "must be learned or random")
    _require(p["method"] in METHODS, where, "method", f"must be one of {', '.join(METHODS)}")
    _require(p["drift_compensation"] in ("none", "global", "column"), where,
             "drift_compensation", "must be none, global or column")
    for key in ("tol", "ivp_tol", "age_s"):
        _require(p[key] >= 0, where, key, f"must be >= 0, got {p[key]}")
    unknown = set(p["ratios"]) - set(RATIOS)
    if unknown:
        raise NeurodecorrError(f"{where}: unknown ratio '{sorted(unknown)[0]}'; choose from "
                               f"{', '.join(RATIOS)}")
    if p["device"] != "software":
        from neurodecorr.devices import load_device

        try:
            load_device(p["device"])
        except NeurodecorrError as exc:
            raise NeurodecorrError(f"{where}: {exc}") from None


def _run_settle(p: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
    """Settle a lateral layer on the simulator (ideal or through a device preset) and compare
    the settled states with the reference's exact fixed point; measure the requested ratios."""
    import torch

    from neurodecorr import reference as ref
    from neurodecorr.bench import measure
    from neurodecorr.circuits import LateralField, SettleCriterion, settle

    X = case_inputs(p["data"], p["n"], p["batch"], p["seed"])
    A = lateral_matrix(p["matrix"], X, p["seed"])
    n = A.shape[0]
    ideal = LateralField(A, dtype=p["dtype"])
    field = ideal
    if p["device"] != "software":
        from neurodecorr.circuits.device import DeviceReader
        from neurodecorr.devices import load_device

        reader = DeviceReader(load_device(p["device"]), A, np.random.default_rng([p["seed"], 1]),
                              t_age_s=p["age_s"], drift_compensation=p["drift_compensation"])
        field = LateralField(A, dtype=p["dtype"], reader=reader)
    criterion = SettleCriterion(tol=p["tol"])
    rng = np.random.default_rng(p["seed"])
    result = settle(field, X, p["method"], criterion=criterion, rng=rng)
    wall = measure.best_of(lambda: settle(field, X, p["method"], criterion=criterion,
                                          rng=np.random.default_rng(p["seed"])), ctx["repeats"])
    device = ctx["reference_device"]
    Y_ref = ref.fixed_point(torch.as_tensor(A, dtype=torch.float64, device=device),
                            torch.as_tensor(X, dtype=torch.float64, device=device)).cpu().numpy()
    t_settle = result.t_settle
    row: dict[str, Any] = {
        "n": n, "batch": X.shape[0], "device": p["device"], "method": result.method,
        "dtype": p["dtype"], "age_s": p["age_s"], "drift_compensation": p["drift_compensation"],
        "rel_error": float(np.linalg.norm(result.y - Y_ref) / np.linalg.norm(Y_ref)),
        "residual_max": result.max_residual, "converged": result.success,
        "steps": result.nsteps, "circuit_time_s": result.t,
        "settle_time_max_s": float(np.nanmax(t_settle)) if np.any(np.isfinite(t_settle))
        else None,
        "settle_time_mean_s": float(np.nanmean(t_settle)) if np.any(np.isfinite(t_settle))
        else None,
        "settling_times_s": [None if not np.isfinite(t) else float(t) for t in t_settle],
        "samples_per_s": X.shape[0] / wall,
    }
    r = p["repeats"] or ctx["repeats"]
    Xd = X.astype(p["dtype"])
    if "gemm_fraction" in p["ratios"]:
        row.update(measure.gemm_fraction(ideal, Xd, p["steps"], r))
    if "speedup_vs_solve_ivp" in p["ratios"]:
        row.update(measure.speedup_vs_solve_ivp(LateralField(A), X, p["ivp_tol"],
                                                p["ivp_samples"], r))
    if "device_overhead" in p["ratios"] and field is not ideal:
        row.update(measure.device_overhead(ideal, field, Xd, p["steps"], r))
    if "speedup_vs_lava" in p["ratios"]:
        row.update(measure.speedup_vs_lava(n, X.shape[0], p["lava_n_sub"], r, p["seed"],
                                           p["dtype"]))
    return row


def _run_scaling(p: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
    """Cost of settling against n: time per sample and the fitted power-law exponent."""
    from neurodecorr.bench import measure

    row = measure.scaling(p["ns"], p["batch"], p["steps"], p["dtype"],
                          p["repeats"] or ctx["repeats"], p["seed"])
    return {"n": max(p["ns"]), "batch": p["batch"], "device": "software", "dtype": p["dtype"],
            **row}


def _check_scaling(p: dict[str, Any], where: str) -> None:
    _check_common(p, where)
    if len(p["ns"]) < 2 or not all(isinstance(n, int) and n > 1 for n in p["ns"]):
        raise NeurodecorrError(f"{where}: 'ns' must list at least two sizes above 1")


def _check_network(p: dict[str, Any], where: str) -> None:
    """The checks every training case shares: common fields, the dataset, the hidden sizes."""
    from neurodecorr.data import LOADERS
    from neurodecorr.learning import parse_hidden

    _check_common(p, where)
    _require(p["dataset"] in LOADERS, where, "dataset", f"must be one of {', '.join(LOADERS)}")
    try:
        hidden = parse_hidden(p["hidden"])
    except NeurodecorrError as exc:
        raise NeurodecorrError(f"{where}: {exc}") from None
    _require(all(h <= 4096 for h in hidden), where, "hidden", "layers above 4096 units are "
             "beyond a benchmark case")


def _check_chip(p: dict[str, Any], where: str) -> None:
    from neurodecorr.bench.chip_overhead import CLOCKS
    from neurodecorr.circuits.updates import UPDATES
    from neurodecorr.learning import ALGORITHMS

    _check_network(p, where)
    _require(p["algorithm"] in ALGORITHMS, where, "algorithm",
             f"must be one of {', '.join(ALGORITHMS)}")
    _require(p["update"] in UPDATES, where, "update", f"must be one of {', '.join(UPDATES)}")
    _require(p["decorrelation"] in ("none", "ahmad"), where, "decorrelation",
             "must be none or ahmad (the rule the chip learns)")
    _require(p["clock"] in CLOCKS, where, "clock", f"must be one of {', '.join(CLOCKS)}")
    _require(p["lr"] > 0, where, "lr", f"must be positive, got {p['lr']}")
    _require(p["batches"] >= 1, where, "batches", f"must be at least 1, got {p['batches']}")
    from neurodecorr.devices import load_device

    try:
        load_device(p["device"])
    except NeurodecorrError as exc:
        raise NeurodecorrError(f"{where}: {exc}") from None


def _run_chip(p: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
    """Training on the chip against the software network: ``chip_overhead``
    (:mod:`neurodecorr.bench.chip_overhead`)."""
    from neurodecorr.bench.chip_overhead import chip_overhead
    from neurodecorr.learning import parse_hidden

    hidden = parse_hidden(p["hidden"])
    row = chip_overhead(p["device"], hidden, p["batch"], p["algorithm"], p["lr"], p["update"],
                        p["batches"], p["repeats"] or ctx["repeats"], p["seed"], p["dataset"],
                        p["clock"], p["decorrelation"])
    return {"n": max(hidden, default=0), **row}


def _check_torch_engine(p: dict[str, Any], where: str) -> None:
    _check_network(p, where)
    _require(p["device"] in ("auto", "cpu", "cuda"), where, "device",
             f"must be auto, cpu or cuda, got {p['device']!r}")
    _require(p["train_rows"] >= 0, where, "train_rows", f"must be >= 0, got {p['train_rows']}")


def _run_torch_engine(p: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
    """The torch engine's plain epoch and the reference's forward pass as fractions of bare
    ``torch.matmul`` on the same shapes (:mod:`neurodecorr.bench.torch_speed`)."""
    from neurodecorr.bench.torch_speed import torch_engine_fractions
    from neurodecorr.learning import parse_hidden

    hidden = parse_hidden(p["hidden"])
    row = torch_engine_fractions(p["dataset"], hidden, p["batch"], p["dtype"], p["device"],
                                 p["repeats"] or ctx["repeats"], p["seed"], p["train_rows"],
                                 ctx.get("blas_threads"))
    return {"n": max(hidden, default=0), "batch": p["batch"], "device": p["device"], **row}


CASE_KINDS: dict[str, CaseKind] = {
    "decorrelation": CaseKind(
        defaults={"data": "mnist1d", "n": 40, "samples": 4000, "batch": 64, "epochs": 10,
                  "rule": "ahmad", "eta": 5e-3, "seed": 0},
        run=_run_decorrelation,
        check=_check_decorrelation,
    ),
    "settle": CaseKind(
        defaults={"data": "synthetic", "n": 64, "batch": 256, "seed": 0, "matrix": "learned",
                  "device": "software", "age_s": 0.0, "drift_compensation": "none",
                  "method": "euler", "dtype": "float64", "tol": 1e-9, "ratios": [],
                  "steps": 100, "repeats": 0, "ivp_tol": 1e-6, "ivp_samples": 4,
                  "lava_n_sub": 20},
        run=_run_settle,
        check=_check_settle,
    ),
    "chip": CaseKind(
        defaults={"dataset": "mnist1d", "device": "reram", "hidden": "2x64", "batch": 64,
                  "algorithm": "bp", "lr": 0.1, "update": "sgd", "decorrelation": "none",
                  "batches": 10, "repeats": 5, "seed": 0, "clock": "cpu"},
        run=_run_chip,
        check=_check_chip,
    ),
    "torch_engine": CaseKind(
        defaults={"dataset": "mnist1d", "hidden": "4x1000", "batch": 64, "dtype": "float32",
                  "device": "auto", "train_rows": 0, "repeats": 0, "seed": 0},
        run=_run_torch_engine,
        check=_check_torch_engine,
    ),
    "scaling": CaseKind(
        defaults={"ns": [128, 256, 512, 1024], "batch": 256, "steps": 50, "dtype": "float32",
                  "repeats": 0, "seed": 0},
        run=_run_scaling,
        check=_check_scaling,
    ),
}
