"""Chopped TTv2 on the quadratic problem of ``tests/test_updates.py``: what makes it settle.

The problem is the least-squares one of the test (``d = (W* − C) x``, Gaussian ``x``, 3×4,
one column of ``A`` read per update). Two tables, three seeds each.

**Exact arithmetic** (no device): a fast matrix ``A`` integrates the input-chopped gradient
``A += r d (c ∘ x)ᵀ``; column ``j = k mod 4`` is read, de-chopped (``c_j A_j``) and added to
``H``; where ``|H| ≥ 1`` the slow matrix ``C`` moves by ``clip(trunc(H), ±n_max)`` steps ``ε``
and ``H`` is forgotten; ``c_j`` flips with probability ``chop_prob`` after each read.

* ``old``: this project's former defaults, ``r = lr``, ``H += 0.1 c_j A_j/ε``,
  ``n_max = 31``, ``chop_prob = 0.1``;
* ``aihwkit``: the chopped presets (``ChoppedTTv2ReRamESPreset``): ``auto_scale``
  (``r = fast_lr·BL·ε/(m_x m_d)``, running maxima), ``auto_granularity`` 1000
  (``H += c_j A_j lr P/(ε g)``, ``P = 4`` samples per sweep), ``n_max = 1``,
  ``chop_prob = 0.01``, ``fast_lr = 0.5``.

Neither settles: nothing bounds ``A``. With random flips at rate ``λ`` the de-chopped read
``m = c A`` obeys ``m' = G`` between flips and ``m → −m`` at a flip; ``C' = β m``, ``G = −α e``
plus a noise whose variance grows with the error ``e`` (``G = e x xᵀ``). The "energy"
``α e² + β m²`` is left unchanged by the loop and by the flips and grows with the noise, so
the second moments never decay.

**On the test's devices** (``make_array``, constant-step symmetric and soft-bounds
asymmetric, step 0.01 of a range ±1; lr 0.2): ``chopped-ttv2`` at its defaults and with one
of aihwkit's preset ingredients taken away at a time. The device's bounds are what holds
``A``; auto_granularity's low-pass is what lets ``C`` average ``A``'s bounded, noisy content::

    .venv/bin/python benchmarks/chopped_ttv2_float.py            # both tables, ~2-6 min
    .venv/bin/python benchmarks/chopped_ttv2_float.py --exact-only
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

EXACT = {
    "old": dict(auto=False, transfer_lr=0.1, granularity=0.0, max_pulses=31, chop_prob=0.1,
                fast_lr=1.0),
    "aihwkit": dict(auto=True, transfer_lr=1.0, granularity=1000.0, max_pulses=1,
                    chop_prob=0.01, fast_lr=0.5),
}

#: chopped-ttv2 at its defaults, then each of aihwkit's preset ingredients taken away
VARIANTS = {
    "defaults (aihwkit presets)": {},
    "auto_scale off (rate lr·fast_lr)": dict(auto_scale=False),
    "auto_granularity off (H += 0.1 v/ε)": dict(auto_granularity=0.0, transfer_lr=0.1),
    "transfer_max_pulses 31": dict(transfer_max_pulses=31),
    "chop_prob 0.1": dict(chop_prob=0.1),
    "all four: the former defaults": dict(auto_scale=False, auto_granularity=0.0,
                                          transfer_lr=0.1, transfer_max_pulses=31,
                                          chop_prob=0.1, fast_lr=1.0),
}


def run_exact(steps: int, seed: int, auto: bool, transfer_lr: float, granularity: float,
              max_pulses: int, chop_prob: float, fast_lr: float, lr: float = 0.2,
              eps: float = 0.01, bl: int = 31) -> tuple[float, float]:
    """max|C − W*| and max|A| after ``steps`` updates of the exact-arithmetic loop."""
    rng = np.random.default_rng(seed)
    target = rng.uniform(-0.4, 0.4, (3, 4))
    A, C, H = np.zeros((3, 4)), np.zeros((3, 4)), np.zeros((3, 4))
    chopper = np.ones(4)
    m_x = m_d = 0.0
    for k in range(steps):
        x = rng.standard_normal(4)
        d = target @ x - C @ x
        if auto:
            a, b = np.abs(x).max(), np.abs(d).max()
            m_x = a if m_x <= 0 else 0.99 * m_x + 0.01 * a
            m_d = b if m_d <= 0 else (m_d if b <= 0 else 0.99 * m_d + 0.01 * b)
            rate = fast_lr * bl * eps / (m_x * m_d)
        else:
            rate = lr * fast_lr
        A += rate * np.outer(d, chopper * x)
        j = k % 4
        scale = lr * transfer_lr * 4 / (eps * granularity) if granularity else transfer_lr / eps
        h = H[:, j] + chopper[j] * A[:, j] * scale
        n = np.clip(np.trunc(h), -max_pulses, max_pulses)
        h[n != 0] = 0.0
        H[:, j] = h
        C[:, j] += n * eps
        if rng.random() < chop_prob:
            chopper[j] = -chopper[j]
    return float(np.abs(C - target).max()), float(np.abs(A).max())


def run_device(steps: int, seed: int, device, **keys) -> tuple[float, float]:
    """The test's ``_quadratic`` (lr 0.2): max|C − W*| and max|A| at the end."""
    from neurodecorr.circuits.updates import UpdateConfig, make_array

    rng = np.random.default_rng(seed)
    target = rng.uniform(-0.4, 0.4, (3, 4))
    arr = make_array(device, np.zeros((3, 4)), np.random.default_rng([seed, 1]), 0.0, 1.0,
                     UpdateConfig("chopped-ttv2", transfer_columns=1, **keys))
    for _ in range(steps):
        x = rng.standard_normal(4)
        d = target @ x - arr.matvec(x, 0.0)
        arr.update(x[None], d[None], 0.2, 0.0)
    return (float(np.abs(arr.effective_weights(0.0) - target).max()),
            float(np.abs(arr.fast.effective_weights(0.0)).max()))


def test_devices():
    """The symmetric and asymmetric devices of tests/test_updates.py."""
    from neurodecorr.devices import load_device

    ideal = load_device("ideal")

    def make(model, up_down):
        return dataclasses.replace(ideal, pulsed=dataclasses.replace(
            ideal.pulsed, model=model, up_down=up_down, dw_min_norm=0.01))

    return {"symmetric": make("constant_step", 0.0), "asymmetric": make("soft_bounds", 0.4)}


def _cells(runs) -> str:
    errors = " ".join(f"{r[0]:.3g}" for r in runs)
    sizes = " ".join(f"{r[1]:.3g}" for r in runs)
    return f"{errors} | {sizes}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=8000)
    p.add_argument("--exact-only", action="store_true")
    args = p.parse_args(argv)
    print(f"exact arithmetic, {args.steps} updates, lr 0.2 | max|C - W*| (3 seeds) | max|A|")
    for name, keys in EXACT.items():
        print(f"{name:8s} | {_cells([run_exact(args.steps, s, **keys) for s in range(3)])}")
    if args.exact_only:
        return 0
    print(f"\ndevices, chopped-ttv2, {args.steps} updates, lr 0.2 | max|C - W*| (3 seeds) | "
          "max|A|")
    for dev_name, device in test_devices().items():
        for name, keys in VARIANTS.items():
            runs = [run_device(args.steps, s, device, **keys) for s in range(3)]
            print(f"{dev_name:10s} {name:38s} | {_cells(runs)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
