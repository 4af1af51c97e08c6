"""Fixed-point on-chip learning over a whole training run: float rule against the integer rule.

Trains ``A`` from ``I`` on ``n`` = 4 inputs with pairwise correlation 0.6 (the bit-true
emulation of Lava's fixed-point ``LearningDense``, :mod:`neurodecorr.lava.fixed_learning`)
with Lava's stochastic rounding, per-synapse stochastic rounding and rounding to nearest,
and prints the off-diagonal correlation RMS of ``A⁻¹x`` on held-out samples every
``--every`` samples (the float rule with the plan's gain weight β, with β = 1, and with ``A``
rounded to the weights' grid after every sample; the integer runs), the largest eigenvalue
of the Lava run's ``A``, and the median per-sample Hebbian change in weight LSBs; ``--plot``
draws the scores against the samples.

Usage: ``.venv/bin/python benchmarks/lava_fixed_learning.py [--samples 3000] [--log2-eta -8]
[--code-bits 4] [--no-gain] [--plot run.png]``; ``--weight-bits 6 --gain-code-bits 8
--gain-shift 0`` is the earlier per-sample gain, which diverges at η = 2⁻¹⁰.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np

from neurodecorr.lava import fixed_learning as fl


def plot(cmp: fl.LearningComparison, plan: fl.FixedLearningPlan, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True,
                                      gridspec_kw={"height_ratios": [2, 1]})
    top.plot(cmp.samples, cmp.float_rule, "k-", label=f"float rule (gain weight β = {plan.beta:g})")
    top.plot(cmp.samples, cmp.float_full_gain, "k:", label="float rule (β = 1, per-sample gain)")
    top.plot(cmp.samples, cmp.float_on_grid, "C7-", lw=2.5, alpha=0.5,
             label=f"float rule, {'Δ' if plan.split else 'A'} rounded to the 9-bit weight grid")
    styles = {"lava": "C0-", "independent": "C1--", "nearest": "C2-."}
    names = {"lava": "fixed point, Lava's rounding (= Lava run)",
             "independent": "fixed point, per-synapse rounding", "nearest": "fixed point, nearest"}
    for r, scores in cmp.fixed.items():
        top.plot(cmp.samples, scores, styles[r], label=names[r])
    top.axhline(cmp.input_rms, color="grey", lw=0.8)
    top.set_ylabel("off-diagonal |corr| RMS of A⁻¹x")
    top.set_ylim(0, 1.05 * cmp.input_rms)
    top.legend(fontsize=8)
    top.set_title(f"η = $2^{{{int(np.log2(plan.eta))}}}$, {plan.b}-bit codes, "
                  f"A = {'D + ' if plan.split else ''}w·$2^{{-{plan.a}}}$, "
                  f"{len(cmp.fixed_max_eig) - 1} samples")
    bottom.plot(np.arange(len(cmp.fixed_max_eig)), cmp.fixed_max_eig, "C0-", lw=0.6)
    bottom.axhline(2 * 2**plan.k, color="C3", lw=0.8, label="Euler limit 2/α")
    bottom.set_ylabel("largest |eig| of A")
    bottom.set_xlabel("training samples")
    bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--every", type=int, default=300)
    parser.add_argument("--log2-eta", type=int, default=-8)
    parser.add_argument("--code-bits", type=int, default=4)
    parser.add_argument("--weight-bits", type=int, default=None,
                        help="fractional bits a of the weights (default 7; 9 with --split)")
    parser.add_argument("--split", action="store_true",
                        help="A = D + Δ: the diagonal in the neurons, only Δ in the synapses")
    parser.add_argument("--gain-code-bits", type=int, default=fl.FixedLearningPlan.c)
    parser.add_argument("--gain-shift", type=int, default=fl.FixedLearningPlan.gain_shift)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--no-gain", action="store_true")
    parser.add_argument("--no-floor-compensation", action="store_true",
                        help="the earlier rule: add back only half a unit of the gain product")
    parser.add_argument("--plot", help="write a PNG of the scores against the samples")
    args = parser.parse_args()
    plan = fl.plan_for(2.0**args.log2_eta, T=args.steps, a=args.weight_bits, b=args.code_bits,
                       gain=not args.no_gain, gain_shift=args.gain_shift, split=args.split)
    plan = dataclasses.replace(plan, c=args.gain_code_bits,
                               floor_compensation=not args.no_floor_compensation)
    plan.check()
    X = fl.correlated_stream(4, args.samples, 0.6, 1)
    X_test = fl.correlated_stream(4, 2000, 0.6, 2)
    cmp = fl.compare_training(plan, X, X_test, every=args.every)
    w0 = np.zeros((4, 4), np.int64) if plan.split else np.eye(4, dtype=np.int64) << plan.a
    run = fl.emulate(w0, np.round(X * 2**plan.F).astype(np.int64), plan)
    q = (run.x1 - fl.OFFSET)[:, None, :] * (run.y2 - fl.OFFSET)[:, :, None]
    hebb_lsb = np.abs(q) / 8 * 2.0**plan.e  # the engine's Hebbian change in weight LSBs
    floor_err = fl.floor_errors(run, plan)
    if args.plot:
        plot(cmp, plan, args.plot)
    print(json.dumps({
        "plan": dataclasses.asdict(plan), "eta": plan.eta, "rule": plan.rule,
        "samples": cmp.samples.tolist(), "input_offdiag_rms": round(cmp.input_rms, 3),
        "float_rule": np.round(cmp.float_rule, 3).tolist(),
        "float_rule_beta_1": np.round(cmp.float_full_gain, 3).tolist(),
        "float_rule_on_weight_grid": np.round(cmp.float_on_grid, 3).tolist(),
        **{f"fixed_{r}": np.round(v, 3).tolist() for r, v in cmp.fixed.items()},
        "lava_max_eig": np.round(cmp.fixed_max_eig[cmp.samples], 2).tolist(),
        "lava_max_abs_weight": int(np.max(np.abs(run.weights))),
        "median_hebbian_dw_lsb": float(np.median(hebb_lsb)),
        "share_hebbian_dw_below_half_lsb": float(np.mean(hebb_lsb < 0.5)),
        "rule_terms": dataclasses.asdict(plan.terms),
        # what the engine's floors and the constant leave per sample and synapse, before the
        # stochastic rounding (accumulator units, 2^-7 weight LSB)
        "mean_floor_error_acc": round(float(floor_err.mean()), 4),
        "mean_floor_error_acc_offdiag": round(float(floor_err[:, ~np.eye(4, dtype=bool)].mean()),
                                              4),
    }, indent=1))
