"""The playground's presets found by measurement (docs/UNCERTAINTY.md): each names every
setting it needs, so a preset is a complete, reproducible run (the page writes them into its
widgets and so its URL; `cli_args` gives the same run to `python -m bnnlab train`).

"Say I don't know": on moons, the method and settings whose far-from-data entropy is at least
twice the entropy near the data (`predict.evaluate`'s one definition) with test accuracy ≥ 0.95,
small enough to finish in seconds on 2 cores. Measured (`python -m bnnlab train --json`, seed 0):
see docs/UNCERTAINTY.md for every method.
"""

from __future__ import annotations

from types import MappingProxyType

from bnnlab import datasets

SAY_I_DONT_KNOW = MappingProxyType({
    "dataset": "moons", "num_classes": 2, "num_points": 512, "noise": 0.15,
    "test_fraction": 0.25, "seed": 0,
    "hidden": (16, 16), "activation": "tanh", "method": "hmc", "prior_std": 3.0,
    "steps": 600, "steps_per_chunk": 25, "hmc_warmup": 200, "hmc_max_doublings": 6,
})

# Foong et al. (2019): between the two clusters of `moons_gap` the reference (HMC) is unsure;
# switch the method to VI to see it stay confident in the gap.
IN_BETWEEN = MappingProxyType({
    **SAY_I_DONT_KNOW, "dataset": "moons_gap",
    "noise": datasets.REGISTRY["moons_gap"].default_noise,
})


def cli_args(preset: MappingProxyType) -> list[str]:
    """`python -m bnnlab train` arguments that run `preset`."""
    args: list[str] = []
    for field, value in preset.items():
        text = ",".join(map(str, value)) if field == "hidden" else str(value)
        args += [f"--{field.replace('_', '-')}", text]
    return args


def widget_values(preset: MappingProxyType) -> dict:
    """The preset as the playground's widgets hold it (hidden widths as "16,16")."""
    return {field: ",".join(map(str, value)) if field == "hidden" else value
            for field, value in preset.items()}
