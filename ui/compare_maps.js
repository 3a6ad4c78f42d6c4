// BNN Lab compare maps: one canvas per method (uncertainty on a shared [0, ln K] scale, the
// decision boundary in white, the training points in the payload's class colours, the gap's
// box), repainted in place on every tick so nothing flickers while the methods train.
const PAD = 4;
const LUT = makeLut(VIRIDIS_STOPS);

class CompareMaps {
  constructor(root) {
    this.root = root;
    root.innerHTML = '<div class="bnn-cmp-row"></div><div class="bnn-cmp-readout">&nbsp;</div>' +
      '<div class="bnn-cmp-error"></div>';
    this.readout = root.querySelector(".bnn-cmp-readout");
    this.geometry = [];  // per map: what the last draw put where, for the mouse readout
    this.row = root.querySelector(".bnn-cmp-row");
    this.image = document.createElement("canvas");
    this.redraws = 0;
    new ResizeObserver(() => { if (this.data) this.draw(this.data); }).observe(root);
  }

  cells(d) {
    const names = d.maps.map((m) => m.method).join(",");
    if (this.names === names) return;
    this.names = names;
    this.row.innerHTML = "";
    for (let k = 0; k < d.maps.length; k++) {
      const cell = document.createElement("div");
      cell.className = "bnn-cmp-cell";
      cell.innerHTML = '<div class="bnn-cmp-title"></div><canvas></canvas>';
      const canvas = cell.querySelector("canvas");
      canvas.addEventListener("mousemove", (ev) => this.showValue(k, ev));
      canvas.addEventListener("mouseleave", () => { this.readout.innerHTML = "&nbsp;"; });
      this.row.appendChild(cell);
    }
    const bar = document.createElement("div");
    bar.className = "bnn-cmp-bar";
    bar.innerHTML = '<div class="bnn-cmp-grad"></div><span class="bnn-cmp-hi"></span>' +
      '<span class="bnn-cmp-lo">0</span>';
    bar.querySelector(".bnn-cmp-grad").style.background = gradientCss(VIRIDIS_STOPS);
    this.row.appendChild(bar);
  }

  // "MAP · x = 0.12, y = −0.40 · total 0.231 nats" for the grid cell under the mouse.
  showValue(k, ev) {
    const geo = this.geometry[k];
    const d = this.data;
    if (!geo || !d) return;
    const rect = ev.target.getBoundingClientRect();
    const fx = (ev.clientX - rect.left - PAD) / (geo.w - 2 * PAD);
    const fy = (ev.clientY - rect.top - PAD) / (geo.h - 2 * PAD);
    const x = geo.x0 + fx * (geo.x1 - geo.x0);
    const y = geo.y1 - fy * (geo.y1 - geo.y0);
    const g = d.grid;
    const i = Math.round((x - g.x0) / g.dx);
    const j = Math.round((y - g.y0) / g.dy);
    if (i < 0 || j < 0 || i >= g.nx || j >= g.ny) return;
    const value = (geo.values[j * g.nx + i] / 255) * d.vmax;
    setText(this.readout, `${geo.title} · x = ${fixed(x, 2)}, y = ${fixed(y, 2)} · ` +
      `${d.kind} ${fixed(value, 3)} nats`);
  }

  draw(d) {
    this.data = d;
    this.cells(d);
    const g = d.grid;
    const train = decodePoints(d.train);
    const x0 = g.x0 - g.dx / 2, x1 = g.x0 + g.dx * (g.nx - 0.5);
    const y0 = g.y0 - g.dy / 2, y1 = g.y0 + g.dy * (g.ny - 0.5);
    const cells = this.row.querySelectorAll(".bnn-cmp-cell");
    setText(this.row.querySelector(".bnn-cmp-hi"), d.vmax.toFixed(2));
    d.maps.forEach((m, k) => {
      const cell = cells[k];
      setText(cell.querySelector(".bnn-cmp-title"), m.title);
      cell.dataset.method = m.method;
      const canvas = cell.querySelector("canvas");
      const rect = canvas.getBoundingClientRect();
      const w = Math.max(40, rect.width), h = Math.max(40, rect.height);
      const dpr = window.devicePixelRatio || 1;
      if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
        canvas.width = Math.round(w * dpr);
        canvas.height = Math.round(h * dpr);
      }
      const px = (x) => PAD + ((x - x0) / (x1 - x0)) * (w - 2 * PAD);
      const py = (y) => PAD + (1 - (y - y0) / (y1 - y0)) * (h - 2 * PAD);
      const values = decodeBytes(m.values);
      this.geometry[k] = { w, h, x0, x1, y0, y1, values, title: m.title };
      paintGrid(this.image, values, g.nx, g.ny, LUT);
      const ctx = canvas.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, w, h);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(this.image, px(x0), py(y1), px(x1) - px(x0), py(y0) - py(y1));
      const seg = decodeSegments(m.boundary);
      ctx.strokeStyle = "white";
      ctx.lineWidth = 2;
      ctx.beginPath();
      for (let s = 0; s + 3 < seg.length; s += 4) {
        ctx.moveTo(px(seg[s]), py(seg[s + 1]));
        ctx.lineTo(px(seg[s + 2]), py(seg[s + 3]));
      }
      ctx.stroke();
      const colors = classColors(d);
      for (let p = 0; p < train.x.length; p++) {
        ctx.beginPath();
        ctx.arc(px(train.x[p]), py(train.y[p]), 2.2, 0, 2 * Math.PI);
        ctx.fillStyle = colors[train.c[p]];
        ctx.fill();
        ctx.strokeStyle = "white";
        ctx.lineWidth = 0.5;
        ctx.stroke();
      }
      if (d.gap) {
        const [gx0, gx1, gy0, gy1] = d.gap;
        ctx.setLineDash([4, 3]);
        ctx.strokeStyle = "#e15759";
        ctx.lineWidth = 1.5;
        ctx.strokeRect(px(gx0), py(gy1), px(gx1) - px(gx0), py(gy0) - py(gy1));
        ctx.setLineDash([]);
      }
      ctx.strokeStyle = "#888";
      ctx.lineWidth = 1;
      ctx.strokeRect(PAD, PAD, w - 2 * PAD, h - 2 * PAD);
    });
    this.redraws += 1;
    this.root.dataset.redraws = String(this.redraws);
  }
}

export default function (component) {
  const { data, parentElement } = component;
  let root = parentElement.querySelector(".bnn-cmp");
  if (!root) {
    root = document.createElement("div");
    root.className = "bnn-cmp";
    parentElement.appendChild(root);
    root.__maps = new CompareMaps(root);
  }
  if (!data) return;
  try {
    root.__maps.draw(data);
    setText(root.querySelector(".bnn-cmp-error"), "");
  } catch (err) {
    setText(root.querySelector(".bnn-cmp-error"), "Chart error: " + err);
  }
}
