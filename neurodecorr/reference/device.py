"""Choosing where the reference runs: CUDA when available, else the CPU."""

from __future__ import annotations

import torch

from neurodecorr.errors import NeurodecorrError

DEVICES = ("auto", "cuda", "cpu")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto``: CUDA when a GPU is present, else the CPU; ``cuda`` without a GPU is an error."""
    if spec not in DEVICES:
        raise NeurodecorrError(f"reference: unknown device '{spec}'; choose one of: "
                               f"{', '.join(DEVICES)}")
    if spec == "cuda" or (spec == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise NeurodecorrError("reference: --reference cuda asked for, but no CUDA GPU is "
                                   "available")
        return torch.device("cuda")
    return torch.device("cpu")


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """Accept ``float32``/``float64`` names or torch dtypes."""
    if isinstance(dtype, torch.dtype):
        if dtype not in DTYPES.values():
            raise NeurodecorrError(f"reference: dtype {dtype} is not supported")
        return dtype
    if dtype not in DTYPES:
        raise NeurodecorrError(f"reference: unknown dtype '{dtype}'; choose float32 or float64")
    return DTYPES[dtype]


def describe_device(device: torch.device) -> str:
    """A human name for the device, e.g. ``cuda (NVIDIA H100 80GB HBM3)`` or ``cpu``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return "cpu"
