"""AppTest of the "What next" page (app_pages/what_next.py), run through app.py so that its page
links resolve."""


import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

APP = str(ROOT / "app.py")
REQUIRED = ["Bayesian inference", "Conjugate priors", "Deriving the ELBO",
            "Mean-field approximation", "Variational Inference: A Review for Statisticians",
            "Making your Neural Network Say", "Bayes by Backprop",
            "Local Reparameterization Trick", "Flipout", "In-Between", "cold posteriors"]
# The papers behind the lab's other methods (bnnlab/methods/: dropout, ensemble, hmc, laplace).
METHOD_PAPERS = ["Dropout as a Bayesian Approximation", "Deep Ensembles",
                 "MCMC using Hamiltonian Dynamics", "The No-U-Turn Sampler",
                 "A Practical Bayesian Framework for Backpropagation Networks", "Laplace Redux"]
NOT_IN_LAB = ["Local Reparameterization Trick", "Flipout"]


def run_what_next() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/what_next.py").run()
    assert not at.exception, at.exception
    return at


def test_what_next_renders():
    """The page renders without exceptions under its title."""
    assert [t.value for t in run_what_next().title] == ["What next"]


@pytest.mark.slow
def test_reading_list_has_every_entry_of_the_talk():
    """Every reading of the talk's list is on the page."""
    text = "\n".join(m.value for m in run_what_next().markdown)
    missing = [title for title in REQUIRED + METHOD_PAPERS if title not in text]
    assert not missing, missing


@pytest.mark.slow
def test_links_are_https_only():
    """Every external link on the page is an https address."""
    import re

    text = "\n".join(m.value for m in run_what_next().markdown)
    urls = re.findall(r"\]\(([^)]+)\)", text)
    assert len(urls) >= 10 and all(u.startswith("https://") for u in urls), urls


@pytest.mark.slow
def test_each_reading_in_the_lab_links_its_chapter():
    """Each reading the lab has points to its chapter; the two it has not (local
    reparameterisation, Flipout) say so instead of linking one."""
    at = run_what_next()
    links = at.get("page_link")
    assert len(links) == len(REQUIRED) + len(METHOD_PAPERS) - len(NOT_IN_LAB)
    assert {link.proto.page for link in links} <= {"bayes", "bayesian-training",
                                                   "variational-inference", "playground",
                                                   "digits"}
    assert sum(c.value.startswith("Not in the lab:") for c in at.caption) == len(NOT_IN_LAB)


@pytest.mark.slow
def test_readings_point_where_the_lab_has_them():
    """Foong et al. names the dataset that exists (Moons with a gap) and its preset, and the
    Chopra MNIST post goes with chapter 5 (digits)."""
    from bnnlab.data import toy
    from bnnlab.lessons import presets

    at = run_what_next()
    text = "\n".join(m.value for m in at.markdown)
    assert "gaussians dataset" not in text
    assert f"*{toy.REGISTRY['moons_gap'].label}*" in text
    assert f"*{presets.PRESET_LINKS['in-between']}*" in text
    labels = [link.proto.label for link in at.get("page_link")]
    assert labels.count("In the lab: 5 · Digits and letters") == 1  # the one MNIST reading
    assert "The same idea as chapter 5" in text
