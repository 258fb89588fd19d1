// The lab's chart element (src/web/chart.ts) without a browser: its pure parts (smoothing, sizes,
// data tables, aria summaries, tooltip lookups) against real src/plot drawings.
import { describe, expect, it } from 'vitest';
import { barChart, lineChart, type BarChartMeta, type LineChartMeta } from '../src/plot/index.js';
import { textWidth } from '../src/plot/raster.js';
import { fmt } from '../src/bench/format.js';
import {
  barDataRows,
  barGroupAt,
  barsMinCssWidth,
  barSummary,
  barTooltip,
  chartSize,
  defaultFormat,
  lineDataRows,
  lineSummary,
  lineTooltip,
  nearestLinePoint,
  smoothSeries,
  textScaleFor,
} from '../src/web/chart.js';

describe('smoothSeries (TensorBoard-style debiased EMA)', () => {
  it('weight 0 is the identity; a constant series stays exactly constant', () => {
    expect(smoothSeries([3, 1, 4, 1, 5], 0)).toEqual([3, 1, 4, 1, 5]);
    expect(smoothSeries([0.1, 0.1, 0.1], 0.9)).toEqual([0.1, 0.1, 0.1]);
    expect(smoothSeries([], 0.6)).toEqual([]);
  });

  it('is debiased: the first value is kept, later ones follow the running average', () => {
    const s = smoothSeries([2, 4, 4], 0.5);
    expect(s[0]).toBeCloseTo(2, 12);
    // last = 0.5*1 + 0.5*4 = 2.5 after two points; debias by 1 - 0.25 => 3.333...
    expect(s[1]).toBeCloseTo(2.5 / 0.75, 12);
    expect(s[2]).toBeCloseTo((2.5 * 0.5 + 2) / 0.875, 12);
  });

  it('non-finite values pass through without poisoning the average; weights clamp to 0..0.99', () => {
    const s = smoothSeries([1, NaN, 3, Infinity, 3], 0.5);
    expect(Number.isNaN(s[1])).toBe(true);
    expect(s[3]).toBe(Infinity);
    expect(s.filter(Number.isFinite).every((v) => v >= 1 && v <= 3)).toBe(true);
    expect(smoothSeries([1, 2, 3], 5)).toEqual(smoothSeries([1, 2, 3], 0.99));
    expect(smoothSeries([1, 2, 3], -1)).toEqual([1, 2, 3]);
    expect(smoothSeries([1, 2, 3], NaN)).toEqual([1, 2, 3]);
  });
});

describe('sizes', () => {
  it('the text scale makes a line of the pixel font (9 rows) at least 11 CSS px tall', () => {
    expect(textScaleFor(1)).toBe(2); // 18 px
    expect(textScaleFor(1.5)).toBe(2); // 18 device px = 12 CSS px
    expect(textScaleFor(2)).toBe(3); // 27 device px = 13.5 CSS px
    expect(textScaleFor(3)).toBe(4);
    for (const dpr of [0.5, 1, 1.25, 1.5, 2, 2.625, 3, 4]) expect((9 * textScaleFor(dpr)) / dpr).toBeGreaterThanOrEqual(11);
    expect(textScaleFor(NaN)).toBe(2);
  });

  it('canvas pixels are the CSS size times devicePixelRatio; a minimum width scrolls instead of shrinking', () => {
    expect(chartSize(640.7, 2, { aspect: 0.5 })).toEqual({ cssWidth: 640, cssHeight: 320, width: 1280, height: 640 });
    expect(chartSize(300, 1, { aspect: 0.5, minHeight: 240 })).toEqual({ cssWidth: 300, cssHeight: 240, width: 300, height: 240 });
    expect(chartSize(300, 1.5, { aspect: 0.5, minWidth: 500 })).toEqual({ cssWidth: 500, cssHeight: 150, width: 750, height: 225 });
  });

  it('at barsMinCssWidth a bar chart keeps its group labels at full scale; narrower, it shrinks them', () => {
    const o = { title: 't', yLabel: 'ms', groups: ['bn', 'bn-fused', 'unnormalized'], stacks: [{ name: 's', values: [1, 2, 3] }] };
    const labelWidth = (w: number, minScale?: number) => {
      const c = barChart({ ...o, width: w, height: 400, scale: 2, minScale });
      const g = c.meta.groups[2]!;
      const cols: number[] = [];
      for (let x = Math.ceil(g.x0); x < g.x1; x++)
        for (let y = c.meta.frame.B + 8; y < c.height; y++) if (c.getPixel(x, y).slice(0, 3).join() === '68,68,68') (cols.push(x), (y = c.height));
      return cols.length ? Math.max(...cols) - Math.min(...cols) + 1 : 0;
    };
    const min = barsMinCssWidth(o, 2, 1);
    expect(labelWidth(min)).toBe(textWidth('unnormalized', 2));
    expect(labelWidth(min - 40)).toBe(textWidth('unnormalized', 1));
    expect(labelWidth(min - 40, 2)).toBe(textWidth('unnormalized', 2)); // what ChartView asks for: never below its scale
    expect(barsMinCssWidth(o, 3, 2)).toBeLessThan(min); // 3 device px per font pixel at dpr 2 is 1.5 CSS px
  });
});

const lineOpts = {
  title: 'loss',
  xLabel: 'step',
  yLabel: 'cross-entropy',
  series: [
    { name: 'per step', x: [1, 2, 3, 4], y: [2.3, 2.1, NaN, 1.23456] },
    { name: 'mean', x: [2, 4], y: [2.2, 1.5] },
  ],
};

