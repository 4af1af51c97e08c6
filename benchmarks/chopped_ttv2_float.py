"""Chopped TTv2 in exact arithmetic: why it does not settle on a quadratic problem.

The algorithm of ``circuits/updates.py`` (and aihwkit's ``ChoppedTransferCompound``) without
devices: a fast matrix ``A`` integrates the input-chopped gradient ``A += lr (d)(c ∘ x)ᵀ``; one
column ``j`` per update is read, de-chopped (``c_j A_j``) and accumulated in ``H``; where
``|H| ≥ 1`` the slow matrix ``C`` (the weights) moves by that many steps ``ε`` and ``H`` is
forgotten; ``c_j`` flips with probability ``chop_prob`` after each read. The problem is the
least-squares one of ``tests/test_updates.py`` (``d = (W* − C) x``, Gaussian ``x``).

Nothing pulls ``A`` back to zero: at the optimum its content random-walks with the gradient
noise, and its de-chopped read ``c_j A_j`` is a telegraph signal of that size, which ``H``
integrates into ``C``; at ``transfer_lr = 0.1`` the loop's second moments grow
exponentially. (With ``c`` flipped at random, the mean of the de-chopped read obeys
``m' = g − 2λm``, ``λ`` the flip rate: a leaky integrator of the gradient ``g``; the variance
around it is what grows.) AGAD re-references ``A`` at each chopper switch and converges;
TTv2 and Tiki-Taka read ``γ(A − r) + C``, which damps the loop. Prints max|C − W*| and max|A|
after ``--steps`` updates for a few settings, three seeds each::

    .venv/bin/python benchmarks/chopped_ttv2_float.py
"""

from __future__ import annotations

import argparse

import numpy as np


def run(transfer_lr: float, chop_prob: float, steps: int, seed: int, lr: float = 0.05,
        eps: float = 0.01) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    target = rng.uniform(-0.4, 0.4, (3, 4))
    A, C, H = np.zeros((3, 4)), np.zeros((3, 4)), np.zeros((3, 4))
    chopper = np.ones(4)
    for k in range(steps):
        x = rng.standard_normal(4)
        A += lr * np.outer(target @ x - C @ x, chopper * x)
        j = k % 4
        h = H[:, j] + chopper[j] * A[:, j] * transfer_lr / eps
        n = np.trunc(h)
        h[n != 0] = 0.0
        H[:, j] = h
        C[:, j] += n * eps
        if rng.random() < chop_prob:
            chopper[j] = -chopper[j]
    return float(np.abs(C - target).max()), float(np.abs(A).max())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=20000)
    args = p.parse_args(argv)
    print("transfer_lr chop_prob | max|C - W*| (3 seeds) | max|A| (3 seeds)")
    for transfer_lr, chop_prob in [(0.1, 0.1), (0.01, 0.1), (0.003, 0.1), (0.003, 0.3)]:
        runs = [run(transfer_lr, chop_prob, args.steps, s) for s in range(3)]
        errors = " ".join(f"{r[0]:7.3g}" for r in runs)
        sizes = " ".join(f"{r[1]:7.3g}" for r in runs)
        print(f"{transfer_lr:11g} {chop_prob:9g} | {errors} | {sizes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
