"""The mathematics of decorrelation: linear and inverse forms, rules, metrics, the network."""

from neurodecorr.core.activation import ACTIVATIONS, activate, derivative, slope_below_zero
from neurodecorr.core.forward import Backend, LayerOps, NumpyBackend, Trace, run_layers
from neurodecorr.core.inverse import (
    InverseDecorrelator,
    first_order_update,
    first_order_update_nodewise,
    sherman_morrison_update,
    sherman_morrison_update_nodewise,
)
from neurodecorr.core.linear import (
    LinearDecorrelator,
    check_stability,
    decorrelation_matrix,
    linear_update,
    power_gain,
    stability_number,
)
from neurodecorr.core.metrics import (
    correlation_matrix,
    cosine,
    covariance_condition,
    decorrelation_report,
    feedback_alignment_invariant,
    mean_abs_offdiag_corr,
    natural_gradient_alignment,
    offdiag_corr_rms,
    power_ratio,
)
from neurodecorr.core.network import Hardware, Layer, Network
from neurodecorr.core.rules import RULES, DecorrelationConfig

__all__ = [
    "ACTIVATIONS", "RULES", "Backend", "DecorrelationConfig", "Hardware", "InverseDecorrelator",
    "Layer", "LayerOps", "LinearDecorrelator", "Network", "NumpyBackend", "Trace", "activate",
    "check_stability", "correlation_matrix", "cosine", "covariance_condition", "derivative",
    "run_layers", "slope_below_zero", "decorrelation_matrix", "decorrelation_report",
    "feedback_alignment_invariant", "first_order_update",
    "first_order_update_nodewise", "linear_update", "mean_abs_offdiag_corr",
    "natural_gradient_alignment", "offdiag_corr_rms", "power_gain", "power_ratio",
    "sherman_morrison_update", "sherman_morrison_update_nodewise", "stability_number",
]
