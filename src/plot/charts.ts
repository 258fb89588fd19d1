// Line charts (linear/log axes), stacked bar charts and panel tiling on top of the raster.
import { Canvas, clipParams, parseColor, textWidth, wrapText, CAP_HEIGHT, FONT_HEIGHT, type Color, type MarkerShape, type RGBA } from './raster.js';
import { formatLogTicks, formatNumber, formatTicks, logMinorTicks, logTicks, niceScale, niceTicks } from './ticks.js';

/** Okabe-Ito (colour-blind safe) first, yellow late because it is faint on white, then tab10 extras. */
export const PALETTE: readonly string[] = [
  '#0072B2', // blue
  '#D55E00', // vermillion
  '#009E73', // bluish green
  '#E69F00', // orange
  '#CC79A7', // reddish purple
  '#56B4E9', // sky blue
  '#000000', // black
  '#F0E442', // yellow
  '#8C564B', // brown
  '#7F7F7F', // grey
];

/** Marker shapes cycle alongside colours so series stay distinguishable without colour. */
export const MARKERS: readonly MarkerShape[] = ['circle', 'square', 'triangle', 'diamond', 'triangle-down'];

export function paletteColor(i: number): string {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length]!;
}

const INK = '#222222';
const TICK_INK = '#444444';
const FRAME = '#555555';
const GRID = '#e3e3e3';
const GRID_MINOR = '#f1f1f1';

/** Text scale that keeps labels readable for the canvas size. */
function autoScale(w: number, h: number): number {
  const m = Math.min(w, h);
  return m >= 900 ? 3 : m >= 300 ? 2 : 1;
}

// ---------------------------------------------------------------- axes

interface Axis {
  lo: number;
  hi: number;
  log: boolean;
  ticks: number[];
  minor: number[];
  labels: string[];
}

function axisFrac(a: Axis, v: number): number {
  if (a.log) return (Math.log10(v) - Math.log10(a.lo)) / (Math.log10(a.hi) - Math.log10(a.lo));
  return (v - a.lo) / (a.hi - a.lo);
}

function buildAxis(values: number[], log: boolean, maxTicks: number, userMin?: number, userMax?: number): Axis {
  const okUser = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v) && (!log || v > 0);
  let dmin = Infinity;
  let dmax = -Infinity;
  for (const v of values) {
    if (v < dmin) dmin = v;
    if (v > dmax) dmax = v;
  }
  if (okUser(userMin) && okUser(userMax) && userMin > userMax) [userMin, userMax] = [userMax, userMin];
  if (log) {
    if (!(dmin <= dmax)) [dmin, dmax] = [1, 10];
    let lo = okUser(userMin) ? userMin : Number(`1e${Math.floor(Math.log10(dmin) + 1e-12)}`);
    let hi = okUser(userMax) ? userMax : Number(`1e${Math.ceil(Math.log10(dmax) - 1e-12)}`);
    if (!(hi > lo)) {
      if (okUser(userMax)) lo = hi / 10;
      else hi = lo * 10;
    }
    if (!Number.isFinite(hi)) hi = Number.MAX_VALUE;
    const ticks = logTicks(lo, hi, maxTicks);
    const decades = Math.log10(hi) - Math.log10(lo);
    const stride1 = ticks.length >= 2 && Math.abs(ticks[1]! / ticks[0]! - 10) < 1e-6;
    const minor = decades <= 8 && (stride1 || ticks.length < 2 || decades < 1) ? logMinorTicks(lo, hi) : [];
    return { lo, hi, log, ticks, minor, labels: formatLogTicks(ticks) };
  }
  if (!(dmin <= dmax)) [dmin, dmax] = [0, 1];
  let lo: number;
  let hi: number;
  let ticks: number[];
  if (okUser(userMin) || okUser(userMax)) {
    lo = okUser(userMin) ? userMin : dmin;
    hi = okUser(userMax) ? userMax : dmax;
    if (!(hi > lo)) {
      if (okUser(userMin) && !okUser(userMax)) hi = lo + (Math.abs(lo) || 1);
      else lo = hi - (Math.abs(hi) || 1);
    }
    // Let the free end snap outward to a nice value.
    const sc = niceScale(lo, hi, maxTicks);
    if (!okUser(userMin)) lo = sc.min;
    if (!okUser(userMax)) hi = sc.max;
    ticks = niceTicks(lo, hi, maxTicks);
  } else {
    const sc = niceScale(dmin, dmax, maxTicks);
    [lo, hi, ticks] = [sc.min, sc.max, sc.ticks];
  }
  if (!(hi > lo) || !Number.isFinite(hi - lo)) {
    // Ranges near the float limit (overflowed data): keep the axis drawable.
    lo = Math.max(lo, -Number.MAX_VALUE / 2);
    hi = Math.min(hi, Number.MAX_VALUE / 2);
    if (!(hi > lo)) hi = lo + 1;
    ticks = [lo, hi];
    return { lo, hi, log, ticks, minor: [], labels: ticks.map((v) => formatNumber(v, 3)) };
  }
  return { lo, hi, log, ticks, minor: [], labels: formatTicks(ticks) };
}

