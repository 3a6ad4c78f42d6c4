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

from bnnlab import config, datasets

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


# ------------------------------------------------------------------ the playground's "try this"
# Six experiments: (title, settings beyond TRY_BASE, what to do, what to look for), in the
# widgets' form (hidden widths as "32,32"). The page writes TRY_BASE | settings and starts a run.
# Each experiment's figures were measured with these exact settings (moons, 512 points, seed 0,
# 2-32-32-1 tanh, 8 MC samples, lr 0.01, 2,000 steps) through bnnlab.session.Run, the page's
# own engine and metrics, then again with 10 and 50 steps per redraw (a chunk draws its own
# noise, so runs differ by a few hundredths; experiments 1, 2, 3 and 5 again at 15, the default
# since 30 November) and with `python -m bnnlab train ... --json`; the
# text gives figures that held in every one of those runs ("about"). Experiment 4 was also
# clicked in the page (P(blue) read from the map's hover readout: β = 1 0.008 → 0.082, the
# talk's recipe 0.000 → 0.41 at the nearest grid node; the library gave 0.59–0.65 there). On 1
# December experiment 4 was measured again through bnnlab.session.Session (three add-class-1
# clicks 0.1 apart, each training its 500 steps, P(blue) at their centre, 64 draws) at 15, 25 and
# 50 steps per redraw: the recipe 0.23 / 0.25 / 0.17 with the clicks in the middle of the orange
# arc's top, 0.66 at its top edge, 0.89 between; β = 1 0.07 in all three places.
TRY_BASE = {"dataset": "moons", "num_classes": 2, "num_points": 512, "noise": 0.15,
            "test_fraction": 0.25, "seed": 0, "hidden": "32,32", "activation": "tanh",
            "method": "vi",
            "num_samples": 8, "prior_std": 3.0, "init_std": 0.1, "kl_weight": 1.0,
            "lr": 0.01, "steps": 2000}
TRY_THIS: list[tuple[str, dict, str, str]] = [
    ("Full Bayes, then the talk's recipe", {},
     "Train to the end (β = 1): test accuracy about 0.97, entropy about 0.2 nats both near "
     "the data and far away. Then press *Talk's recipe* in the sidebar (β = 0.001, initial "
     "σ = 1e-3) and Train again.",
     "test accuracy rises to 0.99 but the network becomes sure of itself everywhere: entropy "
     "about 0.005 near the data and 0.02 far away, a dark uncertainty map with one thin "
     "bright line. A small β lets the likelihood outweigh the KL, so VI behaves almost like "
     "MAP."),
    ("A tight prior", {"prior_std": 0.3},
     "Train with prior σ = 0.3 instead of 3.",
     "the prior pulls every weight towards zero: test accuracy falls to about 0.86 (0.97 at "
     "σ = 3) and the entropy near the data rises to about 0.37 nats. The prior is a modelling "
     "choice, and it shows."),
    ("Zoom out", {},
     "Train to the end, then switch on *Zoom out* (×4 around the data).",
     "far from every point the map stays mostly dark: the entropy far away (about 0.2 nats) "
     "is no higher than near the data; only about a tenth of the zoomed-out map is above "
     "0.5 nats, along the boundary and its continuation. Mean-field VI does not say "
     "\"I don't know\" where there is no data."),
    ("Outvote a cluster", {"kl_weight": 0.001, "init_std": 1e-3},
     "With the talk's recipe, train to the end, choose *Click on the map to: Add class 1 "
     "(blue)* and click three points into the top of the orange moon. Each click trains on "
     f"for {config.CLICK_TRAIN_STEPS} steps, also after the run has finished.",
     "a small island grows around the new points: there P(blue) goes from 0.00 to somewhere "
     "between about 0.2 and 0.9, depending on how many orange points surround them (0.66 at "
     "the moon's top edge, 0.23 in the middle of the arc), and the entropy to 0.35–0.65 nats. "
     "At β = 1 the same three points move P(blue) only from under 0.01 to about 0.07: the KL "
     "holds the posterior where it was."),
    ("The gap between the moons", {"dataset": "moons_gap", "noise": 0.1},
     "Train on *Moons with a gap* (no points where the moons interleave).",
     "in the empty band the mean entropy is about 0.3 nats against 0.14–0.18 on the test "
     "points, highest where the boundary crosses the gap; with the talk's recipe about 0.1 "
     "against under 0.01. Foong et al. (2019) show factorised posteriors staying too confident "
     "in such gaps."),
    ("Say \"I don't know\": HMC", widget_values(SAY_I_DONT_KNOW),
     "Set up the *Say I don't know* preset (HMC/NUTS on a 2-16-16-1 network, 200 warm-up "
     "transitions, then 400 kept draws) and Train. Then compare with *MAP*.",
     "during the warm-up the map shows one network; then it fills in as draws are kept. At the "
     "end the entropy far away is about 0.31 nats against 0.05 near the data (6×): the "
     "posterior's networks agree where the data are and disagree where there are none. MAP, "
     "one network, has an epistemic map of exactly zero and 0.02 nats near and far."),
]
