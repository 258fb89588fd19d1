// A chart element for the lab page: a src/plot drawing at the element's own width times
// devicePixelRatio (so its pixel font is sharp and at least MIN_LABEL_CSS_PX tall), redrawn when
// the element is resized, with an aria-label that summarizes it, a tooltip for the point under the
// mouse and a "data" table of its numbers. Browser only in ChartView; everything above it is pure
// (no DOM) and unit-tested in Node (test/web_chart.test.ts).
import { barChart, barChartMinWidth, lineChart, type BarChartMeta, type BarChartOptions, type LineChartMeta, type LineChartOptions } from '../plot/charts.js';
import { FONT_HEIGHT } from '../plot/raster.js';
import { formatNumber } from '../plot/ticks.js';
import { blit, el, table } from './ui.js';

export type LineSpec = Omit<LineChartOptions, 'width' | 'height' | 'scale'>;
export type BarSpec = Omit<BarChartOptions, 'width' | 'height' | 'scale'>;
export type NumberFormat = (v: number) => string;

/** What a chart shows numbers with unless told otherwise: src/plot's formatNumber at 4 significant digits. */
export const defaultFormat: NumberFormat = (v) => formatNumber(v, 4);

/** Labels are at least this tall in CSS pixels (a line of the pixel font, descenders included). */
export const MIN_LABEL_CSS_PX = 11;

// ---------------------------------------------------------------- pure helpers

/** The integer text scale that makes a line of the pixel font at least `minCssPx` CSS pixels tall. */
export function textScaleFor(dpr: number, minCssPx = MIN_LABEL_CSS_PX): number {
  const d = Number.isFinite(dpr) && dpr > 0 ? dpr : 1;
  return Math.max(1, Math.ceil((minCssPx * d) / FONT_HEIGHT - 1e-9));
}

export interface ChartSize {
  /** CSS pixels (the canvas's style size). */
  cssWidth: number;
  cssHeight: number;
  /** Canvas pixels: the CSS size times devicePixelRatio. */
  width: number;
  height: number;
}

/**
 * The chart's size for a box `boxWidth` CSS pixels wide: as wide as the box (or `minWidth`, the box
 * then scrolls), `aspect` times the box's width tall, at least `minHeight`.
 */
export function chartSize(boxWidth: number, dpr: number, opts: { aspect: number; minWidth?: number; minHeight?: number }): ChartSize {
  const d = Number.isFinite(dpr) && dpr > 0 ? dpr : 1;
  const box = Math.max(1, Math.floor(boxWidth));
  const cssWidth = Math.max(box, Math.ceil(opts.minWidth ?? 0));
  const cssHeight = Math.max(Math.round(opts.minHeight ?? 0), Math.round(box * opts.aspect), 1);
  return { cssWidth, cssHeight, width: Math.round(cssWidth * d), height: Math.round(cssHeight * d) };
}

/** The CSS width below which a bar chart would shrink its group labels under the scale `s`. */
export function barsMinCssWidth(o: Pick<BarSpec, 'groups' | 'yLabel'>, s: number, dpr: number): number {
  return Math.ceil(barChartMinWidth(o, s) / (Number.isFinite(dpr) && dpr > 0 ? dpr : 1)) + 1;
}

/**
 * Exponential moving average as TensorBoard's smoothing slider computes it: weight 0 (none) to
 * 0.99, debiased so the first points are not pulled towards 0; non-finite values pass through and
 * do not enter the average; a constant series stays exactly constant.
 */
export function smoothSeries(values: readonly number[], weight: number): number[] {
  const w = Number.isFinite(weight) ? Math.min(0.99, Math.max(0, weight)) : 0;
  const constant = values.every((v) => v === values[0]);
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (constant || !Number.isFinite(v)) return v;
    last = last * w + (1 - w) * v;
    n++;
    return last / (1 - w ** n);
  });
}

function finiteRange(vs: Iterable<number>): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of vs) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}

