"""BNN Lab entry point: navigation only. Each chapter lives in its own file under pages/."""

import contextlib

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from bnnlab import runtime


@contextlib.asynccontextmanager
async def _no_pages_folder_mode(_app):
    """A fresh Streamlit 1.67 server resolves a session's first URL against the files in pages/
    (its v1 multipage mode) until some session has run st.navigation, so a deep link showed a
    false "Page not found" (streamlit #8860, #9992) or ran a page without this file. This app
    always navigates with st.navigation: say so before the first session starts."""
    PagesManager.uses_pages_directory = False
    yield


if __name__ == "__main__":  # a session's script run: the navigation
    st.set_page_config(page_title="BNN Lab", page_icon=":material/neurology:", layout="wide")

    PAGES = {
        "BNN Lab": [
            st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        ],
        "Chapters": [
            st.Page("pages/ch1_bayes.py", title="1 · Bayes' theorem",
                    icon=":material/bug_report:", url_path="bayes"),
            st.Page("pages/ch2_bayesian_training.py", title="2 · The Bayesian view of training",
                    icon=":material/casino:", url_path="bayesian-training"),
            st.Page("pages/ch3_variational_inference.py", title="3 · Variational inference",
                    icon=":material/trending_up:", url_path="variational-inference"),
            st.Page("pages/ch4_playground.py", title="4 · Variational Bayes in code",
                    icon=":material/science:", url_path="playground"),
        ],
        "More": [
            st.Page("pages/compare.py", title="Compare inference methods",
                    icon=":material/compare:", url_path="compare"),
            st.Page("pages/jax_in_code.py", title="JAX in code", icon=":material/bolt:",
                    url_path="jax"),
            st.Page("pages/what_next.py", title="What next", icon=":material/menu_book:",
                    url_path="what-next"),
        ],
    }

    page = st.navigation(PAGES)
    page.run()
    # Every page says what it computes on, from one place (README: "every page shows the backend and
    # device"). After the page, so that the page's own sidebar widgets come first.
    st.sidebar.caption(runtime.backend_caption())
else:  # `streamlit run app.py` serves this module's `app` (an st.App found by its AST scan)
    app = st.App(__file__, lifespan=_no_pages_folder_mode)
