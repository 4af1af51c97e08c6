"""The torch paths' throughput as a fraction of bare ``torch.matmul`` on the same shapes.

The ``torch_engine`` bench case (issue 18: "``bench`` reports the torch engine's and the
reference's throughput as a fraction of ``torch.matmul`` on the same shapes; goal ≥ 0.5"):

- ``engine_fraction_of_matmul``: one plain training epoch of the torch engine
  (:class:`~neurodecorr.torch.engine.TorchTrainer`, BP, no decorrelation, batch ``batch``, the
  evaluation after the epoch excluded) against, for every batch of that epoch and every layer
  ``d → o``, the three products the epoch needs: ``X Wᵀ`` (forward), ``δᵀ X`` (``∂L/∂W``) and
  ``δ W`` (``∂L/∂X``), each ``torch.matmul`` of the same shapes, device and dtype;
- ``reference_fraction_of_matmul``: the reference's forward pass
  (:class:`~neurodecorr.reference.TorchReference`, the exact path every simulator result is
  checked against) of a decorrelated network over the same training rows in ``batch``-row
  chunks, against the products it computes: per layer ``X Mᵀ`` and ``X̄ Wᵀ``.

A fraction is ``t_matmul / t_path`` (1: the path costs nothing beyond its products). The two
sides of each fraction are timed alternately, best of ``repeats`` (see
:func:`~neurodecorr.bench.measure.alternate`), so load from other processes hits both alike;
no absolute time is compared with anything. Both run on the best available device (CUDA when
present, else the CPU, named in the row) with the torch thread settings of the process.
torch is imported only here: without it the row says why instead of failing.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from neurodecorr.bench.measure import alternate


def _products(operands: list[tuple], transposes: list[tuple[bool, bool]], chunks: int,
              sync) -> None:
    import torch

    for _ in range(chunks):
        for (A, B), (ta, tb) in zip(operands, transposes, strict=True):
            torch.matmul(A.T if ta else A, B.T if tb else B)
    sync()


def torch_engine_fractions(dataset: str, hidden: tuple[int, ...], batch: int, dtype: str,
                           device: str, repeats: int, seed: int, train_rows: int = 0,
                           threads: int | None = None) -> dict[str, Any]:
    """``engine_fraction_of_matmul`` and ``reference_fraction_of_matmul`` (see the module),
    with the timings of both sides and the device's name.

    ``train_rows`` > 0 keeps only the first rows of the training set (a smaller epoch);
    ``threads`` caps torch's CPU threads for the measurement (the bench's ``--blas-threads``,
    for the reason given in :func:`~neurodecorr.bench.runner.run_scenario`).
    Returns ``{"engine_fraction_of_matmul": None, "reference_fraction_of_matmul": None,
    "torch": why}`` when torch cannot be imported.
    """
    try:
        import torch
    except ImportError as exc:  # an environment without torch: say why, as the Lava case does
        return {"engine_fraction_of_matmul": None, "reference_fraction_of_matmul": None,
                "torch": f"torch is not installed ({exc}); install torch to measure the torch "
                         f"engine and the reference"}
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _fractions(torch, dataset, hidden, batch, dtype, device, repeats, seed,
                          train_rows)
    finally:
        torch.set_num_threads(previous)


def _fractions(torch, dataset: str, hidden: tuple[int, ...], batch: int, dtype: str,
               device: str, repeats: int, seed: int, train_rows: int) -> dict[str, Any]:
    from dataclasses import replace

    from neurodecorr.data import load_dataset
    from neurodecorr.learning import TrainConfig, Trainer
    from neurodecorr.reference import TorchReference, describe_device, resolve_device
    from neurodecorr.reference.device import resolve_dtype
    from neurodecorr.torch.engine import TorchOptions, TorchTrainer

    dev, dt = resolve_device(device), resolve_dtype(dtype)
    data = load_dataset(dataset)
    if train_rows > 0:
        data = replace(data, x_train=data.x_train[:train_rows], y_train=data.y_train[:train_rows])

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    gen = torch.Generator(device="cpu").manual_seed(seed)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, dtype=dt).to(dev)

    sizes = [data.n_features, *hidden, data.n_classes]
    n_rows = len(data.x_train)
    chunks = -(-n_rows // batch)  # the last chunk is timed at full size: a slight overcount

    # (a) the engine's plain epoch against its three products per layer and batch
    config = TrainConfig(dataset=dataset, hidden=hidden, batch_size=batch, epochs=10 ** 6,
                         seed=seed)
    trainer = TorchTrainer(config, data, TorchOptions(device=device, dtype=dtype))
    engine_ops, engine_t = [], []
    for d, o in zip(sizes[:-1], sizes[1:], strict=True):
        X, W, D = randn(batch, d), randn(o, d), randn(batch, o)
        engine_ops += [(X, W), (D, X), (D, W)]
        engine_t += [(False, True), (True, False), (False, False)]

    def products() -> float:
        t0 = time.perf_counter()
        _products(engine_ops, engine_t, chunks, sync)
        return time.perf_counter() - t0

    # alternately, after one warm-up of each; the epoch side is the engine's own timer of the
    # training pass (synchronised, the evaluation after the epoch excluded)
    trainer.train_epoch()
    products()
    walls, t_products = [], []
    for _ in range(max(1, repeats)):
        trainer.train_epoch()
        walls.append(trainer.epoch_wall_s[-1])
        t_products.append(products())
    t_engine, t_engine_mm = min(walls), min(t_products)

    # (b) the reference's forward pass of a decorrelated network against its products
    network = Trainer(replace(config, decorrelation="ahmad"), data).network
    backend = TorchReference(device=device, dtype=dt)
    X_rows = np.asarray(data.x_train, dtype=np.float64)

    def reference_side() -> None:
        for start in range(0, n_rows, batch):
            backend.forward(network, X_rows[start:start + batch])
        sync()

    ref_ops, ref_t = [], []
    for d, o in zip(sizes[:-1], sizes[1:], strict=True):
        X, M, W = randn(batch, d), randn(d, d), randn(o, d)
        ref_ops += [(X, M), (X, W)]
        ref_t += [(False, True), (False, True)]
    t_ref, t_ref_mm = alternate(reference_side,
                                lambda: _products(ref_ops, ref_t, chunks, sync),
                                max(1, repeats))
    return {
        "engine_fraction_of_matmul": t_engine_mm / t_engine,
        "reference_fraction_of_matmul": t_ref_mm / t_ref,
        "engine_epoch_s": t_engine, "engine_matmul_s": t_engine_mm,
        "reference_forward_s": t_ref, "reference_matmul_s": t_ref_mm,
        "device": describe_device(dev), "dtype": dtype, "sizes": sizes,
        "train_rows": n_rows, "torch_threads": torch.get_num_threads(),
    }
