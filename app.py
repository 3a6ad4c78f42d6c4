"""BNN Lab entry point: navigation only. Each chapter lives in its own file under pages/, and
`bnnlab.registry.CHAPTERS` lists them (file, URL path, title, group, icon)."""

import contextlib

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from bnnlab import registry, runtime
from ui import push_route


@contextlib.asynccontextmanager
async def _no_pages_folder_mode(_app):
    """A fresh Streamlit 1.67 server resolves a session's first URL against the files in pages/
    (its v1 multipage mode) until some session has run st.navigation, so a deep link showed a
    false "Page not found" (streamlit #8860, #9992) or ran a page without this file. This app
    always navigates with st.navigation: say so before the first session starts. Also: the
    live chart's push route (ui/push_route.py) is served from now on."""
    PagesManager.uses_pages_directory = False
    push_route.mark_mounted()
    yield


def navigation() -> dict[str, list]:
    """The sidebar's groups of pages, in the registry's order."""
    groups: dict[str, list] = {}
    for chapter in registry.CHAPTERS:
        where = {"url_path": chapter.url_path} if chapter.url_path else {"default": True}
        page = st.Page(chapter.page, title=chapter.title, icon=chapter.icon, **where)
        groups.setdefault(chapter.group, []).append(page)
    return groups


if __name__ == "__main__":  # a session's script run: the navigation
    st.set_page_config(page_title="BNN Lab", page_icon=":material/neurology:", layout="wide")
    st.navigation(navigation()).run()
    # Every page says what it computes on, from one place. After the page, so that the page's own
    # sidebar widgets come first.
    st.sidebar.caption(runtime.backend_caption())
else:  # `streamlit run app.py` serves this module's `app` (an st.App found by its AST scan)
    # The live chart's frames are pushed on a WebSocket route beside the app (ui/push_route.py).
    app = st.App(__file__, lifespan=_no_pages_folder_mode, routes=push_route.routes())
