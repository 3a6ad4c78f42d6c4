"""Bad input where it enters in a real browser: an edited URL with markup, a malformed CSV and an
oversized file. Nothing user-given becomes HTML or a link, no traceback reaches the page."""

from __future__ import annotations

import pytest

from tests.browser.helpers import open_playground, wait_for_step

pytestmark = pytest.mark.browser

SMALL = "num_points=64&hidden=4&num_samples=2&steps_per_chunk=5&grid_size=10"


def _no_exception(page) -> None:
    assert page.locator("[data-testid=stException]").count() == 0
    assert "Traceback" not in page.inner_text("body")


def test_markup_in_the_url_is_shown_as_text(app_server, page):
    """`<img onerror>` and `<script>` in URL keys and values render as text: no element is
    created, no script runs, and the page still works."""
    page.add_init_script("window.__pwned = 0")
    open_playground(page, f"{app_server.url}/playground?{SMALL}"
                "&%3Cimg%20src%3Dx%20onerror%3D%22window.__pwned%3D1%22%3E=1"
                "&dataset=%3Cscript%3Ewindow.__pwned%3D2%3C%2Fscript%3E")
    body = page.inner_text("body")
    assert "Ignored unknown setting" in body and "Ignored dataset" in body
    assert page.evaluate("window.__pwned") == 0
    assert page.locator("[data-testid=stMain] img[src=x]").count() == 0
    assert page.locator("[data-testid=stMain] script").count() == 0
    _no_exception(page)


def test_a_link_in_the_url_is_not_rendered_as_a_link(app_server, page):
    """A crafted link cannot put a clickable link on a learner's page."""
    open_playground(page, f"{app_server.url}/playground?{SMALL}"
                "&%5BYour%20grades%5D(https%3A%2F%2Fevil.example)=1")
    assert page.locator("[data-testid=stMain] a[href*='evil.example']").count() == 0
    _no_exception(page)


def test_a_malformed_csv_is_refused_with_a_message(app_server, page, tmp_path):
    """Uploading a CSV with a formula-injection cell: an error naming the problem, the
    generated data still drawn, no traceback."""
    open_playground(page, f"{app_server.url}/playground?{SMALL}")
    page.wait_for_function("document.querySelectorAll('.bnn-live').length === 1")
    points = page.locator(".bnn-live").get_attribute("data-train-points")
    bad = tmp_path / "evil.csv"
    bad.write_bytes(b"x1,x2,label\n1,2,0\n3,4,=cmd|'/c calc'!A0\n")
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(bad))
    page.get_by_text("Could not use").wait_for(timeout=30_000)
    assert "plain value" in page.inner_text(".bnn-upload-msg")
    page.wait_for_function("document.querySelectorAll('.bnn-live').length === 1")
    assert page.locator(".bnn-live").get_attribute("data-train-points") == points
    _no_exception(page)


def test_a_file_over_the_upload_limit_is_refused(app_server, page, tmp_path):
    """A 6 MB file is stopped by Streamlit's own server.maxUploadSize with a message."""
    open_playground(page, f"{app_server.url}/playground?{SMALL}")
    big = tmp_path / "big.csv"
    big.write_bytes(b"1,2,0\n" * 1_000_000)
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(big))
    page.get_by_text("5.0MB").or_(page.get_by_text("5MB")).first.wait_for(timeout=30_000)
    _no_exception(page)


def test_an_oversize_upload_after_a_bad_one_clears_the_old_message(app_server, page, tmp_path):
    """A bad CSV, then a file over the limit: the first file's error goes away (it described a
    file that is no longer there) and Streamlit's size message shows (issue 14: Streamlit
    refuses the big file in the browser without a rerun, so the page's message is drawn by
    ui/upload_message, which hides itself when another file is chosen), and it stays away on
    the next rerun."""
    open_playground(page, f"{app_server.url}/playground?{SMALL}")
    bad = tmp_path / "one_class.csv"
    bad.write_bytes(b"x1,x2,label\n0,0,1\n1,1,1\n")
    upload = page.locator("[data-testid=stFileUploaderDropzoneInput]")
    upload.set_input_files(str(bad))
    page.get_by_text("Could not use").wait_for(timeout=30_000)
    big = tmp_path / "big.csv"
    big.write_bytes(b"1,2,0\n" * 1_000_000)
    upload.set_input_files(str(big))
    page.get_by_text("5.0MB").or_(page.get_by_text("5MB")).first.wait_for(timeout=30_000)
    page.get_by_text("Could not use").wait_for(state="hidden", timeout=30_000)
    page.get_by_role("button", name="Step", exact=True).click()  # a full rerun
    wait_for_step(page, ">= 5")
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')")
    assert not page.get_by_text("Could not use").is_visible()
    _no_exception(page)
