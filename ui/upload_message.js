// BNN Lab: a message about an uploaded file that goes away as soon as the learner chooses
// another file in the uploader. Streamlit checks the size of a file in the browser and sends
// the server nothing when it is too large (issue 14), so a message drawn by the page (st.error)
// would stay on screen beside Streamlit's own "too large" note, describing a file that is no
// longer there. This box listens for the uploader's change and drop events itself.
const DISMISSED = (window.__bnnDismissedUploads = window.__bnnDismissedUploads || new Set());
const BOXES = (window.__bnnUploadBoxes = window.__bnnUploadBoxes || {});

function watchUploader(selector) {
  if (BOXES[selector] && BOXES[selector].watching) return;
  const hide = (ev) => {
    const entry = BOXES[selector];
    if (!entry || !ev.target || !ev.target.closest || !ev.target.closest(selector)) return;
    if (entry.id) DISMISSED.add(entry.id);
    entry.box.hidden = true;
  };
  // Capture phase: seen before React's own handlers, whatever element the uploader re-creates.
  document.addEventListener("change", hide, true);
  document.addEventListener("drop", hide, true);
  BOXES[selector].watching = true;
}

export default function (component) {
  const { data, parentElement } = component;
  let box = parentElement.querySelector(".bnn-upload-msg");
  if (!box) {
    box = document.createElement("div");
    box.className = "bnn-upload-msg";
    box.setAttribute("role", "alert");
    parentElement.appendChild(box);
  }
  const text = (data && data.text) || "";
  const id = (data && data.id) || "";
  const selector = (data && data.uploader) || "";
  box.textContent = text;  // the file's name and contents are the learner's: never HTML
  box.hidden = !text || DISMISSED.has(id);
  if (selector) {
    BOXES[selector] = { ...(BOXES[selector] || {}), box, id };
    watchUploader(selector);
  }
}
