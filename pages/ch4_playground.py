"""Chapter 4 · Variational Bayes in code: train a Bayesian neural network live and watch its
uncertainty. The live session (training, status, frames) is `bnnlab.session.Session`; this page
binds widgets to it and arranges the live chart."""

from __future__ import annotations

import inspect

import streamlit as st

from bnnlab import config, datasets, predict, presets, registry, runtime, session, vi
from bnnlab.config import BOUNDS, ConfigError
from bnnlab.figures import palette
from bnnlab.figures.laplace import evidence_curve
from bnnlab.figures.playground import probe_histogram
from bnnlab.figures.weights import posterior_bars, snr_histogram
from ui import push_route, widget_state
from ui.live_chart import live_chart
from ui.text import escape_markdown
from ui.upload_message import upload_message

P = "pg_"  # session-state prefix of this page
PRESETS = {"Talk's recipe: β = 0.001, initial σ = 1e-3": {"method": "vi", "kl_weight": 0.001,
                                                          "init_std": 1e-3},
           "Full Bayes: β = 1": {"kl_weight": 1.0}}
# ---- methods block (HMC, Laplace, ensemble, dropout; presets found by measurement,
# docs/UNCERTAINTY.md): each preset writes every setting it needs, so the URL reproduces it.
METHOD_FIELDS = ("dropout_rate", "ensemble_size", "hmc_warmup", "hmc_max_doublings")
PRESETS["Say I don't know: HMC, far/near ≥ 2"] = presets.widget_values(presets.SAY_I_DONT_KNOW)
PRESETS["In-between: moons with a gap (HMC)"] = presets.widget_values(presets.IN_BETWEEN)
# ---- end methods block


def map_modes(num_classes: int) -> dict[str, str]:
    """What a click on the map does: look, add a point of class k < K, or probe."""
    return {"view": "Look", **{f"add{k}": f"Add {palette.class_name(k)}"
                               for k in range(num_classes)}, "probe": "Probe"}


# The settings this page shows; only these go into its links.
FIELDS = ("dataset", "num_points", "noise", "num_classes", "test_fraction", "seed", "hidden",
          "activation", "method", "num_samples", "prior_std", "init_std", "kl_weight", "lr",
          "steps", "steps_per_chunk", "grid_size") + METHOD_FIELDS
VIEW = ("kind", "zoom", "mode")
LIVE = {session.Status.TRAINING, session.Status.WAITING, session.Status.COMPILING}


def _open_from_url() -> None:
    """First visit in this browser session: the link's settings (validated) start a session."""
    live, notices = session.Session.from_link(dict(st.query_params), FIELDS)
    st.session_state.update({P + "session": live, P + "notices": notices, P + "kind": "total",
                             P + "zoom": False, P + "mode": "view"})
    for field in FIELDS:
        value = getattr(live.cfg, field)
        st.session_state[P + field] = ",".join(map(str, value)) if field == "hidden" else value
    st.session_state[P + "budget"] = live.cfg.steps  # what Continue adds (see _continue)


# `?preset=say-i-dont-know` (Home links it): the preset's settings, whether or not this browser
# has a session here yet; the parameter itself is consumed.
PRESET_LINKS = {"talks-recipe": "Talk's recipe: β = 0.001, initial σ = 1e-3",
                "say-i-dont-know": "Say I don't know: HMC, far/near ≥ 2",
                "in-between": "In-between: moons with a gap (HMC)"}
asked_preset = st.query_params.get("preset")
if asked_preset is not None:
    del st.query_params["preset"]
if P + "session" not in st.session_state:
    _open_from_url()
widget_state.restore(P, FIELDS + VIEW)  # after a visit to another page
if asked_preset in PRESET_LINKS:
    for _field, _value in PRESETS[PRESET_LINKS[asked_preset]].items():
        st.session_state[P + _field] = _value
elif asked_preset is not None:
    st.session_state[P + "notices"] = [
        *st.session_state[P + "notices"],
        f"Ignored preset={asked_preset[:40]!r}: choose from {', '.join(PRESET_LINKS)}."]
