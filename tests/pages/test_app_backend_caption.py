"""app.py adds the JAX backend and device to the sidebar of every page (one shared mechanism).

AppTest in Streamlit 1.67 runs app.py only for the default page: `switch_page` runs the page
file alone (measured: nothing in app.py executes), so the other pages are checked in the browser
(tests/browser/test_browser_deeplinks.py looks for this caption on every page's deep link).
"""


from streamlit.testing.v1 import AppTest

from bnnlab.core import runtime
from tests.conftest import ROOT

APP = str(ROOT / "app.py")


def test_backend_caption_names_jax_and_the_device():
    """The caption names JAX's version and the device label (e.g. 'CPU · 2 cores')."""
    caption = runtime.backend_caption()
    assert runtime.device_label() in caption and runtime.jax_version() in caption


def test_app_puts_the_backend_caption_in_the_sidebar():
    """Running app.py (Home) shows the caption once in the sidebar, without an exception."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    assert [c.value for c in at.sidebar.caption].count(runtime.backend_caption()) == 1
