// Transport of the live chart's frames (ui/push_route.py, bnnlab/push.py). Frames come from two
// places: Streamlit (each page or fragment run's payload) and, where the app serves it, the push
// WebSocket (one binary message per finished chunk). Both go through `offer`: the newest frame
// waits for the next animation frame and older ones are dropped, never queued. Drawing itself is
// LiveChart.update (live_chart.js), unchanged.
//
// Commands go the other way on the same socket (`send`): Train/Resume and Pause (recognised by
// their Streamlit keys, the page's `push.buttons`) and points added on the map, so they act
// without waiting for a Streamlit rerun. The click still reaches Streamlit too (the buttons and
// the page follow); the server makes the second arrival harmless (ui/push_route.py).
const PUSH_MAGIC = "BNF1";
const PUSH_RETRY_MS = 1000;
const PUSH_MAX_RETRIES = 5;
// After a button's command the page's own rerun (from the same click) redraws the buttons:
// a status change seen in a frame within this time asks for no rerun of its own.
const PUSH_COMMAND_QUIET_MS = 1500;
// The button's click reaches Streamlit this much after its command went on the socket: the
// page's rerun (server and browser work on the same 2 cores) then comes after the first frame
// it caused, not alongside it. Measured (bench_browser --push, shared 2 cores, load 3.3-7):
// Train -> first new step 0.11-0.19 s and Pause -> last new step 0.11-0.25 s with it,
// 0.13-1.52 s and 0.15-0.49 s without; the buttons flip ~0.2 s later. 0: no delay.
const PAGE_BUTTON_DELAY_MS = 200;

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
    this.commandAt = -Infinity;
  }

  // A command ({c: "train"} | {c: "pause"} | {c: "click", x, y, mode, id}) on the open,
  // authenticated socket; false when there is none (then Streamlit's path does it alone).
  send(command) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !ws.__opened) return false;
    try {
      ws.send(JSON.stringify(command));
    } catch (err) {
      return false;
    }
    this.commands = (this.commands || 0) + 1;
    this.root.dataset.commands = String(this.commands);
    window.__bnnCommandsSent = (window.__bnnCommandsSent || 0) + 1;  // across remounts
    return true;
  }

  // The page's buttons changed (its spec's `live` flipped): a status pushed before the new
  // spec arrived was judged against the old buttons, so ask for the current frame and status
  // again (the server sends them whether or not they changed). Not a learner's command: it is
  // not counted. No open socket: its first frame, sent on opening, carries the status anyway.
  sync() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !ws.__opened) return;
    try { ws.send(JSON.stringify({c: "sync"})); } catch (err) { /* closing: it reopens */ }
  }

  // A frame from either source: keep it if it is the newest seen, draw at the next frame.
  // Frames from another server process (a restart under this tab: its counter starts at 1
  // again) reset the order, and the chart says the old run is gone.
  offer(d) {
    const server = d && d.server;
    if (server && this.server && server !== this.server) {
      this.shownOrder = -1;
      this.pending = null;
      this.root.__live.restarted = true;
    }
    if (server) this.server = server;
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
    this.lastStatus = status;
    const quiet = this.commandAt + PUSH_COMMAND_QUIET_MS - performance.now();
    if (quiet > 0) {  // looked at again once the button's own rerun has had its time
      if (!this.quietTimer) {
        this.quietTimer = setTimeout(() => {
          this.quietTimer = 0;
          this.noteStatus(this.lastStatus);
        }, quiet);
      }
      return;
    }
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

// Train/Resume and Pause: one capture-phase listener on the document (installed once) sees the
// click on the page's button (Streamlit puts `st-key-<key>` on a keyed widget's container)
// before Streamlit does and sends the command over the socket when it is open; the click then
// goes on to Streamlit PAGE_BUTTON_DELAY_MS later (the same button clicked again), where its
// handler is a no-op by then. Continue, Step and Reset change budgets or runs: Streamlit only.
function installButtonCommands() {
  if (window.__bnnButtonCommands) return;
  window.__bnnButtonCommands = true;
  document.addEventListener("click", (ev) => {
    const t = window.__bnnPushTransport;
    const keys = t && t.spec && t.spec.buttons;
    const target = ev.target instanceof Element ? ev.target : null;
    if (!keys || !target) return;
    const button = target.closest("button");
    if (!button || button.disabled) return;
    if (window.__bnnReleased === button) {  // the delayed click itself: Streamlit's now
      window.__bnnReleased = null;
      return;
    }
    const c = keys.command;  // what the run button says now: "train", "pause" or none
    if (c && keys.key && button.closest(`.st-key-${CSS.escape(keys.key)}`)) {
      if (t.send({ c })) {
        t.commandAt = performance.now();
        if (PAGE_BUTTON_DELAY_MS > 0) {
          ev.stopImmediatePropagation();
          ev.preventDefault();
          setTimeout(() => { window.__bnnReleased = button; button.click(); },
                     PAGE_BUTTON_DELAY_MS);
        }
      }
    }
  }, true);
}

// The component's entry (called by live_chart.js's default export with Streamlit's data).
function bnnLiveReceive(root, data, setTriggerValue) {
  if (!root.__transport) root.__transport = new FrameTransport(root);
  const t = root.__transport;
  window.__bnnPushTransport = t;
  installButtonCommands();
  t.trigger = setTriggerValue;
  if (data.push) {
    const flipped = !!t.spec && t.spec.live !== data.push.live;
    if (!t.spec || flipped) t.statusSent = null;
    t.connect(data.push);
    if (flipped) t.sync();
  } else {
    t.connect(null);
  }
  t.offer(data);
}
