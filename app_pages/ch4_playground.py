"""Chapter 4 · Variational Bayes in code: train a Bayesian neural network live and watch its
uncertainty. The live session (training, status, frames) is `bnnlab.lessons.playground.Session`;
this page binds widgets to it and arranges the live chart."""

from __future__ import annotations

import streamlit as st

from bnnlab import registry
from bnnlab.core import runtime
from bnnlab.figures.playground import probe_histogram
from bnnlab.lessons import jax_demos, playground, playground_text, presets
from bnnlab.live.frames import View
from bnnlab.live.status import LIVE
from bnnlab.methods import vi
from bnnlab.training import config
from ui import forms, method_panel, push_route
from ui import playground as panels
from ui.live_chart import live_chart
from ui.text import escape_markdown

P = "pg_"  # session-state prefix of this page
FIELDS = forms.page_fields(panels.PAGE)  # the settings this page shows and puts in its links


def _open_from_url() -> None:
    """First visit in this browser session: the link's settings (validated) start a session."""
    live, notices = playground.Session.from_link(dict(st.query_params), FIELDS)
    st.session_state.update({P + "session": live, P + "notices": notices, P + "kind": "total",
                             P + "zoom": False, P + "mode": "view"})
    forms.write_config(P, live.cfg, FIELDS)


# `?preset=say-i-dont-know` (Home links it): the preset's settings, whether or not this browser
# has a session here yet; the parameter itself is consumed.
asked_preset = st.query_params.get("preset")
if asked_preset is not None:
    del st.query_params["preset"]
if P + "session" not in st.session_state:
    _open_from_url()
if asked_preset is not None:
    values, notice = presets.preset_from_link(asked_preset)
    forms.write(P, values or {})
    st.session_state[P + "notices"] += [notice] if notice else []
live: playground.Session = st.session_state[P + "session"]
if P + "toast" in st.session_state:  # from the run before an st.rerun()
    st.toast(st.session_state.pop(P + "toast"), icon=":material/description:")


def _dataset_changed() -> None:
    """A new dataset starts from its own noise and keeps its classes where it allows them."""
    name = st.session_state[P + "dataset"]
    st.session_state[P + "noise"] = registry.dataset(name).default_noise
    st.session_state[P + "num_classes"] = min(int(st.session_state[P + "num_classes"]),
                                              registry.max_classes(name))


def _regenerate() -> None:
    st.session_state[P + "seed"] = (int(st.session_state[P + "seed"]) + 1) % config.SEED.hi


def _step() -> None:
    live.step()  # a finished run: its budget grows by one chunk
    live.wait_for_step(timeout=2.0)  # bounded: the chunk runs on the trainer's thread


# *Training steps* is the learner's alone: Train stops there, Continue trains as many more and a
# click on a trained map 500 more (Session.extend, Session.click); the widget never changes.
def _continue() -> None:
    refused = live.extend()
    if refused:
        st.toast(escape_markdown(refused), icon=":material/block:")


def _set_up(values: dict) -> None:
    """Write an experiment's settings into the widgets and start a fresh run with them."""
    panels.use_settings(live, P, FIELDS, {**presets.TRY_BASE, **values})


def _make_bayesian() -> None:
    method = live.make_bayesian()
    if method is not None:
        st.session_state[P + "method"] = method


st.title("4 · Variational Bayes in code")
st.caption(f"JAX {runtime.jax_version()} · running on **{runtime.device_label()}** — "
           "the training step below is jitted and runs on the server's accelerator.")
for notice in st.session_state[P + "notices"]:
    st.warning(escape_markdown(notice), icon=":material/link:")
uploaded_file = panels.sidebar(live, P, presets.PLAYGROUND_PRESETS,
                               on_preset=lambda values: forms.write(P, values),
                               on_dataset=_dataset_changed, on_regenerate=_regenerate)
panels.apply_widgets(live, P, FIELDS)
panels.upload(live, P, uploaded_file)
wanted = live.link(FIELDS)  # the URL mirrors the settings: a copied link reproduces the run
if {k: st.query_params[k] for k in st.query_params} != wanted:
    st.query_params.from_dict(wanted)

status = live.status
run_command = panels.controls(live, P, status, on_continue=_continue, on_step=_step)
# Frames are pushed to the chart on the app's WebSocket route where it is served
# (ui/push_route.py); elsewhere, or if this browser cannot use it, the fragment polls.
push_on = push_route.available() and not st.session_state.get(P + "push_off")


@st.fragment(run_every=0.05 if status in LIVE and not push_on else None, key="pg_live_view")
def live_view() -> None:
    notice = panels.status_box()  # always there and always as high (ui/playground.py)
    view = View(zoom=4.0 if st.session_state[P + "zoom"] else 1.0,
                kind=st.session_state[P + "kind"], mode=st.session_state[P + "mode"])
    # Pushed frames do not wait on this run: a click is handled without waiting for a chunk.
    payload, now = live.tick(view, wait_s=0.0 if push_on else 0.25)
    panels.status_line(notice, live, now)
    if payload is None:
        return
    stream = push_route.stream_for(live, view) if push_on else None
    if stream:  # Train/Resume and Pause (the run button's key and command) also go over it
        payload["push"] = {**stream, "live": status in LIVE, "buttons": {
            "key": P + panels.RUN_BUTTON, "command": run_command}}
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


@st.fragment(run_every=1.0 if status in LIVE else None, key="pg_method_view")
def method_view() -> None:  # at 1 Hz in its own fragment: the live maps never wait for it
    method_panel.stats(live)
    method_panel.fit(live, P + "fit", _make_bayesian)


method_view()
follow_weights = bool(st.session_state.get(P + "weights_follow"))


@st.fragment(run_every=method_panel.WEIGHTS_EVERY_S if follow_weights and status in LIVE
             else None, key="pg_weights_view")
def weights_view() -> None:
    method_panel.weights(live, P, follow_weights)


weights_view()
with st.expander("Try this: six experiments", expanded=True, icon=":material/science:"):
    for number, (title, values, todo, look) in enumerate(presets.TRY_THIS, 1):
        text_col, button_col = st.columns([6, 1], vertical_alignment="center")
        text_col.markdown(f"**{number}. {title}.** {todo}  \n*Look for:* {look}")
        button_col.button("Set up", key=P + f"try_{number}", on_click=_set_up, args=(values,),
                          help="Write this experiment's settings into the sidebar and start "
                               "a fresh run", width="stretch")
st.markdown(playground_text.READING_THE_MAPS)
st.markdown(playground_text.HONEST_CAVEAT)
with st.expander("The JAX code that runs"):
    st.markdown("One step of Bayes by Backprop (`bnnlab.methods.vi`): reparameterised samples, "
                "the Monte Carlo log-likelihood under `vmap`, the closed-form KL, `jax.grad`. "
                "`bnnlab.training.chunks` fuses K of these steps with `lax.scan` into one "
                "jitted call.")
    for fn in (vi.elbo_from_noise, vi.step_from_noise, vi.kl_to_prior):
        st.code(jax_demos.source_of(fn), language="python")
