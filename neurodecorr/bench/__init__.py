"""``neurodecorr bench``: the simulator beside the exact reference, accuracy and speed."""

from neurodecorr.bench.runner import run_scenario
from neurodecorr.bench.scenario import Case, Scenario, list_scenarios, load_scenario

__all__ = ["Case", "Scenario", "list_scenarios", "load_scenario", "run_scenario"]
