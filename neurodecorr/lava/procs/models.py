"""CPU models (``floating_pt`` and ``fixed_pt``) of :mod:`neurodecorr.lava.procs.process`.

Fixed-point arithmetic follows Lava's bit-accurate Loihi models (``lava/proc/lif/models.py``,
``lava/proc/dense/models.py``), with the integer operations of :mod:`neurodecorr.lava.fixed`
(shared with the bit-true emulation :mod:`neurodecorr.lava.emulate`): 24-bit state, synaptic
input accumulators and graded payloads saturated at ``[−2²³, 2²³ − 1]``; 12-bit multipliers
(gain, decay, leaky slope) as 36-bit products shifted with rounding toward zero like the LIF
decay; flooring shifts of synaptic sums like ``Dense``.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from neurodecorr.core.network import activate
from neurodecorr.lava.fixed import activate_int, decay, mul_shift, saturate, shift_floor
from neurodecorr.lava.fixed_learning import (
    OFFSET,
    FixedLearningPlan,
    diagonal_current,
    diagonal_update,
    gain_code,
    neuron_step,
    power,
    x_code,
    y_code,
)
from neurodecorr.lava.procs.process import GainRegister, Integrator, LateralLayer, LearningNeuron

#: process -> model, per precision tag (pinned: discovery would execute unrelated modules);
#: filled by :func:`_cpu_model`
MODELS: dict[str, dict[type, type]] = {"floating_pt": {}, "fixed_pt": {}}


def _cpu_model(proc: type, tag_name: str):
    """Declare a CPU model of ``proc`` for Lava's Loihi protocol in one precision, and pin it."""
    def declare(model: type) -> type:
        model = implements(proc=proc, protocol=LoihiProtocol)(requires(CPU)(tag(tag_name)(model)))
        MODELS[tag_name][proc] = model
        return model
    return declare


class _Typed:
    """Lava's port and variable types in one precision: ``float``, or ``int64`` of ``bits``."""

    def __init__(self, fixed: bool) -> None:
        self.fixed = fixed

    def _type(self, cls, bits: int) -> LavaPyType:
        if self.fixed:
            return LavaPyType(cls, np.int64, precision=bits)
        return LavaPyType(cls, float)

    def inp(self, bits: int = 24) -> LavaPyType:
        return self._type(PyInPort.VEC_DENSE, bits)

    def out(self, bits: int = 24) -> LavaPyType:
        return self._type(PyOutPort.VEC_DENSE, bits)

    def var(self, bits: int = 24) -> LavaPyType:
        return self._type(np.ndarray, bits)


FLOAT, FIXED = _Typed(fixed=False), _Typed(fixed=True)


def _neuron_ports(t: _Typed) -> type:
    """The types of :func:`neurodecorr.lava.procs.process._neuron_ports` in one precision
    (24-bit values and powers, 7-bit learning codes)."""
    return type("NeuronPorts", (), {
        "a_in": t.inp(), "a_rec": t.inp(), "gain_in": t.inp(7),
        "s_out": t.out(), "s_out_px": t.out(), "s_out_pv": t.out(),
        "s_out_y1": t.out(7), "s_out_y2": t.out(7), "s_out_y3": t.out(7),
        "s_out_bap": LavaPyType(PyOutPort.VEC_DENSE, bool), "v": t.var()})


def _lateral_ports(t: _Typed) -> type:
    """The types of :class:`LateralLayer`'s ports and variables in one precision (8-bit
    lateral mantissas, 12-bit leak and gain, 24-bit values)."""
    return type("LateralPorts", (), {
        "a_in": t.inp(), "s_out": t.out(), "lateral": t.var(8), "leak": t.var(12),
        "bias": t.var(), "gain": t.var(12), "xbar": t.var(), "record": t.var()})


def _gain_register_ports(t: _Typed) -> type:
    """The types of :class:`GainRegister`'s ports in one precision (7-bit gain code)."""
    return type("GainRegisterPorts", (), {"px_in": t.inp(), "pv_in": t.inp(),
                                          "gain_out": t.out(7), "gamma": t.var(7)})


