// A Plotly figure that stays mounted and is updated with Plotly.react: `st.plotly_chart` derives
// its element id from the figure, so every new figure remounts the chart (a full Plotly.newPlot
// in the browser per slider step). plotly.js is served by the app (static/plotly.min.js).
const FIGURE_PLOTLY_SRC = "app/static/plotly.min.js";
const FONT = { family: '"Source Sans Pro", sans-serif', size: 13, color: "#31333F" };
// automargin: tick labels and titles get room (the figures' own margins are tight).
const AXIS = { gridcolor: "#e6e9ef", zerolinecolor: "#d5d8de", linecolor: "#d5d8de",
               automargin: true };

function loadFigurePlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.__bnnPlotlyLoading) {
    window.__bnnPlotlyLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = new URL(FIGURE_PLOTLY_SRC, document.baseURI).href;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => reject(new Error("could not load plotly.js from " + script.src));
      document.head.appendChild(script);
    });
  }
  return window.__bnnPlotlyLoading;
}

// The figure's layout over a light theme close to Streamlit's (the figure's own keys win).
function themed(layout) {
  const out = Object.assign({ paper_bgcolor: "white", plot_bgcolor: "white", autosize: true },
                            layout, { font: Object.assign({}, FONT, layout.font || {}) });
  for (const key of new Set(["xaxis", "yaxis", ...Object.keys(layout)])) {
    if (/^[xy]axis\d*$/.test(key)) out[key] = Object.assign({}, AXIS, layout[key] || {});
  }
  return out;
}

export default function (component) {
  const { data, parentElement } = component;
  let root = parentElement.querySelector(".bnn-figure");
  if (!root) {
    root = document.createElement("div");
    root.className = "bnn-figure";
    parentElement.appendChild(root);
  }
  if (!data) return;
  const spec = JSON.parse(data.spec);
  root.style.minHeight = (spec.layout.height || 400) + "px";
  root.__bnnLatest = data.spec;
  loadFigurePlotly().then((Plotly) => {
    if (root.__bnnLatest !== data.spec) return;  // a newer figure arrived meanwhile
    Plotly.react(root, spec.data, themed(spec.layout),
                 { displayModeBar: false, responsive: true });
    root.dataset.drawn = data.spec.length;
  }).catch((err) => { root.textContent = String(err); });
}