live: session.Session = st.session_state[P + "session"]
# The session raised its step budget itself (a click on the map trains on): the widget, still
# at the value last applied, follows; a value the learner has just typed wins.
if st.session_state.get(P + "steps") == st.session_state.get(P + "applied_steps", live.cfg.steps):
    st.session_state[P + "steps"] = live.cfg.steps
if P + "toast" in st.session_state:  # from the run before an st.rerun()
    st.toast(st.session_state.pop(P + "toast"), icon=":material/description:")


def _preset(values: dict) -> None:
    for field, value in values.items():
        st.session_state[P + field] = value


def _dataset_changed() -> None:
    """A new dataset starts from its own registered noise (the spiral's arms need less) and
    keeps its number of classes where the set allows it (else 2)."""
    name = st.session_state[P + "dataset"]
    st.session_state[P + "noise"] = datasets.REGISTRY[name].default_noise
    most = datasets.max_classes(name)
    st.session_state[P + "num_classes"] = min(int(st.session_state[P + "num_classes"]), most)


def _regenerate() -> None:
    st.session_state[P + "seed"] = (int(st.session_state[P + "seed"]) + 1) % config.MAX_SEED


def _step() -> None:
    live.step()  # a finished run: its budget grows by one chunk
    st.session_state[P + "steps"] = live.cfg.steps
    live.wait_for_step(timeout=2.0)  # bounded: the chunk runs on the trainer's thread


# ---------------------------------------------------------------- training that keeps going
# "Steps in total" is a budget: Train stops there, and Continue adds another budget of the
# size the learner last typed (P + "budget"), writing the new total back into the widget and
# the link. A click on the map of a started run trains on too (Session.click).
def _budget_typed() -> None:
    st.session_state[P + "budget"] = int(st.session_state[P + "steps"])


def _continue() -> None:
    refused = live.extend(st.session_state.get(P + "budget", live.cfg.steps))
    st.session_state[P + "steps"] = live.cfg.steps
    if refused:
        st.toast(escape_markdown(refused), icon=":material/block:")


# ---------------------------------------------------------------- page
st.title("4 · Variational Bayes in code")
st.caption(f"JAX {runtime.jax_version()} · running on **{runtime.device_label()}** — "
           "the training step below is jitted and runs on the server's accelerator.")
for notice in st.session_state[P + "notices"]:
    st.warning(escape_markdown(notice), icon=":material/link:")

