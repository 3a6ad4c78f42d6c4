"""Leaving a page and coming back keeps what the learner set (issue 14): Streamlit drops the
state of widgets that are not rendered unless they persist it (`persist_state="session"`)."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import open_page, wait_for_script_run

pytestmark = pytest.mark.browser


def _go(page, title: str) -> None:
    """Navigate with the sidebar, as a learner does (no reload: the session stays)."""
    page.locator("[data-testid=stSidebarNav]").get_by_text(title, exact=True).click()
    wait_for_script_run(page)


def _slider_value(slider) -> str:
    return slider.input_value()


@pytest.mark.parametrize("path,title", [
    ("bayes", "1 · Bayes' theorem"),
    ("bayesian-training", "2 · The Bayesian view of training"),
    ("variational-inference", "3 · Variational inference"),
])
def test_first_slider_survives_a_round_trip_home(app_server, page, path, title):
    """Move the page's first slider, go Home, come back: the slider has the moved value."""
    open_page(page, f"{app_server.url}/{path}")
    slider = page.get_by_role("slider").first
    before = _slider_value(slider)
    slider.focus()
    slider.press("ArrowRight")
    expect(slider).not_to_have_value(before)
    wait_for_script_run(page)
    moved = _slider_value(page.get_by_role("slider").first)
    assert moved != before
    _go(page, "Home")
    page.get_by_role("heading", name=re.compile("BNN Lab")).first.wait_for()
    _go(page, title)
    expect(page.get_by_role("slider").first).to_have_value(moved)


def test_jax_page_choice_survives_a_round_trip_home(app_server, page):
    """The JAX page's choice of function (grad demo) is kept across Home and back."""
    open_page(page, f"{app_server.url}/jax")
    box = page.locator("[data-testid=stSelectbox]", has_text="Function")
    box.click()
    options = page.get_by_role("option")
    chosen = options.last.inner_text()
    options.last.click()
    wait_for_script_run(page)
    _go(page, "Home")
    _go(page, "JAX in code")
    box = page.locator("[data-testid=stSelectbox]", has_text="Function")
    expect(box.locator("input")).to_have_value(chosen)
