"""Compare inference methods: MAP, mean-field VI, MC dropout, a deep ensemble and HMC (the
reference), or any method in the registry, trained on the same data, live, side by side. Every
number comes from `bnnlab.lessons.compare`; the methods train on a `live.trainer.Trainer`
thread through the server-wide slots; this page arranges widgets, maps and the table."""

from __future__ import annotations

import streamlit as st

from bnnlab import registry
from bnnlab.core import limits, runtime
from bnnlab.core.errors import ConfigError
from bnnlab.figures import compare as figures
from bnnlab.lessons import compare, compare_view
from bnnlab.live.trainer import Trainer, friendly_error
from bnnlab.training import config
from ui import forms
from ui.compare_maps import compare_maps
from ui.text import escape_markdown

P = "cmp_"  # session-state prefix of this page
DEFAULTS = compare.CompareSettings()
FIELDS = forms.page_fields("compare")
KIND_LABELS = registry.UNCERTAINTY_KINDS
SS = st.session_state

if P + "settings" not in SS:  # the first visit: the defaults, then the link's temperature
    forms.write_config(P, DEFAULTS.base.replace(dataset=DEFAULTS.dataset), FIELDS, True)
    forms.write(P, {"methods": list(DEFAULTS.methods), "kind": "total", "zoom": False,
                    "grid_size": 50, "samples_after_warmup": DEFAULTS.samples_after_warmup,
                    "temperature": DEFAULTS.temperature}, missing_only=True)
    SS.update({P + "settings": None, P + "comparison": None, P + "trainer": None})
    temperature, SS[P + "url_notice"] = compare.temperature_from_link(dict(st.query_params))
    if temperature is not None:
        SS[P + "temperature"] = temperature


def _settings_from_widgets() -> compare.CompareSettings:
    base = forms.config_from_widgets(P, DEFAULTS.base, FIELDS)
    return compare.CompareSettings(
        methods=tuple(SS[P + "methods"]), dataset=base.dataset, base=base,
        samples_after_warmup=int(SS[P + "samples_after_warmup"]),
        temperature=float(SS[P + "temperature"]))


def _trainer() -> Trainer | None:
    return SS[P + "trainer"]


def _train() -> None:
    SS[P + "start"] = True


def _stop() -> None:
    if _trainer() is not None:
        _trainer().stop()


def _reset() -> None:
    _stop()
    SS[P + "comparison"] = SS[P + "trainer"] = None


def _dataset_changed() -> None:
    """A dataset keeps the number of classes where it allows it (else 2)."""
    most = registry.max_classes(SS[P + "dataset"])
    SS[P + "num_classes"] = min(int(SS[P + "num_classes"]), most)


st.title("Compare inference methods")
st.caption(f"JAX {runtime.jax_version()} · running on **{runtime.device_label()}** — every "
           "method trains on the same data; HMC (NUTS) samples the true posterior as reference.")
with st.sidebar:
    st.header("Methods")
    st.multiselect("Methods to compare", tuple(registry.METHODS), key=P + "methods",
                   format_func=registry.method_label, persist_state=forms.PERSIST)
    st.header("Data")
    st.selectbox(forms.CHOICE_LABELS["dataset"], compare.COMPARE_DATASETS, key=P + "dataset",
                 format_func=registry.dataset_label, on_change=_dataset_changed,
                 persist_state=forms.PERSIST)
    st.selectbox(config.NUM_CLASSES.label, range(2, limits.MAX_CLASSES + 1),
                 key=P + "num_classes", help=config.NUM_CLASSES.help,
                 disabled=registry.max_classes(SS[P + "dataset"]) == 2,
                 persist_state=forms.PERSIST)
    forms.setting(st, config.NUM_POINTS, P, lo=32, hi=1_000)
    forms.setting(st, config.NOISE, P)
    forms.setting(st, config.SEED, P)
    st.header("Model")
    forms.hidden(st, P, help=forms.HIDDEN_HELP + ". HMC slows down quickly with size.")
    forms.setting(st, config.PRIOR_STD, P)
    st.header("Training")
    forms.setting(st, config.STEPS, P, label="Steps (methods that optimise)")
    for item in (config.LR, config.NUM_SAMPLES, config.KL_WEIGHT):
        forms.setting(st, item, P)
    for name, spec in registry.METHODS.items():  # each method's own settings
        if any("compare" in item.pages for item in spec.settings):
            st.subheader(spec.label)
            forms.method_settings(st, name, P, "compare")
    if any(spec.warmup is not None for spec in registry.METHODS.values()):
        forms.setting(st, compare.SAMPLES_AFTER_WARMUP, P)
    st.header("Posterior temperature")
    forms.setting(st, compare.TEMPERATURE, P)

if SS[P + "url_notice"]:
    st.warning(escape_markdown(SS[P + "url_notice"]), icon=":material/link_off:")