with st.sidebar:
    st.header("Data")
    st.selectbox("Dataset", config.DATASETS, key=P + "dataset", on_change=_dataset_changed,
                 format_func=registry.dataset_label, disabled=live.uploaded is not None)
    st.slider("Number of points", int(BOUNDS["num_points"].lo), config.MAX_POINTS,
              key=P + "num_points")
    st.slider("Noise", 0.0, config.MAX_NOISE, step=0.01, key=P + "noise")
    most = datasets.max_classes(st.session_state[P + "dataset"])
    st.selectbox("Classes", range(2, config.MAX_CLASSES + 1), key=P + "num_classes",
                 disabled=most == 2 or live.uploaded is not None,
                 help="K classes: 2 trains a Bernoulli network (one logit), 3–5 a categorical "
                      "softmax over K logits. Spiral and Gaussian blobs take up to "
                      f"{config.MAX_CLASSES}; an uploaded CSV sets K by its labels.")
    st.slider("Test fraction", BOUNDS["test_fraction"].lo, BOUNDS["test_fraction"].hi,
              step=0.05, key=P + "test_fraction")
    seed_col, regen_col = st.columns([1, 1])  # 1366 px: no "Rege…"
    seed_col.number_input("Seed", 0, config.MAX_SEED, step=1, key=P + "seed")
    regen_col.button("Regenerate", on_click=_regenerate, key=P + "regen",
                     help="New random seed: new data and new initial weights")
    upload = st.file_uploader("Or upload a CSV (x1,x2,label)", type=["csv"], key=P + "upload")
    if live.uploaded is not None:
        st.button("Use the generated dataset", on_click=live.use_generated, key=P + "use_gen")
    st.header("Model")
    st.text_input("Hidden layers (widths)", key=P + "hidden",
                  help=f"Comma-separated, e.g. 32,32; at most {config.MAX_LAYERS} layers of "
                       f"width ≤ {config.MAX_WIDTH}")
    st.selectbox("Activation", config.ACTIVATIONS, key=P + "activation")
    st.header("Method")
    st.radio("Inference", config.PLAYGROUND_METHODS, key=P + "method", horizontal=True,
             format_func=registry.method_label)
    is_vi = st.session_state[P + "method"] == "vi"
    st.slider("MC samples per step", 1, config.MAX_SAMPLES, key=P + "num_samples",
              disabled=not registry.method(st.session_state[P + "method"]).uses_samples)
    st.number_input("Prior σ", BOUNDS["prior_std"].lo, BOUNDS["prior_std"].hi, step=0.5,
                    format="%.3f", key=P + "prior_std")
    st.number_input("Initial posterior σ", BOUNDS["init_std"].lo, BOUNDS["init_std"].hi,
                    step=0.01, format="%.5f", key=P + "init_std", disabled=not is_vi)
    st.number_input("KL weight β", BOUNDS["kl_weight"].lo, BOUNDS["kl_weight"].hi, step=0.001,
                    format="%.4f", key=P + "kl_weight",
                    help="1 is full Bayes; the talk used 0.001 with an initial posterior σ of "
                         "1e-3 to let the network start learning")
    for label, values in PRESETS.items():
        st.button(label, on_click=_preset, args=(values,), key=P + f"preset_{label[:4]}",
                  width="stretch")
    st.number_input("Learning rate (Adam)", config.MIN_LR, config.MAX_LR, step=0.001,
                    format="%.5f", key=P + "lr")
    # ---- methods block: the chosen method's own settings (the others keep their values)
    chosen = st.session_state[P + "method"]
    if chosen == "hmc":
        st.number_input("HMC warm-up transitions", 0, config.MAX_HMC_WARMUP, step=50,
                        key=P + "hmc_warmup", help="Stan's adaptation of the step size and "
                        "mass matrix; draws are kept after it (steps in total include it)")
        st.slider("NUTS max tree doublings", 1, config.MAX_HMC_DOUBLINGS,
                  key=P + "hmc_max_doublings", help="a trajectory has at most 2^this leapfrog "
                  "steps")
    elif chosen == "ensemble":
        st.slider("Ensemble members", 1, config.MAX_ENSEMBLE, key=P + "ensemble_size")
    elif chosen == "dropout":
        st.slider("Dropout rate", 0.0, config.MAX_DROPOUT_RATE, step=0.05,
                  key=P + "dropout_rate")
    # ---- end methods block
    st.header("Training")
    st.number_input("Steps in total", 1, config.MAX_STEPS, step=500, key=P + "steps",
                    on_change=_budget_typed,
                    help="Train stops here; Continue then trains this many more steps")
    st.slider("Steps per redraw", 1, config.MAX_STEPS_PER_CHUNK, key=P + "steps_per_chunk")
    st.slider("Grid resolution", config.MIN_GRID, config.MAX_GRID, key=P + "grid_size")

# ---------------------------------------------------------------- widgets -> session
def _widgets_cfg() -> config.TrainConfig:
    """The settings the widgets show (raises ConfigError / ValueError on bad input)."""
    s = st.session_state
    return live.cfg.replace(
        **{f: type(getattr(live.cfg, f))(s.get(P + f, getattr(live.cfg, f)))
           for f in FIELDS if f != "hidden"},
        hidden=config.parse_hidden(s[P + "hidden"]))


try:
    live.apply(_widgets_cfg())
    st.session_state[P + "applied_steps"] = live.cfg.steps
except (ConfigError, TypeError, ValueError) as err:  # DataError is a ValueError
    st.error(escape_markdown(f"Setting not applied: {err}. Keeping the previous settings."),
             icon=":material/warning:")
except RuntimeError as err:  # e.g. out of memory while initialising
    st.error(escape_markdown(f"Setting not applied: {session.friendly_error(err)}"),
             icon=":material/warning:")
