"""Home page: the talk's agenda as one card per chapter (`registry.CHAPTERS`, the same list the
navigation reads), and what JAX runs on here."""

import jax
import streamlit as st

from bnnlab import registry
from bnnlab.core import runtime

CARDS = tuple(c for c in registry.CHAPTERS if c.card)
JAX_TOOLS = ("grad", "jit", "vmap", "lax.scan")
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

st.title("BNN Lab")
st.markdown(
    "An interactive lab for **Bayesian inference in neural networks**: from Bayes' theorem to a "
    "Bayesian neural network trained live with variational inference in JAX. "
    f"{NUMBER_WORDS[len(CARDS)].capitalize()} chapters, in the order of the talk:"
)

for row in (CARDS[0:2], CARDS[2:4], CARDS[4:]):
    for column, chapter in zip(st.columns(2), row, strict=False):
        with column, st.container(border=True):
            st.subheader(f"{chapter.icon} {chapter.title}")
            st.write(chapter.card)
            st.page_link(chapter.page, label=f"Open chapter {chapter.title.split(' ·')[0]}",
                         icon=":material/arrow_forward:")
            for label, query, icon in chapter.links:
                st.page_link(chapter.page, label=label, icon=icon, query_params=dict(query))

st.markdown(f"Then see JAX's {', '.join(JAX_TOOLS[:-1])} and {JAX_TOOLS[-1]} at work, measured "
            "on this server, and where to read further.")
jax_page, reading = registry.chapter("jax"), registry.chapter("what-next")
c1, c2 = st.columns(2)
c1.page_link(jax_page.page, label=f"{jax_page.title}: {', '.join(JAX_TOOLS)}",
             icon=jax_page.icon)
c2.page_link(reading.page, label=f"{reading.title}: the reading list", icon=reading.icon)

st.divider()
st.subheader("Running on")
device = runtime.device_label()
backend = runtime.backend()
st.badge(f"JAX {jax.__version__}", color="gray")
st.badge(f"backend: {backend}", color="blue")
st.badge(device, icon=":material/memory:", color="green" if backend != "cpu" else "orange")
st.caption(
    "To serve the app from a GPU, install JAX with CUDA on the GPU machine "
    "(`pip install -U \"jax[cuda13]\"`, or `jax[cuda12]` for older drivers) and start it "
    "there with `streamlit run app.py`: JAX picks the GPU on its own, and this badge says so."
)
