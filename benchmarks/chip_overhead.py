"""Chip training overhead: software samples/s ÷ chip samples/s, measured as a ratio in one run.

The shared task of issue #15: 40-64-64-10 on MNIST-1D, BP, SGD (lr 0.1 on both sides), batch
64, no decorrelation, one thread. For each device preset the software network and the chip
run ``--batches`` training steps in alternation, ``--repeats`` times, after a warm-up block
(numba's compilation is not timed); the ratio is the median chip time over the median software
time (:func:`neurodecorr.bench.chip_overhead.chip_overhead`). The load average is printed
beside the figures. ``--engine numpy`` writes the pulse trains with the numpy reference
instead of the numba kernel (the same numbers, the old speed).

Example (the figures in docs/chip.md, "Speed")::

    PYTHONPATH=. .venv/bin/python benchmarks/chip_overhead.py --devices reram,pcm,ideal \\
        --repeats 7 --json chip_overhead.json
"""

from __future__ import annotations

import os

# one thread per process: the ratio of two single-threaded timings, steady on a shared machine
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402

from neurodecorr.bench.chip_overhead import CLOCKS, chip_overhead  # noqa: E402
from neurodecorr.learning import parse_hidden  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="reram,pcm,ideal")
    parser.add_argument("--hidden", default="2x64")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--algorithm", default="bp")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--update", default="sgd")
    parser.add_argument("--decorrelation", choices=("none", "ahmad"), default="none")
    parser.add_argument("--batches", type=int, default=10, help="training steps per timing")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    parser.add_argument("--engine", choices=("numba", "numpy"), default="numba")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args()
    if args.engine == "numpy":
        from neurodecorr.devices import crossbar

        crossbar.DEFAULT_ENGINE = "numpy"
    rows = []
    print(f"{'device':10s} {'chip_overhead':>13s} {'chip samples/s':>15s} "
          f"{'software samples/s':>19s} {'load avg':>9s}")
    for device in args.devices.split(","):
        row = chip_overhead(device, parse_hidden(args.hidden), args.batch, args.algorithm,
                            args.lr, args.update, args.batches, args.repeats, clock=args.clock,
                            decorrelation=args.decorrelation)
        row["load_average_1min"] = os.getloadavg()[0]
        row["engine"] = args.engine
        rows.append(row)
        print(f"{device:10s} {row['chip_overhead']:13.2f} {row['chip_samples_per_s']:15.0f} "
              f"{row['software_samples_per_s']:19.0f} {row['load_average_1min']:9.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
