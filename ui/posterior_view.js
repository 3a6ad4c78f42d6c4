// BNN Lab chapter 3: one method drawn over the exact posterior, in the browser. A Gaussian is
// drawn as its 1σ and 2σ ellipses; a NUTS chain (every kept trajectory, its end momenta, the
// state drawn from it, step size, warm-up) is played one trajectory per animation frame, or
// leapfrog state by leapfrog state in the slow mode. Payload: `Comparison.view_payload`.
const BLUE_STOPS = [[0, [247, 251, 255]], [0.35, [158, 202, 225]], [0.7, [66, 146, 198]],
                    [1, [8, 48, 107]]];
const POST_LUT = makeLut(BLUE_STOPS);
const FAST_FPS = 30;  // trajectories per second
const SLOW_FPS = 15;  // leapfrog states per second
const POST_PAD = 4;
const AXIS_LEFT = 34;  // room for the vertical axis's title and its end values
const AXIS_BOTTOM = 30;  // room for the horizontal axis's title and its end values
const AXIS_FONT = '12px "Source Sans Pro", sans-serif';

class PosteriorView {
  constructor(root) {
    this.root = root;
    root.innerHTML = '<div class="bnn-post-bar"><span class="bnn-post-title"></span>' +
      '<span class="bnn-post-controls"><button class="bnn-post-play">Pause</button> ' +
      '<button class="bnn-post-replay">Replay</button> <select class="bnn-post-speed">' +
      '<option value="fast">one trajectory a frame</option>' +
      '<option value="slow">slow: grow each trajectory</option></select></span></div>' +
      '<canvas></canvas><div class="bnn-post-info"></div><div class="bnn-post-error"></div>';
    this.canvas = root.querySelector("canvas");
    this.info = root.querySelector(".bnn-post-info");
    this.title = root.querySelector(".bnn-post-title");
    this.controls = root.querySelector(".bnn-post-controls");
    this.image = document.createElement("canvas");
    this.frames = 0;
    this.playing = true;
    this.slow = false;
    this.k = 0;
    this.sub = 0;
    const play = root.querySelector(".bnn-post-play");
    play.addEventListener("click", () => {
      this.playing = !this.playing;
      play.textContent = this.playing ? "Pause" : "Play";
    });
    root.querySelector(".bnn-post-replay").addEventListener("click", () => {
      this.k = 0; this.sub = 0; this.playing = true; play.textContent = "Pause";
      this.draw();
    });
    root.querySelector(".bnn-post-speed").addEventListener("change", (ev) => {
      this.slow = ev.target.value === "slow"; this.sub = 0;
    });
    this.last = 0;
    const loop = (t) => {
      const c = this.chain;
      const fps = this.slow ? SLOW_FPS : FAST_FPS;
      if (c && this.view && this.view.chain && this.playing && t - this.last >= 1000 / fps - 2) {
        this.last = t;
        if (this.slow && this.sub < c.lengths[this.k] + 3) {
          this.sub += 1; this.draw();
        } else if (this.k < c.total - 1) {
          this.k += 1; this.sub = 0; this.draw();
        }
      }
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  }

  load(d) {
    if (d.density_id !== this.densityId) {
      paintGrid(this.image, decodeBytes(d.density), d.nx, d.ny, POST_LUT);
      this.densityId = d.density_id;
    }
    this.view = d;
    if (d.chain && (!this.chain || this.chain.id !== d.chain.id)) {
      const c = d.chain;
      const offsets = new Int32Array(c.total + 1);
      for (let t = 0; t < c.total; t++) offsets[t + 1] = offsets[t] + c.lengths[t];
      this.chain = {
        id: c.id, total: c.total, warmup: c.warmup, maxDoublings: c.max_doublings,
        lengths: c.lengths, doublings: c.doublings, offsets: offsets,
        path: decodeFloats(c.paths), mom: decodeFloats(c.momenta),
        pos: decodeFloats(c.positions), eps: decodeFloats(c.step_size),
        moved: c.moved, div: c.divergent, turn: c.turning, init: c.init,
      };
      this.k = 0;
      this.sub = 0;
    }
    this.controls.style.display = d.chain ? "" : "none";
    setText(this.title, d.title);
    this.draw();
  }

  draw() {
    const d = this.view;
    const rect = this.canvas.getBoundingClientRect();
    const w = Math.max(60, rect.width), h = Math.max(60, rect.height);
    const dpr = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(w * dpr)) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
    }
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.imageSmoothingEnabled = true;
    // the plot's box: room on the left and below for the axes' titles when the payload names them
    const left = d.axes ? AXIS_LEFT : POST_PAD, bottom = d.axes ? AXIS_BOTTOM : POST_PAD;
    const pw = w - left - POST_PAD, ph = h - POST_PAD - bottom;
    ctx.drawImage(this.image, left, POST_PAD, pw, ph);
    const [x0, x1, y0, y1] = d.box;
    const px = (x) => left + (x - x0) / (x1 - x0) * pw;
    const py = (y) => POST_PAD + ph - (y - y0) / (y1 - y0) * ph;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, POST_PAD, pw, ph);
    ctx.clip();
    let info = d.note || "";
    if (d.gaussian) info = this.drawGaussian(ctx, d.gaussian, px, py);
    if (d.chain && this.chain) info = this.drawChain(ctx, px, py);
    ctx.restore();
    ctx.strokeStyle = "#888";
    ctx.lineWidth = 1;
    ctx.strokeRect(left, POST_PAD, pw, ph);
    if (d.axes) this.drawAxes(ctx, d.axes, d.box, left, pw, ph);
    setText(this.info, info);
    this.frames += 1;
    this.root.dataset.frames = String(this.frames);
    this.root.dataset.method = d.method;
  }

  drawAxes(ctx, names, box, left, pw, ph) {
    // Each axis: its parameter's name in the middle, its two end values at the ends.
    const [x0, x1, y0, y1] = box;
    const base = POST_PAD + ph;
    ctx.fillStyle = "#333";
    ctx.font = AXIS_FONT;
    ctx.textBaseline = "top";
    ctx.textAlign = "left";
    ctx.fillText(fixed(x0, 1), left, base + 3);
    ctx.textAlign = "right";
    ctx.fillText(fixed(x1, 1), left + pw, base + 3);
    ctx.textAlign = "center";
    ctx.fillText(names[0], left + pw / 2, base + 14);
    ctx.save();
    ctx.translate(left - 3, base);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "bottom";
    ctx.textAlign = "left";
    ctx.fillText(fixed(y0, 1), 0, 0);
    ctx.textAlign = "right";
    ctx.fillText(fixed(y1, 1), ph, 0);
    ctx.textAlign = "center";
    ctx.fillText(names[1], ph / 2, -13);
    ctx.restore();
  }

  drawGaussian(ctx, g, px, py) {
    const [m1, m2] = g.mean;
    const [a, b, , c] = g.cov;  // [[a, b], [b, c]]
    // Eigen-decomposition of the 2×2 covariance: the ellipse's axes.
    const tr = (a + c) / 2, det = Math.sqrt(Math.max(0, ((a - c) / 2) ** 2 + b * b));
    const l1 = tr + det, l2 = Math.max(0, tr - det);
    const angle = Math.abs(b) < 1e-300 ? (a >= c ? 0 : Math.PI / 2) : Math.atan2(l1 - a, b);
    ctx.strokeStyle = "#d62728";
    for (const [k, width] of [[1, 2.5], [2, 1.2]]) {
      ctx.beginPath();
      for (let s = 0; s <= 96; s++) {
        const u = 2 * Math.PI * s / 96;
        const e1 = k * Math.sqrt(l1) * Math.cos(u), e2 = k * Math.sqrt(l2) * Math.sin(u);
        const X = px(m1 + e1 * Math.cos(angle) - e2 * Math.sin(angle));
        const Y = py(m2 + e1 * Math.sin(angle) + e2 * Math.cos(angle));
        if (s === 0) ctx.moveTo(X, Y); else ctx.lineTo(X, Y);
      }
      ctx.lineWidth = width;
      ctx.stroke();
    }
    ctx.fillStyle = "#d62728";
    ctx.beginPath();
    ctx.arc(px(m1), py(m2), 4, 0, 2 * Math.PI);
    ctx.fill();
    return `Q = N(μ, Σ): μ = (${fixed(m1, 3)}, ${fixed(m2, 3)}), σ = (${fixed(Math.sqrt(a), 3)}, ` +
      `${fixed(Math.sqrt(c), 3)}), correlation ${fixed(b / Math.sqrt(a * c), 2)}; ` +
      "the 1σ and 2σ ellipses in red.";
  }

  drawChain(ctx, px, py) {
    const c = this.chain;
    const k = this.k;
    this.root.dataset.transition = String(k);
    const state = (t) => (t < 0 ? c.init : [c.pos[2 * t], c.pos[2 * t + 1]]);
    let kept = 0, moved = 0;
    for (let t = 0; t < k; t++) {  // the chain so far: warm-up grey, samples red
      const warm = t < c.warmup;
      ctx.fillStyle = warm ? "rgba(90, 90, 90, 0.45)" : "rgba(214, 39, 40, 0.6)";
      const s = warm ? 2 : 3;
      ctx.fillRect(px(c.pos[2 * t]) - s / 2, py(c.pos[2 * t + 1]) - s / 2, s, s);
      if (!warm) { kept += 1; if (c.moved[t] === "1") moved += 1; }
    }
    for (let back = 3; back >= 1; back--) {  // the last trajectories, fading
      const t = k - back;
      if (t < 0) continue;
      this.path(ctx, px, py, t, c.lengths[t], `rgba(255, 127, 14, ${0.4 - back * 0.1})`, 1);
    }
    const n = c.lengths[k];
    const shown = this.slow ? Math.min(n, this.sub + 1) : n;
    this.path(ctx, px, py, k, shown, "#ff7f0e", 2);
    const o = c.offsets[k] * 2;
    ctx.fillStyle = "#ff7f0e";
    for (let s = 0; s < shown; s++) {
      ctx.fillRect(px(c.path[o + 2 * s]) - 1.5, py(c.path[o + 2 * s + 1]) - 1.5, 3, 3);
    }
    const [sx, sy] = state(k - 1);  // where this transition started
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.arc(px(sx), py(sy), 4.5, 0, 2 * Math.PI);
    ctx.stroke();
    const complete = shown >= n;
    if (complete) {  // the end momenta: the U-turn test compares them with the trajectory
      const ends = [[o, 0], [o + 2 * (n - 1), 1]];
      for (const [at, e] of ends) {
        const p1 = c.mom[4 * k + 2 * e], p2 = c.mom[4 * k + 2 * e + 1];
        const norm = Math.hypot(p1, p2) || 1;
        this.arrow(ctx, px(c.path[at]), py(c.path[at + 1]), 22 * p1 / norm, -22 * p2 / norm,
                   "#6a3d9a");
      }
      const nx = c.pos[2 * k], ny = c.pos[2 * k + 1];
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = c.moved[k] === "1" ? "#2ca02c" : "#d62728";
      ctx.beginPath();
      ctx.arc(px(nx), py(ny), 7, 0, 2 * Math.PI);
      ctx.stroke();
    }
    const phase = k < c.warmup ? `warm-up ${k + 1}/${c.warmup} (adapting ε)` :
      `sampling ${k - c.warmup + 1}/${c.total - c.warmup}`;
    const why = c.div[k] === "1" ? "stopped: divergent (energy error too large)" :
      (c.turn[k] === "1" ? "stopped by a U-turn: the ends' momenta (purple) point back" :
        `stopped at the depth limit (2^${c.maxDoublings} steps)`);
    const verdict = c.moved[k] === "1" ? "the next state (green) drawn from the trajectory" :
      "the chain stayed where it was (red)";
    const rate = kept ? ` · ${kept} samples, moved on ${(100 * moved / kept).toFixed(0)}%` : "";
    return `${phase} · ε = ${c.eps[k].toFixed(3)} · ${c.doublings[k]} doubling` +
      `${c.doublings[k] === 1 ? "" : "s"}, ${n} states kept · ` +
      (complete ? `${why} · ${verdict}` : "integrating…") + rate;
  }

  path(ctx, px, py, t, n, colour, width) {
    const c = this.chain;
    const o = c.offsets[t] * 2;
    ctx.beginPath();
    for (let s = 0; s < n; s++) {
      const X = px(c.path[o + 2 * s]), Y = py(c.path[o + 2 * s + 1]);
      if (s === 0) ctx.moveTo(X, Y); else ctx.lineTo(X, Y);
    }
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.stroke();
  }

  arrow(ctx, x, y, dx, dy, colour) {
    const ex = x + dx, ey = y + dy, a = Math.atan2(dy, dx);
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x, y); ctx.lineTo(ex, ey);
    ctx.moveTo(ex, ey); ctx.lineTo(ex - 7 * Math.cos(a - 0.45), ey - 7 * Math.sin(a - 0.45));
    ctx.moveTo(ex, ey); ctx.lineTo(ex - 7 * Math.cos(a + 0.45), ey - 7 * Math.sin(a + 0.45));
    ctx.stroke();
  }
}

export default function (component) {
  const { data, parentElement } = component;
  let root = parentElement.querySelector(".bnn-post");
  if (!root) {
    root = document.createElement("div");
    root.className = "bnn-post";
    parentElement.appendChild(root);
    root.__view = new PosteriorView(root);
  }
  if (!data) return;
  try {
    root.__view.load(data);
    setText(root.querySelector(".bnn-post-error"), "");
  } catch (err) {
    setText(root.querySelector(".bnn-post-error"), "Chart error: " + err);
  }
}
