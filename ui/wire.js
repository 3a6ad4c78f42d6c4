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
