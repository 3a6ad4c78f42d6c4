"""AppTest of the home page (app_pages/home.py, the app's default page), run through app.py so
that its page links resolve."""


import re

import jax
import pytest
from streamlit.testing.v1 import AppTest

from bnnlab.core import runtime
from tests.conftest import ROOT

APP = str(ROOT / "app.py")
CHAPTER_URLS = ["bayes", "bayesian-training", "variational-inference", "playground", "digits"]


def run_home() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def test_home_renders_with_its_title():
    """The default page renders without exceptions under the heading "BNN Lab"."""
    assert [t.value for t in run_home().title] == ["BNN Lab"]


@pytest.mark.slow
def test_home_links_the_five_chapters_in_order():
    """The five chapter cards link chapters 1 to 5, in the talk's order."""
    links = [link for link in run_home().get("page_link")
             if link.proto.label.startswith("Open chapter")]
    assert [link.proto.page for link in links] == CHAPTER_URLS
    pages = [link.proto.page for link in run_home().get("page_link")]
    assert {"jax", "what-next"} <= set(pages)


@pytest.mark.slow
def test_home_badge_names_jax_version_backend_and_device():
    """The device badge shows the JAX version, the backend and the device label."""
    text = "\n".join(m.value for m in run_home().markdown)
    assert f"JAX {jax.__version__}" in text
    assert f"backend: {runtime.backend()}" in text
    assert runtime.device_label() in text


@pytest.mark.slow
def test_home_says_how_to_serve_from_a_gpu():
    """One line tells how to serve the app from a GPU."""
    assert any("jax[cuda13]" in c.value and "GPU" in c.value for c in run_home().caption)


@pytest.mark.slow
def test_home_and_readme_name_the_same_cuda_builds():
    """Home and the README's GPU install line name the same JAX CUDA extras, cuda13 first
    (JAX's install guide: `jax[cuda13]`; `jax[cuda12]` for older drivers)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(ln for ln in readme.splitlines() if "pip install -U \"jax[cuda" in ln)
    caption = next(c.value for c in run_home().caption if "jax[cuda" in c.value)
    builds = re.compile(r"jax\[(cuda\d+)\]")
    assert builds.findall(line) == builds.findall(caption) == ["cuda13", "cuda12"]


NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


@pytest.mark.slow
def test_home_number_words_match_what_it_lists():
    """Every number word on Home counts what it lists: the chapters as cards, and no count of
    JAX tools that differs from the tools the JAX link names (today: four, not three)."""
    at = run_home()
    text = "\n".join(m.value for m in at.markdown).lower()
    links = [link.proto.label for link in at.get("page_link")]
    jax_link = next(label for label in links if label.startswith("JAX in code:"))
    tools = [t.strip() for t in jax_link.split(":", 1)[1].split(",")]
    assert tools == ["grad", "jit", "vmap", "lax.scan"]
    assert all(tool in text for tool in tools)
    chapter_links = sum(label.startswith("Open chapter") for label in links)
    for word, value in NUMBER_WORDS.items():
        for sentence in text.split("."):
            if f"{word} chapters" in sentence:
                assert value == chapter_links, sentence
            if f"{word} jax" in sentence or f"{word} transformations" in sentence:
                assert value == len(tools), sentence


@pytest.mark.slow
def test_home_links_the_say_i_dont_know_preset():
    """Issue 15: Home links the playground's "Say I don't know" preset (`?preset=…`, which the
    playground applies: tests/pages/test_page_ch4.py)."""
    link = next(link for link in run_home().get("page_link") if "I don't know" in link.proto.label)
    assert link.proto.page == "playground"
    assert link.proto.query_string == "preset=say-i-dont-know"
