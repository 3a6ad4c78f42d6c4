// BNN Lab live chart. The two maps are drawn on <canvas> (an 80×80 grid becomes an image, the
// points and the posterior samples' boundaries are paths): a frame costs a few milliseconds, so
// the browser keeps up with training, never shows a blank chart, and keeps the learner's zoom
// (wheel / drag / double-click to reset) across redraws. Clicks register while training. The
// objective chart is Plotly (served by the app itself, static/plotly.min.js — no CDN), updated
// in place with Plotly.react at most twice a second.
const PLOTLY_SRC = "app/static/plotly.min.js";
// Class colours: the payload's `classes` (wire.js `classColors`, `paintClassGrid`).
const MARGIN = { left: 38, right: 8, top: 6, bottom: 24 };
// Plotly re-measures its axis labels on every update (~15 ms of the browser's main thread on
// 2 cores): twice a second is live enough for the objective and leaves the frames to the maps.
const ELBO_INTERVAL_MS = 500;
// A point added on the map is drawn at once (pending) and replaced by the server's own when a
// frame lists its click id (`clicks`); one that no frame lists within this time (refused: off
// the map, too many points, over the budget) is taken away again.
const PENDING_POINT_MS = 2000;
// A click sent on the socket reaches the page this much later: the page's rerun then finds the
// frame with the new point computed (the server's cache) instead of computing it a second time
// alongside the push route, on the same cores (measured on 2 cores: see bench_browser).
const PAGE_CLICK_DELAY_MS = 200;

function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.__bnnPlotlyLoading) {
    window.__bnnPlotlyLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = new URL(PLOTLY_SRC, document.baseURI).href;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => reject(new Error("could not load plotly.js from " + script.src));
      document.head.appendChild(script);
    });
  }
  return window.__bnnPlotlyLoading;
}

// For Plotly: a plain array with null for NaN (a gap in the line).
function plotlyArray(text) {
  return Array.from(decodeFloats(text), (v) => (Number.isFinite(v) ? v : null));
}

const LUTS = { uncertainty: makeLut(VIRIDIS_STOPS) };

function niceTicks(lo, hi, count) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) ticks.push(+v.toFixed(6));
  return ticks;
}

// ---------------------------------------------------------------- far probes, reliability
const FAR_PROBES_KEY = "bnnlab-far-probes";

function farProbesWanted() {
  try { return sessionStorage.getItem(FAR_PROBES_KEY) === "1"; } catch (err) { return false; }
}

// `frames.far_probes_payload`: the probe grid's nodes where the mask byte is 1.
function decodeFarProbes(p) {
  const out = { x: [], y: [] };
  if (!p || !p.mask) return out;
  const mask = decodeBytes(p.mask);
  for (let k = 0; k < mask.length; k++) {
    if (!mask[k]) continue;
    out.x.push(p.x0 + (k % p.n) * p.dx);
    out.y.push(p.x0 + Math.floor(k / p.n) * p.dx);
  }
  return out;
}

// A reliability diagram beside ECE (`predict.reliability`): each confidence bin's accuracy as
// a bar against the diagonal (calibrated), in a 54 × 40 SVG; empty bins draw nothing.
function drawReliability(el, r) {
  if (!el) return;
  const key = r ? JSON.stringify(r) : "";
  if (el.__key === key) return;
  el.__key = key;
  el.innerHTML = "";
  if (!r || !Array.isArray(r.accuracy)) return;
  const W = 54, H = 40, n = r.accuracy.length, lo = Number(r.lowest) || 0;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", W); svg.setAttribute("height", H);
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  const shown = r.accuracy.map((a, b) => r.count[b] ? `${(lo + (b + 0.5) * (1 - lo) / n)
    .toFixed(2)}: ${(100 * a).toFixed(0)}% right` : null).filter(Boolean);
  svg.setAttribute("aria-label", "Reliability diagram: accuracy per confidence bin, " +
                   shown.join(", "));
  const y = (v) => H - 1 - (H - 2) * v;
  const rect = document.createElementNS(ns, "rect");
  rect.setAttribute("x", 0.5); rect.setAttribute("y", 0.5);
  rect.setAttribute("width", W - 1); rect.setAttribute("height", H - 1);
  rect.setAttribute("fill", "none"); rect.setAttribute("stroke", "#bbb");
  svg.appendChild(rect);
  r.accuracy.forEach((a, b) => {
    if (!r.count[b] || !Number.isFinite(a)) return;
    const bar = document.createElementNS(ns, "rect");
    const x = 1 + (b * (W - 2)) / n;
    bar.setAttribute("x", x.toFixed(1)); bar.setAttribute("width", ((W - 2) / n - 1).toFixed(1));
    bar.setAttribute("y", y(a).toFixed(1)); bar.setAttribute("height", (H - 1 - y(a)).toFixed(1));
    bar.setAttribute("fill", "#2f6db5");
    svg.appendChild(bar);
  });
  const diag = document.createElementNS(ns, "line");  // confidence = accuracy: calibrated
  diag.setAttribute("x1", 1); diag.setAttribute("y1", y(lo).toFixed(1));
  diag.setAttribute("x2", W - 1); diag.setAttribute("y2", y(1).toFixed(1));
  diag.setAttribute("stroke", "#c0392b"); diag.setAttribute("stroke-dasharray", "2 2");
  svg.appendChild(diag);
  el.appendChild(svg);
}

