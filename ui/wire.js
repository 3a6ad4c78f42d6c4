// Shared by the app's canvas components (prepended to each one's module by `ui/wire.py`): the
// wire format of `bnnlab.wire` (base64 uint8 grids, float32 arrays, uint16 segments),
// colour tables, and DOM helpers.
const VIRIDIS_STOPS = [[0, [68, 1, 84]], [0.25, [59, 82, 139]], [0.5, [33, 145, 140]],
                       [0.75, [94, 201, 98]], [1, [253, 231, 37]]];

// Write text only when it changed: every DOM write invalidates style and layout.
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function decodeBytes(text) {
  if (text instanceof Uint8Array) return text;  // a pushed frame's raw bytes (live_push.js)
  const bin = atob(text || "");
  const bytes = new Uint8Array(bin.length);
  for (let k = 0; k < bin.length; k++) bytes[k] = bin.charCodeAt(k);
  return bytes;
}

// `bnnlab.wire.encode_floats`: base64 of little-endian float32 (NaN = a break).
function decodeFloats(text) {
  const bytes = decodeBytes(text);
  return new Float32Array(bytes.buffer, 0, bytes.length >> 2);
}

// `bnnlab.wire.encode_segments`: uint16 (x_start, y_start, x_end, y_end) over a box ->
// Float64Array of data coordinates, four per segment.
function decodeSegments(b) {
  const bytes = decodeBytes(b.q);
  const q = new Uint16Array(bytes.buffer, 0, bytes.length >> 1);
  const out = new Float64Array(q.length);
  const sx = (b.x1 - b.x0) / 65535;
  const sy = (b.y1 - b.y0) / 65535;
  for (let k = 0; k < q.length; k += 2) {
    out[k] = b.x0 + q[k] * sx;
    out[k + 1] = b.y0 + q[k + 1] * sy;
  }
  return out;
}

// Points: {x, y: encodeFloats, c: "0101…"} -> {x, y: Float32Array, c: Uint8Array}.
function decodePoints(p) {
  const c = new Uint8Array(p.c.length);
  for (let k = 0; k < c.length; k++) c[k] = p.c.charCodeAt(k) - 48;
  return { x: decodeFloats(p.x), y: decodeFloats(p.y), c: c };
}

// 256 RGB triples interpolated between colour stops [[t, [r, g, b]], ...].
function makeLut(stops) {
  const lut = new Uint8ClampedArray(256 * 3);
  for (let v = 0; v < 256; v++) {
    const t = v / 255;
    let k = 0;
    while (k < stops.length - 2 && t > stops[k + 1][0]) k++;
    const [t0, c0] = stops[k];
    const [t1, c1] = stops[k + 1];
    const f = Math.min(1, Math.max(0, (t - t0) / (t1 - t0)));
    for (let ch = 0; ch < 3; ch++) lut[v * 3 + ch] = c0[ch] + f * (c1[ch] - c0[ch]);
  }
  return lut;
}

function gradientCss(stops) {
  return "linear-gradient(to top, " + stops.map(([t, c]) =>
    `rgb(${c[0]},${c[1]},${c[2]}) ${t * 100}%`).join(", ") + ")";
}

// Paint a uint8 grid (row-major over y then x, y upwards) into `image` (a canvas of nx × ny
// pixels, row 0 at the top) through a colour table.
function paintGrid(image, values, nx, ny, lut) {
  image.width = nx;
  image.height = ny;
  const ctx = image.getContext("2d");
  const img = ctx.createImageData(nx, ny);
  for (let j = 0; j < ny; j++) {
    const row = (ny - 1 - j) * nx;
    for (let i = 0; i < nx; i++) {
      const v = values[j * nx + i];
      const o = (row + i) * 4;
      img.data[o] = lut[v * 3];
      img.data[o + 1] = lut[v * 3 + 1];
      img.data[o + 2] = lut[v * 3 + 2];
      img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

// `v.toFixed(digits)` without a negative zero: -0.001 to 2 digits is "0.00", not "-0.00"
// (bnnlab.text.fmt does the same for the Python side).
function fixed(v, digits) {
  const text = v.toFixed(digits);
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;
}

// Class colours come from the payload's `classes` ([{label, color: "#rrggbb"}], one per class;
// `bnnlab.figures.palette.class_legend`), never from constants here. The mean-prediction map
// colours a cell by its predicted class, saturation = confidence: white (`NEUTRAL_RGB`) where
// the K classes are equally likely, the class's light tint (`CLASS_LIGHTEN` towards white, as
// `palette.light`) where the network is certain.
const NEUTRAL_RGB = [247, 247, 247];
const CLASS_LIGHTEN = 0.35;
const FALLBACK_CLASSES = [{ label: "class 0", color: "#e69f00" },
                          { label: "class 1", color: "#0072b2" }];

function hexToRgb(hex) {
  const h = hex.replace("#", "");
  return [0, 2, 4].map((k) => parseInt(h.slice(k, k + 2), 16));
}

function lightRgb(hex) {
  return hexToRgb(hex).map((c) => Math.round(c + CLASS_LIGHTEN * (255 - c)));
}

function classesOf(d) {
  return (d && d.classes && d.classes.length >= 2) ? d.classes : FALLBACK_CLASSES;
}

function classColors(d) {
  return classesOf(d).map((c) => c.color);
}

// Two classes: P(class 1) from class 0's tint through white to class 1's tint.
function binaryMeanStops(classes) {
  return [[0, lightRgb(classes[0].color)], [0.5, NEUTRAL_RGB], [1, lightRgb(classes[1].color)]];
}

// K classes: `conf` (uint8 grid of max_k p̄_k over [0, 1]) and `cls` (uint8 predicted class per
// cell) -> `image`, each cell mixed from white to its class's tint by
// (max_k p̄_k − 1/K) / (1 − 1/K); for K = 2 this is the binary map.
function paintClassGrid(image, conf, cls, nx, ny, classes) {
  image.width = nx;
  image.height = ny;
  const k = classes.length;
  const tints = classes.map((c) => lightRgb(c.color));
  const ctx = image.getContext("2d");
  const img = ctx.createImageData(nx, ny);
  for (let j = 0; j < ny; j++) {
    const row = (ny - 1 - j) * nx;
    for (let i = 0; i < nx; i++) {
      const at = j * nx + i;
      const s = Math.min(1, Math.max(0, (conf[at] / 255 - 1 / k) / (1 - 1 / k)));
      const tint = tints[Math.min(cls[at], k - 1)];
      const o = (row + i) * 4;
      for (let ch = 0; ch < 3; ch++) img.data[o + ch] = NEUTRAL_RGB[ch] + s * (tint[ch] - NEUTRAL_RGB[ch]);
      img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}
