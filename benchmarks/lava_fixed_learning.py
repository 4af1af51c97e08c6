"""Fixed-point on-chip learning over a whole training run: float rule against the integer rule.

Trains ``A`` from ``I`` on ``n`` = 4 inputs with pairwise correlation 0.6 (the bit-true
emulation of Lava's fixed-point ``LearningDense``, :mod:`neurodecorr.lava.fixed_learning`)
with Lava's stochastic rounding, per-synapse stochastic rounding and rounding to nearest,
and prints the off-diagonal correlation RMS of ``A⁻¹x`` on held-out samples every
``--every`` samples, and the median per-sample Hebbian change in weight LSBs.

Usage: ``.venv/bin/python benchmarks/lava_fixed_learning.py [--samples 3000] [--log2-eta -8]
[--code-bits 4] [--no-gain]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np

from neurodecorr.lava import fixed_learning as fl

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--every", type=int, default=300)
    parser.add_argument("--log2-eta", type=int, default=-8)
    parser.add_argument("--code-bits", type=int, default=4)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--no-gain", action="store_true")
    args = parser.parse_args()
    plan = fl.plan_for(2.0**args.log2_eta, T=args.steps, b=args.code_bits,
                       gain=not args.no_gain)
    X = fl.correlated_stream(4, args.samples, 0.6, 1)
    X_test = fl.correlated_stream(4, 2000, 0.6, 2)
    cmp = fl.compare_training(plan, X, X_test, every=args.every)
    run = fl.emulate(np.eye(4, dtype=np.int64) << plan.a,
                     np.round(X * 2**plan.F).astype(np.int64), plan)
    q = (run.x1 - fl.OFFSET)[:, None, :] * (run.y2 - fl.OFFSET)[:, :, None]
    hebb_lsb = np.abs(q) / 8 * 2.0**plan.e  # the engine's Hebbian change in weight LSBs
    print(json.dumps({
        "plan": dataclasses.asdict(plan), "eta": plan.eta, "rule": plan.rule,
        "samples": cmp.samples.tolist(), "input_offdiag_rms": round(cmp.input_rms, 3),
        "float_rule": np.round(cmp.float_rule, 3).tolist(),
        **{f"fixed_{r}": np.round(v, 3).tolist() for r, v in cmp.fixed.items()},
        "median_hebbian_dw_lsb": float(np.median(hebb_lsb)),
        "share_hebbian_dw_below_half_lsb": float(np.mean(hebb_lsb < 0.5)),
    }, indent=1))
