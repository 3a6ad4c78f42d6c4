"""The playground's presets found by measurement (docs/UNCERTAINTY.md): each names every
setting it needs, so a preset is a complete, reproducible run (the page writes them into its
widgets and so its URL; `cli_args` gives the same run to `python -m bnnlab train`).

"Say I don't know": on moons, the method and settings that the one verdict
(`bnnlab.core.verdict`) finds knowing where it has no data, small enough to finish in seconds
on 2 cores. Measured over seeds (`python -m bnnlab train --json`): docs/UNCERTAINTY.md, every
method.
"""

from __future__ import annotations

from types import MappingProxyType

from bnnlab.core import limits
from bnnlab.data import toy

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
    "noise": toy.REGISTRY["moons_gap"].default_noise,
})


def cli_args(preset: MappingProxyType) -> list[str]:
    """`python -m bnnlab train` arguments that run `preset`."""
    args: list[str] = []
    for field, value in preset.items():
        text = ",".join(map(str, value)) if field == "hidden" else str(value)
        args += [f"--{field.replace('_', '-')}", text]
    return args


# The sidebar's preset buttons (label -> the settings each writes) and the links that apply one
# (`?preset=say-i-dont-know`: Home links it; applied also when the learner has been there
# before, where a link with the settings would be ignored).
PLAYGROUND_PRESETS: MappingProxyType[str, MappingProxyType] = MappingProxyType({
    "Talk's recipe: β = 0.001, initial σ = 1e-3": MappingProxyType({
        "method": "vi", "kl_weight": 0.001, "init_std": 1e-3}),
    "Full Bayes: β = 1": MappingProxyType({"kl_weight": 1.0}),
    "Say I don't know: HMC": SAY_I_DONT_KNOW,
    "In-between: moons with a gap (HMC)": IN_BETWEEN,
})
PRESET_LINKS: MappingProxyType[str, str] = MappingProxyType({
    "talks-recipe": "Talk's recipe: β = 0.001, initial σ = 1e-3",
    "say-i-dont-know": "Say I don't know: HMC",
    "in-between": "In-between: moons with a gap (HMC)",
})


def preset_from_link(slug: str) -> tuple[MappingProxyType | None, str | None]:
    """`(settings, None)` of the preset a `?preset=` link names, or `(None, notice)`."""
    if slug in PRESET_LINKS:
        return PLAYGROUND_PRESETS[PRESET_LINKS[slug]], None
    return None, f"Ignored preset={str(slug)[:40]!r}: choose from {', '.join(PRESET_LINKS)}."


# ------------------------------------------------------------------ the playground's "try this"
# Six experiments: (title, settings beyond TRY_BASE, what to do, what to look for). The page
# writes TRY_BASE | settings into its widgets and starts a run.
# The figures in their texts are ranges over seeds 0-2 measured with exactly these settings
# by docs/try_this_figures.py (stored in docs/try_this_figures.json; a test checks each one).
TRY_BASE = {"dataset": "moons", "num_classes": 2, "num_points": 512, "noise": 0.15,
            "test_fraction": 0.25, "seed": 0, "hidden": (32, 32), "activation": "tanh",
            "method": "vi",
            "num_samples": 8, "prior_std": 3.0, "init_std": 0.1, "kl_weight": 1.0,
            "lr": 0.01, "steps": 2000}
TRY_THIS: list[tuple[str, dict, str, str]] = [
    ("Full Bayes, then the talk's recipe", {},
     "Train to the end (β = 1): test accuracy about 0.98, and the verdict above the maps reads "
     "*Unsure everywhere*: *Epistemic near* 0.10–0.12 and *Epistemic far* 0.11–0.12 nats "
     "(seeds 0–2), the networks disagree as much on the data as away from them. Then press "
     "*Talk's recipe* in the sidebar (β = 0.001, initial σ = 1e-3) and Train again.",
     "test accuracy 0.97–0.99 and the verdict turns to *Confident everywhere*: the networks "
     "agree near the data and far from them (epistemic near 0.00, far 0.00–0.01 nats), a dark "
     "epistemic map. A small β lets the likelihood outweigh the KL, so VI behaves almost like "
     "MAP."),
    ("A tight prior", {"prior_std": 0.3},
     "Train with prior σ = 0.3 instead of 3.",
     "the prior pulls every weight towards zero: test accuracy falls to 0.86–0.88 (0.98 at "
     "σ = 3) and the predictions blur (switch the map to *total*), yet the verdict reads "
     "*Confident everywhere*: epistemic near 0.04–0.05, far 0.06 nats (seeds 0–2), under the "
     "0.069 from which doubt counts. Its networks agree on a blurred boundary: noise the model "
     "puts on the data, not doubt about its weights. The prior is a modelling choice, and it "
     "shows."),
    ("Zoom out", {},
     "Train to the end, then switch on *Zoom out* (×4 around the data) and choose the "
     "*epistemic* map.",
     "far from every point the map is about as bright as on the data: *Epistemic far* "
     "0.11–0.12 against 0.10–0.12 near (seeds 0–2), and the verdict *Unsure everywhere*. "
     "Mean-field VI does not say \"I don't know\" where there is no data."),
    ("Outvote a cluster", {"kl_weight": 0.001, "init_std": 1e-3},
     "With the talk's recipe, train to the end, choose *Click on the map to: Add class 1 "
     "(blue)* and click three points into the top of the orange moon. Each click trains on "
     f"for {limits.CLICK_TRAIN_STEPS} steps, also after the run has finished.",
     "a small island grows around the new points: P(blue) rises there from almost nothing, "
     "more where few orange points surround them (the moon's edge) than in the middle of its "
     "arc, and the uncertainty with it. At β = 1 the same three points move P(blue) much less: "
     "the KL holds the posterior where it was."),
    ("The gap between the moons", {"dataset": "moons_gap", "noise": 0.1},
     "Train on *Moons with a gap* (no points where the moons interleave).",
     "test accuracy 1.00 and the verdict *Unsure everywhere*: epistemic near 0.08–0.10, far "
     "0.06–0.09 nats (seeds 0–2), about as much doubt far away as on the data; look at the "
     "epistemic map in the empty band against the map on the moons. With the talk's recipe the "
     "verdict turns to *Confident everywhere* (epistemic near 0.00, far 0.01–0.02). Foong et al. "
     "(2019) show factorised posteriors staying too confident in such gaps."),
    ("Say \"I don't know\": HMC", dict(SAY_I_DONT_KNOW),
     "Set up the *Say I don't know* preset (HMC/NUTS on a 2-16-16-1 network, 200 warm-up "
     "transitions, then 400 kept draws) and Train. Then compare with *MAP*.",
     "during the warm-up the map shows one network; then it fills in as draws are kept. At the "
     "end the verdict reads *It knows where it has no data*: *Epistemic far* 0.22–0.27 nats "
     "against 0.02–0.03 near the data (seeds 0–2; the page's ± errors up to 0.028): the "
     "posterior's networks agree where the data are and disagree where there are none. MAP, "
     "one network, has epistemic exactly 0.000 near and far: *Confident everywhere*, whatever "
     "its probabilities."),
]
