"""Compare inference methods: MAP, mean-field VI, MC dropout, a deep ensemble and HMC (the
reference) trained on the same data, live, side by side. Every number comes from
bnnlab.compare; the methods train on a `session.Trainer` thread through the server-wide slots;
this page arranges widgets, maps and the table."""

from __future__ import annotations

import math

import streamlit as st

from bnnlab import compare, config, datasets, registry, runtime, session
from bnnlab.config import BOUNDS, ConfigError
from bnnlab.figures import compare as figures
from ui import widget_state
from ui.compare_maps import compare_maps
from ui.text import escape_markdown

P = "cmp_"  # session-state prefix of this page
DEFAULTS = compare.CompareSettings()
KIND_LABELS = registry.UNCERTAINTY_KINDS


def _init_widgets() -> None:
    base = DEFAULTS.base
    values = {
        "methods": list(DEFAULTS.methods), "dataset": DEFAULTS.dataset,
        "num_classes": base.num_classes,
        "num_points": base.num_points, "noise": base.noise, "seed": base.seed,
        "hidden": ",".join(map(str, base.hidden)), "prior_std": base.prior_std, "lr": base.lr,
        "steps": base.steps, "num_samples": base.num_samples, "kl_weight": base.kl_weight,
        "dropout_rate": base.dropout_rate, "ensemble_size": base.ensemble_size,
        "hmc_warmup": base.hmc_warmup, "hmc_samples": DEFAULTS.hmc_samples,
        "hmc_max_doublings": base.hmc_max_doublings, "kind": "total", "zoom": False,
        "grid_size": 50, "temperature": DEFAULTS.temperature,
    }
    widget_state.restore(P, values)  # after a visit to another page
    for name, value in values.items():
        st.session_state.setdefault(P + name, value)
    st.session_state.setdefault(P + "comparison", None)
    st.session_state.setdefault(P + "trainer", None)
    st.session_state.setdefault(P + "settings", None)
    return list(values)


WIDGETS = _init_widgets()


def _settings_from_widgets() -> compare.CompareSettings:
    s = st.session_state
    base = DEFAULTS.base.replace(
        num_points=int(s[P + "num_points"]), noise=float(s[P + "noise"]), seed=int(s[P + "seed"]),
        hidden=config.parse_hidden(s[P + "hidden"]), prior_std=float(s[P + "prior_std"]),
        lr=float(s[P + "lr"]), steps=int(s[P + "steps"]), num_samples=int(s[P + "num_samples"]),
        kl_weight=float(s[P + "kl_weight"]), dropout_rate=float(s[P + "dropout_rate"]),
        ensemble_size=int(s[P + "ensemble_size"]), hmc_warmup=int(s[P + "hmc_warmup"]),
        hmc_max_doublings=int(s[P + "hmc_max_doublings"]),
        num_classes=int(s[P + "num_classes"]))
    return compare.CompareSettings(methods=tuple(s[P + "methods"]), dataset=s[P + "dataset"],
                                   base=base, hmc_samples=int(s[P + "hmc_samples"]),
                                   temperature=float(s[P + "temperature"]))


def _trainer() -> session.Trainer | None:
    return st.session_state[P + "trainer"]


def _train() -> None:
    st.session_state[P + "start"] = True


def _stop() -> None:
    if _trainer() is not None:
        _trainer().stop()


def _reset() -> None:
    _stop()
    st.session_state[P + "comparison"] = None
    st.session_state[P + "trainer"] = None


def _dataset_changed() -> None:
    """A dataset keeps the number of classes where it allows it (else 2)."""
    most = datasets.max_classes(st.session_state[P + "dataset"])
    st.session_state[P + "num_classes"] = min(int(st.session_state[P + "num_classes"]), most)


# ---- posterior temperature in the URL (`?temperature=0.5`): read once per session, validated
TEMPERATURE_BOUND = BOUNDS["temperature"]


