"""The lateral circuit as a SPICE netlist, and its check against ngspice."""