// ---------------------------------------------------------------- legend

interface LegendItem {
  name: string;
  color: RGBA;
  kind: 'line' | 'box';
  dashed?: boolean;
  marker?: MarkerShape | null;
}

interface LegendLayout {
  rows: { items: LegendItem[]; widths: number[]; width: number }[];
  height: number;
}

function legendMetrics(s: number) {
  return { sample: 16 * s, gapIn: 4 * s, gapOut: 12 * s, rowH: FONT_HEIGHT * s + 3 * s };
}

function layoutLegend(items: LegendItem[], maxW: number, s: number): LegendLayout {
  const m = legendMetrics(s);
  const rows: LegendLayout['rows'] = [];
  for (const it of items) {
    const w = (it.kind === 'line' ? m.sample : CAP_HEIGHT * s) + m.gapIn + textWidth(it.name, s);
    const row = rows[rows.length - 1];
    if (row && row.width + m.gapOut + w <= maxW) {
      row.items.push(it);
      row.widths.push(w);
      row.width += m.gapOut + w;
    } else rows.push({ items: [it], widths: [w], width: w });
  }
  return { rows, height: rows.length * m.rowH };
}

function drawLegend(cv: Canvas, lay: LegendLayout, cx: number, top: number, s: number, lineWidth: number): void {
  const m = legendMetrics(s);
  lay.rows.forEach((row, r) => {
    let x = Math.round(cx - row.width / 2);
    const midY = top + r * m.rowH + (CAP_HEIGHT * s) / 2;
    row.items.forEach((it, i) => {
      if (it.kind === 'box') {
        const b = CAP_HEIGHT * s;
        cv.fillRect(x, Math.round(midY - b / 2), b, b, it.color);
        x += b + m.gapIn;
      } else {
        const y = Math.round(midY) + 0.5;
        cv.polyline([[x, y], [x + m.sample, y]], it.color, { width: lineWidth, dash: it.dashed ? dashFor(s) : undefined });
        if (it.marker) cv.marker(x + m.sample / 2, y, it.marker, markerSize(s), it.color, '#ffffff');
        x += m.sample + m.gapIn;
      }
      cv.text(x, midY, it.name, { scale: s, color: INK, valign: 'middle' });
      x += row.widths[i]! - (it.kind === 'box' ? CAP_HEIGHT * s : m.sample) - m.gapIn + m.gapOut;
    });
  });
}

const dashFor = (s: number) => [5 * s, 3.5 * s];
const markerSize = (s: number) => 3 * s + 2;

// ---------------------------------------------------------------- shared frame

/** The plot area in canvas pixels: data x from L to R, y from B (bottom) up to T. */
export interface Frame {
  L: number;
  T: number;
  R: number;
  B: number;
}

/** Title lines and legend stacked from the top; returns the y where the plot area may start. */
function drawHeader(cv: Canvas, title: string, legend: LegendItem[], s: number, lineWidth: number): number {
  const pad = 6 * s;
  let y = pad;
  if (title) {
    for (const line of wrapText(title, cv.width - 2 * pad, s, true)) {
      cv.text(cv.width / 2, y, line, { scale: s, bold: true, align: 'center', color: '#111111' });
      y += FONT_HEIGHT * s + 2 * s;
    }
    y += 3 * s;
  }
  if (legend.length > 0) {
    const lay = layoutLegend(legend, cv.width - 2 * pad, s);
    drawLegend(cv, lay, cv.width / 2, y, s, lineWidth);
    y += lay.height + 2 * s;
  }
  return y + 4 * s;
}