// ---------------------------------------------------------------- legends
// The frame's classes: `d.classes = [{label, color: "#rrggbb"}, ...]` (K entries) when the
// server sends them, else wire.js's two palette classes.
function frameClasses(d) {
  return classesOf(d).map((c, k) => ({ label: String(c.label ?? `class ${k}`),
                                       color: String(c.color) }));
}

// What the top of each uncertainty scale (ln 2 nats, two classes) means.
const UNCERTAINTY_TOP = {
  total: ", a coin flip: \u201cI don\u2019t know\u201d",
  aleatoric: ": every posterior network flips a coin (noisy labels)",
  epistemic: ": the posterior networks disagree completely",
};

function legendItem(html, text) {
  const item = document.createElement("span");
  item.className = "bnn-legend-item";
  item.innerHTML = html;
  const label = document.createElement("span");
  label.textContent = text;  // class names come from data: never HTML
  item.appendChild(label);
  return item;
}

// Under the prediction map: which colour is which class, filled = train, ring = test, and the
// grey lines. Under the uncertainty map: what its scale means.
function drawLegends(root, d, hasBoundaries) {
  const classes = frameClasses(d);
  const key = JSON.stringify([classes, d.uncertainty_kind, d.uncertainty_max, hasBoundaries]);
  if (root.__legendKey === key) return;
  root.__legendKey = key;
  const mean = root.querySelector(".bnn-map .bnn-legend");
  mean.innerHTML = "";
  for (const c of classes) {
    const dot = document.createElement("span");
    dot.className = "bnn-dot";
    dot.style.background = c.color;
    const item = legendItem("", c.label);
    item.insertBefore(dot, item.firstChild);
    mean.appendChild(item);
  }
  mean.appendChild(legendItem('<span class="bnn-dot" style="background:#666"></span>',
                              "filled: training point"));
  mean.appendChild(legendItem('<span class="bnn-dot bnn-ring"></span>', "ring: test point"));
  if (hasBoundaries) {
    mean.appendChild(legendItem('<span class="bnn-line"></span>', "one posterior sample's boundary"));
  }
  const far = legendItem('<input type="checkbox" class="bnn-far-toggle">',
                         "far probe points (\u2265 2 units from every training point)");
  far.classList.add("bnn-far-item");
  const box = far.querySelector("input");
  box.checked = !!root.__live.showFar;
  box.setAttribute("aria-label", "Show the far probe points on the maps");
  box.addEventListener("change", () => root.__live.setShowFar(box.checked));
  const label = document.createElement("label");
  label.className = far.className;
  label.append(...far.childNodes);
  mean.appendChild(label);
  const unc = root.querySelector(".bnn-unc .bnn-legend");
  const max = Number(d.uncertainty_max);
  unc.textContent = "";
  const text = document.createElement("span");
  text.className = "bnn-legend-scale";
  const k = Number.isFinite(max) ? Math.round(Math.exp(max)) : 2;  // max = ln K for K classes
  const top = `yellow ${Number.isFinite(max) ? max.toFixed(2) : "0.69"} nats = ln ${k}`;
  // a coin flip is two classes' top; with K it is every class equally likely
  const meaning = d.uncertainty_kind === "total" && k > 2
    ? ", every class equally likely: \u201cI don\u2019t know\u201d"
    : (UNCERTAINTY_TOP[d.uncertainty_kind] || UNCERTAINTY_TOP.total);
  text.textContent = `dark 0 = certain · ${top}` + meaning;
  unc.appendChild(text);
}

