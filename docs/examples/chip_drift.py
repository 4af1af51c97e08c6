"""Example 2: train a network on the simulated chip, then watch the PCM drift erode it.

A 64-16-10 network with on-chip decorrelation is trained on (part of) the scikit-learn digits
with feedback alignment. The chip is described by a circuit file written here: ideal lateral
arrays and PCM forward crossbars. Every training pass settles the lateral circuits and reads the
crossbars; the lateral matrices learn by pulses and the forward weights by SGD pulses. Then the
chip is left alone: its clock is moved on to an hour, a day, a week and a month after training,
and the test set is run at each age. PCM conductances drift as ``G(t) = G(t₀) (t/t₀)^(−ν)``
for ``t > t₀`` (Nandakumar 2019; ν drawn per device from the preset), so the weights shrink
and spread. Run it as ``python docs/examples/chip_drift.py OUT_DIR``.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from neurodecorr.data import load_dataset
from neurodecorr.devices import load_device
from neurodecorr.learning import ChipOptions, ChipTrainer, TrainConfig

AGES_S = (0.0, 3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0)


CIRCUIT = """
name = "pcm-forward"
description = "Ideal lateral arrays, PCM forward crossbars"
source = "docs/examples/chip_drift.py"

[lateral]
device = "ideal"
weight_headroom = 4.0
settle_tol = 1.0e-4

[forward]
device = "{forward}"
weight_headroom = 8.0
"""


def train(forward: str, out_dir: Path, epochs: int, train_samples: int, seed: int
          ) -> tuple[ChipTrainer, list[dict]]:
    """Train on a chip with ``forward`` devices in the forward crossbars."""
    circuit = out_dir / f"{forward}-forward.toml"
    circuit.write_text(CIRCUIT.format(forward=forward))
    data = load_dataset("digits")
    data = replace(data, x_train=data.x_train[:train_samples],
                   y_train=data.y_train[:train_samples])
    config = TrainConfig(dataset="digits", algorithm="fa", decorrelation="ahmad", hidden=(16,),
                         epochs=epochs, batch_size=32, lr=0.2, decor_lr=1e-3, seed=seed)
    trainer = ChipTrainer(config, data, ChipOptions(circuit=str(circuit), seed=seed))
    return trainer, trainer.fit()


def age(trainer: ChipTrainer, ages_s=AGES_S) -> list[dict]:
    """Test accuracy and forward weights at each age after training (seconds)."""
    data, chip = trainer.dataset, trainer.chip
    trained_at = chip.clock_s
    W0 = [layer.effective(trained_at)[0] for layer in chip.layers]
    rows = []
    for a in ages_s:
        chip.clock_s = trained_at + a
        W = [layer.effective(chip.clock_s)[0] for layer in chip.layers]
        acc, loss = trainer.evaluate(data.x_test, data.y_test)
        # the ratio of the larger weights (a tenth of the largest and up): the small ones are
        # dominated by programming and read noise
        big = [np.abs(w0) > 0.1 * np.abs(w0).max() for w0 in W0]
        ratio = np.median(np.concatenate([w[m] / w0[m] for w, w0, m in zip(W, W0, big,
                                                                          strict=True)]))
        rows.append({"age_s": a, "clock_s": chip.clock_s, "test_acc": acc, "test_loss": loss,
                     "weight_ratio_median": float(ratio)})
    chip.clock_s = trained_at
    return rows


def drift_envelope(ages_s: np.ndarray, trained_at_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The PCM preset's drift factor ``(t/t₀)^(−ν)`` for the smallest and the largest mean ν
    of its ``[drift]`` table, at ``ages_s`` after training (no drift before ``t₀``)."""
    drift = load_device("pcm").drift
    t = np.maximum((ages_s + trained_at_s) / drift.t0_s, 1.0)
    return t ** -drift.nu_mean.hi, t ** -drift.nu_mean.lo


def main(out_dir: str | Path, epochs: int = 3, train_samples: int = 960, seed: int = 0
         ) -> dict:
    """Train with ideal and with PCM forward arrays, age both; write ``drift.png``, return the
    tables."""
    out_dir = Path(out_dir)
    results = {}
    for device in ("ideal", "pcm"):
        trainer, history = train(device, out_dir, epochs, train_samples, seed)
        results[device] = {"history": history, "ages": age(trainer),
                           "trained_at_s": trainer.chip.clock_s}

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    days = np.array(AGES_S) / 86400.0
    for device, style in (("ideal", "o-"), ("pcm", "s--")):
        rows = results[device]["ages"]
        label = f"{device} forward arrays"
        left.plot(days, [100 * r["test_acc"] for r in rows], style, label=label)
        right.plot(days, [r["weight_ratio_median"] for r in rows], style, label=label)
    low, high = drift_envelope(np.array(AGES_S), results["pcm"]["trained_at_s"])
    right.fill_between(days, low, high, color="tab:orange", alpha=0.15,
                       label="(t/t₀)^−ν, ν over the preset's range")
    for ax in (left, right):
        ax.set_xscale("symlog", linthresh=0.01)
        ax.set_xlabel("days since training")
        ax.grid(alpha=0.3)
        ax.legend()
    left.set_ylabel("test accuracy (%)")
    right.set_ylabel("median W(t) / W(end of training)")
    fig.suptitle("digits 64-16-10, FA + on-chip decorrelation: the chip ageing after training")
    fig.tight_layout()
    fig.savefig(out_dir / "drift.png", dpi=110)
    plt.close(fig)
    return results


if __name__ == "__main__":
    for device, result in main(sys.argv[1] if len(sys.argv) > 1 else ".").items():
        for row in result["ages"]:
            print(f"{device:6s} {row['age_s'] / 86400:7.2f} days: test accuracy "
                  f"{100 * row['test_acc']:.1f}%, median weight ratio "
                  f"{row['weight_ratio_median']:.3f}")
