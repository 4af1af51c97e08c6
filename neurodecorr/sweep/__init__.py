"""Parameter sweeps of neurodecorr commands on Dask.

A TOML spec names a command and its arguments; lists are swept (:mod:`.spec`). Each point runs
the real command on a Dask worker (:mod:`.point`), drawing its inputs from its seed when it
gives sizes instead of files (:mod:`.synthetic`). Rows go to a results CSV as points finish,
which makes a stopped sweep resumable (:mod:`.results`, :mod:`.runner`); :mod:`.plot` draws a
metric against a parameter; :mod:`.session` is the whole of ``neurodecorr sweep``.
"""

from neurodecorr.sweep.plot import plot_metric
from neurodecorr.sweep.point import run_point
from neurodecorr.sweep.results import ResultsFile, read_rows
from neurodecorr.sweep.runner import SweepSummary, run_sweep
from neurodecorr.sweep.session import sweep_spec_file
from neurodecorr.sweep.spec import Point, SweepSpec, load_spec
from neurodecorr.sweep.synthetic import correlated_inputs, input_covariance, stable_lateral

__all__ = [
    "Point",
    "ResultsFile",
    "SweepSpec",
    "SweepSummary",
    "correlated_inputs",
    "input_covariance",
    "load_spec",
    "plot_metric",
    "read_rows",
    "run_point",
    "run_sweep",
    "stable_lateral",
    "sweep_spec_file",
]
