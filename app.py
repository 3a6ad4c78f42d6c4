"""BNN Lab entry point: navigation only. Each chapter lives in its own file under app_pages/, and
`bnnlab.registry.CHAPTERS` lists them (file, URL path, title, group, icon)."""

import contextlib
from pathlib import Path

import streamlit as st

from bnnlab import registry
from bnnlab.core import jax_cache, runtime
from ui import push_route

# Compiled programs on disk (bnnlab/core/jax_cache.py): a restarted server loads them.
jax_cache.enable()


@contextlib.asynccontextmanager
async def _lifespan(_app):
    """The live chart's push route (ui/push_route.py) is served from now on. (The pages live in
    app_pages/, not pages/: with a pages/ folder a fresh Streamlit 1.67 server resolved a deep
    link against its files before st.navigation ran and showed a false "Page not found",
    streamlit #8860, #9992.)"""
    push_route.mark_mounted()
    runtime.bound_exit_on_sigterm()  # also done on import; here it cannot depend on import order
    yield


def navigation() -> dict[str, list]:
    """The sidebar's groups of pages, in the registry's order."""
    groups: dict[str, list] = {}
    for chapter in registry.CHAPTERS:
        where = {"url_path": chapter.url_path} if chapter.url_path else {"default": True}
        page = st.Page(chapter.page, title=chapter.title, icon=chapter.icon, **where)
        groups.setdefault(chapter.group, []).append(page)
    return groups


# The tab's icon, from a file beside the components: Streamlit sends an SVG file as a data: URL,
# where a Material icon or an emoji would be fetched from a font or emoji CDN (missing offline).
FAVICON = Path(__file__).resolve().parent / "ui" / "favicon.svg"


if __name__ == "__main__":  # a session's script run: the navigation
    st.set_page_config(page_title="BNN Lab", page_icon=str(FAVICON), layout="wide")
    st.navigation(navigation()).run()
    # Every page says what it computes on, from one place. After the page, so that the page's own
    # sidebar widgets come first.
    st.sidebar.caption(runtime.backend_caption())
else:  # `streamlit run app.py` serves this module's `app` (an st.App found by its AST scan)
    # The live chart's frames are pushed on a WebSocket route beside the app (ui/push_route.py).
    app = st.App(__file__, lifespan=_lifespan, routes=push_route.routes())
