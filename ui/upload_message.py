"""A message about an uploaded file that cannot go stale.

Streamlit's file uploader refuses a file over `server.maxUploadSize` in the browser and does not
rerun the script, so an `st.error` about the previous file stayed on screen next to Streamlit's
own size note. This component draws the message itself and hides it in the browser the moment
the learner chooses or drops another file into the uploader (whatever the server hears)."""

from __future__ import annotations

from ui.wire import canvas_component

CSS = """
.bnn-upload-msg { background: rgba(255, 43, 43, 0.09); color: rgb(125, 53, 59);
                  border-radius: 0.5rem; padding: 0.75rem 1rem; font-size: 0.95rem;
                  line-height: 1.4; margin: 0.25rem 0; overflow-wrap: anywhere; }
.bnn-upload-msg[hidden] { display: none; }
"""

_component = canvas_component("bnnlab_upload_message", CSS, "upload_message.js")


def upload_message(text: str, message_id: str, uploader_key: str, key: str) -> None:
    """Show `text` (plain text, never markdown or HTML) about the file `message_id` (e.g. its
    `file_id`) until the learner picks another file in the uploader with widget key
    `uploader_key`; a message once hidden stays hidden for that file."""
    _component(key=key, data={"text": text, "id": message_id,
                              "uploader": f".st-key-{uploader_key}"})
