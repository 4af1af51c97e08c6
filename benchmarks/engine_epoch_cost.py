"""What one epoch costs on the numpy and the torch engine, measured in one process.

The two engines train the same configuration (MNIST-1D, BP, plain and decorrelated) and alternate
epoch by epoch, one thread each, so load from other processes hits both alike. Per epoch it
prints the CPU seconds of this process for ``train_epoch`` (training pass and evaluation) and
each engine's own wall timer of the training pass alone (``epoch_wall_s``), with the load
average: on a shared machine the wall seconds grow with the load, the CPU seconds of a
one-thread run much less. The first epoch (warm-up) is dropped.

    PYTHONPATH=. python benchmarks/engine_epoch_cost.py --hidden 2x256 --epochs 4
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", default="2x256")
    p.add_argument("--epochs", type=int, default=4, help="epochs per engine, the first a warm-up")
    p.add_argument("--decorrelations", default="none,ahmad")
    p.add_argument("--json", default=None, help="write the per-epoch figures here")
    a = p.parse_args(argv)
    import torch

    from neurodecorr.data import load_dataset
    from neurodecorr.learning import TrainConfig, Trainer, parse_hidden
    from neurodecorr.torch.engine import TorchOptions, TorchTrainer

    torch.set_num_threads(1)
    data = load_dataset("mnist1d")
    doc = {"hidden": a.hidden, "load_start": os.getloadavg()[0], "runs": {}}
    for dec in a.decorrelations.split(","):
        cfg = TrainConfig(dataset="mnist1d", algorithm="bp", decorrelation=dec,
                          hidden=parse_hidden(a.hidden), epochs=10 ** 6, batch_size=64, lr=3e-3,
                          decor_lr=1e-3, seed=0)
        trainers = {"numpy": Trainer(cfg, data),
                    "torch": TorchTrainer(cfg, data, TorchOptions(device="cpu"))}
        cpu: dict[str, list[float]] = {name: [] for name in trainers}
        for _ in range(a.epochs):
            for name, trainer in trainers.items():
                c0 = time.process_time()
                trainer.train_epoch()
                cpu[name].append(time.process_time() - c0)
        run = {name: {"cpu_s_train_and_eval": cpu[name][1:],
                      "wall_s_train": list(trainers[name].epoch_wall_s[1:])} for name in trainers}
        doc["runs"][dec] = run
        for name, r in run.items():
            print(f"BP {dec:5s} {name:5s}: CPU s/epoch (train+eval) "
                  f"{' '.join(f'{x:.3f}' for x in r['cpu_s_train_and_eval'])}; wall s of the "
                  f"training pass {' '.join(f'{x:.3f}' for x in r['wall_s_train'])}", flush=True)
    doc["load_end"] = os.getloadavg()[0]
    print(f"load average {doc['load_start']:.1f} -> {doc['load_end']:.1f} "
          f"({os.cpu_count()} cores)")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(doc, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
