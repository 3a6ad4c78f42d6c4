"""The playground's sidebar and the controls above its maps (app_pages/ch4_playground.py),
generated from the settings (`ui.forms`): a method's own settings appear when it is chosen,
with no method named here."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import streamlit as st

from bnnlab import registry
from bnnlab.core import limits
from bnnlab.core.errors import ConfigError, DataError
from bnnlab.data import toy
from bnnlab.data.upload import load_csv
from bnnlab.lessons import playground
from bnnlab.lessons.playground import Session
from bnnlab.lessons.playground_text import upload_refusal
from bnnlab.live.status import LIVE, Status
from bnnlab.live.trainer import friendly_error
from bnnlab.training import config
from ui import forms
from ui.text import escape_markdown
from ui.upload_message import upload_message

PAGE = "playground"


def sidebar(live: Session, prefix: str, presets: Mapping[str, Mapping],
            on_preset: Callable[[Mapping], None], on_dataset: Callable[[], None],
            on_regenerate: Callable[[], None]):
    """The settings, in four sections (data, model, method, training); returns the uploaded
    file (or None)."""
    state = st.session_state
    uploaded = live.uploaded is not None
    with st.sidebar:
        st.header("Data")
        st.selectbox(forms.CHOICE_LABELS["dataset"], registry.MAP_DATASETS,
                     key=prefix + "dataset", on_change=on_dataset,
                     format_func=registry.dataset_label, disabled=uploaded,
                     persist_state=forms.PERSIST)
        forms.setting(st, config.NUM_POINTS, prefix)
        forms.setting(st, config.NOISE, prefix)
        most = registry.max_classes(state[prefix + "dataset"])
        st.selectbox(config.NUM_CLASSES.label, range(2, limits.MAX_CLASSES + 1),
                     key=prefix + "num_classes", disabled=most == 2 or uploaded,
                     help=config.NUM_CLASSES.help, persist_state=forms.PERSIST)
        forms.setting(st, config.TEST_FRACTION, prefix)
        seed_col, regen_col = st.columns([1, 1])  # 1366 px: no "Rege…"
        forms.setting(seed_col, config.SEED, prefix)
        regen_col.button("Regenerate", on_click=on_regenerate, key=prefix + "regen",
                         help="New random seed: new data and new initial weights")
        upload = st.file_uploader("Or upload a CSV (x1,x2,label)", type=["csv"],
                                  key=prefix + "upload")
        if uploaded:
            st.button("Use the generated dataset", on_click=live.use_generated,
                      key=prefix + "use_gen")
        st.header("Model")
        forms.hidden(st, prefix)
        st.selectbox(forms.CHOICE_LABELS["activation"], registry.ACTIVATIONS,
                     key=prefix + "activation", persist_state=forms.PERSIST)
        st.header("Method")
        st.radio(forms.CHOICE_LABELS["method"], tuple(registry.METHODS), key=prefix + "method",
                 horizontal=True, format_func=registry.method_label, persist_state=forms.PERSIST)
        chosen = registry.method(state[prefix + "method"])
        forms.setting(st, config.NUM_SAMPLES, prefix, disabled=not chosen.uses_samples)
        forms.setting(st, config.PRIOR_STD, prefix)
        forms.setting(st, config.INIT_STD, prefix, disabled=not chosen.uses_init_std)
        forms.setting(st, config.KL_WEIGHT, prefix)
        for label, values in presets.items():
            st.button(label, on_click=on_preset, args=(values,), key=prefix + f"preset_{label[:4]}",
                      width="stretch")
        forms.setting(st, config.LR, prefix)
        forms.method_settings(st, chosen.name, prefix, PAGE)  # the chosen method's own
        st.header("Training")
        forms.setting(st, config.STEPS, prefix)
        forms.setting(st, config.STEPS_PER_CHUNK, prefix)
        forms.setting(st, config.GRID_SIZE, prefix)
    return upload


def controls(live: Session, prefix: str, status: Status,
             on_continue: Callable[[], None], on_step: Callable[[], None]) -> str | None:
    """Train / Pause / Continue, Step, Reset, Clear, what a click on the map does, the
    uncertainty shown and the zoom. -> what the run button drawn asks of the push route
    (ui/push_route.py): "train" (Train, Resume), "pause", or None (Continue changes the budget,
    through Streamlit only; a diverged run's Train is disabled)."""
    cols = st.columns([1.3, 1, 1.1, 0.9, 0.9, 1.6, 1.3, 1.5])  # 1366 px: no "Con…", "Zoo…"
    # One key whatever the button says: under another key the old button stayed beside the new
    # one for a moment after the run's state changed, and the row grew 28 px (the maps moved).
    key = prefix + RUN_BUTTON
    command = None
    if status in LIVE:
        cols[0].button("Pause", on_click=live.pause, key=key, type="primary",
                       icon=":material/pause:")
        command = "pause"
    elif status == Status.FINISHED:
        cols[0].button("Continue", on_click=on_continue, key=key,
                       type="primary", disabled=live.at_step_limit, icon=":material/play_arrow:",
                       help=f"Train {live.cfg.steps:,} more steps (*Training steps*) from where "
                            "the run stands")
    else:  # a diverged run's Train is greyed out next to the message that says why
        cols[0].button("Resume" if status == Status.PAUSED else "Train", on_click=live.train,
                       key=key, type="primary", disabled=status == Status.DIVERGED,
                       icon=":material/play_arrow:")
        command = None if status == Status.DIVERGED else "train"
    cols[1].button("Step", on_click=on_step, key=prefix + "step", disabled=live.run.diverged,
                   help="Run one chunk of 'steps per redraw' steps", icon=":material/skip_next:")
    cols[2].button("Reset", on_click=live.reset, key=prefix + "reset",
                   icon=":material/restart_alt:")
    cols[3].button("Undo", on_click=live.undo_point, key=prefix + "undo",
                   disabled=not live.added,
                   help="Remove the last point you clicked onto the map; the network trains on "
                        "without it from where it stands")
    cols[4].button("Clear", on_click=live.clear_added, key=prefix + "clear",
                   disabled=not live.added,
                   help="Remove every point you clicked onto the map and start a fresh run")
    modes = playground.click_modes(live.num_classes)
    if st.session_state.get(prefix + "mode") not in modes:  # a class the data no longer have
        st.session_state[prefix + "mode"] = "view"
    cols[5].selectbox("Click on the map to", list(modes), format_func=modes.get,
                      key=prefix + "mode", persist_state=forms.PERSIST)
    cols[6].selectbox("Uncertainty", tuple(registry.UNCERTAINTY_KINDS), key=prefix + "kind",
                      help="; ".join(registry.UNCERTAINTY_KINDS.values()),
                      persist_state=forms.PERSIST)
    cols[7].toggle("Zoom out", key=prefix + "zoom", help="Show the model far from the data (×4)",
                   persist_state=forms.PERSIST)
    return command


RUN_BUTTON = "run"  # the key (after the page's prefix) of Train / Resume / Pause / Continue


STATUS_HEIGHT = 58  # px: the status line's box, the height of a one-line notice


def status_box():
    """The status line's box, `STATUS_HEIGHT` high whatever it holds, so that the maps below
    never move when the run starts, waits, finishes or diverges (a click aimed at the map must
    land where it was aimed). Made before the frame is computed and filled after: an empty
    placeholder in its place (st.empty) collapsed to 0 px for as long as the frame took, and
    the maps jumped 74 px up and back on every live rerun (CI measured it under load)."""
    return st.container(height=STATUS_HEIGHT, border=False)


def status_line(box, live: Session, status: Status) -> None:
    """What the run is doing and what the buttons do next, written into `status_box()`."""
    with box:
        if live.message:
            st.error(escape_markdown(f"Training stopped: {live.message}"),
                     icon=":material/error:")
        elif status == Status.DIVERGED:
            st.error("Training diverged: a step gave NaN or ∞, the last finite parameters are "
                     "kept. Lower the learning rate (or the σs) and press **Reset**.",
                     icon=":material/error:")
        elif status == Status.FINISHED and live.at_step_limit:
            st.info(f"Finished: {limits.MAX_STEPS:,} steps, the most a run may take. "
                    "**Reset** starts again.", icon=":material/flag:")
        elif status == Status.FINISHED:
            st.info(f"Finished: the run has taken all {live.budget:,} steps. **Continue** "
                    f"trains {live.cfg.steps:,} more, a click on the map "
                    f"{limits.CLICK_TRAIN_STEPS:,} more; **Reset** starts again.",
                    icon=":material/flag:")
        elif status == Status.WAITING:
            st.info(f"Waiting for the accelerator: {live.slots.capacity} runs are training "
                    "here; yours goes on when one finishes its chunk.",
                    icon=":material/hourglass_top:")
        elif status in LIVE:
            st.caption(f"Training to step {live.budget:,}: the maps, the metrics and the "
                       "verdict follow it. **Pause** stops after the current chunk.")
        elif status == Status.PAUSED:
            st.caption(f"Paused at step {live.run.step:,} of {live.budget:,}. A point clicked "
                       f"onto the map trains {limits.CLICK_TRAIN_STEPS:,} steps on it.")
        else:
            st.caption(f"Press **Train** for {live.cfg.steps:,} steps, or **Step** for one "
                       "chunk. Points clicked onto the map before then join the data.")


def use_settings(live: Session, prefix: str, fields: tuple[str, ...], values: dict) -> None:
    """Write `values` into the widgets and start a fresh run with them: a run that collapsed
    under the old settings (VI at β = 1 on the spiral) would not recover by training on."""
    forms.write(prefix, values)
    try:
        live.apply(forms.config_from_widgets(prefix, live.cfg, fields))
        live.reset()
    except (ValueError, RuntimeError) as err:  # ConfigError and DataError are ValueErrors
        st.toast(escape_markdown(f"Could not start a run with these settings: {err}"),
                 icon=":material/block:")


def apply_widgets(live: Session, prefix: str, fields: tuple[str, ...]) -> None:
    """Give the session the settings the widgets show; a refusal says why in the page and
    keeps the previous settings. Then the dataset's advice where the method's defaults do not
    learn it, and what the cost budget changed."""
    try:
        live.apply(forms.config_from_widgets(prefix, live.cfg, fields))
        st.session_state[prefix + "applied_steps"] = live.cfg.steps
    except (TypeError, ValueError) as err:  # ConfigError and DataError are ValueErrors
        st.error(escape_markdown(f"Setting not applied: {err}. Keeping the previous settings."),
                 icon=":material/warning:")
    except RuntimeError as err:  # e.g. out of memory while initialising
        st.error(escape_markdown(f"Setting not applied: {friendly_error(err)}"),
                 icon=":material/warning:")
    fix = toy.recommended(live.cfg.dataset, live.cfg.method)
    if live.uploaded is None and fix and any(getattr(live.cfg, k) != v for k, v in fix.items()):
        tip, use = st.columns([5, 1], vertical_alignment="center")
        tip.info(toy.REGISTRY[live.cfg.dataset].advice, icon=":material/lightbulb:")
        use.button("Use these settings", on_click=use_settings, args=(live, prefix, fields, fix),
                   key=prefix + "use_recommended",
                   help="Write them into the sidebar and start a fresh run with them")
    for notice in live.notices:  # what the cost budget changed (e.g. a shortened chunk)
        st.info(escape_markdown(f"Budget: {notice}."), icon=":material/speed:")


def upload(live: Session, prefix: str, file) -> None:
    """Train on a newly chosen CSV file (`data.upload.load_csv`); a bad one gets its message and
    the previous data stay."""
    state = st.session_state
    new_file = file is not None and file.file_id != state.get(prefix + "upload_id")
    if file is None or new_file:
        state.pop(prefix + "upload_error", None)  # a message belongs to its file alone
    if new_file:
        state[prefix + "upload_id"] = file.file_id
        rows = None
        try:
            rows = load_csv(file.getvalue())
            loaded = live.upload(rows)
        except (DataError, ConfigError) as err:  # bad data, or too costly: the data stay
            count = 0 if rows is None else len(rows[0])
            state[prefix + "upload_error"] = (file.file_id,
                                              upload_refusal(file.name, err, count))
        else:
            if loaded:  # the sidebar was drawn for the old data: draw it again
                state[prefix + "toast"] = f"Loaded {len(live.uploaded[0])} points from the CSV."
                st.rerun()
    if prefix + "upload_error" in state:
        # Not st.error: a file over Streamlit's size limit is refused in the browser without a
        # rerun, and this message would stay; the component hides it when another file comes.
        file_id, text = state[prefix + "upload_error"]
        upload_message(text, file_id, prefix + "upload", key=prefix + "upload_message")
    if live.uploaded is not None:
        st.info("Training on your uploaded CSV (standardised). Links cannot carry uploaded "
                "data.", icon=":material/description:")
