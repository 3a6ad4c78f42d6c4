// Transport of the live chart's frames (ui/push_route.py, bnnlab/push.py). Frames come from two
// places: Streamlit (each page or fragment run's payload) and, where the app serves it, the push
// WebSocket (one binary message per finished chunk). Both go through `offer`: the newest frame
// waits for the next animation frame and older ones are dropped, never queued. Drawing itself is
// LiveChart.update (live_chart.js), unchanged.
const PUSH_MAGIC = "BNF1";
const PUSH_RETRY_MS = 1000;
const PUSH_MAX_RETRIES = 5;

// The global creation order of a frame: "runSerial-n" -> n (larger is newer).
function frameOrder(d) {
  const id = d && d.frame_id;
  if (!id) return -1;
  const n = Number(String(id).split("-").pop());
  return Number.isFinite(n) ? n : -1;
}

// bnnlab.push.pack_frame: "BNF1", uint32 LE header length, JSON header, raw bytes. Each
// {"$b": [offset, length]} in the header becomes its own Uint8Array (own buffer: the wire
// decoders read from offset 0).
function unpackFrame(buf) {
  const bytes = new Uint8Array(buf);
  if (bytes.length < 8 || String.fromCharCode(...bytes.subarray(0, 4)) !== PUSH_MAGIC) return null;
  const size = new DataView(buf).getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + size)));
  const base = 8 + size;
  const restore = (node) => {
    if (node && typeof node === "object" && !Array.isArray(node)) {
      const keys = Object.keys(node);
      if (keys.length === 1 && keys[0] === "$b") {
        const [off, len] = node.$b;
        return new Uint8Array(buf.slice(base + off, base + off + len));
      }
      for (const k of keys) node[k] = restore(node[k]);
    }
    return node;
  };
  return restore(header);
}

class FrameTransport {
  constructor(root) {
    this.root = root;
    this.pending = null;
    this.shownOrder = -1;
    this.raf = 0;
    this.ws = null;
    this.spec = null;
    this.retries = 0;
    this.pushed = 0;
    this.dropped = 0;
    this.trigger = null;
    this.statusSent = null;
  }

  // A frame from either source: keep it if it is the newest seen, draw at the next frame.
  offer(d) {
    const n = frameOrder(d);
    if (n >= 0 && n < this.shownOrder) { this.dropped += 1; return; }
    if (this.pending && n >= 0 && n < frameOrder(this.pending)) { this.dropped += 1; return; }
    if (this.pending) this.dropped += 1;
    this.pending = d;
    // The first frame of a (re)mounted chart is drawn at once: a canvas must never be shown
    // unpainted. Later ones wait for the next animation frame, newest only.
    if (!this.root.__live.data) { this.flush(); return; }
    if (!this.raf) this.raf = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.raf = 0;
    const d = this.pending;
    this.pending = null;
    if (!d) return;
    const n = frameOrder(d);
    if (n > this.shownOrder) this.shownOrder = n;
    try {
      this.root.__live.update(d);
    } catch (err) {
      this.root.querySelector(".bnn-error").textContent = "Chart error: " + err;
    }
  }

  // The page's `push` spec {url, token, live}: (re)connect when the token changes.
  connect(spec) {
    this.spec = spec;
    if (!spec || !spec.token || spec.token === this.failedToken) { this.close(); return; }
    if (this.ws && this.ws.__token === spec.token && this.ws.readyState <= 1) return;
    this.close();
    this.open();
  }

  open() {
    const spec = this.spec;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let ws;
    try {
      ws = new WebSocket(`${scheme}//${location.host}${spec.url}`);
    } catch (err) {
      this.fail("open");
      return;
    }
    ws.binaryType = "arraybuffer";
    ws.__token = spec.token;
    ws.__opened = false;
    ws.onopen = () => { ws.__opened = true; this.retries = 0; ws.send(spec.token); };
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") return;
      ws.send("k");  // one frame in flight: the server sends the next (newest) one now
      const f = unpackFrame(ev.data);
      if (!f) return;
      this.pushed += 1;
      this.root.dataset.pushed = String(this.pushed);
      if (f.payload) this.offer(f.payload);
      this.noteStatus(f.status);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.root.dataset.push = "closed:" + ev.code;
      if (ev.code === 4403 || (!ws.__opened && this.retries >= PUSH_MAX_RETRIES)) {
        this.fail(String(ev.code));
      } else if (ev.code !== 4401 && this.retries < PUSH_MAX_RETRIES) {
        this.retries += 1;
        setTimeout(() => { if (!this.ws && this.spec === spec) this.open(); }, PUSH_RETRY_MS);
      } else if (ev.code !== 4401) {
        this.fail(String(ev.code));
      }
    };
    this.ws = ws;
    this.root.dataset.push = "open";
  }

  // Status changes that the page's buttons must follow (e.g. training finished): one rerun.
  noteStatus(status) {
    const live = ["training", "waiting", "compiling"].includes(status);
    if (this.spec && live !== !!this.spec.live && this.statusSent !== status && this.trigger) {
      this.statusSent = status;
      this.trigger("status", status);
    }
  }

  // The push path does not work here: the page falls back to fragment reruns.
  fail(why) {
    this.failedToken = this.spec && this.spec.token;
    this.close();
    this.root.dataset.push = "failed:" + why;
    if (this.trigger) this.trigger("push_failed", why);
  }

  close() {
    const ws = this.ws;
    this.ws = null;
    if (ws) { try { ws.close(); } catch (err) { /* already closed */ } }
  }
}

// The component's entry (called by live_chart.js's default export with Streamlit's data).
function bnnLiveReceive(root, data, setTriggerValue) {
  if (!root.__transport) root.__transport = new FrameTransport(root);
  const t = root.__transport;
  t.trigger = setTriggerValue;
  if (data.push) {
    if (!t.spec || t.spec.live !== data.push.live) t.statusSent = null;
    t.connect(data.push);
  } else {
    t.connect(null);
  }
  t.offer(data);
}