def _temperature_from_url() -> str | None:
    """Apply `temperature` from the URL on the session's first run; a message if it is bad."""
    if st.session_state.get(P + "url_read"):
        return None
    st.session_state[P + "url_read"] = True
    raw = st.query_params.get("temperature")
    if raw is None:
        return None
    try:
        value = float(str(raw)[:40])
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and TEMPERATURE_BOUND.lo <= value <= TEMPERATURE_BOUND.hi):
        return (f"Ignored temperature={str(raw)[:40]!r} from the link: the posterior "
                f"temperature must be a number from {TEMPERATURE_BOUND.lo:g} to "
                f"{TEMPERATURE_BOUND.hi:g}.")
    st.session_state[P + "temperature"] = value
    return None


def _temperature_to_url(temperature: float) -> None:
    if temperature == 1.0:
        st.query_params.pop("temperature", None)
    elif st.query_params.get("temperature") != f"{temperature:g}":
        st.query_params["temperature"] = f"{temperature:g}"


url_notice = _temperature_from_url()
# ----

st.title("Compare inference methods")
st.caption(f"JAX {runtime.jax_version()} · running on **{runtime.device_label()}** — every "
           "method trains on the same data; HMC (NUTS) samples the true posterior as reference.")

with st.sidebar:
    st.header("Methods")
    st.multiselect("Methods to compare", config.METHODS, key=P + "methods",
                   format_func=registry.method_label)
    st.header("Data")
    st.selectbox("Dataset", compare.COMPARE_DATASETS, key=P + "dataset",
                 format_func=registry.dataset_label, on_change=_dataset_changed)
    st.selectbox("Classes", range(2, config.MAX_CLASSES + 1), key=P + "num_classes",
                 disabled=datasets.max_classes(st.session_state[P + "dataset"]) == 2,
                 help="K classes: 2 trains Bernoulli networks (one logit), 3–5 a categorical "
                      "softmax over K logits. Spiral and Gaussian blobs take up to "
                      f"{config.MAX_CLASSES}.")
    st.slider("Number of points", 32, 1_000, key=P + "num_points")
    st.slider("Noise", 0.0, config.MAX_NOISE, step=0.01, key=P + "noise")
    st.number_input("Seed", 0, config.MAX_SEED, step=1, key=P + "seed")
    st.header("Model")
    st.text_input("Hidden layers (widths)", key=P + "hidden",
                  help=f"Comma-separated, e.g. 16,16; at most {config.MAX_LAYERS} layers of "
                       f"width ≤ {config.MAX_WIDTH}. HMC slows down quickly with size.")
    st.number_input("Prior σ", BOUNDS["prior_std"].lo, BOUNDS["prior_std"].hi, step=0.5,
                    format="%.3f", key=P + "prior_std")
    st.header("Optimised methods")
    st.number_input("Steps (MAP, VI, dropout, ensemble)", 1, config.MAX_STEPS, step=500,
                    key=P + "steps")
    st.number_input("Learning rate (Adam)", config.MIN_LR, config.MAX_LR, step=0.001,
                    format="%.4f", key=P + "lr")
    st.slider("VI / dropout: samples per step", 1, config.MAX_SAMPLES, key=P + "num_samples")
    st.number_input("VI: KL weight β", BOUNDS["kl_weight"].lo, BOUNDS["kl_weight"].hi,
                    step=0.1, format="%.3f", key=P + "kl_weight")
    st.slider("MC dropout rate", 0.0, config.MAX_DROPOUT_RATE, step=0.05,
              key=P + "dropout_rate")
    st.slider("Ensemble members M", 1, config.MAX_ENSEMBLE, key=P + "ensemble_size")
    st.header("HMC (NUTS)")
    st.number_input("Warm-up transitions", 0, config.MAX_HMC_WARMUP, step=100,
                    key=P + "hmc_warmup")
    st.number_input("Samples after warm-up", 10, config.MAX_HMC_SAMPLES, step=100,
                    key=P + "hmc_samples")
    st.slider("Max tree doublings", 1, config.MAX_HMC_DOUBLINGS, key=P + "hmc_max_doublings",
              help="A NUTS trajectory has at most 2^doublings leapfrog steps")
    st.header("Posterior temperature")
    st.number_input("Temperature T (HMC and VI)", TEMPERATURE_BOUND.lo, TEMPERATURE_BOUND.hi,
                    step=0.1, format="%.2f", key=P + "temperature",
                    help="HMC samples p(θ|D)^(1/T) (its log density divided by T); VI weighs "
                         "its KL by T·β, which tempers the likelihood alone. T < 1 is a cold "
                         "(sharper) posterior, T > 1 a warm (flatter) one; 1 is Bayes "
                         "(Wenzel et al. 2020; Izmailov et al. 2021). MAP, dropout and the "
                         "ensemble ignore it.")

