// BNN Lab live chart: one set of Plotly divs per mount, updated in place with Plotly.react,
// so the chart never blanks, zoom survives redraws (uirevision) and clicks register while
// training. plotly.js is served by the app itself (static/plotly.min.js), never a CDN.
const PLOTLY_SRC = "app/static/plotly.min.js";
const CLASS_COLORS = ["#f28e2b", "#4e79a7"];
const MEAN_SCALE = [[0, "#f6a04d"], [0.5, "#f7f7f7"], [1, "#5b8fd1"]];
const UNC_SCALE = "Viridis";

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

function decodeGrid(b64, nx, ny, scale) {
  const bin = atob(b64);
  const z = new Array(ny);
  for (let j = 0; j < ny; j++) {
    const row = new Array(nx);
    for (let i = 0; i < nx; i++) row[i] = (bin.charCodeAt(j * nx + i) / 255) * scale;
    z[j] = row;
  }
  return z;
}

function pointTraces(pts, test, size) {
  const traces = [];
  for (const cls of [0, 1]) {
    const xs = [], ys = [];
    for (let i = 0; i < pts.c.length; i++) {
      if (pts.c[i] === cls) { xs.push(pts.x[i]); ys.push(pts.y[i]); }
    }
    traces.push({
      type: xs.length > 1500 ? "scattergl" : "scatter", mode: "markers", x: xs, y: ys,
      hoverinfo: "skip",
      name: (test ? "test " : "train ") + "class " + cls, showlegend: false,
      marker: test
        ? { size: size, color: "rgba(0,0,0,0)", line: { color: CLASS_COLORS[cls], width: 1.5 } }
        : { size: size, color: CLASS_COLORS[cls], line: { color: "white", width: 0.7 } },
    });
  }
  return traces;
}

function heatmap(d, key, scale, zmax, colorscale, title) {
  const g = d.grid;
  return {
    type: "heatmap", z: decodeGrid(d[key], g.nx, g.ny, scale), x0: g.x0, dx: g.dx,
    y0: g.y0, dy: g.dy, zmin: 0, zmax: zmax, colorscale: colorscale, zsmooth: "fast",
    colorbar: { thickness: 10, len: 0.9, title: { text: title, side: "right" } },
    hovertemplate: "x=%{x:.2f}<br>y=%{y:.2f}<br>" + title + "=%{z:.3f}<extra></extra>",
  };
}

function mapLayout(d, title) {
  return {
    title: { text: title, font: { size: 14 } },
    margin: { l: 40, r: 10, t: 36, b: 34 }, height: 430,
    xaxis: { range: [d.grid.x0, d.grid.x0 + d.grid.dx * (d.grid.nx - 1)], zeroline: false },
    yaxis: { range: [d.grid.y0, d.grid.y0 + d.grid.dy * (d.grid.ny - 1)], zeroline: false,
             scaleanchor: "x", scaleratio: 1 },
    uirevision: d.view_revision, dragmode: "pan", hovermode: "closest",
  };
}

async function draw(Plotly, root, d, setTrigger) {
  const mapDiv = root.querySelector(".bnn-map");
  const uncDiv = root.querySelector(".bnn-unc");
  const elboDiv = root.querySelector(".bnn-elbo");
  const config = { displaylogo: false, responsive: true, scrollZoom: true,
                   modeBarButtonsToRemove: ["select2d", "lasso2d"] };
  const bg = d.boundary_grid;
  const boundaries = d.boundaries.map((b) => ({
    type: "contour", z: decodeGrid(b, bg.n, bg.n, 1), x0: bg.x0, dx: bg.dx, y0: bg.y0,
    dy: bg.dy, showscale: false, showlegend: false, hoverinfo: "skip",
    contours: { start: 0.5, end: 0.5, size: 1, coloring: "none" },
    line: { color: "rgba(40,40,40,0.45)", width: 1 },
  }));
  const mean = heatmap(d, "mean", 1, 1, MEAN_SCALE, "P(y=1)");
  const mapTraces = [mean, ...boundaries, ...pointTraces(d.train, false, 6),
                     ...pointTraces(d.test, true, 6)];
  const unc = heatmap(d, "uncertainty", d.uncertainty_max, d.uncertainty_max, UNC_SCALE,
                      d.uncertainty_kind);
  const uncTraces = [unc, ...pointTraces(d.train, false, 4)];
  const h = d.history;
  const elboTraces = [
    { type: "scatter", mode: "lines", name: h.method === "vi" ? "ELBO" : "MAP objective",
      x: h.step, y: h.elbo, line: { color: "#222", width: 2 } },
    { type: "scatter", mode: "lines", name: h.method === "vi" ? "E_q[log P(Y|X,θ)]" : "log P(Y|X,θ)",
      x: h.step, y: h.ell, line: { color: "#4e79a7" } },
    { type: "scatter", mode: "lines", name: h.method === "vi" ? "−β·KL(q‖prior)" : "−β·‖θ‖²/2σ²",
      x: h.step, y: h.neg_kl, line: { color: "#e15759" } },
  ];
  const elboLayout = {
    title: { text: "Objective per step", font: { size: 14 } }, height: 250,
    margin: { l: 60, r: 10, t: 36, b: 34 }, xaxis: { title: { text: "step" } },
    legend: { orientation: "h", y: -0.25 }, uirevision: d.view_revision,
  };
  const mapTitle = d.mode === "add" ? "Mean prediction — click to add a class " + d.add_class + " point"
    : d.mode === "probe" ? "Mean prediction — click to probe" : "Mean prediction P(y=1)";
  await Promise.all([
    Plotly.react(mapDiv, mapTraces, mapLayout(d, mapTitle), config),
    Plotly.react(uncDiv, uncTraces, mapLayout(d, "Uncertainty: " + d.uncertainty_kind + " (nats)"), config),
    Plotly.react(elboDiv, elboTraces, elboLayout, config),
  ]);
  for (const div of [mapDiv, uncDiv]) {
    if (!div.__bnnBound) {
      div.__bnnBound = true;
      div.on("plotly_click", (ev) => {
        if (!ev || !ev.points || !ev.points.length) return;
        const p = ev.points[0];
        root.__setTrigger("click", { x: p.x, y: p.y, t: Date.now() });
      });
    }
  }
  window.__bnnRedraws = (window.__bnnRedraws || 0) + 1;
  root.dataset.redraws = String(window.__bnnRedraws);
  root.dataset.step = String(d.step);
}

async function drawLoop(root) {
  root.__busy = true;
  try {
    const Plotly = await loadPlotly();
    // Draw only the newest payload: frames that arrive while drawing are skipped, not queued.
    while (root.__latest) {
      const d = root.__latest;
      root.__latest = null;
      const started = performance.now();
      await draw(Plotly, root, d);
      root.dataset.drawMs = String(Math.round(performance.now() - started));
    }
    root.querySelector(".bnn-error").textContent = "";
  } catch (err) {
    root.querySelector(".bnn-error").textContent = "Chart error: " + err;
  }
  root.__busy = false;
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let root = parentElement.querySelector(".bnn-live");
  if (!root) {
    root = document.createElement("div");
    root.className = "bnn-live";
    root.innerHTML = '<div class="bnn-row"><div class="bnn-map"></div><div class="bnn-unc"></div>' +
      '</div><div class="bnn-elbo"></div><div class="bnn-error"></div>';
    parentElement.appendChild(root);
  }
  root.__setTrigger = setTriggerValue;
  if (!data) return;
  root.__latest = data;
  if (!root.__busy) drawLoop(root);
}
