"""Chapter 4 · Variational Bayes in code: train a Bayesian neural network live and watch its
uncertainty. Every number comes from bnnlab; this page arranges widgets and the live chart."""

from __future__ import annotations

import inspect
import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from bnnlab import config, datasets, playground, runtime, vi
from bnnlab.config import BOUNDS, ConfigError, TrainConfig
from ui.live_chart import live_chart
from ui.text import escape_markdown

P = "pg_"  # session-state prefix of this page
KL_PRESETS = {"Talk: β = 0.001": 0.001, "Full Bayes: β = 1": 1.0}
MAP_MODES = {"view": "Look", "add0": "Add class 0 (orange)", "add1": "Add class 1 (blue)",
             "probe": "Probe"}
METHOD_LABELS = {m: {"vi": "VI (Bayes by Backprop)", "map": "MAP (point estimate)"}[m]
                 for m in config.PLAYGROUND_METHODS}
# Share of time the background trainer trains: the rest goes to drawing (measured on 2 cores:
# a trainer running flat out starved the redraws).
TRAINER_DUTY = 1.0
# The settings this page shows; only these go into its links.
FIELDS = ("dataset", "num_points", "noise", "test_fraction", "seed", "hidden", "activation",
          "method", "num_samples", "prior_std", "init_std", "kl_weight", "lr", "steps",
          "steps_per_chunk", "grid_size")


def _state(name, default=None):
    return st.session_state.get(P + name, default)


def _set(name, value) -> None:
    st.session_state[P + name] = value


# ---------------------------------------------------------------- first load: URL -> widgets
def _load_from_url() -> None:
    params = {k: st.query_params[k] for k in st.query_params}
    added_text = params.pop("added", "")
    cfg, notices = config.from_query_params(params, fields=FIELDS)
    if cfg.method not in METHOD_LABELS:
        notices.append(f"method={cfg.method} is not trained here (see Compare methods); "
                       "using VI.")
        cfg = cfg.replace(method="vi")
    added, notice = playground.decode_added(added_text) if added_text else ([], None)
    if notice:
        notices.append(notice)
    _set("notices", notices)
    _set("added", added)
    _set("uploaded", None)
    _widgets_from_config(cfg)
    _set("cfg", cfg)
    _set("run", None)
    _set("training", False)
    _set("probe", None)
    _set("last_click", None)
    _set("mode", "view")


def _widgets_from_config(cfg: TrainConfig) -> None:
    for field in FIELDS:
        if field != "hidden":
            st.session_state[P + field] = getattr(cfg, field)
    st.session_state[P + "hidden"] = ",".join(map(str, cfg.hidden))


if P + "cfg" not in st.session_state:
    _load_from_url()


# ---------------------------------------------------------------- callbacks
def _regenerate() -> None:
    st.session_state[P + "seed"] = (int(st.session_state[P + "seed"]) + 1) % config.MAX_SEED


def _preset(value: float) -> None:
    st.session_state[P + "kl_weight"] = value


def _stop_trainer() -> None:
    trainer = _state("trainer")
    if trainer is not None:
        trainer.stop()


def _train() -> None:
    _set("training", True)
    run = _state("run")
    if run is not None and not run.finished:
        # One chunk right away, so the page this click brings back already shows training;
        # the background trainer takes over from there. Skipped when the server is busy.
        with playground.TRAINING_SLOTS.slot(timeout=0) as got:
            if got:
                run.advance()


def _pause() -> None:
    _set("training", False)
    _stop_trainer()


def _reset() -> None:
    _stop_trainer()
    _set("run", None)
    _set("training", False)
    _set("probe", None)


def _step_once() -> None:
    _set("training", False)
    _stop_trainer()
    run = _state("run")
    if run is not None:
        with playground.TRAINING_SLOTS.slot() as _:
            run.advance()


def _clear_added() -> None:
    _stop_trainer()
    _set("added", [])
    _set("run", None)


def _use_generated() -> None:
    _stop_trainer()
    _set("uploaded", None)
    _set("run", None)


# ---------------------------------------------------------------- page
st.title("4 · Variational Bayes in code")
st.caption(f"JAX {runtime.jax_version()} · running on **{runtime.device_label()}** — "
           "the training step below is jitted and runs on the server's accelerator.")
for notice in _state("notices", []):
    st.warning(escape_markdown(notice), icon=":material/link:")