/** Points of a series that can be drawn (both coordinates finite), in order. */
function finitePoints(sr: LineSpec['series'][number]): { x: number; y: number }[] {
  const out: { x: number; y: number }[] = [];
  for (let i = 0; i < Math.min(sr.x.length, sr.y.length); i++) if (Number.isFinite(sr.x[i]) && Number.isFinite(sr.y[i])) out.push({ x: sr.x[i]!, y: sr.y[i]! });
  return out;
}

const seriesName = (name: string, i: number) => name || `series ${i + 1}`;

/** The data table of a line chart: a row per x value (ascending), a column per series ('' where a series has no point there). */
export function lineDataRows(o: Pick<LineSpec, 'xLabel' | 'series'>, format: NumberFormat = defaultFormat): string[][] {
  const byX = new Map<number, string[]>();
  o.series.forEach((sr, j) => {
    for (let i = 0; i < Math.min(sr.x.length, sr.y.length); i++) {
      const x = sr.x[i]!;
      if (Number.isNaN(x)) continue;
      let row = byX.get(x);
      if (!row) byX.set(x, (row = o.series.map(() => '')));
      row[j] = format(sr.y[i]!);
    }
  });
  const xs = [...byX.keys()].sort((a, b) => a - b);
  return [[o.xLabel || 'x', ...o.series.map((sr, j) => seriesName(sr.name, j))], ...xs.map((x) => [format(x), ...byX.get(x)!])];
}

/** The data table of a bar chart: a row per group, a column per stack, and the total when there are several stacks. */
export function barDataRows(o: Pick<BarSpec, 'groups' | 'stacks' | 'unit'>, format: NumberFormat = defaultFormat): string[][] {
  const unit = o.unit ? ` (${o.unit})` : '';
  const several = o.stacks.length > 1;
  const head = ['', ...o.stacks.map((st) => `${st.name}${unit}`), ...(several ? [`total${unit}`] : [])];
  return [
    head,
    ...o.groups.map((g, i) => {
      const vs = o.stacks.map((st) => st.values[i] ?? NaN);
      const total = vs.reduce((a, v) => a + (Number.isFinite(v) && v > 0 ? v : 0), 0);
      return [g, ...vs.map((v) => (Number.isFinite(v) ? format(v) : '-')), ...(several ? [format(total)] : [])];
    }),
  ];
}

/** The aria-label of a line chart: title, series, x and y ranges, each series' last point, reference lines. */
export function lineSummary(o: Pick<LineSpec, 'title' | 'xLabel' | 'yLabel' | 'series' | 'refLines'>, format: NumberFormat = defaultFormat): string {
  const pts = o.series.map(finitePoints);
  const xr = finiteRange(pts.flatMap((p) => p.map((q) => q.x)));
  const yr = finiteRange(pts.flatMap((p) => p.map((q) => q.y)));
  const parts = [`Line chart: ${o.title || 'untitled'}.`];
  parts.push(`${o.series.length} series: ${o.series.map((sr, i) => seriesName(sr.name, i)).join(', ')}.`);
  if (!xr || !yr) parts.push('No data yet.');
  else {
    parts.push(`x (${o.xLabel || 'x'}) from ${format(xr[0])} to ${format(xr[1])}; y (${o.yLabel || 'y'}) from ${format(yr[0])} to ${format(yr[1])}.`);
    const last = o.series.flatMap((sr, i) => {
      const p = pts[i]![pts[i]!.length - 1];
      return p ? [`${seriesName(sr.name, i)} ${format(p.y)} at ${format(p.x)}`] : [];
    });
    parts.push(`Last values: ${last.join('; ')}.`);
  }
  for (const l of o.refLines ?? []) parts.push(`Reference line: ${l.label} at ${format(l.y)}.`);
  return parts.join(' ');
}

