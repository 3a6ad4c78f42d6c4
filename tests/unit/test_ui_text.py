"""ui.text: user-given text cannot become markdown."""

from ui.text import escape_markdown


def test_links_and_emphasis_are_escaped():
    """A markdown link, emphasis and HTML come out with every special character escaped."""
    out = escape_markdown("[grades](https://evil.example) *x* <b>")
    assert "\\[" in out and "\\]" in out and "\\(" in out and "\\*" in out and "\\<" in out
    assert out.replace("\\", "").replace("\u200b", "") == "[grades](https://evil.example) *x* <b>"


def test_bare_urls_are_broken_up():
    """Bare URLs (which markdown autolinks even when escaped) no longer match a URL."""
    out = escape_markdown("see https://evil.example and www.evil.example")
    assert "://" not in out and "www." not in out
