"""Reproduce Ahmad 2024's Figure 4 experiment: BP, FA, NP and ANP with and without decorrelation.

Protocol (fixed before any run is seen):

1. Hyper-parameters are chosen per rule on a separate selection seed (default 99), never on the
   reported seeds: the Adam learning rate from ``--lr-grid`` for the plain rule, then, with that
   learning rate, the decorrelation η from ``--decor-lr-grid`` for the decorrelated rule. The
   score is the mean train accuracy over all epochs (the area under the learning curve), which
   rewards fast learning — what the paper claims decorrelation brings.
2. Every variant then runs on the reported seeds (default 0, 1, 2) with those settings.
3. The table reports epochs to 90 % train accuracy and best test accuracy (mean and min–max over
   seeds); the targets of the issue are checked on those numbers and printed as met or missed.
   Beside them: epochs and seconds of training (evaluation excluded; wall seconds and the
   CPU seconds of the one-thread run, which load from other processes inflates much less)
   until each run reaches 50, 90 and 99 % of its own peak train accuracy
   (:mod:`neurodecorr.learning.progress`).

``--engine torch`` trains on the torch engine (``--dtype``, float32 by default) and writes
``reproduction_<dataset>_torch.*``.

Writes ``<out>/reproduction_<dataset>.json`` (settings, selection scores, every history),
``.png`` (mean with min–max envelope per rule) and ``.md`` (the table and the target checks).

Examples
--------
    .venv/bin/python benchmarks/reproduce_mnist1d.py                   # MNIST-1D, ~15-25 min
    .venv/bin/python benchmarks/reproduce_mnist1d.py --engine torch --rules bp,fa,np \
        --epochs-bp 30 --epochs-np 60                                  # the torch figures
    .venv/bin/python benchmarks/reproduce_mnist1d.py --dataset cifar10 --data-dir DIR \\
        --hidden 4x1000 --epochs-fa 50 --epochs-np 100 --out results/  # the paper's network
"""

from __future__ import annotations

import os

# One BLAS thread per run: runs go in parallel processes, and single-threaded BLAS keeps every
# run bit-for-bit reproducible.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from rich.progress import (  # noqa: E402
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,  # noqa: E402
)

from neurodecorr.data import load_dataset  # noqa: E402
from neurodecorr.io import json_bytes, write_outputs  # noqa: E402
from neurodecorr.learning import TrainConfig, Trainer, parse_hidden  # noqa: E402
from neurodecorr.learning.plot import envelope_figure_png  # noqa: E402
from neurodecorr.learning.progress import (  # noqa: E402
    LEVELS,
    add_cumulative_seconds,
    time_to_fraction_of_peak,
)

RULE_LABELS = {"bp": "BP", "fa": "FA", "np": "NP", "anp": "ANP"}
TARGET_ACC = 0.90


def _run(args: tuple[dict, str | None, str, str]) -> dict:
    config_dict, data_dir, engine, dtype = args
    config = TrainConfig.from_dict(config_dict)
    data = (load_dataset(config.dataset, data_dir=data_dir) if data_dir
            else load_dataset(config.dataset))
    if engine == "torch":
        import torch

        from neurodecorr.torch.engine import TorchOptions, TorchTrainer

        torch.set_num_threads(1)
        trainer = TorchTrainer(config, data, TorchOptions(device="cpu", dtype=dtype))
    else:
        trainer = Trainer(config, data)
    start = time.perf_counter()
    try:
        trainer.fit()
        error = None
    except ValueError as exc:  # a diverging setting is a result of the selection, not a crash
        error = str(exc)
    history = trainer.history
    # training seconds (evaluation excluded) up to each epoch, wall and CPU of this process;
    # a diverged epoch has no row. Runs share the machine (and --workers run in parallel):
    # the wall seconds grow with the load, the CPU seconds of a one-thread run much less
    add_cumulative_seconds(history, trainer.epoch_wall_s[:len(history)])
    add_cumulative_seconds(history, trainer.epoch_cpu_s[:len(history)], key="train_cpu_s")
    return {"config": config.to_dict(), "history": history, "error": error,
            "wall_s": time.perf_counter() - start}


def _score(result: dict, epochs: int) -> float:
    """Mean train accuracy over all epochs; a diverged run scores its epochs and zeros after."""
    acc = [row["train_acc"] for row in result["history"]]
    return float(np.sum(acc) / epochs)


