"""Chapter 4 · Variational Bayes in code: train a Bayesian neural network live and watch its
uncertainty. The live session (training, status, frames) is `bnnlab.session.Session`; this page
binds widgets to it and arranges the live chart."""

from __future__ import annotations

import inspect

import streamlit as st

from bnnlab import config, datasets, registry, runtime, session, vi
from bnnlab.config import BOUNDS, ConfigError
from bnnlab.figures.playground import probe_histogram
from ui import push_route, widget_state
from ui.live_chart import live_chart
from ui.text import escape_markdown

P = "pg_"  # session-state prefix of this page
PRESETS = {"Talk's recipe: β = 0.001, initial σ = 1e-3": {"kl_weight": 0.001, "init_std": 1e-3},
           "Full Bayes: β = 1": {"kl_weight": 1.0}}
MAP_MODES = {"view": "Look", "add0": "Add class 0 (orange)", "add1": "Add class 1 (blue)",
             "probe": "Probe"}
# The settings this page shows; only these go into its links.
FIELDS = ("dataset", "num_points", "noise", "test_fraction", "seed", "hidden", "activation",
          "method", "num_samples", "prior_std", "init_std", "kl_weight", "lr", "steps",
          "steps_per_chunk", "grid_size")
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


if P + "session" not in st.session_state:
    _open_from_url()
widget_state.restore(P, FIELDS + VIEW)  # after a visit to another page
live: session.Session = st.session_state[P + "session"]


def _preset(values: dict) -> None:
    for field, value in values.items():
        st.session_state[P + field] = value


def _dataset_changed() -> None:
    """A new dataset starts from its own registered noise (the spiral's arms need less)."""
    st.session_state[P + "noise"] = datasets.REGISTRY[st.session_state[P + "dataset"]].default_noise


def _regenerate() -> None:
    st.session_state[P + "seed"] = (int(st.session_state[P + "seed"]) + 1) % config.MAX_SEED


def _step() -> None:
    live.step()
    live.wait_for_step(timeout=2.0)  # bounded: the chunk runs on the trainer's thread


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
    st.slider("Test fraction", BOUNDS["test_fraction"].lo, BOUNDS["test_fraction"].hi,
              step=0.05, key=P + "test_fraction")
    seed_col, regen_col = st.columns([2, 1])
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
              disabled=not is_vi)
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
    st.header("Training")
    st.number_input("Steps in total", 1, config.MAX_STEPS, step=500, key=P + "steps")
    st.slider("Steps per redraw", 1, config.MAX_STEPS_PER_CHUNK, key=P + "steps_per_chunk")
    st.slider("Grid resolution", config.MIN_GRID, config.MAX_GRID, key=P + "grid_size")

# ---------------------------------------------------------------- widgets -> session
try:
    s = st.session_state
    live.apply(live.cfg.replace(
        **{f: type(getattr(live.cfg, f))(s[P + f]) for f in FIELDS if f != "hidden"},
        hidden=config.parse_hidden(s[P + "hidden"])))
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
        if live.upload(datasets.load_csv(upload.getvalue())):
            st.toast(f"Loaded {len(live.uploaded[0])} points from the CSV.")
    except datasets.DataError as err:
        st.session_state[P + "upload_error"] = escape_markdown(
            f"Could not use {upload.name!r}: {err}. Keeping the previous data.")
if P + "upload_error" in st.session_state:
    st.error(st.session_state[P + "upload_error"], icon=":material/description:")
if live.uploaded is not None:
    st.info("Training on your uploaded CSV (standardised). Links cannot carry uploaded data.",
            icon=":material/description:")

# The URL mirrors the settings, so a copied link reproduces the run (data included).
wanted = live.link(FIELDS)
if {k: st.query_params[k] for k in st.query_params} != wanted:
    st.query_params.from_dict(wanted)

# ---------------------------------------------------------------- controls above the chart
status = live.status
controls = st.columns([1, 1, 1.1, 1, 1.9, 1.5, 1.5])
if status in LIVE:
    controls[0].button("Pause", on_click=live.pause, key=P + "pause", type="primary",
                       icon=":material/pause:")
else:
    controls[0].button("Resume" if status == session.Status.PAUSED else "Train",
                       on_click=live.train, key=P + "train", type="primary",
                       disabled=live.run.finished, icon=":material/play_arrow:")
