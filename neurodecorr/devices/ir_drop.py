"""IR drop by a nodal solve of the output lines' resistive network (CrossSim solves the network
too; aihwkit's analytic model, :func:`neurodecorr.devices.periphery.ir_drop`, fits it).

Each output line i is a wire of n segments of conductance g_w = g_ratio/scale (in units of
G_max) with the sense amplifier's virtual ground at the input-0 end; device j (normalised
conductance G_j ≥ 0) joins the ideal input line at voltage x_j to wire node j. Kirchhoff's
current law at the nodes,

    (L + D) V = D x,   D = diag(G),   L the wire's tridiagonal Laplacian (node 0 grounded
    through one segment),

and the line's current I = Σ_j G_j (x_j − V_j) is linear in x: I = (G ∘ (1 − u))ᵀ x with
u = (L + D)⁻¹ G (L + D is symmetric). So one sparse solve per conductance state gives an
effective matrix, and every read after it is a plain GEMM. All lines are solved at once as one
block-tridiagonal system (``scipy.sparse``), which takes well under a second for arrays of a few
hundred rows. To first order in 1/g_w the drop is the analytic model's
Δy_i = (a_i/2) Σ_j w_ij x_j (1 − (1 − j/n)²) with uniform currents (a_i = n Σ_j |w_ij x_j|/g_w).

A signed weight is carried by a differential pair with G⁻ at zero for a positive weight, so the
effective matrix is that of max(w, 0) minus that of max(−w, 0). Input (word) line resistance is
not modelled, as in aihwkit's analytic model.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from neurodecorr.devices.config import IRDropConfig


def effective_conductances(g: np.ndarray, g_wire: float) -> np.ndarray:
    """G ∘ (1 − u) per output line (rows of ``g``, shape (out, in)): the conductances a read
    effectively multiplies by once the output wires' drop is solved."""
    n_out, n_in = g.shape
    diag = g.ravel() + 2.0 * g_wire
    # the far end of each line (node n−1) has one wire neighbour only
    diag.reshape(n_out, n_in)[:, -1] -= g_wire
    off = np.full(n_out * n_in - 1, -g_wire)
    off.reshape(-1)[n_in - 1::n_in] = 0.0  # no wire between the end of one line and the next
    matrix = sp.diags([off, diag, off], [-1, 0, 1], format="csc")
    u = spla.spsolve(matrix, g.ravel()).reshape(n_out, n_in)
    return g * (1.0 - u)


def effective_weights(w_norm: np.ndarray, cfg: IRDropConfig) -> np.ndarray:
    """The signed effective matrix max(w, 0)_eff − max(−w, 0)_eff (see the module docstring)."""
    g_wire = cfg.g_ratio / cfg.scale
    w = np.asarray(w_norm, dtype=np.float64)
    return (effective_conductances(np.maximum(w, 0.0), g_wire)
            - effective_conductances(np.maximum(-w, 0.0), g_wire))


def nodal_output(x_norm: np.ndarray, w_norm: np.ndarray, cfg: IRDropConfig) -> np.ndarray:
    """y = x W_effᵀ for a batch of inputs (rows of ``x_norm``)."""
    return np.asarray(x_norm, dtype=np.float64) @ effective_weights(w_norm, cfg).T
