"""On-chip study: FA and BP, with and without decorrelation learned on the chip, per device
preset and update algorithm, over seeds (issue #15).

Two tasks on MNIST-1D, batch 64, circuit ``ideal`` (exact integrators: only the devices and
their converters differ), every array on the preset with its periphery:

``decor``
    on-chip ``ahmad`` decorrelation, 40-64-10, chip SGD step 0.2, η = 1e-3 (docs/chip.md's
    study configuration);
``shared``
    no decorrelation, 40-64-64-10, SGD step 0.1: the task on which aihwkit 0.9.2's figures
    were measured (/work/shared/notes/analog-training.md), quoted beside ours.

Each cell (task, rule, device, update algorithm) runs for ``--seeds`` seeds; the references
are the software network trained identically (``digital``: SGD, linear-form decorrelator, same
initial weights and data order) and the ``ideal`` device preset. Cells run in ``--workers``
processes; each finished run is appended to ``OUT.jsonl`` at once (progress visible with
``tail -f``; ``--resume`` skips the runs already there), and at the end ``OUT.json``,
``OUT.csv`` and ``OUT.png`` are written::

    .venv/bin/python benchmarks/chip_study.py                  # the documented run
    .venv/bin/python benchmarks/chip_study.py --replot          # redraw from OUT.jsonl
    .venv/bin/python benchmarks/chip_study.py --epochs 1 --seeds 1 --devices ideal --out /tmp/s
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).resolve().parents[1] / "docs" / "assets"

TASKS = {
    "decor": dict(decorrelation="ahmad", hidden=(64,), lr=0.2),
    "shared": dict(decorrelation="none", hidden=(64, 64), lr=0.1),
}
#: aihwkit 0.9.2 on the shared task with BP (final train accuracy; analog-training.md)
AIHWKIT = {
    "digital": {"sgd": 0.51}, "ideal": {"sgd": 0.42},
    "pcm": {"sgd": 0.13, "mixed-precision": 0.375},
    "reram": {"sgd": 0.24, "mixed-precision": 0.25, "ttv2": 0.22, "chopped-ttv2": 0.27,
              "agad": 0.30},
    "ecram": {"sgd": 0.35, "mixed-precision": 0.41},
}


def one_run(task: str, rule: str, device: str, update: str, seed: int, epochs: int) -> dict:
    """Train one cell for one seed; a physical failure (a lateral circuit that stops) is a
    result, recorded with the epoch it happened in."""
    from neurodecorr.data import load_dataset
    from neurodecorr.errors import NeurodecorrError
    from neurodecorr.learning.chip_trainer import ChipOptions, ChipTrainer, SGDTrainer
    from neurodecorr.learning.config import TrainConfig

    spec = TASKS[task]
    config = TrainConfig(dataset="mnist1d", algorithm=rule, decorrelation=spec["decorrelation"],
                         hidden=spec["hidden"], epochs=epochs, batch_size=64, lr=spec["lr"],
                         decor_lr=1e-3, seed=seed)
    data = load_dataset("mnist1d")
    start = time.perf_counter()
    if device == "digital":
        trainer = SGDTrainer(config, data)
    else:
        trainer = ChipTrainer(config, data, ChipOptions(device=device, seed=seed, lr=spec["lr"],
                                                        update=update))
    history, failure = [], None
    for _ in range(epochs):
        try:
            history.append(trainer.train_epoch())
        except NeurodecorrError as exc:
            failure = f"epoch {len(history) + 1}: {exc}"
            break
    out = {"task": task, "rule": rule, "device": device, "update": update, "seed": seed,
           "epochs": epochs, "train_acc": [h["train_acc"] for h in history],
           "test_acc": [h["test_acc"] for h in history], "failure": failure,
           "wall_s": time.perf_counter() - start}
    if isinstance(trainer, ChipTrainer):
        per = trainer.costs()["per_training_sample"]
        out["pulses_per_train_sample"] = per.get("device_pulses", 0.0)
        out["node_updates_per_train_sample"] = per.get("integration_steps", 0.0)
        out["gain_register"] = [layer.get("gain_register") for layer in trainer.chip.describe()]
        out["lateral_responses"] = [layer.lateral.responses for layer in trainer.chip.layers
                                    if layer.lateral is not None]
    return out


def plan(args) -> list[tuple]:
    """Every run of the study: (task, rule, device, update, seed, epochs)."""
    runs = []
    for task in args.tasks.split(","):
        for rule in args.rules.split(","):
            for seed in range(args.seeds):
                runs.append((task, rule, "digital", "sgd", seed, args.epochs))
                runs.append((task, rule, "ideal", "sgd", seed, args.epochs))
                for device in args.devices.split(","):
                    for update in args.updates.split(","):
                        runs.append((task, rule, device, update, seed, args.epochs))
            for device in args.devices.split(","):
                for update in filter(None, args.short_updates.split(",")):
                    runs.append((task, rule, device, update, 0, args.short_epochs))
    return [r for r in runs if r[2] in ("digital", "ideal") or r[2] in args.devices.split(",")]


def key(r) -> tuple:
    return (r["task"], r["rule"], r["device"], r["update"], r["seed"], r["epochs"]) if isinstance(
        r, dict) else tuple(r)


def summarise(results: list[dict]) -> list[dict]:
    """One row per cell: final train accuracy over seeds (mean, min, max), failures, ratios to
    the ideal and digital runs of the same task and rule, aihwkit's figure where it has one."""
    cells: dict[tuple, list[dict]] = {}
    for r in results:
        cells.setdefault((r["task"], r["rule"], r["device"], r["update"], r["epochs"]),
                         []).append(r)
    rows = []
    for (task, rule, device, update, epochs), runs in sorted(cells.items()):
        finals = [r["train_acc"][-1] if r["train_acc"] and not r["failure"] else np.nan
                  for r in runs]
        ok = [f for f in finals if np.isfinite(f)]
        rows.append({"task": task, "rule": rule, "device": device, "update": update,
                     "epochs": epochs, "seeds": len(runs), "failed": sum(bool(r["failure"])
                                                                         for r in runs),
                     "train_acc_mean": float(np.mean(ok)) if ok else np.nan,
                     "train_acc_min": float(np.min(ok)) if ok else np.nan,
                     "train_acc_max": float(np.max(ok)) if ok else np.nan,
                     "test_acc_mean": float(np.mean([r["test_acc"][-1] for r in runs
                                                     if r["test_acc"] and not r["failure"]]
                                                    or [np.nan])),
                     "pulses_per_train_sample": float(np.mean(
                         [r.get("pulses_per_train_sample", 0.0) for r in runs])),
                     "aihwkit": (AIHWKIT.get(device, {}).get(update)
                                 if (task, rule, epochs) == ("shared", "bp", 10) else None),
                     "first_failure": next((r["failure"] for r in runs if r["failure"]), "")})
    ref = {(r["task"], r["rule"], r["device"]): r["train_acc_mean"] for r in rows
           if r["device"] in ("ideal", "digital") and r["update"] == "sgd"}
    for r in rows:
        r["vs_ideal"] = r["train_acc_mean"] / ref.get((r["task"], r["rule"], "ideal"), np.nan)
        r["vs_digital"] = r["train_acc_mean"] / ref.get((r["task"], r["rule"], "digital"),
                                                        np.nan)
    return rows


