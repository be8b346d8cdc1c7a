// The fleet's last hours, from GET /api/fleet/history (a sample every 30 s, oldest first, at
// most 6 h): small charts of the slots in use (of all slots), the queue's length, how long VMs
// waited to start (p50 and p95) and the heartbeats per second, each with its scale, its time
// span and the latest value in words. Inline SVG drawn with presentation attributes and
// Tailwind classes (the page's policy allows no inline style); each chart is an image whose
// label sums it up for a screen reader. Hidden from a daemon without the history (404).

import { el, setAttr, setHidden, setText } from "./dom.js";
import { formatClock, formatRate, formatRuntime, parseTime, plural } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 300;
const HEIGHT = 60;

// What each chart draws: its series (a value of a sample, and its colour), how its values and
// its latest read.
const CHARTS = [
  {
    name: "slots",
    title: "Slots in use",
    series: [
      { value: (s) => s.slotsTotal, line: "stroke-slate-400 dark:stroke-slate-500", dashed: true },
      { value: (s) => s.slotsUsed, line: "stroke-sky-600 dark:stroke-sky-400", area: "fill-sky-600/15 dark:fill-sky-400/20" },
    ],
    format: (v) => String(Math.round(v)),
    latest: (s) => `${s.slotsUsed} of ${plural(s.slotsTotal, "slot")}`,
    words: "slots in use",
  },
  {
    name: "queue",
    title: "Queue length",
    series: [{ value: (s) => s.queueLength, line: "stroke-amber-600 dark:stroke-amber-400", area: "fill-amber-500/15 dark:fill-amber-400/20" }],
    format: (v) => String(Math.round(v)),
    latest: (s) => plural(s.queueLength, "VM") + " waiting",
    words: "VMs in the queue",
  },
  {
    name: "wait",
    title: "VM wait p50 / p95",
    series: [
      { value: (s) => s.waitP95Seconds, line: "stroke-violet-600 dark:stroke-violet-400", dashed: true },
      { value: (s) => s.waitP50Seconds, line: "stroke-violet-600 dark:stroke-violet-400" },
    ],
    format: (v) => formatRuntime(v),
    latest: (s) =>
      Number.isFinite(s.waitP50Seconds) ? `p50 ${formatRuntime(s.waitP50Seconds)}, p95 ${formatRuntime(s.waitP95Seconds)}` : "no VM started",
    words: "seconds a VM waited to start (p50)",
  },
  {
    name: "heartbeats",
    title: "Heartbeats",
    series: [{ value: (s) => s.heartbeatsPerSecond, line: "stroke-emerald-600 dark:stroke-emerald-400", area: "fill-emerald-500/15 dark:fill-emerald-400/20" }],
    format: (v) => formatRate(v),
    latest: (s) => `${formatRate(s.heartbeatsPerSecond)} per second`,
    words: "heartbeats per second",
  },
];

export class HistoryCharts {
  // root: the section (#fleet-history) with a list (#history-charts) to fill.
  constructor(root) {
    this.root = root;
    this.charts = CHARTS.map((chart) => createChart(chart));
    root.querySelector("#history-charts").replaceChildren(...this.charts.map((view) => view.root));
    this.history = undefined;
  }

  // history: GET /api/fleet/history; null (a daemon without it) or no sample hides the charts.
  update(history) {
    const samples = Array.isArray(history?.samples) ? history.samples : [];
    setHidden(this.root, samples.length === 0);
    if (history === this.history) return;
    this.history = history;
    if (samples.length === 0) return;
    const interval = Number.isFinite(history.intervalSeconds) && history.intervalSeconds > 0 ? history.intervalSeconds : 30;
    const times = samples.map((sample) => parseTime(sample.at));
    for (const view of this.charts) drawChart(view, samples, times, interval);
  }
}