controls[1].button("Step", on_click=_step, key=P + "step", disabled=live.run.finished,
                   help="Run one chunk of 'steps per redraw' steps", icon=":material/skip_next:")
controls[2].button("Reset", on_click=live.reset, key=P + "reset", icon=":material/restart_alt:")
controls[3].button("Clear", on_click=live.clear_added, key=P + "clear",
                   disabled=not live.added, help="Remove the points you clicked onto the map")
controls[4].selectbox("Click on the map to", list(MAP_MODES), format_func=MAP_MODES.get,
                      key=P + "mode")
controls[5].selectbox("Uncertainty map", session.UNCERTAINTY_KINDS, key=P + "kind",
                      help="; ".join(session.UNCERTAINTY_LABELS.values()))
controls[6].toggle("Zoom out", key=P + "zoom", help="Show the model far from the data (×4)")
widget_state.remember(P, FIELDS + VIEW)
if status == session.Status.DIVERGED:
    st.error("Training diverged: a step produced NaN or infinity, so it stopped and kept the "
             "last finite parameters. Lower the learning rate (or the prior σ / initial σ) "
             "and press Reset.", icon=":material/error:")
elif status == session.Status.FINISHED:
    st.info(f"Finished: the run has taken all {live.run.cfg.steps:,} steps. Raise *Steps in "
            "total* to train on, or press Reset to start again.", icon=":material/flag:")


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
    if live.message:
        st.error(escape_markdown(f"Training stopped: {live.message}"), icon=":material/error:")
    if payload is None:
        return
    stream = push_route.stream_for(live, view) if push_on else None
    if stream:
        payload["push"] = {**stream, "live": status in LIVE}
    chart = live_chart(payload, key=P + "live")
    if push_on and getattr(chart, "push_failed", None):
        st.session_state[P + "push_off"] = True  # poll through reruns from now on
        st.rerun(scope="app")
    click = getattr(chart, "click", None)
    if click and click != st.session_state.get(P + "last_click"):
        st.session_state[P + "last_click"] = click
        refused = live.click(click.get("x"), click.get("y"), view.mode)
        if refused:
            st.toast(escape_markdown(refused), icon=":material/block:")
        elif view.mode != "view":
            st.rerun(scope="app" if view.mode.startswith("add") else "fragment")
    if live.probe is not None:
        st.plotly_chart(probe_histogram(live.probe[2], *live.probe[:2]), key=P + "probe_chart")
    if (status in LIVE) != (now in LIVE):  # `status`: what the buttons above were drawn for
        st.rerun(scope="app")


live_view()

st.markdown(
    "**Reading the maps.** Left: the mean predictive probability over posterior samples, with "
    "the boundaries (p = 0.5) of 10 individual posterior networks in grey; filled dots are "
    "training points, rings are test points. Right: the uncertainty you select — *total* is "
    "the entropy of the mean prediction, *aleatoric* the average entropy of each network "
    "(noise in the labels), *epistemic* their difference (the networks disagree). MAP is one "
    "network, so its epistemic uncertainty is exactly zero.")
st.markdown(
    "**An honest caveat.** Mean-field VI tends to underestimate uncertainty where the data say "
    "nothing: compare *entropy near data* with *entropy far away* above, and switch on *Zoom "
    "out*. A posterior that really said \"I don't know\" far from the data would be near "
    "ln 2 ≈ 0.69 there. Foong et al. (2019, \"'In-Between' Uncertainty in Bayesian Neural "
    "Networks\") show the related failure *between* clusters of data: factorised Gaussian "
    "posteriors stay confident in the gap (try it on the *Compare methods* page, preset "
    "*moons with a gap*).")

with st.expander("The JAX code that runs"):
    st.markdown("One step of Bayes by Backprop (`bnnlab.vi`): reparameterised samples, the "
                "Monte Carlo log-likelihood under `vmap`, the closed-form KL, `jax.grad`. "
                "`bnnlab.train` fuses K of these steps with `lax.scan` into one jitted call.")
    st.code(inspect.getsource(vi.elbo_from_noise), language="python")
    st.code(inspect.getsource(vi.step_from_noise), language="python")
    st.code(inspect.getsource(vi.kl_to_prior), language="python")