describe('data tables', () => {
  it('a line chart: a row per x (ascending), a column per series, blank where a series has no point', () => {
    expect(lineDataRows(lineOpts, fmt)).toEqual([
      ['step', 'per step', 'mean'],
      ['1.00', '2.30', ''],
      ['2.00', '2.10', '2.20'],
      ['3.00', '-', ''],
      ['4.00', '1.23', '1.50'],
    ]);
    expect(lineDataRows({ xLabel: '', series: [{ name: '', x: [0.5], y: [1 / 3] }] })).toEqual([['x', 'series 1'], ['0.5', '0.3333']]);
  });

  it('a bar chart: a row per group, a column per stack and the total, units in the header', () => {
    const o = { groups: ['bn', 'skipinit'], stacks: [{ name: 'conv', values: [10.123, 9] }, { name: 'bn', values: [2, NaN] }], unit: 'ms' };
    expect(barDataRows(o, fmt)).toEqual([
      ['', 'conv (ms)', 'bn (ms)', 'total (ms)'],
      ['bn', '10.1', '2.00', '12.1'],
      ['skipinit', '9.00', '-', '9.00'],
    ]);
    expect(barDataRows({ groups: ['a'], stacks: [{ name: 'r', values: [0.7] }] })).toEqual([['', 'r'], ['a', '0.7']]);
  });
});

describe('aria summaries', () => {
  it('a line chart: title, series, x and y ranges, last values, reference lines', () => {
    const s = lineSummary({ ...lineOpts, refLines: [{ y: 10, label: 'chance' }] }, fmt);
    expect(s).toBe(
      'Line chart: loss. 2 series: per step, mean. x (step) from 1.00 to 4.00; y (cross-entropy) from 1.23 to 2.30. ' +
        'Last values: per step 1.23 at 4.00; mean 1.50 at 4.00. Reference line: chance at 10.0.',
    );
    expect(lineSummary({ title: 'x', xLabel: 'a', yLabel: 'b', series: [{ name: 'n', x: [], y: [] }] })).toBe('Line chart: x. 1 series: n. No data yet.');
  });

  it('a bar chart: title, groups, each stack from its lowest to its highest group, totals, targets', () => {
    const s = barSummary(
      { title: 'GPU time', yLabel: 'ms per step', groups: ['bn', 'skipinit'], stacks: [{ name: 'conv', values: [10, 9] }, { name: 'bn', values: [2, 0] }], unit: 'ms', lines: [{ value: 11, label: 'budget' }] },
      defaultFormat,
    );
    expect(s).toBe(
      'Bar chart: GPU time. ms per step for 2 groups: bn, skipinit. conv: from 9 ms (skipinit) to 10 ms (bn). bn: from 0 ms (skipinit) to 2 ms (bn). ' +
        'Totals: from 9 ms (skipinit) to 12 ms (bn). Reference line: budget at 11.',
    );
  });
});

describe('tooltips from the drawing\'s meta', () => {
  it('nearestLinePoint picks the closest drawn point in pixels', () => {
    const meta: Pick<LineChartMeta, 'series'> = {
      series: [
        { name: 'a', color: [0, 0, 0, 255], points: [{ i: 0, x: 0, y: 0, px: 10, py: 100 }, { i: 1, x: 1, y: 1, px: 50, py: 60 }] },
        { name: 'b', color: [0, 0, 0, 255], points: [{ i: 3, x: 1, y: 3, px: 50, py: 20 }] },
      ],
    };
    expect(nearestLinePoint(meta, 48, 30)).toEqual({ series: 1, point: meta.series[1]!.points[0] });
    expect(nearestLinePoint(meta, 12, 90)!.point.i).toBe(0);
    expect(nearestLinePoint({ series: [] }, 0, 0)).toBeNull();
  });

  it('lineTooltip maps a mouse position over a real chart to the series, x and y (formatted as the tables)', () => {
    const c = lineChart({ ...lineOpts, width: 640, height: 400 });
    const m = c.meta;
    const t = lineTooltip(m, lineOpts, m.x(4) - 3, m.y(1.5) + 2, fmt)!;
    expect(t.lines).toEqual(['mean', 'step: 4.00', 'cross-entropy: 1.50']);
    expect([t.px, t.py]).toEqual([m.x(4), m.y(1.5)]);
    // The NaN point is not drawn, so never offered; outside the plot: no tooltip.
    expect(m.series[0]!.points.map((p) => p.i)).toEqual([0, 1, 3]);
    expect(lineTooltip(m, lineOpts, 2, 2, fmt)).toBeNull();
  });

  it('barTooltip names the group under the mouse, each stack (with its share when normalized) and the total', () => {
    const o = { title: 'GPU', yLabel: 'ms', groups: ['bn', 'skipinit'], stacks: [{ name: 'conv', values: [10, 9] }, { name: 'bn', values: [2, 0] }], unit: 'ms' };
    const c = barChart({ ...o, width: 600, height: 400 });
    const m: BarChartMeta = c.meta;
    const g1 = m.groups[1]!;
    const midY = (m.frame.T + m.frame.B) / 2;
    expect(barGroupAt(m, (g1.x0 + g1.x1) / 2, midY)).toBe(1);
    expect(barGroupAt(m, m.frame.L - 5, midY)).toBe(-1);
    expect(barTooltip(m, o, g1.x0 + 1, midY, fmt)!.lines).toEqual(['skipinit', 'conv: 9.00 ms', 'bn: 0 ms', 'total: 9.00 ms']);
    const n = barChart({ ...o, normalize: true }).meta;
    const share = barTooltip(n, { ...o, normalize: true }, n.groups[0]!.x0 + 1, (n.frame.T + n.frame.B) / 2, fmt)!;
    expect(share.lines).toEqual(['bn', 'conv: 10.0 ms (83.3%)', 'bn: 2.00 ms (16.7%)', 'total: 12.0 ms']);
  });
});