/** The aria-label of a bar chart: title, groups, each stack's range (with its groups), totals, reference lines. */
export function barSummary(o: Pick<BarSpec, 'title' | 'yLabel' | 'groups' | 'stacks' | 'unit' | 'lines'>, format: NumberFormat = defaultFormat): string {
  const unit = o.unit ? ` ${o.unit}` : '';
  const parts = [`Bar chart: ${o.title || 'untitled'}.`, `${o.yLabel || 'value'} for ${o.groups.length} groups: ${o.groups.join(', ')}.`];
  const extremes = (vs: number[]) => {
    let [lo, hi] = [-1, -1];
    vs.forEach((v, i) => {
      if (!Number.isFinite(v)) return;
      if (lo < 0 || v < vs[lo]!) lo = i;
      if (hi < 0 || v > vs[hi]!) hi = i;
    });
    return lo < 0 ? 'no values' : `from ${format(vs[lo]!)}${unit} (${o.groups[lo]}) to ${format(vs[hi]!)}${unit} (${o.groups[hi]})`;
  };
  for (const st of o.stacks) parts.push(`${st.name}: ${extremes(o.groups.map((_, i) => st.values[i] ?? NaN))}.`);
  if (o.stacks.length > 1) parts.push(`Totals: ${extremes(o.groups.map((_, i) => o.stacks.reduce((a, st) => a + (Number.isFinite(st.values[i]) && st.values[i]! > 0 ? st.values[i]! : 0), 0)))}.`);
  for (const l of o.lines ?? []) if (Number.isFinite(l.value)) parts.push(`Reference line: ${l.label ?? 'line'} at ${format(l.value)}.`);
  return parts.join(' ');
}

/** The drawn point nearest to canvas pixel (px, py), or null when no series has one. */
export function nearestLinePoint(meta: Pick<LineChartMeta, 'series'>, px: number, py: number): { series: number; point: LineChartMeta['series'][number]['points'][number] } | null {
  let best: { series: number; point: LineChartMeta['series'][number]['points'][number] } | null = null;
  let bestD = Infinity;
  meta.series.forEach((sr, j) =>
    sr.points.forEach((p) => {
      const d = (p.px - px) ** 2 + (p.py - py) ** 2;
      if (d < bestD) [bestD, best] = [d, { series: j, point: p }];
    }),
  );
  return best;
}

/** Whether canvas pixel (px, py) is in the plot area, with `margin` pixels around it. */
export function inFrame(meta: { frame: LineChartMeta['frame'] }, px: number, py: number, margin = 0): boolean {
  const f = meta.frame;
  return px >= f.L - margin && px <= f.R + margin && py >= f.T - margin && py <= f.B + margin;
}

/** The tooltip of a line chart at canvas pixel (px, py): series name, x and y; null outside the plot. */
export function lineTooltip(meta: LineChartMeta, o: Pick<LineSpec, 'xLabel' | 'yLabel' | 'series'>, px: number, py: number, format: NumberFormat = defaultFormat): { lines: string[]; px: number; py: number } | null {
  if (!inFrame(meta, px, py, 8)) return null;
  const hit = nearestLinePoint(meta, px, py);
  if (!hit) return null;
  const name = seriesName(o.series[hit.series]?.name ?? '', hit.series);
  return { lines: [name, `${o.xLabel || 'x'}: ${format(hit.point.x)}`, `${o.yLabel || 'y'}: ${format(hit.point.y)}`], px: hit.point.px, py: hit.point.py };
}

/** The group whose slot holds canvas x `px` (inside the plot area), or -1. */
export function barGroupAt(meta: Pick<BarChartMeta, 'frame' | 'groups'>, px: number, py: number): number {
  if (!inFrame(meta, px, py)) return -1;
  return meta.groups.findIndex((g) => px >= g.x0 && px < g.x1);
}

