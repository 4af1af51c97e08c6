"""Decorrelation overhead per epoch: (epoch with decorrelation) ÷ (plain epoch), both engines.

Every ratio is taken within one run: the plain and the decorrelated trainer run their epochs in
alternation (``neurodecorr.bench.measure.alternate``, best of ``--repeats``), so load from other
processes hits both alike. An epoch includes the end-of-epoch evaluation, as a user sees it.
The torch engine runs on CUDA when present (``--torch-device``), else on the CPU.

Example (the figures in docs/torch.md)::

    PYTHONPATH=. .venv/bin/python benchmarks/decorrelation_overhead.py --hidden 4x1000 \\
        --train-rows 1280 --repeats 3 --json results/overhead.json
"""

from __future__ import annotations

import os

# one thread per process: the ratio of two single-threaded timings, steady on a shared machine
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from neurodecorr.bench.measure import alternate  # noqa: E402
from neurodecorr.data import load_dataset  # noqa: E402
from neurodecorr.data.base import Dataset  # noqa: E402
from neurodecorr.learning import TrainConfig, Trainer, parse_hidden  # noqa: E402


def _subset(data: Dataset, rows: int) -> Dataset:
    return Dataset(data.name, data.x_train[:rows], data.y_train[:rows], data.x_test[:rows // 4],
                   data.y_test[:rows // 4], data.n_classes)


def _trainer(engine: str, cfg: TrainConfig, data: Dataset, device: str, dtype: str):
    if engine == "numpy":
        return Trainer(cfg, data)
    from neurodecorr.torch.engine import TorchOptions, TorchTrainer

    return TorchTrainer(cfg, data, TorchOptions(device=device, dtype=dtype))


def _timed(fn) -> tuple[float, float]:
    """Wall and CPU seconds of one call."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def measure(engine: str, hidden: tuple[int, ...], data: Dataset, fraction: float,
            algorithm: str, repeats: int, device: str, dtype: str) -> dict:
    """Median epoch times and median ratio of a plain and a decorrelated trainer.

    After one warm-up epoch each, the two trainers run ``repeats`` epochs in strict
    alternation (plain, decorrelated, plain, ...); every pair gives a ratio, and the median
    ratio over pairs is reported (load that lasts a pair hits both of its epochs)."""
    base = {"algorithm": algorithm, "hidden": hidden, "epochs": 10 ** 6, "decor_lr": 1e-5}
    plain = _trainer(engine, TrainConfig(**base), data, device, dtype)
    decor = _trainer(engine, TrainConfig(**base, decorrelation="ahmad",
                                         decor_batch_fraction=fraction), data, device, dtype)
    plain.train_epoch()
    decor.train_epoch()
    pairs = [(_timed(plain.train_epoch), _timed(decor.train_epoch)) for _ in range(repeats)]
    wall = np.array([[p[0], d[0]] for p, d in pairs])
    cpu = np.array([[p[1], d[1]] for p, d in pairs])
    return {"engine": engine, "fraction": fraction, "algorithm": algorithm,
            "plain_epoch_s": float(np.median(wall[:, 0])),
            "decor_epoch_s": float(np.median(wall[:, 1])),
            "ratio": float(np.median(wall[:, 1] / wall[:, 0])),
            "ratio_min_max": [float(np.min(wall[:, 1] / wall[:, 0])),
                              float(np.max(wall[:, 1] / wall[:, 0]))],
            "plain_epoch_cpu_s": float(np.median(cpu[:, 0])),
            "decor_epoch_cpu_s": float(np.median(cpu[:, 1])),
            "ratio_cpu": float(np.median(cpu[:, 1] / cpu[:, 0])),
            "load_average": os.getloadavg()[0]}


def matmul_fraction(hidden: tuple[int, ...], data: Dataset, repeats: int, device: str,
                    dtype: str) -> dict:
    """The plain torch engine's epoch against ``torch.matmul`` alone on the same shapes.

    Per batch and layer the engine needs three products of its shapes (forward ``X Wᵀ``,
    ``∂L/∂W = δᵀX``, ``∂L/∂X = δ W``); timing just those, for every batch of an epoch, gives the
    fraction of the machine's matrix throughput the engine achieves (1 = no overhead at all).
    """
    import torch

    from neurodecorr.reference.device import resolve_device, resolve_dtype

    dev, dt = resolve_device(device), resolve_dtype(dtype)
    trainer = _trainer("torch", TrainConfig(hidden=hidden, epochs=10 ** 6), data, device, dtype)
    sizes = [data.n_features, *hidden, data.n_classes]
    n, batch = len(data.x_train), 64
    operands = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        X, W = torch.randn(batch, a, device=dev, dtype=dt), torch.randn(b, a, device=dev, dtype=dt)
        operands.append((X, W, torch.randn(batch, b, device=dev, dtype=dt)))

    def products() -> None:
        for _ in range(-(-n // batch)):
            for X, W, D in operands:
                torch.matmul(X, W.T)
                torch.matmul(D.T, X)
                torch.matmul(D, W)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    t_engine, t_matmul = alternate(trainer.train_epoch, products, repeats)
    return {"engine_epoch_s": t_engine, "matmul_s": t_matmul,
            "fraction_of_matmul": t_matmul / t_engine, "device": trainer.describe_device()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist1d")
    p.add_argument("--hidden", default="4x1000")
    p.add_argument("--train-rows", type=int, default=1280,
                   help="training rows per epoch (batches of 64)")
    p.add_argument("--fractions", default="1.0,0.1")
    p.add_argument("--algorithms", default="bp,fa")
    p.add_argument("--engines", default="numpy,torch")
    p.add_argument("--torch-device", default="auto")
    p.add_argument("--dtype", default="float32", help="torch engine dtype")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json")
    args = p.parse_args(argv)
    if "torch" in args.engines:
        import torch

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    data = _subset(load_dataset(args.dataset), args.train_rows)
    hidden = parse_hidden(args.hidden)
    rows = []
    for engine in args.engines.split(","):
        for algorithm in args.algorithms.split(","):
            for fraction in (float(f) for f in args.fractions.split(",")):
                row = measure(engine, hidden, data, fraction, algorithm, args.repeats,
                              args.torch_device, args.dtype)
                rows.append(row)
                print(f"{engine:6s} {algorithm:4s} fraction {fraction:4.2f}: plain "
                      f"{row['plain_epoch_s']:.3f} s, decorrelated {row['decor_epoch_s']:.3f} s,"
                      f" ratio {row['ratio']:.2f} (CPU time: {row['ratio_cpu']:.2f})",
                      file=sys.stderr)
    fraction = None
    if "torch" in args.engines.split(","):
        fraction = matmul_fraction(hidden, data, args.repeats, args.torch_device, args.dtype)
        print(f"torch engine, plain BP epoch: {fraction['fraction_of_matmul']:.2f} of "
              f"torch.matmul's throughput on the same shapes ({fraction['device']})",
              file=sys.stderr)
    if args.json:
        import torch

        doc = {"dataset": args.dataset, "hidden": list(hidden), "train_rows": args.train_rows,
               "batch_size": 64, "repeats": args.repeats, "dtype_torch": args.dtype,
               "cuda": torch.cuda.is_available(), "cpu_count": os.cpu_count(),
               "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
               "torch_threads": torch.get_num_threads(), "rows": rows,
               "max_ratio": float(np.max([r["ratio"] for r in rows])),
               "max_ratio_cpu": float(np.max([r["ratio_cpu"] for r in rows])),
               "torch_matmul_fraction": fraction}
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