try:
    settings = _settings_from_widgets()
except (ConfigError, TypeError, ValueError) as err:
    st.error(escape_markdown(f"Setting not applied: {err}"), icon=":material/warning:")
    settings = SS[P + "settings"] or DEFAULTS
SS[P + "settings"] = settings
if settings.temperature == DEFAULTS.temperature:  # T = 1 leaves the links as they were
    st.query_params.pop("temperature", None)
elif st.query_params.get("temperature") != f"{settings.temperature:g}":
    st.query_params["temperature"] = f"{settings.temperature:g}"

comparison: compare.Comparison | None = SS[P + "comparison"]
if comparison is not None and comparison.settings != settings:
    st.info("Settings changed: press Train to start again with them.", icon=":material/info:")
if SS.pop(P + "start", False):
    if comparison is None or comparison.settings != settings or comparison.finished:
        _stop()
        try:
            comparison = compare.Comparison(settings)
        except (ConfigError, ValueError) as err:
            st.error(escape_markdown(f"Could not start: {err}"), icon=":material/warning:")
            comparison = None
        SS[P + "comparison"] = comparison
        SS[P + "trainer"] = None if comparison is None else Trainer(comparison)
    if _trainer() is not None:
        _trainer().start()  # compiles, then trains, on its own thread: never on this one

trainer = _trainer()
training = trainer is not None and trainer.running
cols = st.columns([1, 1, 2.2, 1.4, 1.6])
if training:
    cols[0].button("⏹ Stop", on_click=_stop, key=P + "stop", type="primary")
else:
    resumable = comparison is not None and not comparison.finished \
        and comparison.settings == settings
    cols[0].button("▶ Resume" if resumable else "▶ Train", on_click=_train, key=P + "train",
                   type="primary")
cols[1].button("↺ Reset", on_click=_reset, key=P + "reset")
cols[2].selectbox("Uncertainty map", list(KIND_LABELS), format_func=KIND_LABELS.get,
                  key=P + "kind", persist_state=forms.PERSIST)
cols[3].toggle("Zoom out", key=P + "zoom", help="Show the maps ×3 wider: far from the data",
               persist_state=forms.PERSIST)
cols[4].slider("Map resolution", limits.MIN_GRID, limits.MAX_COMPARE_GRID, key=P + "grid_size",
               persist_state=forms.PERSIST)


@st.fragment(run_every=0.3 if training else None)
def live_view() -> None:
    comparison: compare.Comparison | None = SS[P + "comparison"]
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
    grid, zoom = int(SS[P + "grid_size"]), 3.0 if SS[P + "zoom"] else 1.0
    report = comparison.latest_report(grid, zoom, compare.REPORT_WAIT_S[training],
                                      trainer.touch if trainer is not None else None)
    if comparison.report_error is not None:
        st.warning(escape_markdown(friendly_error(comparison.report_error)),
                   icon=":material/warning:")
    if report is None:
        st.info(compare_view.DRAWING, icon=":material/hourglass_top:")
        return
    kind = SS[P + "kind"]
    compare_maps(compare.maps_payload(report, kind, comparison.data), key=P + "maps")
    st.caption(compare_view.maps_caption(comparison, KIND_LABELS[kind], grid))
    for method in report.rows:
        progress = comparison.progress(method)
        if progress is not None:
            st.progress(min(max(progress.fraction, 0.0), 1.0), text=progress.text)
    text = st.column_config.TextColumn  # widths and short headers that fit at 1366 px
    st.dataframe(compare_view.table_rows(report, comparison), hide_index=True, width="stretch",
                 column_config={
                     "progress": text(width=118),
                     "epistemic near": text("Epistemic near", width=102, help=(
                         "Mean mutual information (nats) on the test points: how much the "
                         "posterior's networks disagree there; ± its Monte Carlo error")),
                     "epistemic far": text("Epistemic far", width=102, help=(
                         "The same at least 2 units from every training point")),
                     "verdict": text("Verdict", width=212, help=(
                         "The one verdict every page uses (bnnlab.core.verdict): the lesson "
                         "below says why")),
                     "entropy in gap": text("H in gap", help="Predictive entropy (nats) in the "
                                                             "band cut out of the moons"),
                     "steps/s": text(help="Training steps per second of wall time; HMC: "
                                          "posterior samples per second")})
    st.subheader("The lesson, computed")
    for line in report.lesson:
        st.markdown(f"- {line}")
    if report.hmc_ready and len(report.rows) > 1:
        st.plotly_chart(figures.distance_bars(*compare_view.distance_bars(report, comparison)),
                        key=P + "bars", config={"displayModeBar": False})
    if training and (trainer is None or not trainer.running):
        st.rerun(scope="app")  # finished or stopped: the buttons above follow


live_view()
st.markdown(compare_view.WHAT_YOU_SEE)
