"""The exact reference path in torch (CUDA when available, else CPU); depends on core only.

Every simulator result in neurodecorr is checked against this path: same network description,
same mathematics, exact linear solves instead of integration.
"""

from neurodecorr.reference.decorrelation import (
    first_order_update,
    fixed_point,
    linear_update,
    rule_matrix,
    sherman_morrison_update,
    transform,
)
from neurodecorr.reference.device import describe_device, resolve_device, resolve_dtype
from neurodecorr.reference.network import TorchReference, forward

__all__ = [
    "TorchReference", "describe_device", "first_order_update", "fixed_point", "forward",
    "linear_update", "resolve_device", "resolve_dtype", "rule_matrix", "sherman_morrison_update",
    "transform",
]