class _Recorder:
    """Keeps the sent vector every ``record_period`` steps, from step ``record_phase`` on."""

    def _record(self, value: np.ndarray) -> None:
        period = self.proc_params.get("record_period", 0)
        if not period:
            return
        offset = self.time_step - self.proc_params["record_phase"]
        if offset >= 0 and offset % period == 0:
            k = offset // period
            if k < self.proc_params["n_records"]:
                self.record[:, k] = value


class _LateralLayerModel(PyLoihiProcessModel, _Recorder):
    """One step of :class:`LateralLayer`: the input stage, then (if it decorrelates) the
    ``n_sub`` Euler sub-steps, then send and record ``x̄``; a precision supplies both parts."""

    def run_spk(self) -> None:
        x = self._input()
        self.xbar = self._settle(x) if self.proc_params["decorrelate"] else x
        self.s_out.send(self.xbar)
        self._record(self.xbar)


@_cpu_model(LateralLayer, "floating_pt")
class PyLateralLayerFloat(_lateral_ports(FLOAT), _LateralLayerModel):
    """``x = f(a + b)``, then ``n_sub`` times ``x̄ ← x̄ + αx − leak∘x̄ − lateral·x̄``."""

    def _input(self) -> np.ndarray:
        p = self.proc_params
        return activate(self.a_in.recv() + self.bias, p["activation"],
                        p.get("negative_slope", 0.0))

    def _settle(self, x: np.ndarray) -> np.ndarray:
        drive = self.proc_params["alpha"] * x
        xbar = self.xbar
        for _ in range(self.proc_params["n_sub"]):
            xbar = xbar + drive - self.leak * xbar - self.lateral @ xbar
        return xbar


@_cpu_model(LateralLayer, "fixed_pt")
class PyLateralLayerFixed(_lateral_ports(FIXED), _LateralLayerModel):
    """Integer version: ``x = f(sat((G·sat(a)) >> s) + b)`` (rounded toward zero), then
    ``n_sub`` times ``v ← sat(decay(v, leak) + x − ⌊(Q·v)·2^e⌋)`` (the gain holds the step)."""

    def _input(self) -> np.ndarray:
        p = self.proc_params
        a = saturate(self.a_in.recv().astype(np.int64))  # the 24-bit synaptic accumulator
        z = saturate(mul_shift(a, self.gain, p["gain_shift"]) + self.bias)
        return activate_int(z, p["activation"], p.get("slope_mant", 0), p.get("slope_shift", 0))

    def _settle(self, x: np.ndarray) -> np.ndarray:
        v = self.xbar.astype(np.int64)
        lateral = self.lateral.astype(np.int64)
        for _ in range(self.proc_params["n_sub"]):
            v = saturate(decay(v, self.leak) + x - shift_floor(lateral @ v,
                                                               self.proc_params["lateral_exp"]))
        return v


@_cpu_model(Integrator, "floating_pt")
class PyIntegratorFloat(_neuron_ports(FLOAT), PyLoihiProcessModel, _Recorder):
    """``v ← v − d∘v + a_in + a_rec``; sends ``v``, the traces ``y2 = −a_rec/α · y2_scale`` and
    ``y3 = γ · y3_scale`` (the gain register's ``γ``), and its powers ``(a_in/α)²`` and ``v²``."""

    decay: np.ndarray = FLOAT.var()
    record: np.ndarray = FLOAT.var()

    def run_spk(self) -> None:
        p = self.proc_params
        a_rec = self.a_rec.recv()
        a_in = self.a_in.recv()
        gamma = self.gain_in.recv()
        self.v = self.v - self.decay * self.v + a_in + a_rec
        zeros = np.zeros_like(self.v)
        self.s_out.send(self.v)
        self.s_out_px.send(np.square(a_in / p["alpha"]))
        self.s_out_pv.send(np.square(self.v))
        self.s_out_y1.send(zeros)
        self.s_out_y2.send(-a_rec / p["alpha"] * p["y2_scale"])
        self.s_out_y3.send(gamma * p["y3_scale"])
        self.s_out_bap.send(zeros.astype(bool))
        self._record(self.v)