function drawFrame(cv: Canvas, f: Frame): void {
  // One pixel outside the plot area, so data drawn up to the edge is not covered.
  cv.strokeRect(f.L - 1, f.T - 1, f.R - f.L + 2, f.B - f.T + 2, FRAME, 1);
}

function drawYAxis(cv: Canvas, f: Frame, ax: Axis, s: number, label: string, labelX: number, grid: boolean): void {
  const tick = 3 * s;
  const py = (v: number) => Math.round(f.B - axisFrac(ax, v) * (f.B - f.T));
  if (grid) {
    for (const v of ax.minor) cv.fillRect(f.L, py(v), f.R - f.L, 1, GRID_MINOR);
    for (const v of ax.ticks) cv.fillRect(f.L, py(v), f.R - f.L, 1, GRID);
  }
  ax.ticks.forEach((v, i) => {
    const y = py(v);
    cv.fillRect(f.L - 1 - tick, y, tick, 1, FRAME);
    cv.text(f.L - 1 - tick - 3 * s, y + 0.5, ax.labels[i]!, { scale: s, align: 'right', valign: 'middle', color: TICK_INK });
  });
  for (const v of ax.minor) cv.fillRect(f.L - 1 - Math.ceil(tick / 2), py(v), Math.ceil(tick / 2), 1, FRAME);
  if (label) cv.text(labelX, (f.T + f.B) / 2, label, { scale: s, vertical: true, align: 'center', valign: 'top', color: INK });
}

// ---------------------------------------------------------------- line chart

export interface LineSeries {
  name: string;
  x: number[];
  y: number[];
  color?: string;
  dashed?: boolean;
  markers?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  logY?: boolean;
  logX?: boolean;
  width?: number;
  height?: number;
  yMin?: number;
  yMax?: number;
  xMin?: number;
  xMax?: number;
  /** Integer text scale; default picks one from the canvas size. */
  scale?: number;
  /** Show the legend (default: when any series has a name). */
  legend?: boolean;
  /** Dashed grey horizontal lines with a label (e.g. chance accuracy); their y joins the axis range. */
  refLines?: { y: number; label: string }[];
}

/** Where a line chart put things, so a page can map the mouse back to data (drawing is unaffected). */
export interface LineChartMeta {
  frame: Frame;
  /** Data to canvas pixels (continuous coordinates). */
  x: (v: number) => number;
  y: (v: number) => number;
  xRange: [number, number];
  yRange: [number, number];
  /** Every drawn point of every series: its index in the series, its data and pixel coordinates. */
  series: { name: string; color: RGBA; points: { i: number; x: number; y: number; px: number; py: number }[] }[];
}

export type LineChartCanvas = Canvas & { meta: LineChartMeta };

/** Runs of consecutive drawable points; NaN, +-Infinity and non-positive values on log axes break the line. */
function seriesRuns(sr: LineSeries, logX: boolean, logY: boolean): [number, number][][] {
  const runs: [number, number][][] = [];
  let cur: [number, number][] = [];
  const n = Math.min(sr.x.length, sr.y.length);
  for (let i = 0; i < n; i++) {
    const x = sr.x[i]!;
    const y = sr.y[i]!;
    const ok = Number.isFinite(x) && Number.isFinite(y) && (!logX || x > 0) && (!logY || y > 0);
    if (ok) cur.push([x, y]);
    else if (cur.length > 0) {
      runs.push(cur);
      cur = [];
    }
  }
  if (cur.length > 0) runs.push(cur);
  return runs;
}

