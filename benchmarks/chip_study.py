"""On-chip study: FA with decorrelation learned on the chip, on MNIST-1D, per device preset.

For each device preset the network is a simulated chip (circuit ``ideal`` — exact
integrators — so that only the devices and their converters differ): every forward pass settles
the lateral circuits and reads the crossbars, the lateral matrices learn by the local rule
written as pulse trains, the forward weights by SGD pulse trains. The reference is the software
network trained identically (SGD, linear-form decorrelator, same seed and data order).

Writes ``docs/assets/chip_study.json``, ``chip_study.csv`` and ``chip_study.png``::

    .venv/bin/python benchmarks/chip_study.py            # the documented run (~5 min)
    .venv/bin/python benchmarks/chip_study.py --epochs 1 --presets ideal   # a quick look
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from pathlib import Path

import numpy as np

from neurodecorr.core.metrics import offdiag_corr_rms
from neurodecorr.data import load_dataset
from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import json_bytes, write_outputs
from neurodecorr.learning.chip_trainer import ChipOptions, ChipTrainer, SGDTrainer
from neurodecorr.learning.config import TrainConfig

ASSETS = Path(__file__).resolve().parents[1] / "docs" / "assets"


def decorrelation_reached(trainer, X: np.ndarray) -> tuple[list[float], list[float]]:
    """Off-diagonal correlation RMS per layer on the rows of ``X``: of the settled states x̄ as
    the chip delivers them (read and circuit noise included, which itself decorrelates), and of
    ``x Mᵀ`` with the learned matrix ``M`` (the network's, i.e. the chip's noiseless effective
    ``G·Ã⁻¹``) applied to the layer inputs of the same pass."""
    trace = trainer.forward(X)
    through = [offdiag_corr_rms(xbar) for xbar in trace.xbar]
    learned = [offdiag_corr_rms(trainer.network.decorrelate(i, x))
               for i, x in enumerate(trace.x)]
    return through, learned


def run(name: str, trainer, probe: np.ndarray, progress, task) -> dict:
    start = time.perf_counter()
    history, failure = [], None
    for _ in range(trainer.config.epochs):
        try:
            row = trainer.train_epoch()
        except NeurodecorrError as exc:
            # a physical failure (e.g. the learned lateral matrix became unstable) is a result
            failure = f"epoch {len(history) + 1}: {exc}"
            progress.update(task, advance=trainer.config.epochs - len(history),
                            info=f"{name}: failed")
            break
        history.append(row)
        progress.update(task, advance=1, info=f"{name}: epoch {row['epoch']} train "
                                              f"{100 * row['train_acc']:.1f}%")
    last = history[-1] if history else {"train_acc": float("nan"), "test_acc": float("nan")}
    out = {"name": name, "history": history, "wall_s": time.perf_counter() - start,
           "failure": failure, "epochs_completed": len(history),
           "final_train_acc": last["train_acc"] if failure is None else float("nan"),
           "final_test_acc": last["test_acc"] if failure is None else float("nan"),
           "last_train_acc": last["train_acc"]}
    try:
        out["offdiag_corr_rms"], out["offdiag_corr_rms_learned_M"] = decorrelation_reached(
            trainer, probe)
    except NeurodecorrError:
        out["offdiag_corr_rms"] = [float("nan")] * trainer.network.n_layers
        out["offdiag_corr_rms_learned_M"] = [float("nan")] * trainer.network.n_layers
    if isinstance(trainer, ChipTrainer):
        out["costs"] = trainer.costs()
        out["layers"] = trainer.chip.describe()
        out["max_weight_fraction"] = [
            float(np.max(np.abs(layer.forward.effective_weights(trainer.chip.clock_s)))
                  / layer.forward.scale) for layer in trainer.chip.layers]
        out["max_lateral_fraction"] = [
            float(np.max(np.abs(layer.lateral.crossbar.effective_weights(trainer.chip.clock_s)))
                  / layer.lateral.crossbar.scale) for layer in trainer.chip.layers]
    return out


def figure_png(results: list[dict], input_corr: list[float]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def val(v):  # failed runs: NaN in memory, null once written as JSON
        return np.nan if v is None else v

    fig, (a, b) = plt.subplots(1, 2, figsize=(14, 4.6), gridspec_kw={"width_ratios": [1, 1.3]})
    for i, r in enumerate(results):
        ep = [h["epoch"] for h in r["history"]]
        acc = [100 * h["train_acc"] for h in r["history"]]
        style = dict(color="k", ls="--") if r["name"] == "software" else dict(color=f"C{i}")
        label = r["name"] + (f" (failed in epoch {r['epochs_completed'] + 1})"
                             if r["failure"] else "")
        a.plot(ep, acc, marker="o", ms=3, label=label, **style)
        if r["failure"]:
            # the epoch it failed in, marked on the x axis: a run that failed in its first
            # epoch has no accuracy to draw
            a.plot(r["epochs_completed"] + 1, 0, "x", ms=9, mew=2, clip_on=False, **style)
    a.set_xlabel("epoch")
    a.set_ylabel("train accuracy (%)")
    a.set_ylim(bottom=0)
    a.xaxis.get_major_locator().set_params(integer=True)
    a.set_title("FA + on-chip decorrelation, MNIST-1D 40-64-10")
    # outside the axes: inside, it hid the PCM curve
    a.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    a.grid(alpha=0.3)
    names = [r["name"] for r in results]
    width = 0.8 / (len(input_corr) + 1)
    x = np.arange(len(names))
    for layer in range(len(input_corr)):
        b.bar(x + layer * width, [val(r["offdiag_corr_rms"][layer]) for r in results], width,
              color=f"C{layer}", alpha=0.45, label=f"layer {layer + 1}: x̄ through the chip")
        b.scatter(x + layer * width, [val(r["offdiag_corr_rms_learned_M"][layer])
                                             for r in results],
                  color=f"C{layer}", marker="D", zorder=3,
                  label=f"layer {layer + 1}: x Mᵀ, learned M")
        b.axhline(input_corr[layer], color=f"C{layer}", ls=":", lw=1,
                  label=f"layer {layer + 1} input, no decorrelation")
    for i, r in enumerate(results):
        if r["failure"]:
            b.text(x[i] + width / 2, 0.01, f"failed in\n{r['failure'].split(':')[0]}:\n"
                   "lateral array\nunstable", ha="center", va="bottom", fontsize=7, color="C3")
    b.set_xticks(x + width / 2, names, rotation=20, fontsize=8)
    b.set_ylabel("off-diagonal correlation RMS")
    b.set_title("decorrelation reached (1000 training samples)")
    b.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--presets", default="ideal,pcm,reram,ecram," + str(
        Path(__file__).resolve().parent / "chip_study_devices" / "reram-no-write-noise.toml"))
    p.add_argument("--circuit", default="ideal")
    p.add_argument("--circuit-runs", default="",
                   help="Extra runs: comma-separated circuit files, with their own devices.")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--decor-lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ASSETS / "chip_study"))
    p.add_argument("--replot", action="store_true",
                   help="Redraw OUT.png from an existing OUT.json instead of training.")
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.replot:
        import json

        saved = json.loads(out.with_suffix(".json").read_text())
        write_outputs({str(out.with_suffix(".png")): figure_png(
            saved["results"], saved["input_offdiag_corr_rms"])})
        return 0
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    data = load_dataset("mnist1d")
    config = TrainConfig(dataset="mnist1d", algorithm="fa", decorrelation="ahmad",
                         hidden=(args.hidden,), epochs=args.epochs, batch_size=args.batch_size,
                         lr=args.lr, decor_lr=args.decor_lr, seed=args.seed)
    probe = data.x_train[:1000]
    presets = [s.strip() for s in args.presets.split(",") if s.strip()]
    runs = [(p, args.circuit, p) for p in presets] + [
        (Path(c).stem, c, None) for c in args.circuit_runs.split(",") if c.strip()]
    results = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.fields[info]}")) as progress:
        task = progress.add_task("chip study", total=args.epochs * (len(runs) + 1), info="")
        software = SGDTrainer(config, data)
        results.append(run("software", software, probe, progress, task))
        base = results[0]["final_train_acc"]
        for name, circuit, device in runs:
            trainer = ChipTrainer(config, data, ChipOptions(circuit=circuit, device=device,
                                                            seed=args.seed, lr=args.lr))
            label = Path(name).stem if name.endswith(".toml") else name
            r = run(label, trainer, probe, progress, task)
            r["train_acc_vs_software"] = r["final_train_acc"] / base
            results.append(r)
    plain = SGDTrainer(TrainConfig(**{**config.to_dict(), "decorrelation": "none",
                                      "hidden": (args.hidden,)}), data)
    input_corr = [offdiag_corr_rms(x) for x in plain.forward(probe).x]
    rows = []
    for r in results:
        costs = r.get("costs", {}).get("per_training_sample", {})
        rows.append({
            "run": r["name"], "epochs_completed": r["epochs_completed"],
            "final_train_acc": round(r["final_train_acc"], 4),
            "final_test_acc": round(r["final_test_acc"], 4),
            "train_acc_vs_software": round(r.get("train_acc_vs_software", 1.0), 3),
            **{f"offdiag_corr_layer{i + 1}": round(v, 4)
               for i, v in enumerate(r["offdiag_corr_rms"])},
            **{f"offdiag_corr_learned_M_layer{i + 1}": round(v, 4)
               for i, v in enumerate(r["offdiag_corr_rms_learned_M"])},
            "pulses_per_train_sample": round(costs.get("device_pulses", 0.0), 1),
            "integration_steps_per_train_sample": round(costs.get("integration_steps", 0.0), 1),
            "wall_s": round(r["wall_s"], 1), "failure": r["failure"] or ""})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_outputs({
        str(out.with_suffix(".json")): json_bytes({
            "command": "benchmarks/chip_study.py " + " ".join(argv or sys.argv[1:]),
            "config": config.to_dict(), "circuit": args.circuit, "presets": presets,
            "input_offdiag_corr_rms": input_corr, "results": results, "table": rows}),
        str(out.with_suffix(".csv")): buf.getvalue().encode(),
        str(out.with_suffix(".png")): figure_png(results, input_corr),
    })
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