/** The tooltip of a bar chart at canvas pixel (px, py): the group, each stack's value (and share, normalized), the total. */
export function barTooltip(meta: BarChartMeta, o: Pick<BarSpec, 'stacks' | 'unit' | 'normalize'>, px: number, py: number, format: NumberFormat = defaultFormat): { lines: string[]; px: number; py: number } | null {
  const g = barGroupAt(meta, px, py);
  if (g < 0) return null;
  const grp = meta.groups[g]!;
  const unit = o.unit ? ` ${o.unit}` : '';
  const lines = [grp.name];
  o.stacks.forEach((st) => {
    const v = st.values[g];
    const share = o.normalize && grp.total > 0 && Number.isFinite(v) ? ` (${((100 * Math.max(0, v!)) / grp.total).toFixed(1)}%)` : '';
    lines.push(`${st.name}: ${v !== undefined && Number.isFinite(v) ? format(v) + unit : '-'}${share}`);
  });
  if (o.stacks.length > 1) lines.push(`total: ${format(grp.total)}${unit}`);
  return { lines, px: (grp.barX0 + grp.barX1) / 2, py: meta.y(o.normalize ? 100 : grp.total) };
}

// ---------------------------------------------------------------- the element

export interface ChartViewOptions {
  /** Height over width (default 0.6). */
  aspect?: number;
  /** Widest the chart grows, in CSS pixels (default: its container's width). */
  maxWidth?: number;
  /** Lowest it gets, in CSS pixels (default 240). */
  minHeight?: number;
  /** Numbers in the tooltip and the data table (default defaultFormat); pass the view's table formatter. */
  format?: NumberFormat;
}

type Drawn = { kind: 'line'; spec: LineSpec; meta: LineChartMeta } | { kind: 'bars'; spec: BarSpec; meta: BarChartMeta };

/**
 * A chart in the page: `element` holds the canvas (id `id`, class `chart`), its tooltip and a
 * "data" <details>. Call line() or bars() with the chart's options (again to update it); it is
 * drawn at the element's width and redrawn on resize.
 */
export class ChartView {
  readonly element: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  private readonly box: HTMLDivElement;
  private readonly tip: HTMLDivElement;
  private readonly dot: HTMLDivElement;
  private readonly data: HTMLDetailsElement;
  private readonly format: NumberFormat;
  private readonly aspect: number;
  private readonly minHeight: number;
  private spec: { kind: 'line'; spec: LineSpec } | { kind: 'bars'; spec: BarSpec } | null = null;
  private drawn: (Drawn & { boxWidth: number; dpr: number }) | null = null;
  private resizeTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly observer: ResizeObserver | null;

