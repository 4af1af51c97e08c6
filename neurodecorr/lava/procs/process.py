"""The lateral decorrelation layer and the integrator neuron as Lava processes.

:class:`LateralLayer` is one whole layer boundary in one process (Lava's per-step cost is per
process): it receives the previous layer's synaptic input ``a``, applies bias and activation,
``x = f(a + b)``, then runs ``n_sub`` explicit Euler sub-steps of the lateral dynamics

    x̄ ← x̄ + α (x − A x̄)        (τ dx̄/dt = x − A x̄, fixed point x̄ = A⁻¹ x)

and sends ``x̄`` as a graded spike. The process stores the dynamics split the way a chip does:
``leak`` = α·diag(A) (a per-neuron decay) and ``lateral`` = α·(A − diag A) (the synapses). In the
``fixed_pt`` model the same Vars hold integers (12-bit leak, 8-bit lateral mantissa with the
shared exponent ``lateral_exp``), as Lava's LIF holds ``du`` as a float or a 12-bit integer,
the Euler step is per neuron (``p_i``, folded into the 12-bit input ``gain``) and the leak and
lateral rows are ``p_i·A_ii`` and ``p_i·A_ij``.

:class:`Integrator` is the Loihi-structured alternative: a graded neuron ``v ← v + a_in + a_rec``
(with an optional per-neuron decay, like a LIF compartment's ``dv``) that sends ``v``; the
lateral term arrives from a recurrent ``Dense(−α·A)`` and the drive from
``Dense(α·I)``. It also sends ``y2 = −a_rec/α = A x̄``, the neuron's own lateral current, as the
post-synaptic trace of a learning ``Dense``.

Either process can keep the value it sends at a regular step (``record_period``,
``record_phase``) in ``record``, so a run returns one vector per sample with one ``Var.get``.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var


def _record_vars(proc: AbstractProcess, n: int, n_records: int) -> None:
    proc.record = Var(shape=(n, max(n_records, 1)), init=0)


def _neuron_ports(proc: AbstractProcess, n: int) -> None:
    """The ports and state of a graded neuron that can take part in on-chip learning.

    Inputs: the drive ``a_in``, the recurrent current ``a_rec`` and the gain register's code
    ``gain_in``. Outputs: the graded value ``s_out``, the powers ``s_out_px``/``s_out_pv`` for
    the :class:`GainRegister`, the traces ``y1``–``y3`` and the back-propagating action
    potential a learning ``Dense`` reads. State: ``v``.
    """
    for name in ("a_in", "a_rec", "gain_in"):
        setattr(proc, name, InPort(shape=(n,)))
    for name in ("s_out", "s_out_px", "s_out_pv", "s_out_y1", "s_out_y2", "s_out_y3",
                 "s_out_bap"):
        setattr(proc, name, OutPort(shape=(n,)))
    proc.v = Var(shape=(n,), init=0)


class LateralLayer(AbstractProcess):
    """Bias, activation and ``n_sub`` Euler sub-steps of the lateral dynamics per Lava step.

    Parameters
    ----------
    lateral : ndarray, shape (n, n)
        ``α·(A − diag A)`` (float model) or its 8-bit mantissa (fixed model).
    leak : ndarray, shape (n,)
        ``α·diag(A)`` (float) or ``round(4096·α·diag A)`` (fixed, 12 bits).
    bias : ndarray, shape (n,)
        Bias added to the incoming synaptic input (fixed: in state units).
    gain : ndarray, shape (n,), optional
        Fixed model only: 12-bit input gain ``G``; the input becomes ``(G·a) >> gain_shift``
        (undoes the sending ``Dense`` row's scale and folds in the Euler step).
    decorrelate : bool
        ``False``: no lateral dynamics, ``x̄ = x``.
    activation : str
        ``identity``, ``relu`` or ``leaky_relu``.
    n_sub : int
        Euler sub-steps per Lava step.
    **params
        Model constants: ``alpha`` and ``negative_slope`` (float); ``gain_shift``,
        ``lateral_exp``, ``slope_mant``, ``slope_shift`` (fixed); ``record_period``,
        ``record_phase``, ``n_records``.
    """

    def __init__(self, *, lateral: np.ndarray, leak: np.ndarray, bias: np.ndarray,
                 decorrelate: bool, activation: str, n_sub: int,
                 gain: np.ndarray | None = None, **params) -> None:
        n = bias.shape[0]
        gain = np.ones(n, dtype=np.int64) if gain is None else gain
        super().__init__(lateral=lateral, leak=leak, bias=bias, decorrelate=decorrelate,
                         activation=activation, n_sub=n_sub, gain=gain, **params)
        self.a_in = InPort(shape=(n,))
        self.s_out = OutPort(shape=(n,))
        self.lateral = Var(shape=(n, n), init=lateral)
        self.leak = Var(shape=(n,), init=leak)
        self.bias = Var(shape=(n,), init=bias)
        self.gain = Var(shape=(n,), init=gain)
        self.xbar = Var(shape=(n,), init=0)
        _record_vars(self, n, params.get("n_records", 0))


class Integrator(AbstractProcess):
    """Graded integrator neuron ``v ← v − d∘v + a_in + a_rec``; sends ``v`` and ``y2 = −a_rec/α``.

    Parameters
    ----------
    shape : int
        Number of neurons.
    alpha : float
        ``α`` of the recurrent ``Dense(−α·A)``; used only to scale the ``y2`` trace.
    y2_scale : float
        Factor applied to ``y2`` (keeps the learning rule's constant representable).
    y3_scale : float
        Factor applied to ``y3``, the gain register's ``γ`` forwarded (float model; the
        :class:`GainRegister`'s input is unconnected, so zero, outside on-chip learning).
    decay : ndarray, shape (shape,), optional
        Per-neuron decay ``d`` (float), or its 12-bit integer, ``v·(4096 − d) >> 12`` (fixed);
        zero by default (the recurrent ``Dense`` then carries the whole ``−αA``).
    rec_shift : int
        Fixed model: further flooring right shift of the recurrent input (the part of the
        lateral exponent below the ``Dense`` range).
    **params
        ``record_period``, ``record_phase``, ``n_records``.
    """

    def __init__(self, *, shape: int, alpha: float, y2_scale: float = 1.0,
                 y3_scale: float = 1.0, decay: np.ndarray | None = None, rec_shift: int = 0,
                 **params) -> None:
        decay = np.zeros(shape) if decay is None else decay
        super().__init__(shape=shape, alpha=alpha, y2_scale=y2_scale, y3_scale=y3_scale,
                         decay=decay, rec_shift=rec_shift, **params)
        _neuron_ports(self, shape)
        self.decay = Var(shape=(shape,), init=decay)
        _record_vars(self, shape, params.get("n_records", 0))


class LearningNeuron(AbstractProcess):
    """Fixed-point learning neuron: settles ``x̄`` and emits the 7-bit codes the engine learns from.

    Time-multiplexes one graded payload (``neurodecorr.lava.fixed_learning.neuron_step``): the
    24-bit state during the epoch, the offset-encoded code of ``x̄`` on its last step; ``y2`` is
    the code of the recurrent current ``(A x̄)_i``.

    Parameters
    ----------
    shape : int
        Number of neurons.
    plan : dict
        The fields of :class:`neurodecorr.lava.fixed_learning.FixedLearningPlan`.

    It also sends its power payloads ``x_i²`` and ``x̄_i²`` to the :class:`GainRegister` and
    forwards the register's gain code on ``y3``. With a split plan it holds its diagonal
    ``D_ii`` in the register ``d`` (units ``2^−D``, initially ``d0``), adds its self term to the
    recurrent current and learns ``d`` at each epoch's end
    (``neurodecorr.lava.fixed_learning.diagonal_current``, ``diagonal_update``).
    """

    def __init__(self, *, shape: int, plan: dict, d0: np.ndarray | None = None) -> None:
        super().__init__(shape=shape, plan=plan)
        _neuron_ports(self, shape)
        self.d = Var(shape=(shape,), init=np.zeros(shape, np.int64) if d0 is None else d0)


class GainRegister(AbstractProcess):
    """The per-layer scalar register of the gain ``g``: sums the layer's power payloads and
    broadcasts the gain code ``q_γ`` (``neurodecorr.lava.fixed_learning.gain_code``), one step
    late (it sends before it receives, like ``Dense``).

    Parameters
    ----------
    shape : int
        Number of neurons of the layer.
    plan : dict
        The fields of :class:`neurodecorr.lava.fixed_learning.FixedLearningPlan` (fixed
        model), or ``{"eta": η}`` (float model: ``γ = 1 − 1/g`` itself).
    """

    def __init__(self, *, shape: int, plan: dict) -> None:
        super().__init__(shape=shape, plan=plan)
        self.px_in = InPort(shape=(shape,))
        self.pv_in = InPort(shape=(shape,))
        self.gain_out = OutPort(shape=(shape,))
        self.gamma = Var(shape=(1,), init=0)