def _run_all(jobs: list[dict], data_dir: str | None, workers: int, label: str,
             engine: str = "numpy", dtype: str = "float32") -> list[dict]:
    results: list[dict | None] = [None] * len(jobs)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn()) as progress, ProcessPoolExecutor(workers) as pool:
        task = progress.add_task(label, total=len(jobs))
        futures = {pool.submit(_run, (job, data_dir, engine, dtype)): i
                   for i, job in enumerate(jobs)}
        for fut in as_completed(futures):
            i = futures[fut]
            results[i] = fut.result()
            c = results[i]["config"]
            last = results[i]["history"][-1] if results[i]["history"] else {}
            progress.console.print(
                f"  {c['algorithm']:>3} {c['decorrelation']:>5} seed {c['seed']} lr {c['lr']:g}"
                f" decor_lr {c['decor_lr']:g}: final train {100 * last.get('train_acc', 0):.1f}%"
                f" test {100 * last.get('test_acc', 0):.1f}% ({results[i]['wall_s']:.0f} s)"
                + (f" [{results[i]['error']}]" if results[i]["error"] else ""))
            progress.advance(task)
    return results  # type: ignore[return-value]


def epochs_to(history: list[dict], level: float) -> int | None:
    """First epoch whose train accuracy is at least ``level`` (None if never)."""
    for row in history:
        if row["train_acc"] >= level:
            return int(row["epoch"])
    return None


def _fmt_epochs(values: list[int | None], budget: int) -> str:
    if all(v is None for v in values):
        return f"> {budget} (never)"
    shown = [str(v) if v is not None else f">{budget}" for v in values]
    if any(v is None for v in values):
        return f"{', '.join(shown)} (not all seeds)"
    return f"{np.mean(values):.1f} [{min(values)}–{max(values)}]"


def _fmt_mean(values: list[float], digits: int) -> str:
    """Mean [min–max] of a per-seed figure."""
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.{digits}f} [{v.min():.{digits}f}–{v.max():.{digits}f}]"


