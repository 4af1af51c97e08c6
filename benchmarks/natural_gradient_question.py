"""Is decorrelation's speed-up due to alignment with the natural gradient? (the ICLR reviewers'
question) — measured on MNIST-1D with the torch engine's diagnostics.

For BP, FA and NP, each with and without decorrelation (``ahmad``), on ``--seeds``: per epoch
the train accuracy and, per layer, the cosine of the rule's update with the BP gradient and the
alignment of the update of the effective weights ``W M`` with the input-side natural gradient
(:mod:`neurodecorr.torch.diagnostics`). Reported: epochs and seconds to 90 % train accuracy
(time-to-threshold beside epochs) and the alignments averaged over layers and the first
``--early`` epochs, mean [min–max] over seeds. Settings: the tuned ones of the MNIST-1D
reproduction (docs/learning.md).

Example (the figures in docs/natural-gradient.md)::

    PYTHONPATH=. .venv/bin/python benchmarks/natural_gradient_question.py --out docs/assets
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from neurodecorr.data import load_dataset  # noqa: E402
from neurodecorr.io import json_bytes, write_outputs  # noqa: E402
from neurodecorr.learning import TrainConfig, parse_hidden  # noqa: E402
from neurodecorr.learning.plot import _pyplot  # noqa: E402
from neurodecorr.torch.engine import TorchOptions, TorchTrainer  # noqa: E402

#: rule -> (Adam lr, decorrelation η): the selected settings of docs/learning.md
SETTINGS = {"bp": (3e-3, 1e-3), "fa": (3e-3, 1e-3), "np": (1e-3, 1e-3)}
LABELS = {"bp": "BP", "fa": "FA", "np": "NP"}


def _layer_mean(row: dict, key: str) -> float:
    return float(np.mean([d[key] for d in row["diagnostics"]]))


def run(rule: str, decorrelation: str, seed: int, epochs: int, hidden, data) -> dict:
    lr, eta = SETTINGS[rule]
    cfg = TrainConfig(algorithm=rule, decorrelation=decorrelation, hidden=hidden, epochs=epochs,
                      lr=lr, decor_lr=eta, seed=seed)
    trainer = TorchTrainer(cfg, data, TorchOptions(device="cpu", diagnostics=True))
    trainer.fit()
    return {"config": cfg.to_dict(), "history": trainer.history,
            "epoch_wall_s": trainer.epoch_wall_s}


def to_90(r: dict) -> tuple[int | None, float | None]:
    walls = np.cumsum(r["epoch_wall_s"])
    for row, w in zip(r["history"], walls, strict=True):
        if row["train_acc"] >= 0.9:
            return row["epoch"], float(w)
    return None, None


def _fmt(values, digits=2) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "never"
    v = np.asarray(vals, dtype=float)
    text = f"{v.mean():.{digits}f} [{v.min():.{digits}f}–{v.max():.{digits}f}]"
    return text + (" (not all seeds)" if len(vals) < len(values) else "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rules", default="bp,fa,np")
    p.add_argument("--hidden", default="2x256")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--early", type=int, default=5, help="epochs averaged for the alignments")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--out", default="results")
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    data = load_dataset("mnist1d")
    hidden = parse_hidden(a.hidden)
    seeds = [int(s) for s in a.seeds.split(",")]
    results: dict[str, list[dict]] = {}
    lines = ["| rule | decorrelation | epochs to 90 % train | seconds to 90 % | "
             f"natural-gradient alignment (epochs 1–{a.early}) | cos with BP gradient "
             f"(epochs 1–{a.early}) |", "|---|---|---|---|---|---|"]
    for rule in a.rules.split(","):
        for dec in ("none", "ahmad"):
            runs = [run(rule, dec, s, a.epochs, hidden, data) for s in seeds]
            results[f"{rule}/{dec}"] = runs
            reach = [to_90(r) for r in runs]
            nat = [np.mean([_layer_mean(row, "natural_alignment")
                            for row in r["history"][:a.early]]) for r in runs]
            cos = [np.mean([_layer_mean(row, "cos_bp") for row in r["history"][:a.early]])
                   for r in runs]
            lines.append(f"| {LABELS[rule]} | {dec} | {_fmt([e for e, _ in reach], 1)} | "
                         f"{_fmt([w for _, w in reach], 1)} | {_fmt(nat, 3)} | "
                         f"{_fmt(cos, 3)} |")
            print(lines[-1], file=sys.stderr)
    plt = _pyplot()
    rules = a.rules.split(",")
    fig, axes = plt.subplots(2, len(rules), figsize=(4.2 * len(rules), 6.4), dpi=120,
                             squeeze=False)
    for c, rule in enumerate(rules):
        for dec, colour in (("none", "tab:blue"), ("ahmad", "tab:orange")):
            runs = results[f"{rule}/{dec}"]
            label = "plain" if dec == "none" else "+ decorrelation"
            for r_i, (key, scale) in enumerate((("train_acc", 100), ("natural_alignment", 1))):
                curves = np.array([[scale * (row[key] if key == "train_acc"
                                             else _layer_mean(row, key))
                                    for row in r["history"]] for r in runs])
                epochs = np.arange(1, curves.shape[1] + 1)
                ax = axes[r_i][c]
                ax.plot(epochs, curves.mean(0), color=colour, label=label)
                ax.fill_between(epochs, curves.min(0), curves.max(0), color=colour, alpha=0.2)
                ax.grid(alpha=0.3)
        axes[0][c].set_title(LABELS[rule])
        axes[0][c].set_ylabel("train accuracy (%)")
        axes[1][c].set_ylabel("natural-gradient alignment\n(mean over layers)")
        axes[1][c].set_xlabel("epoch")
        axes[0][c].legend(fontsize=8)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    header = (f"MNIST-1D, network 40-{'-'.join(map(str, hidden))}-10, torch engine (CPU, "
              f"float32, one thread), batch 64, Adam; seeds {a.seeds}; mean [min–max].")
    table = "\n".join([header, "", *lines, ""]).encode()
    write_outputs({out / "natural_gradient_mnist1d.json": json_bytes(
                       {"args": vars(a), "settings": SETTINGS, "results": results}),
                   out / "natural_gradient_mnist1d.md": table,
                   out / "natural_gradient_mnist1d.png": buf.getvalue()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
