// BNN Lab drawing canvas: the learner draws with a mouse, a pen or a finger (pointer events).
// The canvas works in the digits' 32×32 bitmap coordinates; at the end of every stroke it
// sends all strokes (polylines, x right and y down in 0..32) as the state value "strokes",
// and Python turns them into the 8×8 image (bnnlab.data.drawing). "Clear" sends [].
const BITMAP = 32;
const MIN_STEP = 0.25; // bitmap pixels between kept points
const MAX_POINTS = 4000; // bnnlab.data.drawing.MAX_POINTS
const MAX_STROKES = 200; // bnnlab.data.drawing.MAX_STROKES

// What may be sent as "strokes": at most MAX_STROKES arrays of [x, y] pairs of finite numbers,
// MAX_POINTS points in all. Anything else (e.g. an array 5,000 deep, set from the browser's
// console) is never sent: Streamlit's JSON decoding of it raised RecursionError on the server
// before the page's own checks (bnnlab.data.drawing.parse_strokes) could refuse it.
function isDrawing(value) {
  if (!Array.isArray(value) || value.length > MAX_STROKES) return false;
  let points = 0;
  for (const stroke of value) {
    if (!Array.isArray(stroke)) return false;
    points += stroke.length;
    if (points > MAX_POINTS) return false;
    for (const p of stroke) {
      if (!Array.isArray(p) || p.length !== 2 || !p.every(Number.isFinite)) return false;
    }
  }
  return true;
}

// The component's setter behind the check above (the setter itself stays in this closure).
const REFUSED = "That is not a drawing: it was not sent.";

function checkedSetter(setStateValue, pad) {
  return (name, value) => {
    if (name === "strokes" && isDrawing(value)) {
      if (pad.hint.textContent === REFUSED) pad.hint.textContent = "";
      setStateValue(name, value);
    } else {
      pad.hint.textContent = REFUSED;
    }
  };
}

class DrawCanvas {
  constructor(root) {
    root.innerHTML =
      '<div class="bnn-draw-pad"><canvas aria-label="drawing canvas"></canvas></div>' +
      '<div class="bnn-draw-bar"><button type="button" class="bnn-draw-clear">Clear</button>' +
      '<span class="bnn-draw-hint"></span></div>';
    this.root = root;
    this.canvas = root.querySelector("canvas");
    this.hint = root.querySelector(".bnn-draw-hint");
    this.strokes = [];
    this.current = null;
    this.penRadius = 1.75;
    this.setState = null;
    this.canvas.addEventListener("pointerdown", (e) => this.down(e));
    this.canvas.addEventListener("pointermove", (e) => this.move(e));
    this.canvas.addEventListener("pointerup", (e) => this.up(e));
    this.canvas.addEventListener("pointercancel", (e) => this.up(e));
    root.querySelector(".bnn-draw-clear").addEventListener("click", () => this.clear());
    this.resizeObserver = new ResizeObserver(() => this.draw());
    this.resizeObserver.observe(this.canvas);
  }

  numPoints() {
    return this.strokes.reduce((n, s) => n + s.length, 0) + (this.current ? this.current.length : 0);
  }

  toBitmap(e) {
    const rect = this.canvas.getBoundingClientRect();
    const x = ((e.clientX - rect.left) / Math.max(1, rect.width)) * BITMAP;
    const y = ((e.clientY - rect.top) / Math.max(1, rect.height)) * BITMAP;
    const clamp = (v) => Math.min(BITMAP, Math.max(0, v));
    return [+clamp(x).toFixed(2), +clamp(y).toFixed(2)];
  }

  down(e) {
    if (e.button !== undefined && e.button !== 0) return;
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    this.current = [this.toBitmap(e)];
    this.draw();
  }

  move(e) {
    if (!this.current) return;
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of events.length ? events : [e]) this.add(this.toBitmap(ev));
    this.draw();
  }

  add(p) {
    const last = this.current[this.current.length - 1];
    if (Math.hypot(p[0] - last[0], p[1] - last[1]) < MIN_STEP) return;
    if (this.numPoints() >= MAX_POINTS) {
      this.hint.textContent = "The drawing is full: clear it to draw more.";
      return;
    }
    this.current.push(p);
  }

  up(e) {
    if (!this.current) return;
    if (e.type === "pointerup") this.add(this.toBitmap(e));
    this.strokes.push(this.current);
    this.current = null;
    this.draw();
    this.send();
  }

  clear() {
    this.strokes = [];
    this.current = null;
    this.hint.textContent = "";
    this.draw();
    this.send();
  }

  send() {
    this.root.dataset.strokes = String(this.strokes.length);
    if (this.setState) this.setState("strokes", this.strokes.map((s) => s.slice()));
  }

  // Adopt strokes held by Python (a remount after navigating away and back).
  restore(strokes) {
    if (this.restored) return;
    this.restored = true;
    if (Array.isArray(strokes) && strokes.length && !this.strokes.length) {
      this.strokes = strokes.filter(Array.isArray).map((s) => s.filter(
        (p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite)));
      this.root.dataset.strokes = String(this.strokes.length);
      this.draw();
    }
  }

  draw() {
    const rect = this.canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const side = Math.max(1, Math.round(rect.width * ratio));
    if (this.canvas.width !== side) {
      this.canvas.width = side;
      this.canvas.height = side;
    }
    const ctx = this.canvas.getContext("2d");
    const scale = side / BITMAP;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, side, side);
    // The 8×8 blocks the network sees, faintly.
    ctx.strokeStyle = "#e3e6ea";
    ctx.lineWidth = Math.max(1, ratio);
    ctx.beginPath();
    for (let i = 1; i < 8; i++) {
      const v = Math.round(i * 4 * scale) + 0.5;
      ctx.moveTo(v, 0); ctx.lineTo(v, side);
      ctx.moveTo(0, v); ctx.lineTo(side, v);
    }
    ctx.stroke();
    ctx.strokeStyle = ctx.fillStyle = "#111";
    ctx.lineWidth = 2 * this.penRadius * scale;
    ctx.lineCap = ctx.lineJoin = "round";
    const all = this.current ? this.strokes.concat([this.current]) : this.strokes;
    for (const s of all) {
      if (s.length === 1) {
        ctx.beginPath();
        ctx.arc(s[0][0] * scale, s[0][1] * scale, this.penRadius * scale, 0, 2 * Math.PI);
        ctx.fill();
        continue;
      }
      ctx.beginPath();
      ctx.moveTo(s[0][0] * scale, s[0][1] * scale);
      for (let i = 1; i < s.length; i++) ctx.lineTo(s[i][0] * scale, s[i][1] * scale);
      ctx.stroke();
    }
  }
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let root = parentElement.querySelector(".bnn-draw");
  if (!root) {
    root = document.createElement("div");
    root.className = "bnn-draw";
    parentElement.appendChild(root);
    root.__draw = new DrawCanvas(root);
  }
  const pad = root.__draw;
  pad.setState = checkedSetter(setStateValue, pad);
  if (data && Number.isFinite(data.pen_radius)) pad.penRadius = data.pen_radius;
  if (data && data.hint !== undefined && !pad.hint.textContent) pad.hint.textContent = data.hint;
  pad.restore(data ? data.strokes : null);
  pad.draw();
}
