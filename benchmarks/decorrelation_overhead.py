"""Decorrelation overhead per epoch: (epoch with decorrelation) ÷ (plain epoch), both engines.

Every ratio is taken within one run: the plain and the decorrelated trainer run their epochs in
strict alternation, and the median of the pairs' ratios is reported with the load average, so
load from other processes hits both alike. An epoch includes the end-of-epoch evaluation, as a
user sees it. Beside the measured ratio: the multiply-adds of both epochs product by product
(``batch_products``, ``eval_products``) and the time those products take alone, one layer's
update in place and as a new array, and the plain torch engine's fraction of ``torch.matmul``.
The torch engine runs on CUDA when present (``--torch-device``), else on the CPU.

Example (the figures in docs/torch.md)::

    PYTHONPATH=. .venv/bin/python benchmarks/decorrelation_overhead.py --hidden 4x1000 \\
        --train-rows 4000 --repeats 5 --fractions 0.1 --algorithms bp,fa \\
        --json docs/assets/decorrelation_overhead.json
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


def batch_products(engine: str, sizes: list[int], batch: int, k: int, algorithm: str,
                   decorrelated: bool) -> list[tuple[str, int, int, int]]:
    """The matrix products of one training batch, ``(what, m, n, p)`` for an (m×n)(n×p) product.

    As the engines compute them (BP and FA; rows are samples): per layer ``d → o`` the plain
    layer needs ``X Wᵀ``, ``∂L/∂W = δᵀX`` and, above the first layer, ``δ W`` (or ``δ B``).
    Decorrelation adds ``X̄ = X Mᵀ`` and ``(δ W) M``, or, for a narrow layer (``o < batch``),
    the torch engine multiplies by ``W M`` (``o·d²``) and forms ``∂L/∂W = (δᵀX) Mᵀ``; the numpy
    engine sends the error through ``B M``. The update: ``S M`` and ``Sᵀ(S M)`` on ``k`` rows
    (the forward states ``S = X̄_k`` are reused; a fused layer forms them, ``k·d²``), the gain
    ``2k²d``.
    """
    if algorithm not in ("bp", "fa"):
        raise ValueError("the product list covers bp and fa")
    out: list[tuple[str, int, int, int]] = []
    for layer, (d, o) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        back = layer > 0
        if not decorrelated:
            out += [("X Wᵀ", batch, d, o), ("δᵀ X", o, batch, d)]
            out += [("δ W", batch, o, d)] if back else []
            continue
        if engine == "torch" and o < batch:
            out += [("W M", o, d, d), ("X (W M)ᵀ", batch, d, o), ("δᵀ X", o, batch, d),
                    ("(δᵀX) Mᵀ", o, d, d), ("X_k Mᵀ", k, d, d)]
            if back:
                out += ([("B M", o, d, d)] if algorithm == "fa" else []) + [
                    ("δ (W M)", batch, o, d)]
        else:
            out += [("X Mᵀ", batch, d, d), ("X̄ Wᵀ", batch, d, o), ("δᵀ X̄", o, batch, d)]
            if back and engine == "numpy" and o < batch:
                out += [("B M", o, d, d), ("δ (B M)", batch, o, d)]
            elif back:
                out += [("δ W", batch, o, d), ("(δ W) M", batch, d, d)]
        out += [("S M", k, d, d), ("Sᵀ (S M), into M", d, k, d), ("S Sᵀ", k, d, k),
                ("(S Sᵀ) S", k, k, d)]
    return out


def eval_products(engine: str, sizes: list[int], rows: int, decorrelated: bool
                  ) -> list[tuple[str, int, int, int]]:
    """Products of the end-of-epoch evaluation (forward only; chunks of up to 4096 rows). Both
    engines multiply by ``W M`` where a layer has fewer outputs than rows."""
    out = []
    for d, o in zip(sizes[:-1], sizes[1:], strict=True):
        if decorrelated and o < min(rows, 4096):
            out += [("W M", o, d, d)]
        elif decorrelated:
            out += [("X Mᵀ", rows, d, d)]
        out += [("X Wᵀ", rows, d, o)]
    return out


def _time_product(engine: str, m: int, n: int, p: int, dtype: str, repeats: int = 7) -> float:
    """Median seconds of one (m×n)(n×p) product on the engine's library and dtype."""
    if engine == "numpy":
        rng = np.random.default_rng(0)
        A, B = rng.standard_normal((m, n)), rng.standard_normal((n, p))
        run = lambda: A @ B  # noqa: E731
    else:
        import torch

        from neurodecorr.reference.device import resolve_dtype

        dt = resolve_dtype(dtype)
        A, B = torch.randn(m, n, dtype=dt), torch.randn(n, p, dtype=dt)
        run = lambda: A @ B  # noqa: E731
    run()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def cost_model(engine: str, sizes: list[int], batch: int, fraction: float, algorithm: str,
               n_train: int, n_eval: tuple[int, ...], dtype: str) -> dict:
    """Multiply-adds of a plain and a decorrelated epoch, and the seconds their products take
    when each runs alone at the rate this machine gives its shape (median of 7)."""
    k = max(1, round(fraction * batch))
    n_batches = -(-n_train // batch)
    cache: dict[tuple[int, int, int], float] = {}
    result = {}
    for name, decorrelated in (("plain", False), ("decorrelated", True)):
        per_batch = batch_products(engine, sizes, batch, k, algorithm, decorrelated)
        evaluation = [p for rows in n_eval for p in eval_products(engine, sizes, rows,
                                                                     decorrelated)]
        macs = (n_batches * sum(m * n * p for _, m, n, p in per_batch)
                + sum(m * n * p for _, m, n, p in evaluation))
        seconds = 0.0
        for products, times in ((per_batch, n_batches), (evaluation, 1)):
            for _, m, n, p in products:
                if (m, n, p) not in cache:
                    cache[(m, n, p)] = _time_product(engine, m, n, p, dtype)
                seconds += times * cache[(m, n, p)]
        result[name] = {"macs_per_batch": sum(m * n * p for _, m, n, p in per_batch),
                        "macs_per_epoch": macs, "product_seconds_per_epoch": seconds,
                        "products_per_batch": [list(t) for t in per_batch]}
    result["mac_ratio"] = result["decorrelated"]["macs_per_epoch"] / result["plain"][
        "macs_per_epoch"]
    result["product_time_ratio"] = (result["decorrelated"]["product_seconds_per_epoch"]
                                    / result["plain"]["product_seconds_per_epoch"])
    return result


def update_cost(engine: str, d: int, batch: int, fraction: float, dtype: str,
                repeats: int = 15) -> dict:
    """Seconds of one layer's decorrelation step, written into ``M`` in place and as a new
    array, beside one ``batch × d × d`` product (medians; the step as the engine computes it)."""
    from neurodecorr.core.rules import DecorrelationConfig

    config = DecorrelationConfig(rule="ahmad", eta=1e-5, batch_fraction=fraction)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch, d))
    if engine == "numpy":
        from neurodecorr.core.linear import linear_update

        M = np.eye(d)
        states = X @ M.T
        steps = {"in_place": lambda: linear_update(M, X, config, states=states, in_place=True),
                 "new_array": lambda: linear_update(M, X, config, states=states)}
        product = lambda: X @ M.T  # noqa: E731
    else:
        import torch

        from neurodecorr.reference.device import resolve_dtype
        from neurodecorr.torch.decorrelation import decorrelation_step

        dt = resolve_dtype(dtype)
        Xt = torch.as_tensor(X, dtype=dt)
        Mt = torch.eye(d, dtype=dt)
        states = Xt @ Mt.T
        steps = {"in_place": lambda: decorrelation_step(Mt, Xt, states, config, in_place=True),
                 "new_array": lambda: decorrelation_step(Mt, Xt, states, config)}
        product = lambda: Xt @ Mt.T  # noqa: E731
    out = {}
    for name, fn in (*steps.items(), ("product_batch_d_d", product)):
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out[f"{name}_s"] = float(np.median(times))
    return out


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
                row["cost_model"] = cost_model(
                    engine, [data.n_features, *hidden, data.n_classes], 64, fraction,
                    algorithm, len(data.x_train), (len(data.x_train), len(data.x_test)),
                    args.dtype)
                # the measured plain epoch plus only the time the added products take alone:
                # what the decorrelated epoch would cost if nothing but its products were extra
                extra = (row["cost_model"]["decorrelated"]["product_seconds_per_epoch"]
                         - row["cost_model"]["plain"]["product_seconds_per_epoch"])
                row["products_only_ratio"] = (row["plain_epoch_s"] + extra) / row["plain_epoch_s"]
                rows.append(row)
                print(f"{engine:6s} {algorithm:4s} fraction {fraction:4.2f}: plain "
                      f"{row['plain_epoch_s']:.3f} s, decorrelated {row['decor_epoch_s']:.3f} s,"
                      f" ratio {row['ratio']:.2f} (CPU time: {row['ratio_cpu']:.2f}); "
                      f"multiply-adds {row['cost_model']['mac_ratio']:.2f}x, their products "
                      f"alone {row['cost_model']['product_time_ratio']:.2f}x; plain epoch + "
                      f"added products {row['products_only_ratio']:.2f}x (load "
                      f"{row['load_average']:.1f})", file=sys.stderr)
    updates = {}
    for engine in args.engines.split(","):
        updates[engine] = update_cost(engine, max(hidden), 64, 0.1, args.dtype)
        u = updates[engine]
        print(f"{engine}: one layer's update (d = {max(hidden)}, k = 6) in place "
              f"{1e3 * u['in_place_s']:.2f} ms, as a new array {1e3 * u['new_array_s']:.2f} ms; "
              f"a 64 × d × d product {1e3 * u['product_batch_d_d_s']:.2f} ms", file=sys.stderr)
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
               "torch_matmul_fraction": fraction, "update_cost": updates,
               "load_average_end": os.getloadavg()}
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
