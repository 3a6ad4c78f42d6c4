"""Showing user-given text safely: Streamlit's alerts and captions render markdown, so a crafted
URL key such as `[Your grades](https://…)` would become a live link. Escape it first."""

import re

# Enough to stop links ([..](..), <..>, bare http://), images (!), code, maths ($: KaTeX can
# draw links) and emphasis; plain punctuation such as "_" or "." stays readable.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]()<>!$:])")


def escape_markdown(text: str) -> str:
    """`text` with its link-, image-, code- and maths-making characters backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
