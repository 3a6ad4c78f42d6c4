"""The tempered target that chapter 3's table approximates, in numpy float64.

P_T(θ | D) ∝ (P(Y|X,θ)·P(θ))^{1/T} (Wenzel et al. 2020, "How good is the Bayes posterior in
deep neural networks really?"; Izmailov et al. 2021 find T = 1 fine for HMC on clean data):
T < 1 sharpens the posterior, T > 1 flattens it. Every approximation meets T the same way,
through log P_T: its value here, and its analytic gradient and Hessian for Newton's method.
"""

from __future__ import annotations

import math

import numpy as np

from bnnlab.lessons.exact.data import ToyData
from bnnlab.lessons.exact.model import log_likelihood_terms, log_prior

TEMPERATURE_RANGE = (0.1, 10.0)
TEMPERATURES = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0)  # the choices offered to a learner


def check_temperature(temperature: float) -> float:
    """`temperature` as a float inside TEMPERATURE_RANGE, or ValueError with a message."""
    t = float(temperature)
    if not (math.isfinite(t) and TEMPERATURE_RANGE[0] <= t <= TEMPERATURE_RANGE[1]):
        raise ValueError(f"temperature must lie in [{TEMPERATURE_RANGE[0]:g}, "
                         f"{TEMPERATURE_RANGE[1]:g}], got {temperature!r}")
    return t


def log_target(theta1: np.ndarray, theta2: np.ndarray, data: ToyData, model: str,
               prior_std: float, noise: float, temperature: float) -> np.ndarray:
    """(log P(Y|X,θ) + log P(θ)) / T at θ float64[...] (numpy, float64)."""
    ll = log_likelihood_terms(np, model, theta1[..., None], theta2[..., None], data.x, data.y,
                              noise).sum(-1)
    return (ll + log_prior(np, theta1, theta2, prior_std)) / temperature


def log_target_derivatives(theta: np.ndarray, data: ToyData, model: str, prior_std: float,
                           noise: float, temperature: float
                           ) -> tuple[float, np.ndarray, np.ndarray]:
    """Value, gradient float64[2] and Hessian float64[2, 2] of the tempered log joint at
    θ float64[2], analytic (the logit z is linear in θ for "logistic"/"linear"; for
    "tanh_unit" z = θ₂·tanh(θ₁x))."""
    t1, t2 = float(theta[0]), float(theta[1])
    x, y = data.x, data.y
    if model == "linear":
        z = t1 * x + t2
        d1, d2 = (y - z) / noise**2, np.full_like(x, -1.0 / noise**2)
        dz = np.stack([x, np.ones_like(x)])
        d2z = np.zeros((2, 2, x.size))
    else:
        sign = 2.0 * y - 1.0
        if model == "logistic":
            z = t1 * x + t2
            dz = np.stack([x, np.ones_like(x)])
            d2z = np.zeros((2, 2, x.size))
        else:
            th = np.tanh(t1 * x)
            sech2 = 1.0 - th**2
            z = t2 * th
            dz = np.stack([t2 * x * sech2, th])
            d2z = np.stack([np.stack([-2.0 * t2 * x**2 * th * sech2, x * sech2]),
                            np.stack([x * sech2, np.zeros_like(x)])])
        p = 0.5 * (1.0 + np.tanh(0.5 * sign * z))  # σ(s·z), overflow-free
        d1 = sign * (1.0 - p)
        d2 = -p * (1.0 - p)
    value = float(np.sum(log_likelihood_terms(np, model, t1, t2, x, y, noise))
                  + log_prior(np, t1, t2, prior_std))
    grad = dz @ d1 - theta / prior_std**2
    hess = (dz * d2) @ dz.T + np.einsum("abn,n->ab", d2z, d1) - np.eye(2) / prior_std**2
    return value / temperature, grad / temperature, hess / temperature