with st.sidebar:
    st.header("Data")
    st.selectbox("Dataset", config.DATASETS, key=P + "dataset",
                 disabled=_state("uploaded") is not None)
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
    if _state("uploaded") is not None:
        st.button("Use the generated dataset", on_click=_use_generated, key=P + "use_gen")
    st.header("Model")
    st.text_input("Hidden layers (widths)", key=P + "hidden",
                  help=f"Comma-separated, e.g. 32,32; at most {config.MAX_LAYERS} layers of "
                       f"width ≤ {config.MAX_WIDTH}")
    st.selectbox("Activation", config.ACTIVATIONS, key=P + "activation")
    st.header("Method")
    st.radio("Inference", list(METHOD_LABELS), key=P + "method", horizontal=True,
             format_func=METHOD_LABELS.get)
    is_vi = st.session_state[P + "method"] == "vi"
    st.slider("MC samples per step", 1, config.MAX_SAMPLES, key=P + "num_samples",
              disabled=not is_vi)
    st.number_input("Prior σ", BOUNDS["prior_std"].lo, BOUNDS["prior_std"].hi, step=0.5,
                    format="%.3f", key=P + "prior_std")
    st.number_input("Initial posterior σ", BOUNDS["init_std"].lo, BOUNDS["init_std"].hi,
                    step=0.01, format="%.5f", key=P + "init_std", disabled=not is_vi)
    st.number_input("KL weight β", BOUNDS["kl_weight"].lo, BOUNDS["kl_weight"].hi, step=0.001,
                    format="%.4f", key=P + "kl_weight",
                    help="1 is full Bayes; the talk used 0.001 to let the network start learning")
    preset_cols = st.columns(len(KL_PRESETS))
    for col, (label, value) in zip(preset_cols, KL_PRESETS.items(), strict=True):
        col.button(label, on_click=_preset, args=(value,), key=P + f"preset_{value}")
    st.number_input("Learning rate (Adam)", config.MIN_LR, config.MAX_LR, step=0.001,
                    format="%.5f", key=P + "lr")
    st.header("Training")
    st.number_input("Steps in total", 1, config.MAX_STEPS, step=500, key=P + "steps")
    st.slider("Steps per redraw", 1, config.MAX_STEPS_PER_CHUNK, key=P + "steps_per_chunk")
    st.slider("Grid resolution", config.MIN_GRID, config.MAX_GRID, key=P + "grid_size")


# ---------------------------------------------------------------- widgets -> validated config
def _config_from_widgets(previous: TrainConfig) -> TrainConfig:
    s = st.session_state
    try:
        hidden = config.parse_hidden(s[P + "hidden"])
        return previous.replace(
            dataset=s[P + "dataset"], num_points=int(s[P + "num_points"]),
            noise=float(s[P + "noise"]), test_fraction=float(s[P + "test_fraction"]),
            seed=int(s[P + "seed"]), hidden=hidden, activation=s[P + "activation"],
            method=s[P + "method"], num_samples=int(s[P + "num_samples"]),
            prior_std=float(s[P + "prior_std"]), init_std=float(s[P + "init_std"]),
            kl_weight=float(s[P + "kl_weight"]), lr=float(s[P + "lr"]),
            steps=int(s[P + "steps"]), steps_per_chunk=int(s[P + "steps_per_chunk"]),
            grid_size=int(s[P + "grid_size"]))
    except (ConfigError, TypeError, ValueError) as err:
        st.error(escape_markdown(f"Setting not applied: {err}. Keeping the previous settings."),
                 icon=":material/warning:")
        return previous


cfg_before: TrainConfig = _state("cfg")
cfg = _config_from_widgets(cfg_before)

if upload is not None and upload.file_id != _state("upload_id"):
    _set("upload_id", upload.file_id)
    try:
        xy = datasets.load_csv(upload.getvalue())
    except datasets.DataError as err:
        st.error(escape_markdown(f"Could not use {upload.name!r}: {err}. Keeping the previous "
                                 "data."),
                 icon=":material/description:")
    else:
        _set("uploaded", xy)
        _set("added", [])
        _set("run", None)
        _set("training", False)
        st.toast(f"Loaded {len(xy[0])} points from the CSV.")
if _state("uploaded") is not None:
    st.info("Training on your uploaded CSV (standardised). Links cannot carry uploaded data.",
            icon=":material/description:")

run: playground.Run | None = _state("run")
if run is not None and playground.needs_reset(run.cfg, cfg):
    _stop_trainer()
    run = None
    _set("training", False)
    _set("probe", None)
if run is None:
    try:
        data = playground.build_data(cfg, _state("added"), _state("uploaded"))
        with st.spinner("Preparing this architecture (compiled once per process)…"):
            run = playground.Run(cfg, data)
        run.warm_up()  # compiles the training step while the learner looks at the page
    except (datasets.DataError, ConfigError, ValueError) as err:
        st.error(escape_markdown(f"Could not start: {err}"), icon=":material/warning:")
        st.stop()
    _set("run", run)
else:
    playground.reconfigure(run, cfg)
