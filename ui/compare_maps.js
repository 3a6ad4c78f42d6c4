// BNN Lab compare maps: one canvas per method (uncertainty on a shared [0, ln 2] scale, the
// p = 0.5 boundary in white, the training points, the gap's box), repainted in place on every
// tick so nothing flickers while the methods train.
const CLASS_COLORS = ["#f28e2b", "#4e79a7"];
const VIRIDIS = [[0, [68, 1, 84]], [0.25, [59, 82, 139]], [0.5, [33, 145, 140]],
                 [0.75, [94, 201, 98]], [1, [253, 231, 37]]];
const PAD = 4;

function lut(stops) {
  const out = new Uint8ClampedArray(256 * 3);
  for (let v = 0; v < 256; v++) {
    const t = v / 255;
    let k = 0;
    while (k < stops.length - 2 && t > stops[k + 1][0]) k++;
    const [t0, c0] = stops[k];
    const [t1, c1] = stops[k + 1];
    const f = Math.min(1, Math.max(0, (t - t0) / (t1 - t0)));
    for (let ch = 0; ch < 3; ch++) out[v * 3 + ch] = c0[ch] + f * (c1[ch] - c0[ch]);
  }
  return out;
}
const LUT = lut(VIRIDIS);

function bytesOf(text) {
  const bin = atob(text || "");
  const bytes = new Uint8Array(bin.length);
  for (let k = 0; k < bin.length; k++) bytes[k] = bin.charCodeAt(k);
  return bytes;
}

function floatsOf(text) {
  const bytes = bytesOf(text);
  return new Float32Array(bytes.buffer, 0, bytes.length >> 2);
}

function segmentsOf(b) {
  const bytes = bytesOf(b.q);
  const q = new Uint16Array(bytes.buffer, 0, bytes.length >> 1);
  const out = new Float64Array(q.length);
  for (let k = 0; k < q.length; k += 2) {
    out[k] = b.x0 + (q[k] / 65535) * (b.x1 - b.x0);
    out[k + 1] = b.y0 + (q[k + 1] / 65535) * (b.y1 - b.y0);
  }
  return out;
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

class CompareMaps {
  constructor(root) {
    this.root = root;
    root.innerHTML = '<div class="bnn-cmp-row"></div><div class="bnn-cmp-error"></div>';
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
      this.row.appendChild(cell);
    }
    const bar = document.createElement("div");
    bar.className = "bnn-cmp-bar";
    bar.innerHTML = '<div class="bnn-cmp-grad"></div><span class="bnn-cmp-hi"></span>' +
      '<span class="bnn-cmp-lo">0</span>';
    bar.querySelector(".bnn-cmp-grad").style.background = "linear-gradient(to top, " +
      VIRIDIS.map(([t, c]) => `rgb(${c[0]},${c[1]},${c[2]}) ${t * 100}%`).join(", ") + ")";
    this.row.appendChild(bar);
  }

  draw(d) {
    this.data = d;
    this.cells(d);
    const g = d.grid;
    const train = { x: floatsOf(d.train.x), y: floatsOf(d.train.y), c: d.train.c };
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
      // The grid as an image, row 0 at the top (largest y).
      const values = bytesOf(m.values);
      this.image.width = g.nx;
      this.image.height = g.ny;
      const ictx = this.image.getContext("2d");
      const img = ictx.createImageData(g.nx, g.ny);
      for (let j = 0; j < g.ny; j++) {
        const row = (g.ny - 1 - j) * g.nx;
        for (let i = 0; i < g.nx; i++) {
          const v = values[j * g.nx + i];
          const o = (row + i) * 4;
          img.data[o] = LUT[v * 3];
          img.data[o + 1] = LUT[v * 3 + 1];
          img.data[o + 2] = LUT[v * 3 + 2];
          img.data[o + 3] = 255;
        }
      }
      ictx.putImageData(img, 0, 0);
      const ctx = canvas.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, w, h);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(this.image, px(x0), py(y1), px(x1) - px(x0), py(y0) - py(y1));
      const seg = segmentsOf(m.boundary);
      ctx.strokeStyle = "white";
      ctx.lineWidth = 2;
      ctx.beginPath();
      for (let s = 0; s + 3 < seg.length; s += 4) {
        ctx.moveTo(px(seg[s]), py(seg[s + 1]));
        ctx.lineTo(px(seg[s + 2]), py(seg[s + 3]));
      }
      ctx.stroke();
      for (let p = 0; p < train.x.length; p++) {
        ctx.beginPath();
        ctx.arc(px(train.x[p]), py(train.y[p]), 2.2, 0, 2 * Math.PI);
        ctx.fillStyle = CLASS_COLORS[train.c.charCodeAt(p) - 48];
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
