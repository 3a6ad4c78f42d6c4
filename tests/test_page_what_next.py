"""AppTest of the "What next" page (pages/what_next.py), run through app.py so that its page
links resolve."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
REQUIRED = ["Bayesian inference", "Conjugate priors", "Deriving the ELBO",
            "Mean-field approximation", "Variational Inference: A Review for Statisticians",
            "Making your Neural Network Say", "Bayes by Backprop",
            "Local Reparameterization Trick", "Flipout", "In-Between", "cold posteriors"]


def run_what_next() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/what_next.py").run()
    assert not at.exception, at.exception
    return at


def test_what_next_renders():
    """The page renders without exceptions under its title."""
    assert [t.value for t in run_what_next().title] == ["What next"]


def test_reading_list_has_every_entry_of_the_talk():
    """Every reading of the talk's list is on the page."""
    text = "\n".join(m.value for m in run_what_next().markdown)
    missing = [title for title in REQUIRED if title not in text]
    assert not missing, missing


def test_links_are_https_only():
    """Every external link on the page is an https address."""
    import re

    text = "\n".join(m.value for m in run_what_next().markdown)
    urls = re.findall(r"\]\(([^)]+)\)", text)
    assert len(urls) >= 10 and all(u.startswith("https://") for u in urls), urls


def test_each_reading_links_a_lab_chapter():
    """Each reading points to the lab chapter it goes with."""
    links = run_what_next().get("page_link")
    assert len(links) == 11
    assert {link.proto.page for link in links} <= {"bayes", "bayesian-training",
                                                   "variational-inference", "playground"}
