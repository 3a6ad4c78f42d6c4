"""Chapter 5's drawing panel: the canvas, the example images and what a trained recipe (and MAP
beside it) reads in them, with a verdict and the uncertainty split (app_pages/ch5_digits.py)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from bnnlab.core.errors import DataError
from bnnlab.figures import digits as figs
from bnnlab.lessons import digits, digits_lab, digits_text
from ui.draw_canvas import draw_canvas

P = "digits_"  # the chapter's session-state prefix
SS = st.session_state


def show_analysis(lab: digits_lab.Lab, name: str, image: np.ndarray, caption: str,
                  threshold: float) -> None:
    """Recipe `name`'s reading of `image` (0..16, float[64]) beside MAP's."""
    try:
        probs = lab.predict(name, image[None])
        map_probs = lab.predict(digits.BASELINE, image[None]) if name != digits.BASELINE else None
    except Exception as err:  # noqa: BLE001 - a message, never a traceback
        st.error(f"The prediction could not run: {err}")
        return
    pix, text, map_text = st.columns([1, 2, 2])
    pix.image((255 - np.kron(image.reshape(8, 8), np.ones((16, 16))) * 255 / 16)
              .clip(0, 255).astype("uint8"), caption="8×8, as the network sees it",
              width=96)
    pix.caption(caption)
    if probs is None:
        text.info("Train a model first (press **Train**): then every stroke is read here.")
        return
    result = digits.analyse(probs, image, threshold)
    with text:
        st.markdown(f"**{digits.RECIPES[name].label}**")
        if result.confident:
            st.success(f"**{result.verdict}**  P = {result.top_prob:.2f}")
        else:
            st.warning(f"**{result.verdict}**  Best guess {result.top_class}, "
                       f"P = {result.top_prob:.2f} < {threshold:.2f}")
        st.markdown(f"Uncertainty (nats): total **{result.total:.3f}** = aleatoric "
                    f"**{result.aleatoric:.3f}** + epistemic **{result.epistemic:.3f}**")
        if result.note == "saturated":
            st.caption("Ink everywhere: nothing like a digit. Does the verdict say so?")
    bars, map_bars = st.columns(2)
    bars.plotly_chart(figs.class_bars(*result.bars, f"mean and 10–90% of {probs.shape[0]} "
                                      "posterior draws"), key=P + "bars")
    if map_probs is None:
        if name != digits.BASELINE:
            map_text.caption("MAP's answer appears here once MAP has trained (it trains "
                             "alongside).")
        return
    base = digits.analyse(map_probs, image, threshold)
    with map_text:
        st.markdown(f"**MAP says:** {base.verdict} (P = {base.top_prob:.2f})")
        st.caption(f"Total uncertainty {base.total:.3f} nats; one network, so epistemic 0.")
    map_bars.plotly_chart(figs.class_bars(*base.bars, "MAP: one network, no spread",
                                          colour="#7f7f7f"), key=P + "map_bars")


def draw_something(lab: digits_lab.Lab, name: str) -> None:
    """The canvas, the example buttons and the analysis of what they show. The page runs it as
    a fragment: a stroke, an example button or the threshold reruns this section only."""
    threshold = st.slider("Say a class only when its probability is at least", 0.5, 0.99,
                          digits.DEFAULT_THRESHOLD, 0.01, key=P + "threshold")
    pad, panel = st.columns([1, 3])
    with pad:
        drawing, draw_error = draw_canvas(key=P + "canvas")
        if draw_error:
            st.warning(draw_error)
        st.caption("Or load an example into the analysis:")
        e1, e2 = st.columns(2)
        e3, e4 = st.columns(2)
        e5, e6 = st.columns(2)
        clicked = {"digit": e1.button("Digit", key=P + "ex_digit", width="stretch",
                                      help="a test digit the network never trained on"),
                   "letter": e2.button("Letter", key=P + "ex_letter", width="stretch"),
                   "noise": e3.button("Noise", key=P + "ex_noise", width="stretch"),
                   "blank": e4.button("Blank", key=P + "ex_blank", width="stretch"),
                   "saturated": e5.button("Full", key=P + "ex_saturated", width="stretch",
                                          help="ink everywhere: a saturated canvas"),
                   }
        if e6.button("Mine", key=P + "ex_mine", width="stretch", help="back to your drawing"):
            SS.pop(P + "example", None)
            SS.pop(P + "pending", None)
        for kind, was in clicked.items():
            if was:
                SS[P + "example_count"] = SS.get(P + "example_count", -1) + 1
                SS.pop(P + "example", None)
                SS[P + "pending"] = kind
        if drawing.strokes and SS.get(P + "last_strokes") != drawing.num_points:
            SS[P + "last_strokes"] = drawing.num_points
            SS.pop(P + "example", None)  # a new stroke brings the drawing back
            SS.pop(P + "pending", None)
    # One slot for the whole analysis: writing the status into it replaces the last analysis
    # at once, so "Nothing drawn yet" never stays up while an example is being prepared.
    holder = panel.empty()
    if not prepare_example(holder):
        return
    if P + "example" in SS:
        image, caption = SS[P + "example"]
    else:
        image, caption = digits.drawing_input(drawing.image, drawing.normalized)
    with holder.container():
        show_analysis(lab, name, np.asarray(image, np.float32), caption, threshold)


WAIT_S = 60.0  # an example still not rendered after this: say so instead of waiting on


def prepare_example(holder) -> bool:
    """Load the example asked for (`SS[P + "pending"]`) into `SS[P + "example"]`, with a status
    in `holder` while its images render; whether the analysis can be shown (False: the status
    stays, saying it is still preparing)."""
    kind = SS.get(P + "pending")
    if kind is None:
        return True
    if not digits.example_ready(kind):
        status = holder.status(digits_text.preparing(kind), state="running")
        if not digits.wait_for_examples(WAIT_S):
            status.update(label=f"Still preparing the {kind} example: press {kind.title()} "
                                "again in a moment.", state="running")
            return False
    SS.pop(P + "pending", None)
    try:
        SS[P + "example"] = digits.example_image(kind, 37 * SS.get(P + "example_count", 0))
    except DataError as err:
        holder.error(str(err))
        return False
    return True
