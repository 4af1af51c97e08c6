"""Lava's CPU simulation speed for one lateral layer (samples × Euler sub-steps per second).

Times ``RingBuffer → LateralLayer`` (one process, ``n_sub`` sub-steps per Lava step, one sample
per step) after start-up; see :func:`neurodecorr.lava.speed.lateral_throughput`.

Usage: ``.venv/bin/python benchmarks/lava_speed.py [--n 100] [--n-sub 20] [--samples 2000]
[--precision float|fixed]``
"""

from __future__ import annotations

import argparse
import json

from neurodecorr.lava.speed import lateral_throughput

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--n-sub", type=int, default=20)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--precision", default="float", choices=("float", "fixed"))
    args = parser.parse_args()
    print(json.dumps(lateral_throughput(args.n, args.n_sub, args.samples, args.precision),
                     indent=2))
