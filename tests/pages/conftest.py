"""AppTest of the pages (`streamlit.testing.v1`), defined once: a page run with its link's
query parameters and session values set before its first run. A test module names its page in
`PAGE` (a file of app_pages/) and may set it up in `prepare(at)`; `app` is a fresh run per test,
`shared_app` one run per module."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

TIMEOUT_S = 120  # JAX's import and a first compile take longer than AppTest's default 3 s


def new_app(page: str) -> AppTest:
    """app_pages/`page` under AppTest, not run yet."""
    return AppTest.from_file(str(ROOT / "app_pages" / page), default_timeout=TIMEOUT_S)


def page_app(page: str, query: Mapping[str, str] | None = None,
             prepare: Callable[[AppTest], None] | None = None) -> AppTest:
    """app_pages/`page` run once under AppTest, with `query` in its URL and `prepare(at)` done
    before the run; it must not raise."""
    at = new_app(page)
    at.query_params.update(dict(query or {}))
    if prepare is not None:
        prepare(at)
    at.run()
    assert not at.exception, at.exception
    return at


def _module_app(request) -> AppTest:
    return page_app(request.module.PAGE, prepare=getattr(request.module, "prepare", None))


@pytest.fixture
def app(request) -> AppTest:
    """The module's page, run once for this test."""
    return _module_app(request)


@pytest.fixture(scope="module")
def shared_app(request) -> AppTest:
    """The module's page, run once for all its tests (which must not depend on each other)."""
    return _module_app(request)