if url_notice:
    st.warning(escape_markdown(url_notice), icon=":material/link_off:")

try:
    settings = _settings_from_widgets()
except (ConfigError, TypeError, ValueError) as err:
    st.error(escape_markdown(f"Setting not applied: {err}"), icon=":material/warning:")
    settings = st.session_state[P + "settings"] or DEFAULTS
st.session_state[P + "settings"] = settings
_temperature_to_url(settings.temperature)

comparison: compare.Comparison | None = st.session_state[P + "comparison"]
if comparison is not None and comparison.settings != settings:
    st.info("Settings changed: press Train to start again with them.", icon=":material/info:")
if st.session_state.pop(P + "start", False):
    if comparison is None or comparison.settings != settings or comparison.finished:
        _stop()
        try:
            comparison = compare.Comparison(settings)
        except (ConfigError, ValueError) as err:
            st.error(escape_markdown(f"Could not start: {err}"), icon=":material/warning:")
            comparison = None
        st.session_state[P + "comparison"] = comparison
        st.session_state[P + "trainer"] = None if comparison is None else \
            session.Trainer(comparison)
    if _trainer() is not None:
        _trainer().start()  # compiles, then trains, on its own thread: never on this one

trainer = _trainer()
training = trainer is not None and trainer.running
cols = st.columns([1, 1, 2.2, 1.4, 1.6])
if training:
    cols[0].button("⏹ Stop", on_click=_stop, key=P + "stop", type="primary")
else:
    label = "▶ Resume" if comparison is not None and not comparison.finished \
        and comparison.settings == settings else "▶ Train"
    cols[0].button(label, on_click=_train, key=P + "train", type="primary")
cols[1].button("↺ Reset", on_click=_reset, key=P + "reset")
cols[2].selectbox("Uncertainty map", list(KIND_LABELS), format_func=KIND_LABELS.get,
                  key=P + "kind")
cols[3].toggle("Zoom out", key=P + "zoom", help="Show the maps ×3 wider: far from the data")
cols[4].slider("Map resolution", config.MIN_GRID, config.MAX_COMPARE_GRID, key=P + "grid_size")
widget_state.remember(P, WIDGETS)


def _fmt(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) and math.isfinite(value) else "—"


