"""BNN Lab entry point: navigation only. Each chapter lives in its own file under pages/."""

import streamlit as st

from bnnlab import runtime

st.set_page_config(page_title="BNN Lab", page_icon=":material/neurology:", layout="wide")

PAGES = {
    "BNN Lab": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    ],
    "Chapters": [
        st.Page("pages/bayes.py", title="1 · Bayes' theorem",
                icon=":material/bug_report:", url_path="bayes"),
        st.Page("pages/bayesian-training.py", title="2 · The Bayesian view of training",
                icon=":material/casino:", url_path="bayesian-training"),
        st.Page("pages/variational-inference.py", title="3 · Variational inference",
                icon=":material/trending_up:", url_path="variational-inference"),
        st.Page("pages/playground.py", title="4 · Variational Bayes in code",
                icon=":material/science:", url_path="playground"),
        st.Page("pages/digits.py", title="5 · Digits, letters and your drawing",
                icon=":material/draw:", url_path="digits"),
    ],
    "More": [
        st.Page("pages/compare.py", title="Compare inference methods",
                icon=":material/compare:", url_path="compare"),
        st.Page("pages/jax.py", title="JAX in code", icon=":material/bolt:",
                url_path="jax"),
        st.Page("pages/what-next.py", title="What next", icon=":material/menu_book:",
                url_path="what-next"),
    ],
}

page = st.navigation(PAGES)
page.run()
# Every page says what it computes on, from one place (README: "every page shows the backend and
# device"). After the page, so that the page's own sidebar widgets come first.
st.sidebar.caption(runtime.backend_caption())