advice = datasets.REGISTRY[live.cfg.dataset].advice
fix = datasets.recommended(live.cfg.dataset, live.cfg.method)
if live.uploaded is None and fix and any(getattr(live.cfg, k) != v for k, v in fix.items()):
    tip, use = st.columns([5, 1], vertical_alignment="center")
    tip.info(advice, icon=":material/lightbulb:")
    use.button("Use these settings", on_click=_preset, args=(fix,), key=P + "use_recommended")
for notice in live.notices:  # what the cost budget changed (e.g. a shortened chunk)
    st.info(escape_markdown(f"Budget: {notice}."), icon=":material/speed:")

if upload is None or upload.file_id != st.session_state.get(P + "upload_id"):
    st.session_state.pop(P + "upload_error", None)  # a message belongs to its file alone
if upload is not None and upload.file_id != st.session_state.get(P + "upload_id"):
    st.session_state[P + "upload_id"] = upload.file_id
    try:
        loaded = live.upload(datasets.load_csv(upload.getvalue()))
    except datasets.DataError as err:
        st.session_state[P + "upload_error"] = (
            upload.file_id, f"Could not use {upload.name!r}: {err}. Keeping the previous data.")
    else:
        if loaded:  # the sidebar above was drawn for the old data: draw it again
            st.session_state[P + "toast"] = f"Loaded {len(live.uploaded[0])} points from the CSV."
            st.rerun()
if P + "upload_error" in st.session_state:
    # Not st.error: a file over Streamlit's size limit is refused in the browser without a
    # rerun, and this message about the previous file would stay (issue 14). The component
    # hides it in the browser as soon as another file is chosen.
    file_id, text = st.session_state[P + "upload_error"]
    upload_message(text, file_id, P + "upload", key=P + "upload_message")
if live.uploaded is not None:
    st.info("Training on your uploaded CSV (standardised). Links cannot carry uploaded data.",
            icon=":material/description:")

# The URL mirrors the settings, so a copied link reproduces the run (data included).
wanted = live.link(FIELDS)
if {k: st.query_params[k] for k in st.query_params} != wanted:
    st.query_params.from_dict(wanted)

# ---------------------------------------------------------------- controls above the chart
status = live.status
controls = st.columns([1.4, 1, 1.1, 1, 1.8, 1.4, 1.4])  # 1366 px: no "Con…"
budget = int(st.session_state.get(P + "budget", live.cfg.steps))
if status in LIVE:
    controls[0].button("Pause", on_click=live.pause, key=P + "pause", type="primary",
                       icon=":material/pause:")
elif status == session.Status.FINISHED:
    controls[0].button("Continue", on_click=_continue, key=P + "continue", type="primary",
                       disabled=live.at_step_limit, icon=":material/play_arrow:",
                       help=f"Train {budget:,} more steps from where the run stands")
else:  # a diverged run's Train is greyed out next to the message that says why
    controls[0].button("Resume" if status == session.Status.PAUSED else "Train",
                       on_click=live.train, key=P + "train", type="primary",
                       disabled=status == session.Status.DIVERGED,
                       icon=":material/play_arrow:")
controls[1].button("Step", on_click=_step, key=P + "step", disabled=live.run.diverged,
                   help="Run one chunk of 'steps per redraw' steps", icon=":material/skip_next:")
controls[2].button("Reset", on_click=live.reset, key=P + "reset", icon=":material/restart_alt:")
controls[3].button("Clear", on_click=live.clear_added, key=P + "clear",
                   disabled=not live.added, help="Remove the points you clicked onto the map")
modes = map_modes(live.num_classes)
if st.session_state.get(P + "mode") not in modes:  # a class the data no longer have
    st.session_state[P + "mode"] = "view"
controls[4].selectbox("Click on the map to", list(modes), format_func=modes.get,
                      key=P + "mode")
controls[5].selectbox("Uncertainty map", session.UNCERTAINTY_KINDS, key=P + "kind",
                      help="; ".join(session.UNCERTAINTY_LABELS.values()))
controls[6].toggle("Zoom out", key=P + "zoom", help="Show the model far from the data (×4)")
widget_state.remember(P, FIELDS + VIEW)
# One placeholder whether or not a status notice shows: a notice appearing above the live chart
# (e.g. "Finished" when the run ends) would shift it in the page, and Streamlit would remount it.
status_notice = st.empty()
if status == session.Status.DIVERGED:
    status_notice.error("Training diverged: a step produced NaN or infinity, so it stopped and "
                        "kept the last finite parameters. Lower the learning rate (or the prior "
                        "σ / initial σ) and press Reset.", icon=":material/error:")
