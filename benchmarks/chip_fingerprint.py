"""Fingerprint of short chip training runs, to check that a speed change leaves results equal.

Each case trains a chip (BP, MNIST-1D, 2×64, batch 64, fixed seeds) for a few batches and
records every weight, bias and lateral matrix the chip holds, its cost counters and the logits
of a later forward pass. Write one file before a change and one after, then compare: a change
meant to be bit-identical must report ``IDENTICAL``.

Example::

    PYTHONPATH=. .venv/bin/python benchmarks/chip_fingerprint.py before.npz
    # ... change the engine ...
    PYTHONPATH=. .venv/bin/python benchmarks/chip_fingerprint.py after.npz
    PYTHONPATH=. .venv/bin/python benchmarks/chip_fingerprint.py --compare before.npz after.npz
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402

import numpy as np  # noqa: E402

#: (device, decorrelation, update, batches): every drift, 1/f, mapping and update path
CASES = [("pcm", "none", "sgd", 40), ("reram", "none", "sgd", 40), ("ideal", "none", "sgd", 20),
         ("ecram", "none", "sgd", 20), ("pcm", "ahmad", "sgd", 15), ("ecram", "ahmad", "sgd", 10),
         ("ideal", "ahmad", "sgd", 10), ("pcm", "none", "mixed-precision", 15),
         ("pcm", "none", "ttv2", 15), ("reram-cmo", "none", "sgd", 15),
         ("capacitor", "none", "sgd", 15), ("pcm-hermes", "none", "sgd", 15),
         ("pcm-onesided", "none", "sgd", 10)]


def fingerprint(cases=CASES) -> dict[str, np.ndarray]:
    from neurodecorr.data import load_dataset
    from neurodecorr.learning.chip_trainer import ChipOptions, ChipTrainer
    from neurodecorr.learning.config import TrainConfig

    data = load_dataset("mnist1d")
    out = {}
    for device, decorrelation, update, batches in cases:
        config = TrainConfig(dataset="mnist1d", algorithm="bp", hidden=(64, 64), batch_size=64,
                             lr=0.1, epochs=1, seed=3, decorrelation=decorrelation,
                             decor_lr=1e-4)
        trainer = ChipTrainer(config, data, ChipOptions(device=device, lr=0.1, seed=5,
                                                        update=update))
        order = np.random.default_rng(1).permutation(len(data.x_train))
        for k in range(batches):
            idx = order[k * 64:(k + 1) * 64]
            trainer.train_batch(data.x_train[idx], data.y_train[idx])
        key = f"{device}-{decorrelation}-{update}"
        for i, layer in enumerate(trainer.network.layers):
            out[f"{key}/W{i}"], out[f"{key}/b{i}"] = layer.weight.copy(), layer.bias.copy()
            if layer.decorrelation is not None:
                out[f"{key}/M{i}"] = layer.decorrelation.copy()
        totals = trainer.chip.totals()
        out[f"{key}/totals"] = np.array([totals[k] for k in sorted(totals)])
        out[f"{key}/logits"] = trainer.chip.forward(trainer.network, data.x_test[:128]).z[-1]
        print(f"{key}: {batches} batches")
    return out


def compare(a_path: str, b_path: str) -> bool:
    a, b = np.load(a_path), np.load(b_path)
    if sorted(a.files) != sorted(b.files):
        print(f"DIFFER: cases {sorted(set(a.files) ^ set(b.files))}")
        return False
    bad = [k for k in a.files if not np.array_equal(a[k], b[k])]
    if bad:
        worst = max(float(np.max(np.abs(a[k] - b[k]))) for k in bad)
        print(f"DIFFER: {len(bad)} of {len(a.files)} arrays ({', '.join(bad[:5])}); "
              f"largest difference {worst:.3g}")
        return False
    print(f"IDENTICAL: {len(a.files)} arrays")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", help="write the fingerprint here (.npz)")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"))
    args = parser.parse_args()
    if args.compare:
        raise SystemExit(0 if compare(*args.compare) else 1)
    if not args.out:
        parser.error("give an output file or --compare A B")
    np.savez(args.out, **fingerprint())


if __name__ == "__main__":
    main()