_set("cfg", cfg)

# The URL mirrors the settings, so a copied link reproduces the run (data included).
wanted = {k: v for k, v in config.to_query_params(cfg).items() if k in FIELDS}
if _state("added"):
    wanted["added"] = playground.encode_added(_state("added"))
if {k: st.query_params[k] for k in st.query_params} != wanted:
    st.query_params.from_dict(wanted)

# Training runs in a background thread per session (bnnlab.playground.Trainer); the fragment
# below only draws, so redraws never wait for a chunk and a chunk never waits for a redraw.
trainer: playground.Trainer | None = _state("trainer")
if trainer is None or trainer.run is not run:
    if trainer is not None:
        trainer.stop()
    trainer = playground.Trainer(run, duty=TRAINER_DUTY)
    _set("trainer", trainer)
if _state("training") and not run.finished:
    trainer.start()

# ---------------------------------------------------------------- controls above the chart
training = bool(_state("training")) and not run.finished
controls = st.columns([1, 1, 1, 1, 2, 2, 1.3])
if training:
    controls[0].button("Pause", on_click=_pause, key=P + "pause", type="primary",
                       icon=":material/pause:")
else:
    label = "Resume" if 0 < run.step < cfg.steps and not run.diverged else "Train"
    controls[0].button(label, on_click=_train, key=P + "train", type="primary",
                       disabled=run.finished, icon=":material/play_arrow:")
controls[1].button("Step", on_click=_step_once, key=P + "step", disabled=run.finished,
                   help="Run one chunk of 'steps per redraw' steps", icon=":material/skip_next:")
controls[2].button("Reset", on_click=_reset, key=P + "reset", icon=":material/restart_alt:")
controls[3].button("Clear clicks", on_click=_clear_added, key=P + "clear",
                   disabled=not _state("added"))
controls[4].selectbox("Click on the map to", list(MAP_MODES), format_func=MAP_MODES.get,
                      key=P + "mode")
controls[5].selectbox("Uncertainty map", playground.UNCERTAINTY_KINDS, key=P + "kind",
                      format_func={"total": "total (predictive entropy)",
                                   "aleatoric": "aleatoric (expected entropy)",
                                   "epistemic": "epistemic (mutual information)"}.get)
controls[6].toggle("Zoom out", key=P + "zoom", help="Show the model far from the data (×4)")
if run.diverged:
    st.error("Training diverged: a step produced NaN or infinity, so it stopped and kept the "
             "last finite parameters. Lower the learning rate (or the prior σ / initial σ) "
             "and press Reset.", icon=":material/error:")


def _handle_click(click: dict, run: playground.Run) -> bool:
    """Add a point or probe; returns True when the page should redraw now."""
    try:
        x, y = float(click["x"]), float(click["y"])
    except (KeyError, TypeError, ValueError):
        return False
    if not (np.isfinite(x) and np.isfinite(y)):
        return False
    mode = st.session_state[P + "mode"]
    if mode in ("add0", "add1"):
        added = list(_state("added"))
        if len(added) >= playground.MAX_ADDED_POINTS:
            st.toast(f"At most {playground.MAX_ADDED_POINTS} added points.")
            return False
        added.append((round(x, 3), round(y, 3), 0 if mode == "add0" else 1))
        _set("added", added)
        playground.set_data(run, playground.build_data(run.cfg, added, _state("uploaded")))
        st.query_params["added"] = playground.encode_added(added)
        return True
    if mode == "probe":
        _set("probe", (x, y, run.probe(x, y)))
        return True
    return False


def _metrics_row(run: playground.Run) -> list[dict]:
    """The metrics under the maps, drawn by the live chart itself: eight st.metric elements in
    the fragment halved its tick rate (measured: 11.6 → 6.2 ticks/s for an empty fragment)."""
    # Metrics cost ~20 ms: refresh them a few times a second while training, not every frame.
    cached = _state("metrics")
    now = time.monotonic()
    step = run.step
    if (cached is None or cached[0] is not run
            or (step != cached[1] and (now - cached[2] > 0.4 or not _state("training")))):
        rate = (step - cached[1]) / (now - cached[2]) \
            if cached is not None and cached[0] is run and step > cached[1] else 0.0
        cached = (run, step, now, run.metrics(), playground.far_entropy(run), rate)
        _set("metrics", cached)
    metrics, (near, far), rate = cached[3], cached[4], cached[5]
    return [
        {"label": "Step", "value": f"{step:,}"},
        {"label": "Steps/s", "value": f"{rate:,.0f}" if _state("training") else "–",
         "help": f"Training progress per second of wall time; one chunk alone runs at "
                 f"{run.last_chunk_steps_per_s:,.0f} steps/s"},
        {"label": "Train acc", "value": f"{metrics['train_acc']:.3f}"},
        {"label": "Test acc", "value": f"{metrics['test_acc']:.3f}"},
        {"label": "Test NLL", "value": f"{metrics['test_nll']:.3f}"},
        {"label": "ECE", "value": f"{metrics['ece']:.3f}"},
        {"label": "Entropy near data", "value": f"{near:.3f}",
         "help": "Mean predictive entropy (nats) on the test points"},
        {"label": "Entropy far away", "value": f"{far:.3f}",
         "help": "Mean predictive entropy (nats) at least 2 units from every training point"},
    ]


