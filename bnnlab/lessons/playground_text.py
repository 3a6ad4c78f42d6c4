"""What chapter 4's page says in prose below its maps: how to read them, and an honest caveat
about mean-field VI (figures in docs/UNCERTAINTY.md)."""

READING_THE_MAPS = (
    "**Reading the maps.** Left: the mean predictive probability over posterior samples, with "
    "the boundaries (p = 0.5) of 10 individual posterior networks in grey; filled dots are "
    "training points, rings are test points. Right: the uncertainty you select — *total* is "
    "the entropy of the mean prediction, *aleatoric* the average entropy of each network "
    "(noise in the labels), *epistemic* their difference (the networks disagree). MAP is one "
    "network, so its epistemic uncertainty is exactly zero. With 3–5 classes (*Classes*, for "
    "the spiral and the Gaussian blobs) the network is a softmax over K logits: the left map "
    "shows the most probable class, paler as its probability falls towards 1/K (white: every "
    "class equally likely), and the entropies run up to ln K instead of ln 2.")

HONEST_CAVEAT = (
    "**An honest caveat.** Mean-field VI tends to underestimate uncertainty where the data say "
    "nothing: compare *Epistemic near* with *Epistemic far* under the maps (tick *far probe "
    "points* and switch on *Zoom out* to see where far is), and read the verdict above them. "
    "The verdict reads the epistemic part, not the total entropy: \"I don't know\" is the "
    "posterior's networks disagreeing where no data pinned them down, while the total also "
    "holds the noise a model sees in the data (a boundary running off to infinity is a coin "
    "flip there for every network, which is not doubt about the model). Foong et al. (2019, "
    "\"'In-Between' Uncertainty in Bayesian Neural Networks\") show the related failure "
    "*between* clusters of data: factorised Gaussian posteriors stay confident in the gap (the "
    "*In-between* preset in the sidebar trains the reference, HMC, on it; switch *Inference* "
    "to VI to compare). Measured per method: docs/UNCERTAINTY.md.")


def upload_refusal(file_name: str, err: ValueError, rows: int) -> str:
    """The message for a CSV that cannot be used (`err`: bad data, or the settings with its
    `rows` points over the cost budget), in the upload's own terms: the points of an upload
    are its rows, not the *Number of points* setting, which it does not use."""
    setting, at_most = getattr(err, "setting", None), getattr(err, "at_most", None)
    if setting == "num_points" and at_most is not None:
        why = (f"its {rows:,} rows are more than the server can train with these settings "
               f"(at most {at_most:,}); use fewer rows, or fewer or narrower hidden layers")
    else:
        why = str(err)
    return f"Could not use {file_name!r}: {why}. Keeping the previous data."
