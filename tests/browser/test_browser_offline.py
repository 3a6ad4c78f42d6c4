"""The app works offline: loading Home asks no host but the app's own (the tab's icon
included, which a Material icon or an emoji would fetch from a CDN)."""

from urllib.parse import urlsplit

import pytest

from tests.browser.helpers import wait_for_script_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FAVICON_SET = ("[...document.querySelectorAll('link[rel~=icon]')]"
               ".some(l => l.href.startsWith('data:image/svg+xml'))")


def test_home_requests_no_external_host(app_server, page):
    """Every request of Home's load, its tab icon included, goes to the app's own host."""
    hosts: list[str] = []
    page.on("request", lambda request: hosts.append(urlsplit(request.url).netloc))
    page.goto(app_server.url)
    page.get_by_role("heading", name="BNN Lab").first.wait_for()
    wait_for_script_run(page)
    page.wait_for_load_state("networkidle")
    app_host = urlsplit(app_server.url).netloc
    assert hosts and app_host in hosts
    external = sorted({host for host in hosts if host and host != app_host})
    assert not external, external
    page.wait_for_function(FAVICON_SET, timeout=10_000)  # the tab's icon is the app's SVG