// One canvas map: heatmap image + boundaries + points + axes, in data coordinates.
class CanvasMap {
  constructor(el, kind, live) {
    this.kind = kind;
    this.live = live;
    el.innerHTML = '<div class="bnn-title"></div><div class="bnn-plot"><canvas></canvas>' +
      '<div class="bnn-cbar"><div class="bnn-cbar-grad"></div><span class="bnn-cbar-hi"></span>' +
      '<span class="bnn-cbar-lo"></span></div></div><div class="bnn-readout">&nbsp;</div>' +
      '<div class="bnn-legend"></div>';
    this.el = el;
    this.canvas = el.querySelector("canvas");
    this.titleEl = el.querySelector(".bnn-title");
    this.readout = el.querySelector(".bnn-readout");
    if (kind !== "mean") el.querySelector(".bnn-cbar-grad").style.background =
      gradientCss(VIRIDIS_STOPS);
    this.image = document.createElement("canvas");
    this.bindEvents();
  }

  // The canvas's CSS size, measured once per draw (and on events): reading the layout for
  // every point and boundary vertex forced a layout each time (~8% of the browser's time).
  size() {
    if (!this.cachedSize) this.cachedSize = this.measure();
    return this.cachedSize;
  }

  measure() {
    const rect = this.canvas.getBoundingClientRect();
    return { w: Math.max(50, rect.width), h: Math.max(50, rect.height) };
  }

  toPixel(x, y) {
    const v = this.live.view;
    const { w, h } = this.size();
    const pw = w - MARGIN.left - MARGIN.right;
    const ph = h - MARGIN.top - MARGIN.bottom;
    return [MARGIN.left + ((x - v.x0) / (v.x1 - v.x0)) * pw,
            MARGIN.top + (1 - (y - v.y0) / (v.y1 - v.y0)) * ph];
  }

  toData(px, py) {
    const v = this.live.view;
    const { w, h } = this.size();
    const pw = w - MARGIN.left - MARGIN.right;
    const ph = h - MARGIN.top - MARGIN.bottom;
    return [v.x0 + ((px - MARGIN.left) / pw) * (v.x1 - v.x0),
            v.y0 + (1 - (py - MARGIN.top) / ph) * (v.y1 - v.y0)];
  }

