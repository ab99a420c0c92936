// The live loss chart of the admin page, drawn as SVG from a job's metrics events: no chart library, so
// nothing to fetch from a CDN, and the drawing stays sharp at any width.

const NS = "http://www.w3.org/2000/svg";
const SIZE = { width: 640, height: 260, left: 52, right: 16, top: 16, bottom: 36 };
const SERIES = [
  { key: "train_loss", label: "training loss", className: "series-train" },
  { key: "valid_loss", label: "validation loss", className: "series-valid" },
];

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

/** Maps data to pixels: steps on x, loss on y (both ranges padded so a flat line stays visible). */
function scales(points) {
  const steps = points.map((p) => p.step);
  const losses = points.flatMap((p) => SERIES.map((s) => p[s.key]).filter(Number.isFinite));
  const [x0, x1] = [Math.min(...steps), Math.max(...steps, Math.min(...steps) + 1)];
  const [low, high] = [Math.min(...losses), Math.max(...losses)];
  const pad = (high - low) * 0.08 || 0.5;
  const [y0, y1] = [Math.max(0, low - pad), high + pad];
  const w = SIZE.width - SIZE.left - SIZE.right;
  const h = SIZE.height - SIZE.top - SIZE.bottom;
  return {
    x: (step) => SIZE.left + ((step - x0) / (x1 - x0)) * w,
    y: (loss) => SIZE.top + (1 - (loss - y0) / (y1 - y0)) * h,
    ticks: { x: [x0, x1], y: [y0, (y0 + y1) / 2, y1] },
  };
}

function axes(chart, scale) {
  const bottom = SIZE.height - SIZE.bottom;
  chart.append(svg("line", { x1: SIZE.left, y1: bottom, x2: SIZE.width - SIZE.right, y2: bottom, class: "axis" }));
  chart.append(svg("line", { x1: SIZE.left, y1: SIZE.top, x2: SIZE.left, y2: bottom, class: "axis" }));
  for (const loss of scale.ticks.y) {
    chart.append(svg("text", { x: SIZE.left - 6, y: scale.y(loss) + 4, "text-anchor": "end", class: "tick" }, loss.toFixed(2)));
  }
  for (const step of scale.ticks.x) {
    chart.append(svg("text", { x: scale.x(step), y: bottom + 16, "text-anchor": "middle", class: "tick" }, String(step)));
  }
  chart.append(svg("text", { x: SIZE.width - SIZE.right, y: SIZE.height - 4, "text-anchor": "end", class: "tick" }, "step"));
}

function line(chart, scale, points, series) {
  const kept = points.filter((p) => Number.isFinite(p[series.key]));
  if (!kept.length) return;
  const coords = kept.map((p) => `${scale.x(p.step).toFixed(1)},${scale.y(p[series.key]).toFixed(1)}`);
  chart.append(svg("polyline", { points: coords.join(" "), class: series.className }));
  for (const p of kept) chart.append(svg("circle", { cx: scale.x(p.step), cy: scale.y(p[series.key]), r: 2.5, class: series.className }));
}

/** What a screen reader hears instead of the picture: each series from its first to its last value. */
function summary(points) {
  const parts = SERIES.map((s) => {
    const values = points.map((p) => p[s.key]).filter(Number.isFinite);
    return values.length ? `${s.label} from ${values[0].toFixed(3)} to ${values.at(-1).toFixed(3)}` : null;
  }).filter(Boolean);
  return `Loss over ${points.length} logged steps: ${parts.join("; ")}.`;
}

/** An SVG chart of `points` (`{step, train_loss, valid_loss}`, oldest first), or null with nothing to draw. */
export function lossChart(points) {
  if (!points.length) return null;
  const chart = svg("svg", { viewBox: `0 0 ${SIZE.width} ${SIZE.height}`, role: "img", class: "loss-chart" });
  chart.append(svg("title", {}, summary(points)));
  const scale = scales(points);
  axes(chart, scale);
  for (const series of SERIES) line(chart, scale, points, series);
  return chart;
}