def _fmt_acc(values: list[float]) -> str:
    v = 100 * np.asarray(values)
    return f"{v.mean():.1f} [{v.min():.1f}–{v.max():.1f}]"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="mnist1d")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--hidden", default="2x256")
    p.add_argument("--rules", default="bp,fa,np,anp")
    p.add_argument("--decorrelation", default="ahmad")
    p.add_argument("--epochs-bp", type=int, default=50, help="epochs for bp and fa")
    p.add_argument("--epochs-np", type=int, default=100, help="epochs for np and anp")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--sigma", type=float, default=1e-3)
    p.add_argument("--lr-grid", default="3e-4,1e-3,3e-3")
    p.add_argument("--decor-lr-grid", default="1e-4,1e-3")
    p.add_argument("--selection-seed", type=int, default=99)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default="docs/assets", help="output folder (created if missing)")
    p.add_argument("--engine", choices=("numpy", "torch"), default="numpy")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="torch engine only")
    p.add_argument("--stem", default=None,
                   help="file name of the outputs (default reproduction_<dataset>[_torch])")
    a = p.parse_args(argv)
    try:  # before the long runs, not after them
        Path(a.out).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        p.error(f"--out: cannot create the folder {a.out}: {exc.strerror}")
    run_kw = {"engine": a.engine, "dtype": a.dtype}

    rules = a.rules.split(",")
    seeds = [int(s) for s in a.seeds.split(",")]
    lr_grid = [float(v) for v in a.lr_grid.split(",")]
    decor_grid = [float(v) for v in a.decor_lr_grid.split(",")]
    hidden = parse_hidden(a.hidden)
    epochs = {r: a.epochs_np if r in ("np", "anp") else a.epochs_bp for r in rules}
    base = {"dataset": a.dataset, "hidden": list(hidden), "batch_size": a.batch_size,
            "sigma": a.sigma}

    def cfg(rule: str, decor: str, lr: float, decor_lr: float, seed: int) -> dict:
        return TrainConfig.from_dict({**base, "algorithm": rule, "decorrelation": decor,
                                      "epochs": epochs[rule], "lr": lr, "decor_lr": decor_lr,
                                      "seed": seed}).to_dict()

    t0 = time.perf_counter()
    default_decor_lr = decor_grid[0]
    jobs = [cfg(r, "none", lr, default_decor_lr, a.selection_seed) for r in rules
            for lr in lr_grid]
    sel_lr = _run_all(jobs, a.data_dir, a.workers, "selection: lr (plain rules)", **run_kw)
    best_lr = {}
    selection: dict[str, dict] = {r: {"lr_scores": {}, "decor_lr_scores": {}} for r in rules}
    for res in sel_lr:
        c = res["config"]
        selection[c["algorithm"]]["lr_scores"][str(c["lr"])] = _score(res, epochs[c["algorithm"]])
    for r in rules:
        scores = selection[r]["lr_scores"]
        best_lr[r] = float(max(scores, key=scores.get))
    jobs = [cfg(r, a.decorrelation, best_lr[r], dl, a.selection_seed) for r in rules
            for dl in decor_grid]
    sel_dl = _run_all(jobs, a.data_dir, a.workers, "selection: decor η (decorrelated rules)",
                      **run_kw)
    best_dl = {}
    for res in sel_dl:
        c = res["config"]
        selection[c["algorithm"]]["decor_lr_scores"][str(c["decor_lr"])] = _score(
            res, epochs[c["algorithm"]])
    for r in rules:
        scores = selection[r]["decor_lr_scores"]
        best_dl[r] = float(max(scores, key=scores.get))
        selection[r].update(lr=best_lr[r], decor_lr=best_dl[r])

    variants = ("none", a.decorrelation)
    jobs = [cfg(r, v, best_lr[r], best_dl[r], s) for r in rules for v in variants for s in seeds]
    runs = _run_all(jobs, a.data_dir, a.workers, "reported seeds", **run_kw)
    by_key: dict[tuple[str, str], list[dict]] = {}
    for res in runs:
        c = res["config"]
        by_key.setdefault((c["algorithm"], c["decorrelation"]), []).append(res)

    lines = [f"| rule | decorrelation | lr | decor η | epochs to {TARGET_ACC:.0%} train "
             f"(mean [min–max]) | best test acc % | final train acc % |",
             "|---|---|---|---|---|---|---|"]
    speed = ["| rule | decorrelation | peak train acc % | epochs to 50 / 90 / 99 % of peak | "
             "training s to 50 / 90 / 99 % of peak (wall) | training CPU s to 50 / 90 / 99 % "
             "of peak |", "|---|---|---|---|---|---|"]
    summary: dict[str, dict] = {}
    for r in rules:
        for v in variants:
            res = sorted(by_key[(r, v)], key=lambda x: x["config"]["seed"])
            hist = [x["history"] for x in res]
            e90 = [epochs_to(h, TARGET_ACC) for h in hist]
            best_test = [max(row["test_acc"] for row in h) for h in hist]
            final_train = [h[-1]["train_acc"] for h in hist]
            max_train = [max(row["train_acc"] for row in h) for h in hist]
            summary[f"{r}/{v}"] = {"epochs_to_90": e90, "best_test_acc": best_test,
                                   "final_train_acc": final_train, "max_train_acc": max_train,
                                   "errors": [x["error"] for x in res]}
            for level in LEVELS:
                reached = [time_to_fraction_of_peak(h, level) for h in hist]
                summary[f"{r}/{v}"][f"epochs_to_{round(100 * level)}pct_of_peak"] = [
                    e for e, _ in reached]
                summary[f"{r}/{v}"][f"train_s_to_{round(100 * level)}pct_of_peak"] = [
                    t for _, t in reached]
                summary[f"{r}/{v}"][f"train_cpu_s_to_{round(100 * level)}pct_of_peak"] = [
                    time_to_fraction_of_peak(h, level, "train_cpu_s")[1] for h in hist]
            epochs_txt = " / ".join(_fmt_mean(summary[f"{r}/{v}"][
                f"epochs_to_{round(100 * level)}pct_of_peak"], 1) for level in LEVELS)
            seconds_txt = " / ".join(_fmt_mean(summary[f"{r}/{v}"][
                f"train_s_to_{round(100 * level)}pct_of_peak"], 1) for level in LEVELS)
            cpu_txt = " / ".join(_fmt_mean(summary[f"{r}/{v}"][
                f"train_cpu_s_to_{round(100 * level)}pct_of_peak"], 1) for level in LEVELS)
            speed.append(f"| {RULE_LABELS.get(r, r)} | {v} | {_fmt_acc(max_train)} | "
                         f"{epochs_txt} | {seconds_txt} | {cpu_txt} |")
            decor_eta = "—" if v == "none" else f"{best_dl[r]:g}"
            lines.append(f"| {RULE_LABELS.get(r, r)} | {v} | {best_lr[r]:g} | "
                         f"{decor_eta} | {_fmt_epochs(e90, epochs[r])} | "
                         f"{_fmt_acc(best_test)} | {_fmt_acc(final_train)} |")

    def speedup(r: str) -> tuple[float | None, str]:
        plain = summary[f"{r}/none"]["epochs_to_90"]
        dec = summary[f"{r}/{a.decorrelation}"]["epochs_to_90"]
        if any(v is None for v in dec):
            return None, "decorrelated run did not reach 90 % on every seed"
        if any(v is None for v in plain):
            return None, (f"plain run did not reach 90 % on every seed within {epochs[r]} "
                          f"epochs; speed-up at least {epochs[r] / np.mean(dec):.1f}x")
        return float(np.mean(plain) / np.mean(dec)), ""

    checks = []
    for r, need in (("bp", 2.5), ("fa", 3.0)):
        if r not in rules:
            continue
        s, why = speedup(r)
        if s is None:
            met = "plain run did not reach" in why and epochs[r] / np.mean(
                summary[f"{r}/{a.decorrelation}"]["epochs_to_90"]) >= need
            checks.append(f"- {RULE_LABELS[r]} + decorrelation reaches 90 % train in ≤ 1/{need:g} "
                          f"of {RULE_LABELS[r]}'s epochs: **{'met' if met else 'not shown'}** "
                          f"({why})")
        else:
            checks.append(f"- {RULE_LABELS[r]} + decorrelation reaches 90 % train in ≤ 1/{need:g} "
                          f"of {RULE_LABELS[r]}'s epochs: **{'met' if s >= need else 'missed'}** "
                          f"(measured speed-up {s:.2f}x, mean epochs over seeds)")
    if "np" in rules:
        plain_best = max(summary["np/none"]["max_train_acc"])
        for r in ("np", "anp"):
            if r not in rules:
                continue
            worst = min(summary[f"{r}/{a.decorrelation}"]["final_train_acc"])
            checks.append(
                f"- decorrelated {RULE_LABELS[r]} reaches a train accuracy plain NP never reaches "
                f"in {epochs['np']} epochs: **{'met' if worst > plain_best else 'missed'}** "
                f"(worst seed final {100 * worst:.1f} % vs plain NP's best "
                f"{100 * plain_best:.1f} % over all seeds and epochs)")
    if "bp" in rules:
        bt = float(np.mean(summary["bp/none"]["best_test_acc"]))
        checks.append(f"- plain BP's best test accuracy in the published MLP range (≥ 60 %): "
                      f"**{'met' if bt >= 0.60 else 'missed'}** (mean {100 * bt:.1f} %)")

    wall = time.perf_counter() - t0
    engine = ("numpy engine (float64)" if a.engine == "numpy"
              else f"torch engine ({a.dtype}, CPU, one thread per run)")
    header = (f"{a.dataset}, {engine}, network {load_dataset_features(a)}, batch "
              f"{a.batch_size}, Adam, leaky ReLU 0.01, decorrelation `{a.decorrelation}` on every "
              f"layer's input, seeds {a.seeds}, selection seed {a.selection_seed}, σ (NP/ANP) "
              f"{a.sigma:g}; epochs {a.epochs_bp} (BP, FA), {a.epochs_np} (NP, ANP); "
              f"{a.workers} runs in parallel; total wall time {wall / 60:.1f} min.")
    md = "\n".join([header, "", *lines, "", "How fast (training seconds exclude the per-epoch "
                    "evaluation; wall seconds grow with the load of the other runs and "
                    "processes, the CPU seconds of each one-thread run much less):", "", *speed,
                     "", "Targets:", "", *checks, ""])
    out = Path(a.out)
    stem = a.stem or f"reproduction_{a.dataset}" + ("_torch" if a.engine == "torch" else "")
    panels = {RULE_LABELS.get(r, r): {("plain" if v == "none" else f"+ {v}"):
                                      [x["history"] for x in by_key[(r, v)]] for v in variants}
              for r in rules}
    write_outputs({
        out / f"{stem}.json": json_bytes({"args": vars(a), "selection": selection,
                                          "summary": summary, "runs": runs,
                                          "selection_runs": sel_lr + sel_dl, "wall_s": wall}),
        out / f"{stem}.png": envelope_figure_png(panels, rows=(
            ("train_acc", "train accuracy (%)"), ("test_acc", "test accuracy (%)"),
            ("train_acc", "train accuracy (%)", "train_s", "training seconds"))),
        out / f"{stem}.md": md.encode(),
    })
    print(md)


def load_dataset_features(a: argparse.Namespace) -> str:
    data = load_dataset(a.dataset, data_dir=a.data_dir) if a.data_dir else load_dataset(a.dataset)
    return f"{data.n_features}-{a.hidden}-{data.n_classes}"


if __name__ == "__main__":
    main()