@st.fragment(run_every=0.3 if training else None)
def live_view() -> None:
    comparison: compare.Comparison | None = st.session_state[P + "comparison"]
    if comparison is None:
        st.info("Choose methods and press **Train**: they all train on the same data and their "
                "uncertainty maps appear here side by side.", icon=":material/touch_app:")
        return
    trainer = _trainer()
    if trainer is not None:
        trainer.touch()
        if trainer.waiting:
            st.info(f"Waiting for the accelerator: {trainer.slots.capacity} runs are training "
                    "on this server right now; these methods continue when one finishes its "
                    "chunk.", icon=":material/hourglass_top:")
        elif trainer.compiling:
            st.info("Compiling one training chunk per method (once per process)…",
                    icon=":material/hourglass_top:")
        if trainer.error:
            st.error(escape_markdown(f"Training stopped: {trainer.error}"),
                     icon=":material/error:")
    report = comparison.report(int(st.session_state[P + "grid_size"]),
                               3.0 if st.session_state[P + "zoom"] else 1.0)
    kind = st.session_state[P + "kind"]
    compare_maps(compare.maps_payload(report, kind, comparison.data), key=P + "maps")
    k = comparison.num_classes
    st.caption(f"Colour: {KIND_LABELS[kind]} in nats, one scale for every map (0 to ln {k} = "
               f"{math.log(k):.2f}). "
               + ("White line: P(y=1) = 0.5. " if k == 2 else
                  "White lines: where the most probable class changes. ")
               + "Dots: training points, coloured by class"
               + (" · dotted box: the gap cut out of the moons." if comparison.data.gap else "."))
    hmc_run = comparison.runs.get("hmc")
    if hmc_run is not None:
        prog = hmc_run.hmc_progress()
        if prog["in_warmup"]:
            fraction = prog["warmup_done"] / max(prog["warmup"], 1)
            text = (f"HMC warm-up: {prog['warmup_done']:,} / {prog['warmup']:,} transitions · "
                    f"acceptance {prog['acceptance_rate']:.2f} (target 0.8) · "
                    f"step size {prog['step_size']:.3g}")
        else:
            fraction = prog["samples"] / max(prog["samples_wanted"], 1)
            text = (f"HMC samples drawn: {prog['samples']:,} / {prog['samples_wanted']:,} · "
                    f"acceptance {prog['acceptance_rate']:.2f} · step size "
                    f"{prog['step_size']:.3g} · divergent {prog['num_divergent']}")
        st.progress(min(max(fraction, 0.0), 1.0), text=text)
    rows = []
    for method, r in report.rows.items():
        unit = "transitions" if registry.has_warmup(method) else "steps"
        rows.append({
            "method": registry.method_label(method),
            "progress": f"{r.steps:,} {unit}" + (" ✓" if r.finished else "")
                        + (" (diverged)" if r.diverged else ""),
            "test acc": _fmt(r.test_acc), "test NLL": _fmt(r.test_nll), "ECE": _fmt(r.ece),
            "entropy near": _fmt(r.entropy_near), "entropy far": _fmt(r.entropy_far),
            **({"entropy in gap": _fmt(r.entropy_gap)} if comparison.data.gap else {}),
            "|Δp| vs HMC": _fmt(r.diff_from_hmc),
            "wall s": _fmt(r.wall_s, 1),
            "steps/s": _fmt(r.steps_per_s, 0),
        })
    # Widths that fit "800 transitions ✓" and every header at 1366 px (no cut-off labels).
    # Short headers and set widths: every column and label fits at 1366 px.
    text = st.column_config.TextColumn
    st.dataframe(rows, hide_index=True, width="stretch", column_config={
        "progress": text(width=125),
        "entropy near": text("H near", help="Predictive entropy (nats) on the test points"),
        "entropy far": text("H far", help="Predictive entropy (nats) at least 2 units from "
                                          "every training point"),
        "entropy in gap": text("H in gap", help="Predictive entropy (nats) in the band cut "
                                                "out of the moons"),
        "steps/s": text(help="Training steps per second of wall time; HMC: posterior samples "
                             "per second"),
    })
    st.subheader("The lesson, computed")
    for line in report.lesson:
        st.markdown(f"- {line}")
    if report.hmc_ready and len(report.rows) > 1:
        others = [m for m in report.rows if m != "hmc"]
        st.plotly_chart(figures.distance_bars(
            [registry.method_label(m) for m in others],
            [report.rows[m].diff_from_hmc for m in others],
            [report.rows[m].diff_from_hmc_gap for m in others] if comparison.data.gap else None),
            key=P + "bars", config={"displayModeBar": False})
    if training and (trainer is None or not trainer.running):
        st.rerun(scope="app")  # finished or stopped: the buttons above follow


live_view()

st.markdown(
    "**What you are looking at.** *MAP* is one network; *mean-field VI* a factorised Gaussian "
    "over the weights (Blundell et al. 2015); *MC dropout* keeps dropout on at prediction (Gal & "
    "Ghahramani 2016); a *deep ensemble* trains M networks from different seeds at once with "
    "`vmap` (Lakshminarayanan et al. 2017); *HMC* draws samples from the true posterior of the "
    "same network with NUTS and Stan's warm-up (Hoffman & Gelman 2014; blackjax). The preset "
    "*moons with a gap* asks what each says between the clusters, where no data constrain the "
    "answer (Foong et al. 2019).")
