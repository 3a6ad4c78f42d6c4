"""What JAX runs on, in words for a badge or a JSON field."""

from __future__ import annotations

import os

import jax


def device_label() -> str:
    """E.g. 'GPU · NVIDIA H100 80GB HBM3' or 'CPU · 2 cores'."""
    device = jax.devices()[0]
    if device.platform == "cpu":
        return f"CPU · {os.cpu_count()} cores"
    return f"{device.platform.upper()} · {getattr(device, 'device_kind', device.platform)}"


def jax_version() -> str:
    return jax.__version__


def backend() -> str:
    """'cpu', 'gpu' or 'tpu'."""
    return jax.default_backend()
