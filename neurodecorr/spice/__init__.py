"""The lateral circuit as an ngspice netlist, and its check against the ODE simulator.

:func:`draw` (or :func:`draw_from_matrix`, :func:`draw_from_network`) draws one layer's
components as the simulator does; :func:`write_netlist` writes them as a commented netlist;
:func:`spice_check` runs ngspice in batch mode and compares its transient with the simulator's.
"""

from neurodecorr.spice.check import SpiceCheck, spice_check
from neurodecorr.spice.circuit import SpiceCircuit
from neurodecorr.spice.drawing import draw, draw_from_matrix, draw_from_network, from_lateral_array
from neurodecorr.spice.netlist import write_netlist
from neurodecorr.spice.ngspice import find_ngspice, read_raw, run_ngspice
from neurodecorr.spice.plot import plot_check

__all__ = [
    "SpiceCheck", "SpiceCircuit", "draw", "draw_from_matrix", "draw_from_network",
    "find_ngspice", "from_lateral_array", "plot_check", "read_raw", "run_ngspice",
    "spice_check", "write_netlist",
]
