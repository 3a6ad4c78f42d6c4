"""ui.text: user-given text cannot become markdown."""

from ui.text import escape_markdown


def test_links_and_emphasis_are_escaped():
    """A markdown link, emphasis and HTML come out with every special character escaped."""
    out = escape_markdown("[grades](https://evil.example) *x* <b>")
    assert "\\[" in out and "\\]" in out and "\\(" in out and "\\*" in out and "\\<" in out
    assert out.replace("\\", "") == "[grades](https://evil.example) *x* <b>"