export function lineChart(opts: LineChartOptions): LineChartCanvas {
  const W = Math.round(opts.width ?? 900);
  const H = Math.round(opts.height ?? 560);
  const s = Math.max(1, Math.round(opts.scale ?? autoScale(W, H)));
  const logX = opts.logX ?? false;
  const logY = opts.logY ?? false;
  const cv = new Canvas(W, H);
  const lineWidth = Math.max(1.5, 1.25 * s);
  const pad = 6 * s;
  const th = FONT_HEIGHT * s;
  const tick = 3 * s;

  const runs = opts.series.map((sr) => seriesRuns(sr, logX, logY));
  const styles = opts.series.map((sr, i) => ({
    color: parseColor(sr.color ?? paletteColor(i)),
    marker: MARKERS[i % MARKERS.length]!,
    dashed: sr.dashed ?? false,
    markers: sr.markers ?? false,
  }));

  const showLegend = opts.legend ?? opts.series.some((sr) => sr.name.length > 0);
  const legend: LegendItem[] = showLegend
    ? opts.series.flatMap((sr, i) => {
        if (!sr.name) return [];
        const st = styles[i]!;
        const isolated = runs[i]!.some((r) => r.length === 1);
        return [{ name: sr.name, color: st.color, kind: 'line' as const, dashed: st.dashed, marker: st.markers || isolated ? st.marker : null }];
      })
    : [];

  const T = Math.max(drawHeader(cv, opts.title, legend, s, lineWidth), pad + th);
  const B = H - (pad + (opts.xLabel ? th + 4 * s : 0) + th + tick + 3 * s);
  const plotH = Math.max(10, B - T);

  const xs: number[] = [];
  const ys: number[] = [];
  for (const rs of runs) for (const r of rs) for (const [x, y] of r) (xs.push(x), ys.push(y));
  const refLines = (opts.refLines ?? []).filter((l) => Number.isFinite(l.y) && (!logY || l.y > 0));
  for (const l of refLines) ys.push(l.y);

  const yAxis = buildAxis(ys, logY, Math.min(10, Math.max(2, Math.floor(plotH / (th * 2.8)))), opts.yMin, opts.yMax);
  const yTickW = Math.max(0, ...yAxis.labels.map((l) => textWidth(l, s)));
  const yLabelX = pad;
  const L = pad + (opts.yLabel ? th + 4 * s : 0) + yTickW + 3 * s + tick + 1;

  // X ticks: as many as fit without labels touching; the right margin must hold half the last label.
  let R = W - pad - 3 * textWidth('0', s);
  let xAxis = buildAxis(xs, logX, 2, opts.xMin, opts.xMax);
  for (let pass = 0; pass < 2; pass++) {
    const plotW = Math.max(10, R - L);
    for (let n = Math.min(12, Math.max(2, Math.floor(plotW / (th * 3)))); n >= 2; n--) {
      xAxis = buildAxis(xs, logX, n, opts.xMin, opts.xMax);
      const pos = xAxis.ticks.map((v) => axisFrac(xAxis, v) * plotW);
      const wid = xAxis.labels.map((l) => textWidth(l, s));
      let fits = true;
      for (let i = 1; i < pos.length; i++) if (pos[i]! - pos[i - 1]! < (wid[i]! + wid[i - 1]!) / 2 + 4 * textWidth('0', s)) fits = false;
      if (fits) break;
    }
    const last = xAxis.labels.length > 0 ? textWidth(xAxis.labels[xAxis.labels.length - 1]!, s) : 0;
    const lastFrac = xAxis.ticks.length > 0 ? axisFrac(xAxis, xAxis.ticks[xAxis.ticks.length - 1]!) : 0;
    const need = Math.ceil(last / 2 - (1 - lastFrac) * plotW);
    R = W - Math.max(pad, need + pad / 2);
  }
  const f: Frame = { L, T, R: Math.max(L + 10, R), B: T + plotH };
  const plotW = f.R - f.L;
  const px = (v: number) => f.L + axisFrac(xAxis, v) * plotW;
  const py = (v: number) => f.B - axisFrac(yAxis, v) * plotH;

  // Grid, then data, then frame and labels on top.
  for (const v of xAxis.minor) cv.fillRect(Math.round(px(v)), f.T, 1, plotH, GRID_MINOR);
  for (const v of xAxis.ticks) cv.fillRect(Math.round(px(v)), f.T, 1, plotH, GRID);
  drawYAxis(cv, f, yAxis, s, opts.yLabel, yLabelX, true);

  // The frame goes under the data, and data is cut at the frame's edges by geometry, not by pixels:
  // a line end or marker at the edge of the range then shows whole instead of half hidden.
  drawFrame(cv, f);
  for (const l of refLines) {
    if (!(py(l.y) >= f.T - 0.5 && py(l.y) <= f.B + 0.5)) continue; // outside an explicit yMin/yMax
    const w = Math.max(1, s);
    const y = Math.round(py(l.y)) + (w % 2 ? 0.5 : 0); // whole pixel rows, not two half-covered ones
    cv.dashedLine(f.L, y, f.R, y, REF_GREY, w, [6 * s, 4 * s]);
    const above = y - 3 * s - th >= f.T;
    cv.text(f.R - 4 * s, above ? y - 3 * s : y + 3 * s, l.label, { scale: s, align: 'right', valign: above ? 'bottom' : 'top', color: REF_INK });
  }
  const lw = Math.ceil(lineWidth / 2) + 1;
  cv.clip = { x0: f.L - lw, y0: f.T - lw, x1: f.R + lw, y1: f.B + lw };
  runs.forEach((rs, i) => {
    const st = styles[i]!;
    for (const r of rs)
      if (r.length >= 2)
        for (const piece of clipPolyline(r.map(([x, y]) => [px(x), py(y)] as [number, number]), f))
          cv.polyline(piece, st.color, { width: lineWidth, dash: st.dashed ? dashFor(s) : undefined });
  });
  cv.clip = null;
  const inside = (x: number, y: number) => x >= f.L - 0.5 && x <= f.R + 0.5 && y >= f.T - 0.5 && y <= f.B + 0.5;
  runs.forEach((rs, i) => {
    const st = styles[i]!;
    for (const r of rs)
      if (st.markers || r.length === 1)
        for (const [x, y] of r) if (inside(px(x), py(y))) cv.marker(px(x), py(y), st.marker, markerSize(s), st.color, '#ffffff');
  });

  xAxis.ticks.forEach((v, i) => {
    const x = Math.round(px(v));
    cv.fillRect(x, f.B + 1, 1, tick, FRAME);
    cv.text(x + 0.5, f.B + 1 + tick + 3 * s, xAxis.labels[i]!, { scale: s, align: 'center', color: TICK_INK });
  });
  for (const v of xAxis.minor) cv.fillRect(Math.round(px(v)), f.B + 1, 1, Math.ceil(tick / 2), FRAME);
  if (opts.xLabel) cv.text((f.L + f.R) / 2, H - pad, opts.xLabel, { scale: s, align: 'center', valign: 'bottom', color: INK });
  const meta: LineChartMeta = {
    frame: f,
    x: px,
    y: py,
    xRange: [xAxis.lo, xAxis.hi],
    yRange: [yAxis.lo, yAxis.hi],
    series: opts.series.map((sr, i) => {
      const points: LineChartMeta['series'][number]['points'] = [];
      const n = Math.min(sr.x.length, sr.y.length);
      for (let k = 0; k < n; k++) {
        const [x, y] = [sr.x[k]!, sr.y[k]!];
        if (!(Number.isFinite(x) && Number.isFinite(y) && (!logX || x > 0) && (!logY || y > 0))) continue;
        if (inside(px(x), py(y))) points.push({ i: k, x, y, px: px(x), py: py(y) });
      }
      return { name: sr.name, color: styles[i]!.color, points };
    }),
  };
  return Object.assign(cv, { meta });
}

