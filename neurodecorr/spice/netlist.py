"""An ngspice netlist of one lateral layer (the circuit of :mod:`neurodecorr.spice.circuit`).

The netlist is plain SPICE3 with ngspice's behavioural source for the rails; every value is SI
(ohm, farad, volt, siemens, second, hertz) and every block is commented, so it can be read,
edited and taken into another flow. Nodes are numbered 1…n: node ``k`` holds the state
``x̄[k−1]``. Run it with ``ngspice -b layer.cir -r layer.raw``.

A conductance is written as a resistor of ``1/G`` ohm, exactly as the device model gives it: a
device that its 1/f state pushes below zero (a PCM device near ``G_min``) becomes a negative
resistor, which SPICE accepts, so that the netlist holds the simulator's matrix.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.spice.circuit import CLAMP_GAIN, SpiceCircuit

#: ngspice tolerances: tight enough that the integration error stays far below the 1e-3
#: agreement the check asks for (defaults are reltol 1e-3, vntol 1 uV, abstol 1 pA)
OPTIONS = ".options method=gear reltol=1e-6 abstol=1e-15 vntol=1e-9 chgtol=1e-22"


def _num(value: float) -> str:
    return f"{value:.12g}"


def output_vectors(n: int) -> list[str]:
    """The names of the saved output voltages, node 1…n."""
    return [f"v(o{k})" for k in range(1, n + 1)]


def _opamp(c: SpiceCircuit) -> list[str]:
    lines = ["* ---- op-amp: V(out) = -A(s) V(inm), non-inverting input at ground"]
    if c.opamp_pole_Hz > 0:
        cp = 1.0 / (2 * np.pi * c.opamp_pole_Hz)
        lines += [f"* A(s) = A0/(1 + s/wp): A0 = {_num(c.opamp_gain)}, pole "
                  f"{_num(c.opamp_pole_Hz)} Hz, gain-bandwidth "
                  f"{_num(c.opamp_gain * c.opamp_pole_Hz)} Hz",
                  ".subckt opamp inm out",
                  f"Gm npole 0 inm 0 {_num(c.opamp_gain)}",
                  "Rpole npole 0 1",
                  f"Cpole npole 0 {_num(cp)}",
                  "Eout out 0 npole 0 1",
                  ".ends opamp"]
    else:
        lines += [f"* A(s) = A0 = {_num(c.opamp_gain)} (no pole)",
                  ".subckt opamp inm out",
                  f"Eout out 0 0 inm {_num(c.opamp_gain)}",
                  ".ends opamp"]
    return lines


def write_netlist(c: SpiceCircuit) -> str:
    """The netlist text of circuit ``c`` (see the module docstring)."""
    n = c.n
    about = ", ".join(f"{k} {v}" for k, v in c.about.items())
    vu = c.volts_per_unit
    lines = [
        f"* neurodecorr lateral layer: {n} nodes" + (f" ({about})" if about else ""),
        "* Written by `neurodecorr export-spice`; run: ngspice -b layer.cir -r layer.raw",
        "*",
        "* Each node is an inverting op-amp integrator obeying",
        "*   tau'_i dxbar_i/dt = x_i - (A xbar)_i - lambda_i xbar_i,",
        "*   tau'_i = R_i C_i (1 + 1/A0), lambda_i = beta_i/A0,",
        "*   beta_i = 1 + R_i sum_j (G+_ij + G-_ij)   (docs/chip.md derives it;",
        "*   an op-amp pole makes each node second order, same fixed point).",
        f"* Input x_i = V(in<i>)/Vu, state xbar_i = -V(o<i>)/Vu, Vu = {_num(vu)} V per unit.",
        "* s<i>: summing node; o<i>: op-amp output; p<i> = -V(o<i>): inverted copy.",
        "* Lateral weight A_ij = R_i (G+_ij - G-_ij): G+ from o<j>, G- from p<j> into s<i>,",
        "* each written as a resistor of 1/G ohm. Circuit noise is not simulated (noise off).",
        "* Units: ohm, farad, volt, second, hertz.",
        "",
        OPTIONS,
        "",
        *_opamp(c),
        "",
    ]
    need_copy = np.any(c.G_neg_S != 0, axis=0)
    rail = c.rail_V
    for i in range(n):
        k = i + 1
        lines += [
            f"* ---- node {k}: R = {_num(c.R_ohm[i])} ohm, C = {_num(c.C_F[i])} F, "
            f"tau = {_num(c.tau_s[i])} s, x = {_num(c.x[i])}",
            f"Vin{k} in{k} 0 DC {_num(c.x[i] * vu)}",
            f"Rin{k} in{k} s{k} {_num(c.R_ohm[i])}",
            f"Cint{k} s{k} o{k} {_num(c.C_F[i])}",
            f"Xamp{k} s{k} o{k} opamp",
        ]
        if rail > 0:
            g = CLAMP_GAIN / c.R_ohm[i]
            lines += [f"* rail clamp at +-{_num(rail)} V across Cint{k} ({_num(g)} S beyond the "
                      "rail)",
                      f"Bclamp{k} o{k} s{k} I = {_num(g)}*(max(V(o{k})-{_num(rail)},0)"
                      f"+min(V(o{k})+{_num(rail)},0))"]
        if need_copy[i]:
            lines.append(f"Einv{k} p{k} 0 o{k} 0 -1")
    lines += ["", "* ---- lateral conductance pairs (row i: the currents into s<i>)"]
    A = c.matrix
    for i in range(n):
        k = i + 1
        row = " ".join(_num(a) for a in A[i])
        lines.append(f"* row {k}: A = [{row}]")
        for j in range(n):
            if c.G_pos_S[i, j] != 0:
                lines.append(f"Rpos{k}_{j + 1} o{j + 1} s{k} {_num(1.0 / c.G_pos_S[i, j])}")
            if c.G_neg_S[i, j] != 0:
                lines.append(f"Rneg{k}_{j + 1} p{j + 1} s{k} {_num(1.0 / c.G_neg_S[i, j])}")
    lines += [
        "",
        "* ---- transient from discharged capacitors (xbar = 0) over the settle horizon",
        f".tran {_num(c.max_step_s)} {_num(c.t_stop_s)} 0 {_num(c.max_step_s)} uic",
        *(".save " + " ".join(output_vectors(n)[k:k + 16]) for k in range(0, n, 16)),
        ".end",
        "",
    ]
    return "\n".join(lines)