elif status == session.Status.FINISHED and live.at_step_limit:
    status_notice.info(f"Finished: the run has taken {config.MAX_STEPS:,} steps, the most a run "
                       "may take. Press Reset to start again.", icon=":material/flag:")
elif status == session.Status.FINISHED:
    status_notice.info(f"Finished: the run has taken all {live.run.cfg.steps:,} steps. "
                       f"**Continue** trains {budget:,} more, a point clicked onto the map "
                       f"trains {config.CLICK_TRAIN_STEPS:,} more on the new data, Reset starts "
                       "again.", icon=":material/flag:")


# Frames are pushed to the chart on the app's WebSocket route where it is served (ui/push_route.py);
# elsewhere, or if this browser cannot use it, the fragment reruns every 0.05 s to poll.
push_on = push_route.available() and not st.session_state.get(P + "push_off")


@st.fragment(run_every=0.05 if status in LIVE and not push_on else None, key="pg_live_view")
def live_view() -> None:
    # One placeholder whether or not the notice shows: the chart below keeps its place in the
    # page, so Streamlit never remounts it (a remounted chart is a new, unpainted canvas).
    notice = st.empty()
    if live.status == session.Status.WAITING:
        notice.info(f"Waiting for the accelerator: {live.slots.capacity} runs are training on this "
                "server right now; yours continues when one finishes its chunk.",
                icon=":material/hourglass_top:")
    view = session.View(zoom=4.0 if st.session_state[P + "zoom"] else 1.0,
                        kind=st.session_state[P + "kind"], mode=st.session_state[P + "mode"])
    # Pushed frames do not wait on this run: a click is handled without first waiting for a chunk.
    payload, now = live.tick(view, wait_s=0.0 if push_on else 0.25)
    if live.message:  # in the same placeholder: the chart below never moves
        notice.error(escape_markdown(f"Training stopped: {live.message}"), icon=":material/error:")
    if payload is None:
        return
    stream = push_route.stream_for(live, view) if push_on else None
    if stream:
        # Train/Resume and Pause (by their keys) also go over the stream, ahead of the rerun.
        payload["push"] = {**stream, "live": status in LIVE,
                           "buttons": {"train": P + "train", "pause": P + "pause"}}
    chart = live_chart(payload, key=P + "live")
    if push_on and getattr(chart, "push_failed", None):
        st.session_state[P + "push_off"] = True  # poll through reruns from now on
        st.rerun(scope="app")
    click = getattr(chart, "click", None)
    if click and click != st.session_state.get(P + "last_click"):
        st.session_state[P + "last_click"] = click
        # Skipped when the push route already added this click's point (same id).
        refused = live.click(click.get("x"), click.get("y"), view.mode, click_id=click.get("id"))
        if refused:
            st.toast(escape_markdown(refused), icon=":material/block:")
        elif view.mode != "view":
            st.rerun(scope="app" if view.mode.startswith("add") else "fragment")
    if live.probe is not None:
        st.plotly_chart(probe_histogram(live.probe[2], *live.probe[:2]), key=P + "probe_chart")
    if (status in LIVE) != (now in LIVE):  # `status`: what the buttons above were drawn for
        st.rerun(scope="app")


live_view()

# ---- methods block: what the method itself says (near/far, HMC's diagnostics, Laplace's fit),
# in a fragment of its own at 1 Hz so the live maps never wait for it.
def _make_bayesian() -> None:
    method = live.make_bayesian()
    if method is not None:
        st.session_state[P + "method"] = method