const REF_GREY = '#888888';
const REF_INK = '#666666';


/**
 * The parts of a polyline inside the frame; a piece breaks only where the line leaves it, so a line
 * that stays inside is drawn exactly as given (its own points, one stroke).
 */
export function clipPolyline(points: readonly (readonly [number, number])[], f: Frame): [number, number][][] {
  const pieces: [number, number][][] = [];
  let cur: [number, number][] = [];
  const flush = () => {
    if (cur.length > 1) pieces.push(cur);
    cur = [];
  };
  for (let k = 0; k + 1 < points.length; k++) {
    const [ax, ay] = points[k]!;
    const [bx, by] = points[k + 1]!;
    const t = [ax, ay, bx, by].every(Number.isFinite) ? clipParams(ax, ay, bx, by, { x0: f.L, y0: f.T, x1: f.R, y1: f.B }) : null;
    if (!t) {
      flush();
      continue;
    }
    // Whole ends keep their exact coordinates; a cut end is where the segment crosses the frame.
    if (t[0] > 0) {
      flush();
      cur.push([ax + t[0] * (bx - ax), ay + t[0] * (by - ay)]);
    } else if (cur.length === 0) cur.push([ax, ay]);
    cur.push(t[1] < 1 ? [ax + t[1] * (bx - ax), ay + t[1] * (by - ay)] : [bx, by]);
    if (t[1] < 1) flush();
  }
  flush();
  return pieces;
}

