"""The lateral circuit of a chip layer and its on-line learning loop.

The circuits package supplies the vector field — ideal, or read through devices with their
non-idealities (:mod:`~neurodecorr.circuits.device`, :mod:`~neurodecorr.circuits.lateral`) — and
settles it with :func:`neurodecorr.ode.settle`, re-exported here with the field, criterion,
result and solvers a circuit user needs (controllers and the rest: :mod:`neurodecorr.ode`);
:class:`~neurodecorr.circuits.online.OnlineLearner` interleaves settling with the node-local
update of ``A``.
"""

from neurodecorr.circuits.device import DeviceReader
from neurodecorr.ode import METHODS, LateralField, SettleCriterion, SettleResult, settle
from neurodecorr.ode.solvers import RK4, Adaptive, Euler, EulerMaruyama, Exact

__all__ = ["METHODS", "RK4", "Adaptive", "DeviceReader", "Euler", "EulerMaruyama", "Exact",
           "LateralField", "SettleCriterion", "SettleResult", "settle"]