@_cpu_model(Integrator, "fixed_pt")
class PyIntegratorFixed(_neuron_ports(FIXED), PyLoihiProcessModel, _Recorder):
    """Integer integrator ``v ← sat(decay(v, d) + sat(a_in + ⌊a_rec · 2^−rec_shift⌋))``.

    ``decay`` rounds toward zero like Lava's LIF; the recurrent ``Dense`` applies at most the
    8-bit shift Loihi allows and the neuron the rest (``rec_shift``): both floor, so together
    they are one flooring shift. No learning traces (fixed-point learning is not modelled).
    """

    decay: np.ndarray = FIXED.var(12)
    record: np.ndarray = FIXED.var()

    def run_spk(self) -> None:
        rec = shift_floor(self.a_rec.recv(), -self.proc_params["rec_shift"])
        a = saturate(self.a_in.recv().astype(np.int64) + rec)
        self.v = saturate(decay(self.v, self.decay) + a)
        self.s_out.send(self.v)
        self._record(self.v)


@_cpu_model(LearningNeuron, "fixed_pt")
class PyLearningNeuronFixed(_neuron_ports(FIXED), PyLoihiProcessModel):
    """Integer learning neuron; one step is ``neurodecorr.lava.fixed_learning.neuron_step``
    (with a split plan, after adding its own diagonal term to the synapses' current, and
    learning its diagonal on the epoch's last step, as ``fixed_learning.emulate`` does)."""

    d: np.ndarray = FIXED.var()

    def run_spk(self) -> None:
        plan = FixedLearningPlan(**self.proc_params["plan"])
        x = self.a_in.recv().astype(np.int64)
        r = self.a_rec.recv().astype(np.int64)
        q_gamma = self.gain_in.recv().astype(np.int64)
        y3 = q_gamma + OFFSET
        phase = self.time_step % plan.T
        if plan.split:  # the self term from the state it sent last step, as the synapses'
            r = r + diagonal_current(self.d.astype(np.int64), self.v, plan)
        self.v, payload = neuron_step(phase, self.v, x, r, plan)
        zeros = np.zeros_like(self.v)
        y2 = y_code(r, plan) + OFFSET if phase == 0 else zeros + OFFSET
        if plan.split and phase == 0:
            self.d = diagonal_update(self.d.astype(np.int64), x_code(self.v, plan),
                                     y2 - OFFSET, q_gamma, plan)
        self.s_out.send(payload)
        self.s_out_px.send(power(x, plan))
        self.s_out_pv.send(power(self.v, plan))
        self.s_out_y1.send(zeros)
        self.s_out_y2.send(y2)
        self.s_out_y3.send(y3)
        self.s_out_bap.send(zeros.astype(bool))


@_cpu_model(GainRegister, "fixed_pt")
class PyGainRegisterFixed(_gain_register_ports(FIXED), PyLoihiProcessModel):
    """Sends the gain code it holds, then computes the next from the layer's power sums."""

    def run_spk(self) -> None:
        plan = FixedLearningPlan(**self.proc_params["plan"])
        self.gain_out.send(np.full(self.proc_params["shape"], self.gamma[0], dtype=np.int64))
        p_x = int(self.px_in.recv().astype(np.int64).sum())
        p_xbar = int(self.pv_in.recv().astype(np.int64).sum())
        self.gamma = np.array([gain_code(p_x, p_xbar, plan)], dtype=np.int64)


@_cpu_model(GainRegister, "floating_pt")
class PyGainRegisterFloat(_gain_register_ports(FLOAT), PyLoihiProcessModel):
    """``βγ = β(1 − 1/g)``, ``g = ‖x‖ / (‖x̄‖ (1 − η‖x̄‖²))`` from the layer's power sums (``β``
    weighs each sample's gain, 1 when the plan does not give it); sends the value it holds,
    then computes the next (one step late, like ``Dense``)."""

    def run_spk(self) -> None:
        self.gain_out.send(np.full(self.proc_params["shape"], self.gamma[0]))
        p_x = float(self.px_in.recv().sum())
        p_xbar = float(self.pv_in.recv().sum())
        plan = self.proc_params["plan"]
        inv_gain = np.sqrt(p_xbar / p_x) * (1.0 - plan["eta"] * p_xbar) if p_x > 0 else 1.0
        self.gamma = np.array([plan.get("beta", 1.0) * (1.0 - inv_gain)])