  constructor(readonly id: string, opts: ChartViewOptions = {}) {
    this.format = opts.format ?? defaultFormat;
    this.aspect = opts.aspect ?? 0.6;
    this.minHeight = opts.minHeight ?? 240;
    this.element = el('figure', undefined, 'chart-figure');
    this.element.id = `${id}-figure`;
    if (opts.maxWidth) this.element.style.maxWidth = `${opts.maxWidth}px`;
    this.box = el('div', undefined, 'chart-box');
    this.canvas = el('canvas', undefined, 'chart');
    this.canvas.id = id;
    this.canvas.setAttribute('role', 'img');
    this.box.appendChild(this.canvas);
    this.tip = el('div', undefined, 'chart-tip');
    this.tip.hidden = true;
    this.tip.setAttribute('role', 'tooltip');
    this.dot = el('div', undefined, 'chart-dot');
    this.dot.hidden = true;
    this.data = el('details', undefined, 'chart-data');
    this.data.appendChild(el('summary', 'data'));
    this.data.addEventListener('toggle', () => this.fillTable());
    this.element.append(this.box, this.tip, this.dot, this.data);
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => this.hideTip());
    // The first size it gets draws at once; later changes (window resizes, layout) once they settle.
    this.observer = typeof ResizeObserver === 'function' ? new ResizeObserver(() => this.resized()) : null;
    this.observer?.observe(this.box);
  }

  /** Show a line chart (the options of src/plot's lineChart, less its size). */
  line(spec: LineSpec): void {
    this.spec = { kind: 'line', spec };
    this.update();
  }

  /** Show a bar chart (the options of src/plot's barChart, less its size). */
  bars(spec: BarSpec): void {
    this.spec = { kind: 'bars', spec };
    this.update();
  }

  /** Stop following the element's size (when it leaves the page for good). */
  dispose(): void {
    this.observer?.disconnect();
    clearTimeout(this.resizeTimer);
  }

  private update(): void {
    if (!this.spec) return;
    const s = this.spec;
    this.canvas.setAttribute('aria-label', s.kind === 'line' ? lineSummary(s.spec, this.format) : barSummary(s.spec, this.format));
    this.draw();
    if (this.data.open) this.fillTable();
  }

  private resized(): void {
    if (!this.drawn) return this.draw();
    clearTimeout(this.resizeTimer);
    this.resizeTimer = setTimeout(() => {
      if (Math.floor(this.box.clientWidth) !== this.drawn?.boxWidth || window.devicePixelRatio !== this.drawn.dpr) this.draw();
    }, 150);
  }

  /** Draw at the box's current width; nothing while it has none (a hidden view, not in the page yet). */
  private draw(): void {
    const boxWidth = this.box.clientWidth;
    if (!this.spec || boxWidth <= 0) return;
    const dpr = window.devicePixelRatio || 1;
    const scale = textScaleFor(dpr);
    const s = this.spec;
    const minWidth = s.kind === 'bars' ? barsMinCssWidth(s.spec, scale, dpr) : 0;
    const size = chartSize(boxWidth, dpr, { aspect: this.aspect, minWidth, minHeight: this.minHeight });
    const drawnSize = { width: size.width, height: size.height, scale };
    let d: Drawn;
    if (s.kind === 'line') {
      const c = lineChart({ ...s.spec, ...drawnSize });
      blit(c, this.canvas);
      d = { kind: 'line', spec: s.spec, meta: c.meta };
    } else {
      const c = barChart({ ...s.spec, ...drawnSize, minScale: scale }); // no label below MIN_LABEL_CSS_PX
      blit(c, this.canvas);
      d = { kind: 'bars', spec: s.spec, meta: c.meta };
    }
    this.canvas.style.width = `${size.cssWidth}px`;
    this.canvas.style.height = `${size.cssHeight}px`;
    const f = d.meta.frame;
    // The plot area in CSS pixels of the canvas (what the browser tests hover).
    this.canvas.dataset.plot = [f.L, f.T, f.R, f.B].map((v) => (v / dpr).toFixed(1)).join(',');
    this.drawn = { ...d, boxWidth: Math.floor(boxWidth), dpr };
    this.hideTip();
  }

  private hover(e: MouseEvent): void {
    const d = this.drawn;
    if (!d) return;
    const r = this.canvas.getBoundingClientRect();
    const k = this.canvas.width / r.width; // canvas pixels per CSS pixel
    const px = (e.clientX - r.left) * k;
    const py = (e.clientY - r.top) * k;
    const t = d.kind === 'line' ? lineTooltip(d.meta, d.spec, px, py, this.format) : barTooltip(d.meta, d.spec, px, py, this.format);
    if (!t) return this.hideTip();
    const fig = this.element.getBoundingClientRect();
    this.tip.textContent = t.lines.join('\n');
    this.tip.hidden = false;
    const mx = e.clientX - fig.left;
    const my = e.clientY - fig.top;
    // Right of and below the mouse, or left of it near the figure's right edge.
    const left = mx + 14 + this.tip.offsetWidth > fig.width ? mx - 14 - this.tip.offsetWidth : mx + 14;
    this.tip.style.left = `${Math.max(0, left)}px`;
    this.tip.style.top = `${Math.max(0, my + 14)}px`;
    this.dot.hidden = false;
    this.dot.style.left = `${r.left - fig.left + t.px / k}px`;
    this.dot.style.top = `${r.top - fig.top + t.py / k}px`;
  }

  private hideTip(): void {
    this.tip.hidden = true;
    this.dot.hidden = true;
  }

  /** The table is built when the <details> opens (a long training run has thousands of rows). */
  private fillTable(): void {
    this.data.querySelector('table')?.remove();
    if (!this.data.open || !this.spec) return;
    const s = this.spec;
    const t = table(s.kind === 'line' ? lineDataRows(s.spec, this.format) : barDataRows(s.spec, this.format), 'num');
    t.id = `${this.id}-data`;
    this.data.appendChild(t);
  }
}