// ---------------------------------------------------------------- stacked bars

export interface BarStack {
  name: string;
  /** One value per group; non-finite or negative values count as 0. */
  values: number[];
  color?: string;
}

export interface BarChartOptions {
  title: string;
  yLabel: string;
  groups: string[];
  stacks: BarStack[];
  xLabel?: string;
  width?: number;
  height?: number;
  scale?: number;
  /** Annotate each bar with its total (default true). */
  totals?: boolean;
  /** Suffix for the total annotations, e.g. 'ms'. */
  unit?: string;
  /** Scale every bar to 100 (shares in %); totals still show the raw sums. */
  normalize?: boolean;
  /** Write each segment's share of its bar inside it, where it fits (default true). */
  segmentLabels?: boolean;
  yMax?: number;
  /** Dashed horizontal reference lines (targets); a label puts the line in the legend. */
  lines?: { value: number; label?: string; color?: string }[];
  /** A whisker per group from lo to hi (e.g. the range over repeated rounds); not with normalize. */
  errors?: ({ lo: number; hi: number } | null)[];
  /** The smallest text scale labels may shrink to where they do not fit (default 1); a segment label that does not fit at it is left out. */
  minScale?: number;
}

/** Where a bar chart put things, so a page can map the mouse back to groups (drawing is unaffected). */
export interface BarChartMeta {
  frame: Frame;
  /** Value to canvas pixel row (bar heights; with normalize, percent). */
  y: (v: number) => number;
  /** Each group's slot [x0, x1) across the frame, its bar's left and right edges and each stack's value (non-finite or negative: 0). */
  groups: { name: string; x0: number; x1: number; barX0: number; barX1: number; values: number[]; total: number }[];
  stacks: { name: string; color: RGBA }[];
}

export type BarChartCanvas = Canvas & { meta: BarChartMeta };

const TARGET_RED = '#d62728';

/** Where the plot area starts, before the y tick labels are known (group labels wrap to slots from it). */
function barLeftEstimate(yLabel: string, s: number): number {
  return 6 * s + (yLabel ? FONT_HEIGHT * s + 4 * s : 0) + textWidth('100.0', s) + 3 * s + 3 * s;
}

/**
 * The narrowest canvas at which barChart draws every group label at text scale `s`: narrower, a
 * word that does not fit its slot makes it shrink the labels a step.
 */
export function barChartMinWidth(opts: Pick<BarChartOptions, 'groups' | 'yLabel'>, s: number): number {
  const words = opts.groups.flatMap((g) => g.split(/\s+/)).filter((w) => w.length > 0);
  const widest = Math.max(0, ...words.map((w) => textWidth(w, s)));
  return Math.ceil(barLeftEstimate(opts.yLabel, s) + 6 * s + Math.max(1, opts.groups.length) * (widest + 2 * s));
}

function luminance(c: RGBA): number {
  return (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) / 255;
}

