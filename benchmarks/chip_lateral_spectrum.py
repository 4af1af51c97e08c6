"""Why a lateral array on ReRAM loses stability: the spectrum of the matrix its reads multiply by.

The lateral circuit settles iff every eigenvalue of the read matrix has ``Re μ > 0``. A 64-node
array programmed with ``A = I`` (the start of on-chip decorrelation, ``weight_headroom`` 4 as in
the ``ideal`` circuit) carries, off the diagonal, independent device errors of standard
deviation ``σ`` (in units of ``A``); by the circular law their eigenvalues fill a disc of
radius ``σ√n`` around the diagonal's mean, so ``min Re μ ≈ 1 − σ√n`` (less where the diagonal
itself spreads). Measured per preset: after programming (programming noise) and after every
device received one pulse up and one down (the write noise a device's every write re-draws;
what a few batches of lateral writes leave behind)::

    # ≈ 10 s → docs/assets/chip_lateral_spectrum.json and .csv
    .venv/bin/python benchmarks/chip_lateral_spectrum.py

With a diagonal reference in the nodes' feedback (``[lateral] reference``, see
:mod:`neurodecorr.circuits.lateral`) the array holds ``Δ = A − I`` (zero at programming) mapped
on ``reference_range``: the rows with ``reference_range > 0`` program ``Δ = 0`` at that range and
measure ``I + Δ``. Write noise in units of ``A`` is ``write_noise_rel · dw_min · range``
(``write_noise_closed_form``), so it shrinks by the range ratio.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np

from neurodecorr.circuits.updates import pulse_counts
from neurodecorr.devices import Crossbar, load_device
from neurodecorr.io import json_bytes, write_outputs

ASSETS = Path(__file__).resolve().parents[1] / "docs" / "assets"
HERE = Path(__file__).resolve().parent


def spectrum(A: np.ndarray) -> dict:
    """Off-diagonal σ, the circular-law edge ``mean diag − σ√n`` and the measured min Re μ."""
    n = A.shape[0]
    off = A[~np.eye(n, dtype=bool)]
    sigma = float(np.std(off))
    mu = np.linalg.eigvals(A)
    return {"offdiag_sigma": sigma, "diag_mean": float(np.mean(np.diag(A))),
            "diag_sigma": float(np.std(np.diag(A))),
            "circular_law_edge": float(np.mean(np.diag(A)) - sigma * np.sqrt(n)),
            "min_re_mu": float(np.min(mu.real))}


def measure(device_name: str, n: int, headroom: float, seed: int,
            reference_range: float = 0.0) -> dict:
    """``A = I`` at ``headroom`` (the array holds all of ``A``), or with a reference
    (``reference_range > 0``) ``Δ = 0`` at that range and ``A = I + Δ``."""
    device = load_device(device_name)
    held = np.zeros((n, n)) if reference_range else np.eye(n)
    scale = reference_range or headroom
    xbar = Crossbar(device, held, np.random.default_rng(seed), weight_scale=scale)
    base = np.eye(n) if reference_range else 0.0
    programmed = spectrum(base + xbar.read_weights(0.0))
    every = np.ones((n, n))
    pulse_counts(xbar, every, 0.0)
    pulse_counts(xbar, -every, 0.0)
    written = spectrum(base + xbar.read_weights(0.0))
    p = device.pulsed
    return {"device": Path(device_name).stem, "n": n,
            "headroom": 0.0 if reference_range else headroom,
            "reference_range": reference_range, "seed": seed,
            "write_noise_closed_form": p.write_noise_rel * p.dw_min_norm * scale,
            **{f"programmed_{k}": v for k, v in programmed.items()},
            **{f"written_{k}": v for k, v in written.items()}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", default="ideal,ecram,pcm,reram,"
                   + str(HERE / "chip_study_devices" / "reram-no-write-noise.toml"))
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--headrooms", default="4,1")
    p.add_argument("--reference-ranges", default="1,0.5,0.25",
                   help="ranges of a reference's deviation array ('' for none)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", default=str(ASSETS / "chip_lateral_spectrum"))
    args = p.parse_args(argv)
    rows = [measure(d, args.n, float(h), s) for d in args.devices.split(",")
            for h in args.headrooms.split(",") for s in range(args.seeds)]
    rows += [measure(d, args.n, 0.0, s, float(r)) for d in args.devices.split(",")
             for r in filter(None, args.reference_ranges.split(",")) for s in range(args.seeds)]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows([{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}
                      for r in rows])
    out = Path(args.out)
    write_outputs({str(out.with_suffix(".json")): json_bytes({
        "command": "benchmarks/chip_lateral_spectrum.py " + " ".join(argv or sys.argv[1:]),
        "rows": rows}), str(out.with_suffix(".csv")): buf.getvalue().encode()})
    print(buf.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
