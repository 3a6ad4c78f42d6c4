"""Browser smoke test: the app starts under `streamlit run` and shows its title."""

import pytest

pytestmark = pytest.mark.browser


def test_home_shows_title(app_server, page):
    """Headless Chromium opens the app and sees the BNN Lab title on the home page."""
    page.goto(app_server.url)
    page.get_by_role("heading", name="BNN Lab").first.wait_for()
    assert "BNN Lab" in page.title()