export function barChart(opts: BarChartOptions): BarChartCanvas {
  const W = Math.round(opts.width ?? 900);
  const H = Math.round(opts.height ?? 560);
  const s = Math.max(1, Math.round(opts.scale ?? autoScale(W, H)));
  const cv = new Canvas(W, H);
  const pad = 6 * s;
  const th = FONT_HEIGHT * s;
  const tick = 3 * s;
  const showTotals = opts.totals ?? true;
  const normalize = opts.normalize ?? false;
  const nG = opts.groups.length;

  const colors = opts.stacks.map((st, i) => parseColor(st.color ?? paletteColor(i)));
  const val = (st: BarStack, g: number) => {
    const v = st.values[g];
    return v !== undefined && Number.isFinite(v) && v > 0 ? v : 0;
  };
  const totals = opts.groups.map((_, g) => opts.stacks.reduce((a, st) => a + val(st, g), 0));
  const heightOf = (v: number, g: number) => (normalize ? (totals[g]! > 0 ? (100 * v) / totals[g]! : 0) : v);

  const legend: LegendItem[] = opts.stacks.map((st, i) => ({ name: st.name, color: colors[i]!, kind: 'box' }));
  for (const l of opts.lines ?? []) if (l.label) legend.push({ name: l.label, color: parseColor(l.color ?? TARGET_RED), kind: 'line', dashed: true });
  let T = drawHeader(cv, opts.title, legend, s, 1);
  if (showTotals && normalize) T += th; // totals sit above full-height bars

  // Group labels wrap to their slot; shrink the font once if a word still does not fit.
  const estL = barLeftEstimate(opts.yLabel, s);
  const slot0 = (W - estL - pad) / Math.max(1, nG);
  const minScale = Math.max(1, Math.round(opts.minScale ?? 1));
  let gs = s;
  let glines = opts.groups.map((g) => wrapText(g, slot0 - 4 * s, gs));
  if (gs > minScale && glines.some((ls) => ls.some((l) => textWidth(l, gs) > slot0 - 2 * s))) {
    gs -= 1;
    glines = opts.groups.map((g) => wrapText(g, slot0 - 4 * s, gs));
  }
  const nLines = Math.max(1, ...glines.map((l) => l.length));
  const glineH = FONT_HEIGHT * gs + 2 * gs;
  const B = H - (pad + (opts.xLabel ? th + 4 * s : 0) + nLines * glineH + tick + 2 * s);
  const plotH = Math.max(10, B - T);

  const maxTicks = Math.min(10, Math.max(2, Math.floor(plotH / (th * 2.8))));
  let yAxis: Axis;
  if (normalize) {
    const ticks = niceTicks(0, 100, maxTicks);
    yAxis = { lo: 0, hi: 100, log: false, ticks, minor: [], labels: formatTicks(ticks) };
  } else {
    const maxTotal = Math.max(0, ...totals);
    // Headroom so the total written above the tallest bar stays inside the plot.
    const room = showTotals ? (th + 4 * s) / plotH : 0;
    const target = maxTotal > 0 ? maxTotal / (1 - Math.min(0.5, room)) : 1;
    const lineMax = Math.max(0, ...(opts.lines ?? []).map((l) => (Number.isFinite(l.value) ? l.value * 1.08 : 0)));
    const errMax = Math.max(0, ...(opts.errors ?? []).map((e) => (e && Number.isFinite(e.hi) ? e.hi / (1 - Math.min(0.5, room)) : 0)));
    yAxis = buildAxis([0, Math.max(target, lineMax, errMax)], false, maxTicks, 0, opts.yMax);
  }
  const yTickW = Math.max(0, ...yAxis.labels.map((l) => textWidth(l, s)));
  const L = pad + (opts.yLabel ? th + 4 * s : 0) + yTickW + 3 * s + tick + 1;
  const f: Frame = { L, T, R: W - pad, B: T + plotH };
  const plotW = f.R - f.L;
  const py = (v: number) => f.B - axisFrac(yAxis, v) * plotH;

  drawYAxis(cv, f, yAxis, s, opts.yLabel, pad, true);
  const slot = plotW / Math.max(1, nG);
  const barW = Math.max(2, Math.round(Math.min(slot * 0.62, 90 * s)));
  cv.clip = { x0: f.L, y0: f.T, x1: f.R, y1: f.B };
  for (let g = 0; g < nG; g++) {
    const x0 = Math.round(f.L + slot * (g + 0.5) - barW / 2);
    let acc = 0;
    opts.stacks.forEach((st, i) => {
      const v = heightOf(val(st, g), g);
      if (v <= 0) return;
      const yTop = Math.round(py(acc + v));
      const yBot = Math.round(py(acc));
      acc += v;
      cv.fillRect(x0, yTop, barW, yBot - yTop, colors[i]!);
      if (yBot - yTop >= 3) cv.fillRect(x0, yTop, barW, 1, '#ffffff'); // separates stacked segments
      if (opts.segmentLabels ?? true) {
        const share = totals[g]! > 0 ? (100 * val(st, g)) / totals[g]! : 0;
        const txt = `${share >= 9.95 ? share.toFixed(0) : share.toFixed(1)}%`;
        // Full size where it fits, one step smaller in thin segments.
        const fits = (k: number) => yBot - yTop >= CAP_HEIGHT * k + 4 * k && barW >= textWidth(txt, k) + 4 * k;
        const ls = fits(s) ? s : Math.max(minScale, s - 1);
        if (fits(ls))
          cv.text(x0 + barW / 2, (yTop + yBot) / 2 + 0.5, txt, {
            scale: ls,
            align: 'center',
            valign: 'middle',
            color: luminance(colors[i]!) < 0.5 ? '#ffffff' : '#111111',
          });
      }
    });
  }
  if (!normalize)
    (opts.errors ?? []).forEach((e, g) => {
      if (!e || !Number.isFinite(e.lo) || !Number.isFinite(e.hi)) return;
      const cx = Math.round(f.L + slot * (g + 0.5));
      const [y0, y1] = [Math.round(py(e.hi)), Math.round(py(e.lo))];
      const cap = Math.max(3 * s, Math.round(barW / 4));
      cv.fillRect(cx - Math.floor(s / 2), y0, Math.max(1, s), Math.max(1, y1 - y0), INK);
      cv.fillRect(cx - cap, y0, 2 * cap + 1, Math.max(1, s), INK);
      cv.fillRect(cx - cap, y1, 2 * cap + 1, Math.max(1, s), INK);
    });
  for (const l of opts.lines ?? []) {
    if (!Number.isFinite(l.value)) continue;
    const y = Math.round(py(l.value));
    cv.dashedLine(f.L, y, f.R, y, l.color ?? TARGET_RED, Math.max(1, s));
  }
  cv.clip = null;
  if (showTotals)
    for (let g = 0; g < nG; g++) {
      const top = normalize ? 100 : totals[g]!;
      const label = formatNumber(totals[g]!, 3) + (opts.unit ? ` ${opts.unit}` : '');
      const whisker = !normalize ? opts.errors?.[g] : null; // the total sits above its whisker
      const y = Math.min(Math.round(py(top)), whisker && Number.isFinite(whisker.hi) ? Math.round(py(whisker.hi)) - 2 * s : Infinity);
      cv.text(f.L + slot * (g + 0.5), y - 3 * s, label, { scale: s, align: 'center', valign: 'bottom', color: INK });
    }

  drawFrame(cv, f);
  for (let g = 0; g < nG; g++) {
    const cx = f.L + slot * (g + 0.5);
    cv.fillRect(Math.round(cx), f.B + 1, 1, tick, FRAME);
    glines[g]!.forEach((line, k) =>
      cv.text(cx, f.B + 1 + tick + 2 * s + k * glineH, line, { scale: gs, align: 'center', color: TICK_INK }),
    );
  }
  if (opts.xLabel) cv.text((f.L + f.R) / 2, H - pad, opts.xLabel, { scale: s, align: 'center', valign: 'bottom', color: INK });
  const meta: BarChartMeta = {
    frame: f,
    y: py,
    groups: opts.groups.map((name, g) => {
      const x0 = Math.round(f.L + slot * (g + 0.5) - barW / 2);
      return { name, x0: f.L + slot * g, x1: f.L + slot * (g + 1), barX0: x0, barX1: x0 + barW, values: opts.stacks.map((st) => val(st, g)), total: totals[g]! };
    }),
    stacks: opts.stacks.map((st, i) => ({ name: st.name, color: colors[i]! })),
  };
  return Object.assign(cv, { meta });
}

// ---------------------------------------------------------------- panels

/** Tiles canvases row by row into one image; each sits centred in a cell as large as the largest. */
export function panels(canvases: Canvas[], columns: number, opts: { gap?: number; background?: Color } = {}): Canvas {
  const n = canvases.length;
  const bg = opts.background ?? '#ffffff';
  if (n === 0) return new Canvas(1, 1, bg);
  const cols = Math.max(1, Math.min(n, Math.floor(columns) || 1));
  const rows = Math.ceil(n / cols);
  const gap = Math.max(0, Math.round(opts.gap ?? 0));
  const cw = Math.max(...canvases.map((c) => c.width));
  const ch = Math.max(...canvases.map((c) => c.height));
  const out = new Canvas(cols * cw + (cols - 1) * gap, rows * ch + (rows - 1) * gap, bg);
  canvases.forEach((c, i) => {
    const col = i % cols;
    const row = Math.floor(i / cols);
    out.drawImage(c, col * (cw + gap) + Math.floor((cw - c.width) / 2), row * (ch + gap) + Math.floor((ch - c.height) / 2));
  });
  return out;
}