function svgElement(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

function createChart(chart) {
  const latest = el("span", { class: "text-sm font-semibold tracking-normal text-slate-900 normal-case tabular-nums dark:text-slate-100", "data-field": "latest" });
  const svg = svgElement("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    preserveAspectRatio: "none",
    role: "img",
    class: "block h-14 w-full overflow-visible",
    "data-field": "chart",
  });
  const grid = svgElement("line", { x1: 0, x2: WIDTH, y1: HEIGHT, y2: HEIGHT, class: "stroke-slate-300 dark:stroke-slate-700", "vector-effect": "non-scaling-stroke" });
  svg.append(grid);
  const series = chart.series.map((s) => {
    const area = s.area ? svgElement("path", { class: s.area, stroke: "none" }) : undefined;
    const line = svgElement("path", {
      class: s.line,
      fill: "none",
      "stroke-width": 1.5,
      "stroke-linejoin": "round",
      "vector-effect": "non-scaling-stroke",
      ...(s.dashed ? { "stroke-dasharray": "4 3" } : {}),
    });
    if (area) svg.append(area);
    svg.append(line);
    return { ...s, area, line };
  });
  const top = el("span", { class: "tabular-nums", "data-field": "max" });
  const from = el("span", { class: "tabular-nums", "data-field": "from" });
  const to = el("span", { class: "tabular-nums", "data-field": "to" });
  const root = el("li", { class: "tile flex min-w-0 flex-col gap-1", "data-chart": chart.name }, [
    el("h3", { class: "tile-title mb-0 flex items-baseline justify-between gap-2" }, [el("span", { text: chart.title }), latest]),
    el("div", { class: "flex gap-2" }, [
      el("div", { class: "flex w-10 shrink-0 flex-col justify-between text-right text-xs muted", "aria-hidden": "true" }, [top, el("span", { text: "0" })]),
      el("div", { class: "min-w-0 flex-1" }, [svg]),
    ]),
    el("div", { class: "ml-12 flex justify-between text-xs muted", "aria-hidden": "true" }, [from, to]),
  ]);
  return { chart, root, svg, series, latest, top, from, to };
}

// A path through the samples' values, broken where a value is missing or samples are apart by
// more than two intervals (the daemon was down); `area`: closed down to 0.
function pathOf(points, area) {
  const parts = [];
  let run = [];
  const flush = () => {
    if (run.length === 0) return;
    // A lone sample is drawn as a short level line.
    if (run.length === 1) run = [[Math.max(0, run[0][0] - 2), run[0][1]], [Math.min(WIDTH, run[0][0] + 2), run[0][1]]];
    const line = run.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)}`).join("");
    parts.push(area ? `${line}L${run.at(-1)[0].toFixed(1)} ${HEIGHT}L${run[0][0].toFixed(1)} ${HEIGHT}Z` : line);
    run = [];
  };
  for (const point of points) {
    if (!point) flush();
    else run.push(point);
  }
  flush();
  return parts.join("");
}

function drawChart(view, samples, times, interval) {
  const { chart } = view;
  const first = times[0];
  const last = times.at(-1);
  // One sample (the daemon just started) spans the whole width.
  const span = last - first;
  const xOf = (t) => (span > 0 ? ((t - first) / span) * WIDTH : WIDTH / 2);
  let max = 0;
  for (const s of chart.series) for (const sample of samples) max = Math.max(max, finite(s.value(sample)));
  const scale = niceCeiling(max);
  const yOf = (v) => HEIGHT - (v / scale) * HEIGHT;
  for (const s of view.series) {
    const points = [];
    samples.forEach((sample, i) => {
      const v = s.value(sample);
      if (i > 0 && times[i] - times[i - 1] > 2 * interval * 1000) points.push(undefined);
      points.push(Number.isFinite(v) && Number.isFinite(times[i]) ? [span > 0 ? xOf(times[i]) : 0, yOf(v)] : undefined);
      if (span <= 0 && Number.isFinite(v)) points.push([WIDTH, yOf(v)]);
    });
    setAttr(s.line, "d", pathOf(points, false));
    if (s.area) setAttr(s.area, "d", pathOf(points, true));
  }
  const newest = samples.at(-1);
  setText(view.latest, chart.latest(newest));
  setText(view.top, chart.format(scale));
  setText(view.from, Number.isFinite(first) ? formatClock(new Date(first)) : "");
  setText(view.to, Number.isFinite(last) ? formatClock(new Date(last)) : "");
  setAttr(view.svg, "aria-label", summary(chart, samples, span));
}

// "Slots in use over the last 2 h 30 min: between 3 and 7, now 7 of 20 slots."
function summary(chart, samples, span) {
  const values = samples.map(chart.series.at(-1).value).filter(Number.isFinite);
  const over = span > 0 ? `over the last ${formatRuntime(span / 1000)}` : "at the first sample";
  const range = values.length > 1 ? `: between ${chart.format(Math.min(...values))} and ${chart.format(Math.max(...values))} ${chart.words}` : "";
  return `${chart.title} ${over}${range}; now ${chart.latest(samples.at(-1))}`;
}

const finite = (v) => (Number.isFinite(v) ? v : 0);

// The top of a chart's scale: 1, 2 or 5 times a power of ten, at least the largest value (and
// at least 1, so that an idle fleet draws a flat line at the bottom).
function niceCeiling(value) {
  if (!(value > 1)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}