def figure_png(results: list[dict], rows: list[dict]) -> bytes:
    """Train accuracy per epoch, one panel per task and rule: the best algorithm per device
    (mean over seeds, min–max envelope), the references dashed, aihwkit's best per device as
    a marker at the last epoch (shared task, BP)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({r["task"] for r in results})
    rules = sorted({r["rule"] for r in results}, reverse=True)  # FA first, then BP
    fig, axes = plt.subplots(len(tasks), len(rules), figsize=(5.2 * len(rules), 4.2 * len(tasks)),
                             squeeze=False, sharey=True)
    panels = [(t, r) for t in tasks for r in rules]
    colours = {"digital": "k", "ideal": "0.45", "pcm": "C0", "reram": "C3", "ecram": "C2"}
    for ax, (task, rule) in zip(axes.ravel(), panels, strict=True):
        mine = [r for r in rows if r["task"] == task and r["rule"] == rule]
        if not mine:
            ax.set_visible(False)
            continue
        full_epochs = max(r["epochs"] for r in mine)
        best: dict[str, dict] = {}
        for r in mine:
            if r["epochs"] != full_epochs:  # the short runs of the slow algorithms
                continue
            have = best.get(r["device"])
            score = -1.0 if not np.isfinite(r["train_acc_mean"]) else r["train_acc_mean"]
            if have is None or score > have["score"]:
                best[r["device"]] = {"update": r["update"], "score": score,
                                     "epochs": r["epochs"]}
        for device, b in best.items():
            runs = [r for r in results if (r["task"], r["rule"], r["device"], r["update"],
                                           r["epochs"]) == (task, rule, device, b["update"],
                                                            b["epochs"])]
            n = max(len(r["train_acc"]) for r in runs)
            acc = np.full((len(runs), n), np.nan)
            for i, r in enumerate(runs):
                acc[i, :len(r["train_acc"])] = 100 * np.asarray(r["train_acc"])
            ep = np.arange(1, n + 1)
            style = dict(ls="--") if device in ("digital", "ideal") else {}
            label = device if device in ("digital", "ideal") else f"{device}: {b['update']}"
            failed = sum(bool(r["failure"]) for r in runs)
            if failed:
                label += f" ({failed}/{len(runs)} stopped)"
            if n:
                ax.plot(ep, np.nanmean(acc, axis=0), color=colours.get(device), label=label,
                        marker="o", ms=2.5, **style)
                ax.fill_between(ep, np.nanmin(acc, axis=0), np.nanmax(acc, axis=0),
                                color=colours.get(device), alpha=0.18, lw=0)
            else:
                ax.plot([], [], color=colours.get(device), label=label + ", epoch 1")
            if task == "shared" and rule == "bp":
                ref = max((v for v in AIHWKIT.get(device, {}).values()), default=None)
                if ref is not None:
                    ax.plot(10.4, 100 * ref, marker="<", ms=8, color=colours.get(device),
                            clip_on=False, ls="none")
        what = ("on-chip decorrelation, 40-64-10" if task == "decor"
                else "no decorrelation, 40-64-64-10")
        ax.set_title(f"{rule.upper()}, {what}", fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
        if task == "shared" and rule == "bp":
            ax.text(0.98, 0.02, "◄ aihwkit 0.9.2, best algorithm\n   per device (same task)",
                    transform=ax.transAxes, ha="right", va="bottom", fontsize=7)
    for row in axes:
        row[0].set_ylabel("train accuracy (%): mean, min–max over seeds")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def write_final(out: Path, results: list[dict], command: str) -> list[dict]:
    from neurodecorr.io import json_bytes, write_outputs

    rows = summarise(results)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows([{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}
                      for r in rows])
    write_outputs({
        str(out.with_suffix(".json")): json_bytes({"command": command, "tasks": TASKS,
                                                   "aihwkit_shared_bp": AIHWKIT,
                                                   "results": results, "table": rows}),
        str(out.with_suffix(".csv")): buf.getvalue().encode(),
        str(out.with_suffix(".png")): figure_png(results, rows),
    })
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", default="decor,shared")
    p.add_argument("--rules", default="fa,bp")
    p.add_argument("--devices", default="pcm,reram,ecram")
    p.add_argument("--updates", default="sgd,mixed-precision",
                   help="Algorithms run for every seed and the full epochs.")
    p.add_argument("--short-updates", default="tiki-taka,ttv2,chopped-ttv2,agad",
                   help="Algorithms run for seed 0 and --short-epochs only (their transfers "
                        "are 10-30x slower to simulate).")
    p.add_argument("--short-epochs", type=int, default=2)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=str(ASSETS / "chip_study"))
    p.add_argument("--resume", action="store_true", help="Skip the runs already in OUT.jsonl.")
    p.add_argument("--replot", action="store_true",
                   help="Write OUT.json, .csv and .png from OUT.jsonl without training.")
    args = p.parse_args(argv)
    out = Path(args.out)
    log = out.with_suffix(".jsonl")
    command = "benchmarks/chip_study.py " + " ".join(argv or sys.argv[1:])
    done = [json.loads(line) for line in log.read_text().splitlines()] if (
        (args.resume or args.replot) and log.exists()) else []
    if not args.replot:
        have = {key(r) for r in done}
        todo = [r for r in plan(args) if key(r) not in have]
        # slow cells first, so that the pool's tail is short
        todo.sort(key=lambda r: (r[0] != "decor", r[2] in ("digital", "ideal"),
                                 r[5] < args.epochs))
        if not args.resume:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("")
        print(f"{len(todo)} runs, {args.workers} workers -> {log}", flush=True)
        start = time.perf_counter()
        with ProcessPoolExecutor(args.workers) as pool, log.open("a") as fh:
            futures = {pool.submit(one_run, *r): r for r in todo}
            for i, fut in enumerate(as_completed(futures), 1):
                r = fut.result()
                done.append(r)
                fh.write(json.dumps(r) + "\n")
                fh.flush()
                final = f"{100 * r['train_acc'][-1]:.1f} %" if r["train_acc"] else "-"
                print(f"[{i}/{len(todo)} {time.perf_counter() - start:6.0f} s] {r['task']} "
                      f"{r['rule']} {r['device']} {r['update']} seed {r['seed']}: {final}"
                      f"{' stopped ' + r['failure'][:60] if r['failure'] else ''} "
                      f"({r['wall_s']:.0f} s)", flush=True)
    rows = write_final(out, done, command)
    for r in rows:
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()
               if k != "first_failure"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