  bindEvents() {
    let drag = null;
    const pos = (ev) => {
      const r = this.canvas.getBoundingClientRect();
      return [ev.clientX - r.left, ev.clientY - r.top];
    };
    this.canvas.addEventListener("mousedown", (ev) => {
      drag = { start: pos(ev), view: { ...this.live.view }, moved: false };
    });
    window.addEventListener("mousemove", (ev) => {
      if (!drag) return;
      const [px, py] = pos(ev);
      const dx = px - drag.start[0];
      const dy = py - drag.start[1];
      if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
      if (!drag.moved) return;
      const { w, h } = this.size();
      const v = drag.view;
      const sx = (v.x1 - v.x0) / (w - MARGIN.left - MARGIN.right);
      const sy = (v.y1 - v.y0) / (h - MARGIN.top - MARGIN.bottom);
      this.live.view = { x0: v.x0 - dx * sx, x1: v.x1 - dx * sx, y0: v.y0 + dy * sy,
                         y1: v.y1 + dy * sy };
      this.live.redrawMaps();
    });
    window.addEventListener("mouseup", (ev) => {
      if (drag && !drag.moved && ev.target === this.canvas) {
        const [x, y] = this.toData(...pos(ev));
        this.live.sendClick(x, y);
      }
      drag = null;
    });
    this.canvas.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const [x, y] = this.toData(...pos(ev));
      const f = Math.exp(ev.deltaY * 0.0015);
      const v = this.live.view;
      this.live.view = { x0: x + (v.x0 - x) * f, x1: x + (v.x1 - x) * f,
                         y0: y + (v.y0 - y) * f, y1: y + (v.y1 - y) * f };
      this.live.redrawMaps();
    }, { passive: false });
    this.canvas.addEventListener("dblclick", () => { this.live.resetView(); });
    this.canvas.addEventListener("mousemove", (ev) => {
      const d = this.live.data;
      if (!d || !this.values) return;
      const [x, y] = this.toData(...pos(ev));
      const g = d.grid;
      const i = Math.round((x - g.x0) / g.dx);
      const j = Math.round((y - g.y0) / g.dy);
      const inside = i >= 0 && j >= 0 && i < g.nx && j < g.ny;
      const value = inside ? (this.values[j * g.nx + i] / 255) * this.scale : null;
      const label = inside && this.classes ? `P(${this.classLabels[this.classes[j * g.nx + i]]})`
        : this.label;
      this.readout.textContent = `x = ${fixed(x, 2)}, y = ${fixed(y, 2)}` +
        (value === null ? "" : `, ${label} = ${fixed(value, 3)}`);
    });
  }

  setFrame(d) {
    const g = d.grid;
    const key = this.kind === "mean" ? "mean" : "uncertainty";
    const values = decodeBytes(d[key]);
    this.values = values;
    this.scale = this.kind === "mean" ? 1 : d.uncertainty_max;
    this.label = this.kind === "mean" ? "P(y=1)" : d.uncertainty_kind;
    this.classes = null;
    const hi = this.el.querySelector(".bnn-cbar-hi");
    const lo = this.el.querySelector(".bnn-cbar-lo");
    if (this.kind === "mean") this.setClassFrame(d, values, hi, lo);
    else paintGrid(this.image, values, g.nx, g.ny, LUTS[this.kind]);
    if (this.kind !== "mean") setText(hi, this.scale.toFixed(2));
    if (this.kind !== "mean") setText(lo, "0");
  }

  // The mean map in the class colours: P(class 1) for two classes; for K classes the
  // predicted class with its probability as saturation (colour bar: that probability).
  setClassFrame(d, values, hi, lo) {
    const g = d.grid;
    const classes = classesOf(d);
    const grad = this.el.querySelector(".bnn-cbar-grad");
    if (d.mean_class) {
      this.classes = decodeBytes(d.mean_class);
      this.classLabels = classes.map((c) => c.label);
      paintClassGrid(this.image, values, this.classes, g.nx, g.ny, classes);
      const css = "linear-gradient(to top, rgb(247,247,247), rgb(120,120,120))";
      if (grad.style.background !== css) grad.style.background = css;
      setText(hi, "1");
      setText(lo, (1 / classes.length).toFixed(2));
      return;
    }
    const stops = binaryMeanStops(classes);
    const key = JSON.stringify(stops);
    if (this.lutKey !== key) {
      this.lutKey = key;
      this.meanLut = makeLut(stops);
      grad.style.background = gradientCss(stops);
    }
    paintGrid(this.image, values, g.nx, g.ny, this.meanLut);
    setText(hi, "1");
    setText(lo, "0");
  }

  // The far probe points (≥ 2 units from every training point: where "epistemic far" is
  // measured) as small dots, dark on the mean map and white on the uncertainty map.
  drawFarProbes(ctx) {
    const far = this.live.decoded.far;
    ctx.fillStyle = this.kind === "mean" ? "rgba(40,40,40,0.8)" : "rgba(255,255,255,0.9)";
    ctx.beginPath();
    for (let k = 0; k < far.x.length; k++) {
      const [px, py] = this.toPixel(far.x[k], far.y[k]);
      ctx.moveTo(px + 1.4, py);
      ctx.arc(px, py, 1.4, 0, 2 * Math.PI);
    }
    ctx.fill();
  }

  draw(d, title) {
    setText(this.titleEl, title);
    this.cachedSize = this.measure();
    const { w, h } = this.cachedSize;
    const dpr = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(h * dpr)) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
    }
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const g = d.grid;
    // The grid's cells are centred on its nodes.
    const [ax, ay] = this.toPixel(g.x0 - g.dx / 2, g.y0 + g.dy * (g.ny - 0.5));
    const [bx, by] = this.toPixel(g.x0 + g.dx * (g.nx - 0.5), g.y0 - g.dy / 2);
    ctx.save();
    ctx.beginPath();
    ctx.rect(MARGIN.left, MARGIN.top, w - MARGIN.left - MARGIN.right,
             h - MARGIN.top - MARGIN.bottom);
    ctx.clip();
    ctx.fillStyle = "#eee";
    ctx.fillRect(0, 0, w, h);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(this.image, ax, ay, bx - ax, by - ay);
    const seg = this.live.decoded.segments;
    if (this.kind === "mean" && seg.length) {
      ctx.strokeStyle = "rgba(30,30,30,0.55)";
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let k = 0; k + 3 < seg.length; k += 4) {
        const [ax, ay] = this.toPixel(seg[k], seg[k + 1]);
        const [bx, by] = this.toPixel(seg[k + 2], seg[k + 3]);
        ctx.moveTo(ax, ay);
        ctx.lineTo(bx, by);
      }
      ctx.stroke();
    }
    const radius = this.kind === "mean" ? 3.2 : 2.4;
    const colors = classColors(d);
    const drawPoints = (pts, ring) => {
      for (let k = 0; k < pts.c.length; k++) {
        const [px, py] = this.toPixel(pts.x[k], pts.y[k]);
        ctx.beginPath();
        ctx.arc(px, py, radius, 0, 2 * Math.PI);
        if (ring) {
          ctx.strokeStyle = colors[pts.c[k]] || "#555";
          ctx.lineWidth = 1.5;
          ctx.stroke();
        } else {
          ctx.fillStyle = colors[pts.c[k]] || "#555";
          ctx.fill();
          // a dark rim on the uncertainty map: light class colours on viridis's yellow
          ctx.strokeStyle = this.kind === "mean" ? "white" : "rgba(20,20,20,0.8)";
          ctx.lineWidth = this.kind === "mean" ? 0.6 : 0.7;
          ctx.stroke();
        }
      }
    };
    if (this.live.showFar) this.drawFarProbes(ctx);
    drawPoints(this.live.decoded.train, false);
    if (this.kind === "mean") drawPoints(this.live.decoded.test, true);
    const pending = this.live.pending;
    if (pending.length) {
      drawPoints({ x: pending.map((p) => p.x), y: pending.map((p) => p.y),
                   c: pending.map((p) => p.c) }, false);
    }
    ctx.restore();
    // Axes.
    const v = this.live.view;
    ctx.strokeStyle = "#888";
    ctx.lineWidth = 1;
    ctx.strokeRect(MARGIN.left, MARGIN.top, w - MARGIN.left - MARGIN.right,
                   h - MARGIN.top - MARGIN.bottom);
    ctx.fillStyle = "#444";
    ctx.font = "11px sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of niceTicks(v.x0, v.x1, 6)) {
      const [px] = this.toPixel(t, v.y0);
      ctx.fillText(String(t), px, h - MARGIN.bottom + 5);
    }
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const t of niceTicks(v.y0, v.y1, 6)) {
      const [, py] = this.toPixel(v.x0, t);
      ctx.fillText(String(t), MARGIN.left - 4, py);
    }
  }
}