@st.fragment(run_every=1.0 if status in LIVE else None, key="pg_method_view")
def method_view() -> None:
    metrics = live.shown_metrics
    if metrics is not None:
        near_col, far_col, read_col = st.columns([1, 1, 3], vertical_alignment="center")
        near_col.metric("Entropy near data", f"{metrics['entropy_near']:.3f} nats",
                        help="Mean predictive entropy on the held-out test points")
        far_col.metric("Entropy far away", f"{metrics['entropy_far']:.3f} nats",
                       help="Mean predictive entropy at probe points ≥ 2 units from every "
                            "training point (one definition: bnnlab.predict)")
        reading = predict.far_near_reading(metrics["entropy_near"], metrics["entropy_far"])
        read_col.markdown(f"**{escape_markdown(reading)}** *(step {metrics['step']:,})*")
    run = live.run
    if run.cfg.method == "hmc":
        report = run.method_report()
        warm = min(run.step, run.cfg.hmc_warmup)
        cols = st.columns(4)
        cols[0].metric("Warm-up", f"{warm:,} / {run.cfg.hmc_warmup:,}",
                       help="Adaptation transitions (step size, mass matrix); the map shows "
                            "the chain's current position until draws are kept")
        cols[1].metric("Draws kept", f"{report['hmc_samples']:,}")
        cols[2].metric("Acceptance", f"{report['acceptance_rate']:.2f}",
                       help="Mean acceptance over the current phase (warm-up, then sampling); "
                            "the warm-up aims at 0.8")
        cols[3].metric("Divergences", f"{report['num_divergent']:,}",
                       help="Divergent transitions after warm-up: the sampler missed part of "
                            "the posterior where they happen")
    target = live.fit_target()
    if target is not None:
        spec = registry.method(target)
        details = run.fit_details()
        fitted = bool(details and details["fitted"])
        text, button = st.columns([4, 1.4], vertical_alignment="center")
        if fitted:
            scope = ("all" if details["num_bayesian"] == details["num_params"]
                     else "the last layer's")
            took = f" in {run.fit_seconds * 1000:,.0f} ms" if run.fit_seconds else ""
            took += " (compiling it the first time)" if run.fit_compiled_first else ""
            text.markdown(
                f"**{spec.label}** fitted{took}: {scope} {details['num_bayesian']:,} of "
                f"{details['num_params']:,} parameters get a Gaussian from the GGN at the MAP "
                f"network; prior σ = {details['best_prior_std']:.3g} maximises the evidence.")
        else:
            text.markdown(f"The map shows one network (the MAP point). **{spec.fit_label}** "
                          "fits a Gaussian around it (linearised Laplace) and draws its "
                          "predictive; it also runs by itself when training ends.")
        if button.button(spec.fit_label or "Fit", on_click=_make_bayesian, key=P + "fit",
                         width="stretch", type="secondary" if fitted else "primary"):
            st.rerun(scope="app")  # the maps, the metrics and the method's widget
        if fitted:
            st.caption("Written on `jax.jacrev` and `jax.linearize` directly "
                       "(`bnnlab/laplace.py`): laplax, the JAX Laplace library, is at version "
                       "0.0.2. Immer et al. 2021; Daxberger et al. 2021, \"Laplace Redux\".")
            st.plotly_chart(evidence_curve(details["prior_std"], details["log_evidence"],
                                           details["best_prior_std"], run.cfg.prior_std),
                            key=P + "evidence")


method_view()


WEIGHTS_EVERY_S = 2.0  # the weight view, when it follows training: a redraw every 2 s
follow_weights = bool(st.session_state.get(P + "weights_follow"))


@st.fragment(run_every=WEIGHTS_EVERY_S if follow_weights and status in LIVE else None,
             key="pg_weights_view")