@st.fragment(run_every=0.05 if training else None, key="pg_live_view")
def live_view() -> None:
    run: playground.Run | None = _state("run")
    trainer: playground.Trainer | None = _state("trainer")
    if run is None or trainer is None or trainer.run is not run:
        # A tick that raced a Reset: the full rerun builds the new run first.
        st.rerun(scope="app")
    trainer.touch()
    if _state("training") and not run.finished and not trainer.running:
        trainer.start()  # e.g. after the learner came back to this page
    if trainer.waiting:
        st.info(f"Waiting for the accelerator: {playground.TRAINING_SLOTS.limit} runs are "
                "training on this server right now; yours continues when one finishes its "
                "chunk.", icon=":material/hourglass_top:")
    if trainer.error:
        st.error(escape_markdown(f"Training stopped: {trainer.error}"), icon=":material/error:")
    if _state("training") and trainer.running and _state("shown_step") == run.step:
        # The page ticks faster than chunks finish: wait for the next chunk instead of sending
        # the browser the same frame again (that work would slow the training down).
        run.wait_for_step_after(run.step, timeout=0.25)
    mode = st.session_state[P + "mode"]
    payload = run.frame(run.cfg.grid_size, 4.0 if st.session_state.get(P + "zoom") else 1.0,
                        st.session_state[P + "kind"])
    payload["mode"] = "add" if mode.startswith("add") else mode
    payload["add_class"] = mode[-1] if mode.startswith("add") else ""
    payload["view_revision"] = f"{run.cfg.dataset}-{st.session_state.get(P + 'zoom')}"
    payload["metrics"] = _metrics_row(run)
    # The objective chart redraws twice a second: send its history about as often while
    # training (the chart keeps the last one), and always otherwise.
    sent = _state("history_sent")
    now = time.monotonic()
    if (not _state("training") or sent is None or sent[0] is not run
            or now - sent[1] > 0.4 or sent[2] != run.cfg.kl_weight):
        payload["history"] = run.history_payload()
        _set("history_sent", (run, now, run.cfg.kl_weight))
    _set("shown_step", payload["step"])
    result = live_chart(payload, key=P + "live")
    click = getattr(result, "click", None)
    if click and click != _state("last_click"):
        _set("last_click", click)
        if _handle_click(click, run):
            st.rerun(scope="fragment")
    probe = _state("probe")
    if probe is not None:
        px, py, probs = probe
        fig = go.Figure(go.Histogram(x=probs, xbins={"start": 0, "end": 1.0001, "size": 0.05},
                                     marker_color="#4e79a7"))
        fig.update_layout(height=220, margin={"l": 40, "r": 10, "t": 40, "b": 30},
                          title=f"P(y=1) across {len(probs)} posterior samples at "
                                f"({px:.2f}, {py:.2f}): mean {probs.mean():.2f}, "
                                f"std {probs.std():.2f}",
                          xaxis={"range": [0, 1], "title": "P(y=1)"}, bargap=0.05)
        st.plotly_chart(fig, key=P + "probe_chart")
    if _state("training") and (run.finished or trainer.error):
        _set("training", False)
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
    "**An honest caveat.** Mean-field VI underestimates uncertainty, most of all far from the "
    "data: compare *entropy near data* with *entropy far away* above, and switch on *Zoom out*. "
    "A posterior that really said \"I don't know\" away from the data would be near ln 2 ≈ 0.69 "
    "there; mean-field Gaussians with a factorised posterior usually are not (Foong et al. "
    "2019, \"In-between\" uncertainty).")

with st.expander("The JAX code that runs"):
    st.markdown("One step of Bayes by Backprop (`bnnlab.vi`): reparameterised samples, the "
                "Monte Carlo log-likelihood under `vmap`, the closed-form KL, `jax.grad`. "
                "`bnnlab.train` fuses K of these steps with `lax.scan` into one jitted call.")
    st.code(inspect.getsource(vi.elbo_from_noise), language="python")
    st.code(inspect.getsource(vi.step_from_noise), language="python")
    st.code(inspect.getsource(vi.kl_to_prior), language="python")
