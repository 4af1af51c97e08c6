"""Reproduce the paper's CIFAR experiment on the torch engine: BP, FA and NP with and without
decorrelation, dense (4 × 1000) and convolutional networks, CIFAR-10 and CIFAR-100.

Protocol (fixed before any run is seen):

1. The last ``--val-fraction`` of the training set is a validation split; the test set is never
   used for any choice.
2. Every variant (rule × with/without decorrelation × network) is tuned on its own on the
   selection seed: Adam learning rate from ``--lr-grid`` and, when decorrelated, η from
   ``--decor-lr-grid`` (the full grid); the score is the best validation accuracy over epochs.
3. Each variant then runs on the reported seeds with its settings. Reported per variant (mean
   and min–max over seeds): test accuracy at the epoch of best validation accuracy; epochs and
   wall seconds to 50 / 90 / 99 % of the run's peak train accuracy; the peak itself.

CIFAR is read only from folders the user names (the python or the binary version of the
batches, see ``neurodecorr.data.cifar``); nothing is downloaded. The torch engine runs on
CUDA when present.
Writes ``<out>/reproduction_cifar.json`` (settings, selection scores, every history), ``.md``
(the table) and one ``.png`` per data set and network (mean with min–max envelope).

Example (the paper's scale; days on a CPU, hours on one GPU)::

    PYTHONPATH=. .venv/bin/python benchmarks/reproduce_cifar.py \\
        --cifar10 ~/data/cifar-10-batches-py --cifar100 ~/data/cifar-100-python --out results/
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from neurodecorr.data import load_dataset
from neurodecorr.data.base import Dataset
from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import json_bytes, write_outputs
from neurodecorr.learning import TrainConfig, parse_hidden
from neurodecorr.learning.plot import envelope_figure_png
from neurodecorr.learning.progress import LEVELS, time_to_fraction_of_peak
from neurodecorr.torch.engine import TorchOptions, TorchTrainer

RULE_LABELS = {"bp": "BP", "fa": "FA", "np": "NP", "anp": "ANP", "dfa": "DFA",
               "signfa": "sign-FA"}


def split_validation(data: Dataset, fraction: float) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """``(train part with the validation rows as its 'test' split, x_test, y_test)``."""
    n_val = max(1, int(round(fraction * len(data.x_train))))
    cut = len(data.x_train) - n_val
    if cut < 1:
        raise NeurodecorrError(f"--val-fraction: {fraction} leaves no training rows")
    tv = Dataset(data.name, data.x_train[:cut], data.y_train[:cut], data.x_train[cut:],
                 data.y_train[cut:], data.n_classes)
    return tv, data.x_test, data.y_test


def run(config: TrainConfig, options: TorchOptions, data: Dataset,
        test: tuple[np.ndarray, np.ndarray] | None) -> dict:
    """Train one run; every history row gets ``val_acc``, ``wall_total_s`` and (if ``test``)
    the test accuracy of that epoch. A diverging run is a result, not a crash."""
    trainer = TorchTrainer(config, data, options)
    wall = 0.0

    def after_epoch(t: TorchTrainer) -> None:
        nonlocal wall
        row = t.history[-1]
        row["val_acc"] = row.pop("test_acc")
        wall += t.epoch_wall_s[-1]
        row["wall_total_s"] = wall
        if test is not None:
            row["test_acc"] = t.evaluate(*test)[0]

    try:
        trainer.fit(after_epoch=after_epoch)
        error = None
    except NeurodecorrError as exc:
        error = str(exc)
    return {"config": config.to_dict(), "history": trainer.history, "error": error,
            "device": trainer.describe_device()}


def time_to(history: list[dict], level: float) -> tuple[int | None, float | None]:
    """Epoch and cumulative wall seconds at which train accuracy first reaches ``level`` of
    the run's peak."""
    return time_to_fraction_of_peak(history, level, seconds_key="wall_total_s")


def summarise(runs: list[dict]) -> dict:
    """Per-seed figures of one variant."""
    out: dict[str, list] = {"test_at_best_val": [], "best_val": [], "chosen_epoch": [],
                            "peak_train": [], "errors": []}
    for level in LEVELS:
        out[f"epochs_to_{round(100 * level)}"] = []
        out[f"wall_s_to_{round(100 * level)}"] = []
    for r in runs:
        h = r["history"]
        out["errors"].append(r["error"])
        if not h:
            continue
        best = max(h, key=lambda row: row["val_acc"])
        out["test_at_best_val"].append(best["test_acc"])
        out["best_val"].append(best["val_acc"])
        out["chosen_epoch"].append(best["epoch"])
        out["peak_train"].append(max(row["train_acc"] for row in h))
        for level in LEVELS:
            e, w = time_to(h, level)
            out[f"epochs_to_{round(100 * level)}"].append(e)
            out[f"wall_s_to_{round(100 * level)}"].append(w)
    return out


