"""Chapter 5: the talk's own example. Train a Bayesian MLP on 8×8 digits live, draw a digit or
a letter, and read the evidence on whether it says "I don't know". UI only: the numbers come
from `bnnlab.lessons.digits` (trained on accelerator worker threads, never on this script)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from bnnlab import registry
from bnnlab.core.errors import ConfigError, DataError
from bnnlab.figures import digits as figs
from bnnlab.lessons import digits, digits_lab, digits_report, digits_sweep, digits_text
from bnnlab.live.status import LIVE, Status
from ui import digits as panel

P = panel.P  # session-state prefix of this page
SS = st.session_state
RECIPE_NAMES = list(digits.RECIPES)


def lab() -> digits_lab.Lab:
    if P + "lab" not in SS:
        SS[P + "lab"] = digits_lab.Lab()
    return SS[P + "lab"]


st.title("5 · Digits, letters and your drawing")
st.markdown(digits_text.intro())
try:
    digits.load_split()
except DataError as err:
    st.error(str(err))
    st.stop()

params = dict(st.query_params)
if not params and P + "settings" in SS:  # back from another page: the URL lost its query
    name, cfg, notices = (*SS[P + "settings"], [])
else:
    name, cfg, notices = digits.recipe_from_link(params, SS.get(P + "recipe", "vi_talk"))
SS[P + "settings"] = (name, cfg)
for notice in notices:
    st.warning(notice)

# ------------------------------------------------------------------ training
left, right = st.columns([1, 2])
with left:
    picked = st.selectbox("Method", RECIPE_NAMES, index=RECIPE_NAMES.index(name),
                          format_func=lambda n: digits.RECIPES[n].label, key=P + "recipe")
    if picked != name:
        name, cfg = picked, digits.recipe_config(picked)
        SS[P + "settings"] = (name, cfg)
    st.caption(digits.RECIPES[name].description + f"; {cfg.steps:,} full-batch steps, "
               f"hidden {','.join(map(str, cfg.hidden))}, lr {cfg.lr:g}, prior σ "
               f"{cfg.prior_std:g}.")
    st.query_params.update(digits.recipe_link(name, cfg))
    b1, b2, b3 = st.columns(3)
    if b1.button("Train", type="primary", key=P + "train", width="stretch"):
        try:
            lab().start(name, cfg)
            # MAP's answer beside every verdict
            lab().start(digits.BASELINE, digits.recipe_config(digits.BASELINE))
        except (ConfigError, DataError) as err:
            st.error(str(err))
    if b2.button("Pause", key=P + "pause", width="stretch"):
        lab().pause(name)
    if b3.button("Reset", key=P + "reset", width="stretch"):
        lab().reset(name)


@st.fragment(run_every=1.0 if lab().running() else None)
def progress() -> None:
    now = lab().progress(name, cfg)
    base = lab().progress(digits.BASELINE, digits.recipe_config(digits.BASELINE))
    st.progress(min(now.step / max(now.steps, 1), 1.0),
                text=f"{digits.RECIPES[name].label}: {digits_text.STATUS[now.status]}, step "
                     f"{now.step:,} of {now.steps:,}"
                     + (f" ({now.train_s:.1f} s of training)" if now.step else "")
                     + (f" · MAP alongside: step {base.step:,}"
                        if name != digits.BASELINE else ""))
    if now.message:
        st.error(now.message)
    if now.history.shape[1]:
        labels = registry.method(cfg.method).trace_labels
        st.plotly_chart(figs.training_figure(now.history, labels), key=P + "elbo")
        last = now.history[:, -1]
        st.caption(f"Last step: {labels[0]} {last[0]:,.1f} = {labels[1]} {last[1]:,.1f} − β·"
                   f"{labels[2]} (β = {cfg.kl_weight:g}, {labels[2]} = {last[2]:,.1f}).")
    if now.status not in LIVE and now.status != Status.IDLE and SS.get(P + "was_running"):
        SS[P + "was_running"] = False
        st.rerun()  # the drawing panel below picks up the trained model
    SS[P + "was_running"] = now.status in LIVE


with right:
    progress()

# ------------------------------------------------------------------ draw something
st.header("Draw something")
# A fragment: a stroke, an example button or the threshold reruns this section only (not the
# training chart and the evidence above and below it).
st.fragment(panel.draw_something)(lab(), name)

# ------------------------------------------------------------------ the evidence
st.header("The evidence, measured")
st.markdown(digits_text.evidence_intro())
trained = lab().trained()
if not trained:
    st.info("Train at least one method to measure it.")
elif st.button("Measure the evidence for the trained models", key=P + "measure"):
    SS[P + "show_evidence"] = True
if trained and SS.get(P + "show_evidence"):
    try:
        with st.spinner(digits_text.measuring()):
            results = {n: lab().evidence(n) for n in trained}
            nearest = digits.nearest_rows()
    except Exception as err:  # noqa: BLE001 - a message, never a traceback
        st.error(f"The evidence could not be measured: {err}")
        results = {}
    results = {n: e for n, e in results.items() if e is not None}
    if results:
        labels = {n: digits.RECIPES[n].label for n in results}
        st.dataframe(pd.DataFrame(digits_text.score_table(results, nearest, labels)),
                     hide_index=True)
        st.dataframe(pd.DataFrame(digits_text.summary_table(results, labels)), hide_index=True)
        st.subheader("The verdict: does it know where it has no data?")
        for n, ev in results.items():
            st.markdown("\n\n".join(digits_text.reading_lines(labels[n], ev.readings)))
        edges, _ = digits.histogram(next(iter(results.values())).entropy)
        shares = {n: digits.histogram(ev.entropy)[1] for n, ev in results.items()}
        st.plotly_chart(figs.histograms(edges, shares, labels), key=P + "hist")
        st.plotly_chart(figs.rejection_curves(
            {n: (ev.selective.rejected, ev.selective.accuracy) for n, ev in results.items()},
            labels), key=P + "reject")
        name_shown = name if name in results else next(iter(results))
        images = {"digits": digits.load_split().x_test, **digits.ood_set()}
        most, least = digits.gallery(results[name_shown], images)
        for title, items in ((f"{labels[name_shown]}: most certain", most),
                             (f"{labels[name_shown]}: least certain", least)):
            st.caption(title)
            for col, (kind, i, h) in zip(st.columns(len(items)), items, strict=True):
                pixels = np.kron(images[kind][i].reshape(8, 8), np.ones((10, 10)))
                col.image((255 - pixels * 255).clip(0, 255).astype("uint8"),
                          caption=f"{kind} · H {h:.2f}")

st.subheader("How VI's σ moves with β, σ₀ and the number of steps")
sweep = digits_sweep.load_sweep()
if sweep is None:
    st.info("The precomputed sweep is missing: run `python docs/digits_sigma_sweep.py`.")
else:
    st.markdown(
        "One VI run per β and initial σ₀ (everything else the talk's recipe), measured at "
        f"{', '.join(f'{s:,}' for s in sorted({r.steps for r in sweep['rows']}))} steps. "
        f"Precomputed on {sweep['device']} in {sweep['wall_s']:.0f} s with "
        f"`{sweep['command']}` (the code: `digits_sweep.sigma_sweep`).")
    st.plotly_chart(figs.sigma_sweep_figure(sweep["rows"]), key=P + "sweep")
    with st.expander("The sweep as a table"):
        st.dataframe(pd.DataFrame(digits_text.sweep_table(sweep["rows"])), hide_index=True)
    st.markdown(digits_text.sweep_reading(sweep["rows"]))
measured = digits_report.load_results()
if measured is None:
    st.info("The stored results are missing: run `python docs/digits_table.py`.")
else:
    st.markdown(digits_text.what_we_measured(measured))