def weights_view() -> None:
    with st.expander("The weight posterior: what makes the network Bayesian",
                     expanded=follow_weights):
        st.caption("Each weight's posterior mean ± σ against the prior N(0, σₚ²), and the "
                   "signal-to-noise |μ|/σ. A weight at the prior (KL to the prior < 0.01 nats) "
                   "carries no information from the data: VI with β = 1 leaves most weights "
                   "there (its pruning), which is why it underfits. MAP is a point (σ = 0); "
                   "HMC's marginals come from its draws, Laplace's from its covariance. "
                   f"Drawn on demand, or every {WEIGHTS_EVERY_S:g} s while it follows "
                   "training, so the live maps never wait for it.")
        show_col, follow_col = st.columns([1, 1], vertical_alignment="center")
        shown = show_col.button("Show for the current step", key=P + "weights_show",
                                icon=":material/refresh:")
        follow = follow_col.toggle(f"Follow training (every {WEIGHTS_EVERY_S:g} s)",
                                   key=P + "weights_follow")
        if follow != follow_weights:
            st.rerun(scope="app")  # the fragment's refresh rate is set by the whole page
        if not (shown or follow):
            return
        summary = live.run.weight_summary()
        st.markdown(f"**{summary.share_at_prior:.0%}** of {summary.num_weights:,} weights sit "
                    f"at the prior (step {live.run.step:,}, "
                    f"{registry.method_label(live.run.cfg.method)}); median |μ|/σ = "
                    f"{summary.median_snr:.2g}.")
        left, right = st.columns(2)
        left.plotly_chart(posterior_bars(summary), key=P + "weights_bars")
        right.plotly_chart(snr_histogram(summary), key=P + "weights_snr")


weights_view()
# ---- end methods block


# ---------------------------------------------------------------- try this
TRY_BASE, TRY_THIS = presets.TRY_BASE, presets.TRY_THIS  # measured: bnnlab/presets.py


def _set_up(values: dict) -> None:
    """Write an experiment's settings into the widgets and start a fresh run with them."""
    _preset({**TRY_BASE, **values})
    st.session_state[P + "budget"] = TRY_BASE["steps"]
    try:
        live.apply(_widgets_cfg())
        live.reset()
    except (ConfigError, TypeError, ValueError, RuntimeError) as err:
        st.toast(escape_markdown(f"Could not set up the experiment: {err}"),
                 icon=":material/block:")


with st.expander("Try this: six experiments", expanded=True, icon=":material/science:"):
    for number, (title, values, todo, look) in enumerate(TRY_THIS, 1):
        text_col, button_col = st.columns([6, 1], vertical_alignment="center")
        text_col.markdown(f"**{number}. {title}.** {todo}  \n*Look for:* {look}")
        button_col.button("Set up", key=P + f"try_{number}", on_click=_set_up, args=(values,),
                          help="Write this experiment's settings into the sidebar and start "
                               "a fresh run", width="stretch")



st.markdown(
    "**Reading the maps.** Left: the mean predictive probability over posterior samples, with "
    "the boundaries (p = 0.5) of 10 individual posterior networks in grey; filled dots are "
    "training points, rings are test points. Right: the uncertainty you select — *total* is "
    "the entropy of the mean prediction, *aleatoric* the average entropy of each network "
    "(noise in the labels), *epistemic* their difference (the networks disagree). MAP is one "
    "network, so its epistemic uncertainty is exactly zero. With 3–5 classes (*Classes*, for "
    "the spiral and the Gaussian blobs) the network is a softmax over K logits: the left map "
    "shows the most probable class, paler as its probability falls towards 1/K (white: every "
    "class equally likely), and the entropies run up to ln K instead of ln 2.")
st.markdown(
    "**An honest caveat.** Mean-field VI tends to underestimate uncertainty where the data say "
    "nothing: compare *entropy near data* with *entropy far away* above, and switch on *Zoom "
    "out*. A posterior that really said \"I don't know\" far from the data would be near "
    "ln 2 ≈ 0.69 there. Foong et al. (2019, \"'In-Between' Uncertainty in Bayesian Neural "
    "Networks\") show the related failure *between* clusters of data: factorised Gaussian "
    "posteriors stay confident in the gap (the *In-between* preset in the sidebar trains the "
    "reference, HMC, on it; switch *Inference* to VI to compare). Measured per method: "
    "docs/UNCERTAINTY.md.")

with st.expander("The JAX code that runs"):
    st.markdown("One step of Bayes by Backprop (`bnnlab.vi`): reparameterised samples, the "
                "Monte Carlo log-likelihood under `vmap`, the closed-form KL, `jax.grad`. "
                "`bnnlab.train` fuses K of these steps with `lax.scan` into one jitted call.")
    st.code(inspect.getsource(vi.elbo_from_noise), language="python")
    st.code(inspect.getsource(vi.step_from_noise), language="python")
    st.code(inspect.getsource(vi.kl_to_prior), language="python")
