"""Home page: the talk's agenda as five chapter cards, and what JAX runs on here."""

import jax
import streamlit as st

from bnnlab import runtime

CHAPTERS = (
    ("pages/ch1_bayes.py", "1 · Bayes' theorem", ":material/bug_report:",
     "Is my code bug-free after the tests pass? Prior, likelihood and evidence turn into a "
     "posterior you can push around with sliders."),
    ("pages/ch2_bayesian_training.py", "2 · The Bayesian view of training", ":material/casino:",
     "Training as inference: instead of one best set of weights, a whole distribution over "
     "the network's weights, and why the exact posterior is out of reach."),
    ("pages/ch3_variational_inference.py", "3 · Variational inference", ":material/trending_up:",
     "Fit a simple Q to the posterior by maximising the ELBO, on a model small enough that "
     "every term, even log P(D), is computed exactly."),
    ("pages/ch4_playground.py", "4 · Variational Bayes in code", ":material/science:",
     "Bayes by Backprop in JAX, beside MAP, Laplace, dropout, an ensemble and HMC: train a "
     "Bayesian neural network live and see which of them says \"I don't know\" far from the "
     "data."),
    ("pages/digits.py", "5 · Digits and letters", ":material/draw:",
     "The talk's own example: a softmax Bayesian network on handwritten digits, tested on "
     "letters and on your own drawing. Is it unsure where it should be?"),
)
# The playground applies its "Say I don't know" preset on `?preset=say-i-dont-know`, also when
# the learner has been there before (a link with the settings would be ignored then).
SAY_I_DONT_KNOW_LINK = {"preset": "say-i-dont-know"}

JAX_TOOLS = ("grad", "jit", "vmap", "lax.scan")
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

st.title("BNN Lab")
st.markdown(
    "An interactive lab for **Bayesian inference in neural networks**: from Bayes' theorem to a "
    "Bayesian neural network trained live with variational inference in JAX. "
    f"{NUMBER_WORDS[len(CHAPTERS)].capitalize()} chapters, in the order of the talk:"
)

for row in (CHAPTERS[0:2], CHAPTERS[2:4], CHAPTERS[4:]):
    for column, (path, title, icon, sentence) in zip(st.columns(2), row, strict=False):
        with column, st.container(border=True):
            st.subheader(f"{icon} {title}")
            st.write(sentence)
            st.page_link(path, label=f"Open chapter {title.split(' ·')[0]}",
                         icon=":material/arrow_forward:")
            if path == "pages/ch4_playground.py":
                st.page_link(path, label="See a network say \"I don't know\" (HMC preset)",
                             icon=":material/help:", query_params=SAY_I_DONT_KNOW_LINK)

st.markdown(f"Then see JAX's {', '.join(JAX_TOOLS[:-1])} and {JAX_TOOLS[-1]} at work, measured "
            "on this server, and where to read further.")
c1, c2 = st.columns(2)
c1.page_link("pages/jax_in_code.py", label=f"JAX in code: {', '.join(JAX_TOOLS)}",
             icon=":material/bolt:")
c2.page_link("pages/what_next.py", label="What next: the reading list",
             icon=":material/menu_book:")

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
