"""What the chosen method says of its run, under the playground's maps, drawn from its spec
(`MethodSpec.stats`, `.fit`, `.weight_marginals`): no method's name appears here. The verdict
and the near/far numbers are the live chart's (above and under the maps); here are the
method's own numbers (HMC's warm-up and acceptance), its post-training fit (Laplace's "Make
this network Bayesian" with the evidence curve) and the weight posterior."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from bnnlab import registry
from bnnlab.figures.fit import fit_curve
from bnnlab.figures.weights import posterior_bars, snr_histogram
from bnnlab.lessons.playground import Session

WEIGHTS_EVERY_S = 2.0  # the weight view, when it follows training: a redraw every 2 s


def stats(live: Session) -> None:
    """The method's own numbers about its run (`MethodSpec.stats`), if it has any."""
    run = live.run
    if run.spec.stats is None:
        return
    items = run.spec.stats(run.cfg, run.snapshot.state)
    for col, item in zip(st.columns(len(items)), items, strict=True):
        col.metric(item.label, item.value, help=item.help or None)


def fit(live: Session, key: str, on_fit: Callable[[], None]) -> None:
    """The post-training fit that applies to this run (its own, or one that takes over its
    network, `Fit.takes_over`): what it does, its button, and once fitted what it found."""
    target = live.fit_target()
    if target is None:
        return
    spec = registry.method(target)
    run = live.run
    details = run.fit_details()
    fitted = bool(details and details["fitted"])
    text, button = st.columns([4, 1.4], vertical_alignment="center")
    if fitted:
        took = f" in {run.fit_seconds * 1000:,.0f} ms" if run.fit_seconds else ""
        took += " (compiling it the first time)" if run.fit_compiled_first else ""
        text.markdown(f"**{spec.label}** fitted{took}: {spec.fit.after(details)}")
    else:
        text.markdown(spec.fit.before)
    if button.button(spec.fit.label, on_click=on_fit, key=key, width="stretch",
                     type="secondary" if fitted else "primary"):
        st.rerun(scope="app")  # the maps, the metrics and the method's widget
    curve = spec.fit.curve(details) if fitted else None
    if curve is not None:
        st.caption(spec.fit.caption)
        st.plotly_chart(fit_curve(curve, run.cfg.prior_std), key=key + "_curve")


def weights(live: Session, prefix: str, follow: bool) -> None:
    """The weight posterior against the prior, on demand or following training."""
    with st.expander("The weight posterior: what makes the network Bayesian", expanded=follow):
        st.caption("Each weight's posterior mean ± σ against the prior N(0, σₚ²), and the "
                   "signal-to-noise |μ|/σ. A weight at the prior (KL to the prior < 0.01 nats) "
                   "carries no information from the data: VI with β = 1 leaves most weights "
                   "there (its pruning), which is why it underfits. MAP is a point (σ = 0); "
                   "HMC's marginals come from its draws, Laplace's from its covariance. "
                   f"Drawn on demand, or every {WEIGHTS_EVERY_S:g} s while it follows "
                   "training, so the live maps never wait for it.")
        show_col, follow_col = st.columns([1, 1], vertical_alignment="center")
        shown = show_col.button("Show for the current step", key=prefix + "weights_show",
                                icon=":material/refresh:")
        following = follow_col.toggle(f"Follow training (every {WEIGHTS_EVERY_S:g} s)",
                                      key=prefix + "weights_follow")
        if following != follow:
            st.rerun(scope="app")  # the fragment's refresh rate is set by the whole page
        if not (shown or following):
            return
        run = live.run
        summary = run.weight_summary()
        st.markdown(f"**{summary.share_at_prior:.0%}** of {summary.num_weights:,} weights sit "
                    f"at the prior (step {run.step:,}, {run.spec.label}); median |μ|/σ = "
                    f"{summary.median_snr:.2g}.")
        left, right = st.columns(2)
        left.plotly_chart(posterior_bars(summary), key=prefix + "weights_bars")
        right.plotly_chart(snr_histogram(summary), key=prefix + "weights_snr")