// ---------------------------------------------------------------- the objective's y-range
// The y-range of the objective chart: the values of the last RECENT_FRACTION of the steps
// shown (all of them for short runs), padded; the first steps' thousands of nats would flatten
// every later change. `clipped` says whether earlier values lie outside it.
const RECENT_FRACTION = 0.6;
function recentRange(traces, steps) {
  const n = steps.length;
  if (n < 20) return { y: null, clipped: false };
  const last = steps[n - 1];
  const from = last - RECENT_FRACTION * (last - steps[0]);
  let lo = Infinity, hi = -Infinity, allLo = Infinity, allHi = -Infinity;
  for (const t of traces) {
    t.y.forEach((v, k) => {
      if (v === null) return;
      allLo = Math.min(allLo, v); allHi = Math.max(allHi, v);
      if (steps[k] >= from) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    });
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { y: null, clipped: false };
  const pad = Math.max((hi - lo) * 0.15, 1e-3);
  const y = [lo - pad, hi + pad];
  return { y, clipped: allLo < y[0] || allHi > y[1] };
}

function elboNote(h, range) {
  const n = Number(h.per_point) || 0;
  const units = n ? `Nats per training point (sums ÷ ${n.toLocaleString("en")}).` : "";
  return units + (range.clipped ? " The y-axis follows the last 60% of the steps shown; " +
    "earlier values lie off the chart." : "");
}

class LiveChart {
  constructor(root) {
    this.root = root;
    root.innerHTML = '<div class="bnn-verdict" role="status" aria-live="polite"></div>' +
      '<div class="bnn-row"><div class="bnn-map"></div><div class="bnn-unc"></div>' +
      '</div><div class="bnn-metrics"></div><div class="bnn-elbo"></div>' +
      '<div class="bnn-elbo-note"></div>' +
      '<div class="bnn-error"></div>';
    this.maps = [new CanvasMap(root.querySelector(".bnn-map"), "mean", this),
                 new CanvasMap(root.querySelector(".bnn-unc"), "uncertainty", this)];
    this.elboDiv = root.querySelector(".bnn-elbo");
    this.view = null;
    this.viewRevision = null;
    this.lastElbo = 0;
    this.elboPending = null;
    this.redraws = 0;
    this.pending = [];  // points clicked onto the map that no frame holds yet: {id, x, y, c, at}
    this.markers = 0;
    this.showFar = farProbesWanted();
    new ResizeObserver(() => this.redrawMaps()).observe(root);
  }

  resetView() {
    const g = this.data.grid;
    this.view = { x0: g.x0, x1: g.x0 + g.dx * (g.nx - 1), y0: g.y0, y1: g.y0 + g.dy * (g.ny - 1) };
    this.redrawMaps();
  }

  // A click on a map. In "add" mode with the push socket open, the point goes to the server on
  // the socket and is drawn here at once; the page hears of the click through Streamlit too,
  // with the same id (the server adds it once; the page shows a refusal's reason).
  sendClick(x, y) {
    const id = Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
    const d = this.data;
    const t = this.root.__transport;
    const click = { x: x, y: y, t: Date.now(), id: id };
    if (d && d.mode === "add" && t && /^[0-9]$/.test(String(d.add_class))) {
      const mode = "add" + d.add_class;
      if (t.send({ c: "click", x: x, y: y, mode: mode, id: id })) {
        this.pending.push({ id: id, x: x, y: y, c: Number(d.add_class), at: performance.now() });
        this.redrawMaps();
        this.markers += 1;
        this.root.dataset.markers = String(this.markers);
        setTimeout(() => this.dropPending([]), PENDING_POINT_MS + 50);
        setTimeout(() => { if (this.setTrigger) this.setTrigger("click", click); },
                   PAGE_CLICK_DELAY_MS);
        return;
      }
    }
    if (this.setTrigger) this.setTrigger("click", click);
  }

  // Forget the pending points that a frame holds (`applied`: its click ids) or that waited too
  // long; redraw if any went.
  dropPending(applied) {
    if (!this.pending.length) return false;
    const now = performance.now();
    const keep = this.pending.filter((p) => !applied.includes(p.id) &&
                                           now - p.at < PENDING_POINT_MS);
    if (keep.length === this.pending.length) return false;
    this.pending = keep;
    this.root.dataset.pending = String(keep.length);
    this.redrawMaps();
    return true;
  }

  mapTitle(d) {
    const what = d.mean_class ? "Predicted class (pale = unsure)" : "Mean prediction P(y=1)";
    if (d.mode === "add") {
      const name = (classesOf(d)[+d.add_class] || {}).label || `class ${d.add_class}`;
      return `${what} — click to add a ${name} point`;
    }
    if (d.mode === "probe") return `${what} — click to probe`;
    return d.mean_class ? `${what} and 10 samples' boundaries`
      : `${what} and 10 posterior samples' boundaries`;
  }

  redrawMaps() {
    const d = this.data;
    if (!d || !this.view) return;
    this.maps[0].draw(d, this.mapTitle(d));
    this.maps[1].draw(d, `Uncertainty: ${d.uncertainty_kind} (nats)`);
  }

  update(d) {
    const applied = Array.isArray(d.clicks) ? d.clicks : [];
    // The same frame again (the page ticked before the next chunk finished): only the
    // metrics and titles may have changed; the maps and the chart stay as they are.
    if (d.frame_id && d.frame_id === this.frameId && this.data &&
        this.viewRevision === d.view_revision) {
      const titleChanged = this.mapTitle(d) !== this.mapTitle(this.data);
      this.data = d;
      if (!this.dropPending(applied) && titleChanged) this.redrawMaps();
      this.showMetrics(d.metrics || []);
      this.showVerdict(d.verdict);
      if (d.history) this.scheduleElbo(d.history);
      return;
    }
    this.frameId = d.frame_id;
    // Decoded once per frame for both maps (the payload object itself is left as received).
    this.decoded = { segments: decodeSegments(d.boundaries),
                     train: decodePoints(d.train), test: decodePoints(d.test),
                     far: decodeFarProbes(d.far_probes) };
    this.data = d;
    if (this.viewRevision !== d.view_revision || !this.view) {
      this.viewRevision = d.view_revision;
      const g = d.grid;
      this.view = { x0: g.x0, x1: g.x0 + g.dx * (g.nx - 1), y0: g.y0, y1: g.y0 + g.dy * (g.ny - 1) };
    }
    if (this.pending.length) {
      const now = performance.now();
      this.pending = this.pending.filter((p) => !applied.includes(p.id) &&
                                                now - p.at < PENDING_POINT_MS);
      this.root.dataset.pending = String(this.pending.length);
    }
    for (const m of this.maps) m.setFrame(d);
    drawLegends(this.root, d, this.decoded.segments.length > 0);
    this.redrawMaps();
    this.redraws += 1;
    window.__bnnRedraws = (window.__bnnRedraws || 0) + 1;
    this.root.dataset.redraws = String(this.redraws);
    this.root.dataset.step = String(d.step);
    this.root.dataset.trainPoints = String(d.train.n);
    this.root.dataset.farProbes = String(this.decoded.far.x.length);
    this.showMetrics(d.metrics || []);
    this.showVerdict(d.verdict);
    if (d.history) this.scheduleElbo(d.history);
  }

  // The one verdict (bnnlab.core.verdict) above the maps, in a box of fixed height: its
  // headline, why in a few words, and the step it was read at; the full sentence on hover.
  showVerdict(v) {
    const box = this.root.querySelector(".bnn-verdict");
    if (!v) { setText(box, ""); return; }
    // After a server restart (ui/live_push.js) the fresh run's strip says so until it trains.
    const restarted = this.restarted && Number(v.step) === 0;
    if (!restarted) this.restarted = false;
    const key = [v.kind, v.headline, v.reason, v.step, restarted].join("|");
    if (box.__key === key) return;
    box.__key = key;
    box.className = "bnn-verdict bnn-verdict-" + v.kind;
    box.dataset.kind = v.kind;
    box.title = v.sentence || "";
    box.textContent = "";
    const head = document.createElement("strong");
    const why = document.createElement("span");
    if (restarted) {
      head.textContent = "The server restarted: the run you had is gone.";
      why.textContent = " This is a fresh run from the settings in your link (step 0).";
    } else {
      head.textContent = `Verdict: ${v.headline}`;
      why.textContent = ` \u2014 ${v.reason} (step ${Number(v.step).toLocaleString("en")})`;
    }
    box.append(head, why);
  }

  setShowFar(on) {
    this.showFar = on;
    try { sessionStorage.setItem(FAR_PROBES_KEY, on ? "1" : "0"); } catch (err) { /* private */ }
    this.root.dataset.showFar = on ? "1" : "0";
    this.redrawMaps();
  }

  showMetrics(items) {
    const box = this.root.querySelector(".bnn-metrics");
    if (box.children.length !== items.length) {
      box.innerHTML = "";
      for (let k = 0; k < items.length; k++) {
        const cell = document.createElement("div");
        cell.className = "bnn-metric";
        cell.innerHTML = '<div class="bnn-metric-label"></div><div class="bnn-metric-value">' +
          '<span class="bnn-metric-number"></span><span class="bnn-metric-se"></span>' +
          '<span class="bnn-reliability"></span></div>';
        box.appendChild(cell);
      }
    }
    items.forEach((item, k) => {
      const cell = box.children[k];
      setText(cell.querySelector(".bnn-metric-label"), item.label);
      setText(cell.querySelector(".bnn-metric-number"), item.value);
      setText(cell.querySelector(".bnn-metric-se"), item.se ? `\u00b1${item.se}` : "");
      drawReliability(cell.querySelector(".bnn-reliability"), item.reliability);
      if (cell.title !== (item.help || "")) cell.title = item.help || "";
      if (cell.dataset.label !== item.label) cell.dataset.label = item.label;
    });
  }

  scheduleElbo(history) {
    this.elboPending = history;
    const wait = this.lastElbo + ELBO_INTERVAL_MS - performance.now();
    if (this.elboTimer) return;
    this.elboTimer = setTimeout(() => this.drawElbo(), Math.max(0, wait));
  }

  async drawElbo() {
    this.elboTimer = null;
    const h = this.elboPending;
    if (!h) return;
    this.elboPending = null;
    this.lastElbo = performance.now();
    try {
      const Plotly = await loadPlotly();
      const vi = h.method === "vi";
      const steps = plotlyArray(h.step);
      // the method's own names (registry trace_labels), else the VI / MAP ones
      const labels = h.trace_labels || (vi ? ["ELBO", "E_q[log P(Y|X,θ)]", "KL(q‖prior)"]
                                           : ["MAP objective", "log P(Y|X,θ)", "‖θ‖²/2σ²"]);
      const traces = [
        { type: "scatter", mode: "lines", name: labels[0], x: steps,
          y: plotlyArray(h.elbo), line: { color: "#222", width: 2 } },
        { type: "scatter", mode: "lines", name: labels[1],
          x: steps, y: plotlyArray(h.ell), line: { color: "#2f6db5" } },
        { type: "scatter", mode: "lines",
          name: h.trace_names ? h.trace_names[2]  // the method's own (frames.history_payload)
            : labels[2].startsWith("−") ? "β·" + labels[2].slice(1) : "−β·" + labels[2],
          x: steps, y: plotlyArray(h.neg_kl), line: { color: "#c0392b" } },
      ];
      const range = recentRange(traces, steps);
      const layout = {
        title: { text: vi ? "ELBO = E_q[log P(Y|X,θ)] − β·KL(q‖prior), per step"
                          : (h.method_label || "MAP") + ": " + labels[0] + " per step",
                 font: { size: 13 } },
        // the legend under the axis title, never on it (a MAP run's longer names wrap)
        height: 290, margin: { l: 60, r: 10, t: 34, b: 66 },
        xaxis: { title: { text: "step", standoff: 4 } },
        legend: { orientation: "h", x: 0, y: -0.32, yanchor: "top" },
        yaxis: { title: { text: range.clipped ? "nats per point (recent)" : "nats per point",
                          font: { size: 11 } },
                 // no `range: null`: with uirevision, Plotly.react re-applies a kept
                 // `yaxis.range[0]` into the new layout and throws on a null container
                 ...(range.y ? { range: range.y, autorange: false } : { autorange: true }) },
        uirevision: this.viewRevision,
      };
      setText(this.root.querySelector(".bnn-elbo-note"), elboNote(h, range));
      await Plotly.react(this.elboDiv, traces, layout,
                         { displaylogo: false, responsive: true });
      setText(this.root.querySelector(".bnn-error"), "");
    } catch (err) {
      this.root.querySelector(".bnn-error").textContent = "Chart error: " + err;
    }
  }
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let root = parentElement.querySelector(".bnn-live");
  if (!root) {
    root = document.createElement("div");
    root.className = "bnn-live";
    parentElement.appendChild(root);
    root.__live = new LiveChart(root);
    window.__bnnMounts = (window.__bnnMounts || 0) + 1;
  }
  root.__live.setTrigger = setTriggerValue;
  if (!data) return;
  // Streamlit's frame and the pushed ones meet in the transport (live_push.js), which draws
  // the newest at the next animation frame.
  bnnLiveReceive(root, data, setTriggerValue);
}