def _fmt(values: list, scale: float = 1.0, digits: int = 1) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "—"
    v = scale * np.asarray(vals, dtype=float)
    text = f"{v.mean():.{digits}f} [{v.min():.{digits}f}–{v.max():.{digits}f}]"
    return text + (f" ({len(values) - len(vals)} never)" if len(vals) < len(values) else "")


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cifar10", help="folder with the CIFAR-10 batches (python or binary)")
    p.add_argument("--cifar100", help="folder with the CIFAR-100 batches (python or binary)")
    p.add_argument("--networks", default="dense,conv")
    p.add_argument("--hidden", default="4x1000", help="dense network's hidden layers")
    p.add_argument("--conv", default="32,64", help="conv network: channels of 3×3/2 convs")
    p.add_argument("--conv-hidden", default="1x1000", help="conv network: dense layers after")
    p.add_argument("--rules", default="bp,fa,np")
    p.add_argument("--decorrelation", default="ahmad")
    p.add_argument("--decor-batch-fraction", type=float, default=0.1)
    p.add_argument("--epochs", type=int, default=50, help="epochs of bp and fa")
    p.add_argument("--epochs-np", type=int, default=100, help="epochs of np and anp")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--sigma", type=float, default=1e-3)
    p.add_argument("--lr-grid", default="1e-4,3e-4,1e-3")
    p.add_argument("--decor-lr-grid", default="1e-6,1e-5,1e-4")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--selection-seed", type=int, default=99)
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--out", default="results")
    a = p.parse_args(argv)
    folders = {name: d for name, d in (("cifar10", a.cifar10), ("cifar100", a.cifar100)) if d}
    if not folders:
        raise NeurodecorrError("name at least one of --cifar10 DIR, --cifar100 DIR")
    Path(a.out).mkdir(parents=True, exist_ok=True)  # before the long runs, not after
    rules = a.rules.split(",")
    seeds = [int(s) for s in a.seeds.split(",")]
    networks = {"dense": ((), parse_hidden(a.hidden)),
                "conv": (parse_hidden(a.conv), parse_hidden(a.conv_hidden))}
    networks = {k: networks[k] for k in a.networks.split(",")}
    variants = ("none", a.decorrelation)
    t0 = time.perf_counter()
    results: dict[str, dict] = {}
    lines = ["| data | network | rule | decorrelation | lr | decor η | test acc % at best-val "
             "epoch | epochs to 50/90/99 % of peak train | wall s to 50/90/99 % | peak train % |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    figures: dict[Path, bytes] = {}
    for name, folder in folders.items():
        data, x_test, y_test = split_validation(load_dataset(name, data_dir=folder),
                                                a.val_fraction)
        for net_name, (conv, hidden) in networks.items():
            options = TorchOptions(device=a.device, dtype=a.dtype, conv=conv)
            panels: dict[str, dict[str, list[list[dict]]]] = {}
            for rule in rules:
                epochs = a.epochs_np if rule in ("np", "anp") else a.epochs
                for variant in variants:
                    base = {"dataset": name, "algorithm": rule, "decorrelation": variant,
                            "hidden": hidden, "epochs": epochs, "batch_size": a.batch_size,
                            "decor_batch_fraction": a.decor_batch_fraction, "sigma": a.sigma}
                    etas = _floats(a.decor_lr_grid) if variant != "none" else [1e-5]
                    scores = {}
                    for lr in _floats(a.lr_grid):
                        for eta in etas:
                            r = run(TrainConfig(**base, lr=lr, decor_lr=eta,
                                                seed=a.selection_seed), options, data, None)
                            scores[(lr, eta)] = max((row["val_acc"] for row in r["history"]),
                                                    default=-1.0)
                    lr, eta = max(scores, key=scores.get)
                    runs = [run(TrainConfig(**base, lr=lr, decor_lr=eta, seed=s), options, data,
                                (x_test, y_test)) for s in seeds]
                    key = f"{name}/{net_name}/{rule}/{variant}"
                    summary = summarise(runs)
                    results[key] = {"lr": lr, "decor_lr": eta if variant != "none" else None,
                                    "selection": {f"{k[0]:g},{k[1]:g}": v
                                                  for k, v in scores.items()},
                                    "summary": summary, "runs": runs}
                    full = [r["history"] for r in runs if len(r["history"]) == epochs]
                    if full:
                        label = "plain" if variant == "none" else f"+ {variant}"
                        panels.setdefault(RULE_LABELS.get(rule, rule), {})[label] = full
                    steps = "/".join(_fmt(summary[f"epochs_to_{round(100 * v)}"], digits=1)
                                     for v in LEVELS)
                    walls = "/".join(_fmt(summary[f"wall_s_to_{round(100 * v)}"], digits=1)
                                     for v in LEVELS)
                    lines.append(
                        f"| {name} | {net_name} | {RULE_LABELS.get(rule, rule)} | {variant} | "
                        f"{lr:g} | {'—' if variant == 'none' else f'{eta:g}'} | "
                        f"{_fmt(summary['test_at_best_val'], 100)} | {steps} | {walls} | "
                        f"{_fmt(summary['peak_train'], 100)} |")
                    print(lines[-1], file=sys.stderr)
            if all(len(v) == len(variants) for v in panels.values()) and panels:
                figures[Path(a.out) / f"reproduction_cifar_{name}_{net_name}.png"] = \
                    envelope_figure_png(panels, (("train_acc", "train accuracy (%)"),
                                                 ("test_acc", "test accuracy (%)")))
    wall = time.perf_counter() - t0
    device = next(iter(results.values()))["runs"][0]["device"]
    header = (f"Torch engine on {device} ({a.dtype}); batch {a.batch_size}, Adam, leaky ReLU "
              f"0.01, decorrelation `{a.decorrelation}` (batch fraction "
              f"{a.decor_batch_fraction:g}) on every layer's input; seeds {a.seeds}, selection "
              f"seed {a.selection_seed}, validation = last {a.val_fraction:g} of the training "
              f"set; total wall time {wall / 60:.1f} min.")
    out = Path(a.out)
    write_outputs({
        out / "reproduction_cifar.json": json_bytes({"args": vars(a), "device": device,
                                                     "wall_s": wall, "results": results}),
        out / "reproduction_cifar.md": ("\n".join([header, "", *lines, ""])).encode(),
        **figures,
    })
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except NeurodecorrError as exc:
        print(f"reproduce_cifar: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
