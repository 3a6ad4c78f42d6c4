"""Showing user-given text safely: Streamlit's alerts and captions render markdown, so a crafted
URL key such as `[Your grades](https://…)` would become a live link. Escape it first."""

import re

# Enough to stop links ([..](..), <..>), images (!), code, maths ($: KaTeX can draw links) and
# emphasis; plain punctuation such as "_" or "." stays readable.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]()<>!$])")
# Bare URLs are autolinked even when escaped: a zero-width space breaks the pattern.
_AUTOLINK = re.compile(r"(://|www\.)", re.IGNORECASE)


def escape_markdown(text: str) -> str:
    """`text` with its link-, image-, code- and maths-making characters backslash-escaped and
    bare URLs broken up, so it shows as typed but never becomes a link."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
    return _AUTOLINK.sub(lambda m: m.group(1)[:-1] + "\u200b" + m.group(1)[-1], escaped)
