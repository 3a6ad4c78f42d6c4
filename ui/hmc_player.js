// BNN Lab chapter 3: HMC on the exact posterior, played in the browser. The whole chain
// (every leapfrog trajectory, accept/reject, step size, warm-up) arrives once from
// `bnnlab.exact.lab.hmc_payload`; this module draws one trajectory per animation frame.
const BLUE_STOPS = [[0, [247, 251, 255]], [0.35, [158, 202, 225]], [0.7, [66, 146, 198]],
                    [1, [8, 48, 107]]];
const HMC_LUT = makeLut(BLUE_STOPS);
const FPS = 30;
const HMC_PAD = 4;

class HmcPlayer {
  constructor(root) {
    this.root = root;
    root.innerHTML = '<div class="bnn-hmc-bar"><button class="bnn-hmc-play">Pause</button>' +
      '<button class="bnn-hmc-replay">Replay</button><span class="bnn-hmc-info"></span></div>' +
      '<canvas></canvas><div class="bnn-hmc-error"></div>';
    this.canvas = root.querySelector("canvas");
    this.info = root.querySelector(".bnn-hmc-info");
    this.image = document.createElement("canvas");
    this.frames = 0;
    this.playing = true;
    root.querySelector(".bnn-hmc-play").addEventListener("click", (ev) => {
      this.playing = !this.playing;
      ev.target.textContent = this.playing ? "Pause" : "Play";
    });
    root.querySelector(".bnn-hmc-replay").addEventListener("click", () => {
      this.k = 0;
      this.playing = true;
      root.querySelector(".bnn-hmc-play").textContent = "Pause";
    });
    this.last = 0;
    const loop = (t) => {
      if (this.d && this.playing && t - this.last >= 1000 / FPS - 2) {
        this.last = t;
        if (this.k < this.d.total - 1) { this.k += 1; this.draw(); }
      }
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  }

  load(d) {
    if (this.d && this.d.id === d.id) return;
    this.d = {
      id: d.id, total: d.total, steps: d.leapfrog + 1, box: d.box, warmup: d.warmup,
      path: decodeFloats(d.trajectories), pos: decodeFloats(d.positions),
      eps: decodeFloats(d.step_size), acc: d.accepted, div: d.divergent,
    };
    paintGrid(this.image, decodeBytes(d.density), d.nx, d.ny, HMC_LUT);
    this.k = 0;
    this.draw();
  }

  draw() {
    const d = this.d;
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
    ctx.drawImage(this.image, HMC_PAD, HMC_PAD, w - 2 * HMC_PAD, h - 2 * HMC_PAD);
    const [x0, x1, y0, y1] = d.box;
    const px = (x) => HMC_PAD + (x - x0) / (x1 - x0) * (w - 2 * HMC_PAD);
    const py = (y) => h - HMC_PAD - (y - y0) / (y1 - y0) * (h - 2 * HMC_PAD);
    const k = this.k;
    let kept = 0, accepted = 0;
    ctx.fillStyle = "rgba(214, 39, 40, 0.55)";
    for (let t = 0; t <= k; t++) {  // samples so far (after warm-up)
      if (t < d.warmup) continue;
      kept += 1;
      if (d.acc[t] === "1") accepted += 1;
      ctx.fillRect(px(d.pos[2 * t]) - 1.5, py(d.pos[2 * t + 1]) - 1.5, 3, 3);
    }
    for (let back = 3; back >= 0; back--) {  // the last trajectories, fading
      const t = k - back;
      if (t < 0) continue;
      const o = t * d.steps * 2;
      ctx.beginPath();
      for (let s = 0; s < d.steps; s++) {
        const X = px(d.path[o + 2 * s]), Y = py(d.path[o + 2 * s + 1]);
        if (s === 0) ctx.moveTo(X, Y); else ctx.lineTo(X, Y);
      }
      ctx.strokeStyle = back === 0 ? "#ff7f0e" : `rgba(255, 127, 14, ${0.35 - back * 0.08})`;
      ctx.lineWidth = back === 0 ? 2 : 1;
      ctx.stroke();
      if (back === 0) {
        ctx.fillStyle = "#ff7f0e";
        for (let s = 1; s < d.steps - 1; s++) {
          ctx.fillRect(px(d.path[o + 2 * s]) - 1.5, py(d.path[o + 2 * s + 1]) - 1.5, 3, 3);
        }
        const ex = px(d.path[o + 2 * (d.steps - 1)]), ey = py(d.path[o + 2 * (d.steps - 1) + 1]);
        ctx.lineWidth = 2.5;
        ctx.strokeStyle = d.acc[t] === "1" ? "#2ca02c" : "#d62728";
        ctx.beginPath();
        if (d.acc[t] === "1") {
          ctx.arc(ex, ey, 6, 0, 2 * Math.PI);
        } else {
          ctx.moveTo(ex - 5, ey - 5); ctx.lineTo(ex + 5, ey + 5);
          ctx.moveTo(ex + 5, ey - 5); ctx.lineTo(ex - 5, ey + 5);
        }
        ctx.stroke();
      }
    }
    ctx.strokeStyle = "#888";
    ctx.lineWidth = 1;
    ctx.strokeRect(HMC_PAD, HMC_PAD, w - 2 * HMC_PAD, h - 2 * HMC_PAD);
    const phase = k < d.warmup ? `warm-up ${k + 1}/${d.warmup} (adapting ε)` :
      `sampling ${k - d.warmup + 1}/${d.total - d.warmup}`;
    const verdict = d.acc[k] === "1" ? "accepted" : (d.div[k] === "1" ? "diverged" : "rejected");
    const rate = kept ? ` · acceptance ${(accepted / kept).toFixed(2)} · ${kept} samples` : "";
    setText(this.info, `${phase} · ε = ${d.eps[k].toFixed(3)} · ${d.steps - 1} leapfrog ` +
      `steps · ${verdict}${rate}`);
    this.frames += 1;
    this.root.dataset.frames = String(this.frames);
    this.root.dataset.transition = String(k);
  }
}

export default function (component) {
  const { data, parentElement } = component;
  let root = parentElement.querySelector(".bnn-hmc");
  if (!root) {
    root = document.createElement("div");
    root.className = "bnn-hmc";
    parentElement.appendChild(root);
    root.__player = new HmcPlayer(root);
  }
  if (!data) return;
  try {
    root.__player.load(data);
    setText(root.querySelector(".bnn-hmc-error"), "");
  } catch (err) {
    setText(root.querySelector(".bnn-hmc-error"), "Chart error: " + err);
  }
}
