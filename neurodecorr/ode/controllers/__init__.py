"""Step-size controllers: when to step (diffrax's ``_step_size_controller``)."""

from neurodecorr.ode.controllers.base import StepCycle
from neurodecorr.ode.controllers.chebyshev import MAX_GROWTH, ChebyshevCycle, chebyshev_cycle
from neurodecorr.ode.controllers.constant import ConstantStep
from neurodecorr.ode.controllers.optimal import OptimalStep

__all__ = ["MAX_GROWTH", "ChebyshevCycle", "ConstantStep", "OptimalStep", "StepCycle",
           "chebyshev_cycle"]
