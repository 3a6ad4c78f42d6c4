"""Deep links on a freshly started server: no false "Page not found" dialog (streamlit#8860,
#9992), for every page of the app, with and without query parameters; and every page shows the
backend and device in its sidebar.

Each case starts its own server, because the false dialog only ever showed on the first visit
after a start: a shared, warmed-up server would hide it.
"""

import re
from pathlib import Path

import pytest

from bnnlab import registry
from bnnlab.core import runtime
from tests.browser.helpers import open_page, page_not_found_dialogs
from tests.conftest import StreamlitServer

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]

# (URL path and query, the page's title). Every st.Page of app.py appears once.
DEEP_LINKS = [
    ("bayes?prior=0.3", "Bayes"),
    ("bayesian-training", "Bayesian"),
    ("variational-inference", "Variational inference"),
    ("playground?dataset=circles&num_points=64&seed=3&steps=50&grid_size=20", "Variational Bayes"),
    ("digits?recipe=map", "Digits"),
    ("compare", "Compar"),
    ("jax", "JAX in code"),
    ("what-next", "What next"),
]


def test_every_page_of_the_app_has_a_deep_link_case():
    """DEEP_LINKS covers every URL path of the registry's chapters (app.py's navigation)."""
    declared = {chapter.url_path for chapter in registry.CHAPTERS if chapter.url_path}
    assert declared == {link.split("?")[0] for link, _ in DEEP_LINKS}


@pytest.mark.parametrize("link,title", DEEP_LINKS, ids=[d[0].split("?")[0] for d in DEEP_LINKS])
def test_deep_link_on_a_fresh_server_shows_no_page_not_found(browser, tmp_path, link, title):
    """The first visit after a server start, straight to a page's URL, shows that page and no
    "Page not found" dialog, even a second after the page has finished rendering."""
    server = StreamlitServer(tmp_path / "streamlit.log")
    try:
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        tab = context.new_page()
        open_page(tab, f"{server.url}/{link}")
        tab.get_by_role("heading", name=re.compile(title)).first.wait_for(timeout=60_000)
        tab.wait_for_timeout(1000)  # the dialog, when it came, came with the first messages
        assert page_not_found_dialogs(tab) == 0
        assert tab.url.startswith(f"{server.url}/{link.split('?')[0]}")
        # Every page shows the backend and device (app.py's sidebar caption, written once the
        # page's script has run: chapter 2 compiles first).
        sidebar = tab.locator("[data-testid=stSidebar]")
        sidebar.get_by_text(runtime.backend_caption()).wait_for(timeout=90_000)
        assert sidebar.get_by_text(runtime.backend_caption()).count() == 1
        assert page_not_found_dialogs(tab) == 0
        context.close()
    finally:
        server.stop()
