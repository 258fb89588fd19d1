import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  barChart,
  Canvas,
  formatNumber,
  formatTicks,
  lineChart,
  logTicks,
  niceScale,
  niceTicks,
  panels,
  parseColor,
  savePng,
  textWidth,
} from '../src/plot/index.js';

const dir = mkdtempSync(join(tmpdir(), 'wrn-plot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readPng(path: string): PNG {
  return PNG.sync.read(readFileSync(path));
}

/** Pixels exactly equal to `hex` inside the fractional box [fx0, fx1) x [fy0, fy1) of the image. */
function countColor(img: { width: number; height: number; data: Uint8Array | Buffer }, hex: string, box = [0, 0, 1, 1]): number {
  const [r, g, b] = parseColor(hex);
  const [fx0, fy0, fx1, fy1] = box as [number, number, number, number];
  let n = 0;
  for (let y = Math.floor(fy0 * img.height); y < Math.floor(fy1 * img.height); y++)
    for (let x = Math.floor(fx0 * img.width); x < Math.floor(fx1 * img.width); x++) {
      const i = (y * img.width + x) * 4;
      if (img.data[i] === r && img.data[i + 1] === g && img.data[i + 2] === b) n++;
    }
  return n;
}

/** Bounding box of pixels that differ from white. */
function inkBox(c: Canvas): { n: number; w: number; h: number } {
  let n = 0;
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let y = 0; y < c.height; y++)
    for (let x = 0; x < c.width; x++) {
      const [r, g, b] = c.getPixel(x, y);
      if (r !== 255 || g !== 255 || b !== 255) {
        n++;
        [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
      }
    }
  return { n, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

// The plot area lies below title + legend and right of the y labels; this box is safely inside it.
const PLOT_BOX = [0.2, 0.3, 0.95, 0.85];

describe('ticks', () => {
  it('linear ticks are 1-2-5 steps without float noise', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 100, 6)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(-1, 1, 5)).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(niceTicks(0.013, 0.047, 4)).toEqual([0.02, 0.03, 0.04]);
    expect(niceTicks(1, 0)).toEqual(niceTicks(0, 1));
    expect(niceTicks(NaN, 1)).toEqual([]);
  });

  it('niceScale widens the range to whole steps', () => {
    expect(niceScale(0.31, 2.3, 6)).toEqual({ min: 0, max: 2.5, ticks: [0, 0.5, 1, 1.5, 2, 2.5] });
    const flat = niceScale(5, 5);
    expect(flat.min).toBeLessThan(5);
    expect(flat.max).toBeGreaterThan(5);
  });

  it('log ticks are powers of ten, thinned for wide ranges', () => {
    expect(logTicks(1, 1e6)).toEqual([1, 10, 100, 1000, 1e4, 1e5, 1e6]);
    expect(logTicks(1e-3, 1)).toEqual([1e-3, 1e-2, 1e-1, 1]);
    const wide = logTicks(1, 1e30);
    expect(wide).toEqual([1, 1e5, 1e10, 1e15, 1e20, 1e25, 1e30]);
    // Narrow ranges still get at least two ticks.
    expect(logTicks(2, 8).length).toBeGreaterThanOrEqual(2);
    expect(logTicks(3, 4).length).toBeGreaterThanOrEqual(2);
    expect(logTicks(0, 10)).toEqual([]);
  });

  it('numbers are formatted compactly', () => {
    expect(formatNumber(1e12)).toBe('1e12');
    expect(formatNumber(0.001)).toBe('0.001');
    expect(formatNumber(250)).toBe('250');
    expect(formatNumber(2.5e-7)).toBe('2.5e-7');
    expect(formatNumber(-1e30)).toBe('-1e30');
    expect(formatNumber(0.1 + 0.2)).toBe('0.3');
    expect(formatNumber(62.8123, 3)).toBe('62.8');
    expect(formatNumber(NaN)).toBe('NaN');
    expect(formatTicks([0, 0.2, 0.4])).toEqual(['0', '0.2', '0.4']);
    expect(formatTicks([0, 5e4, 1e5])).toEqual(['0', '5e4', '1e5']);
  });
});

describe('raster', () => {
  it('text draws pixels for a string and none for a space', () => {
    const c = new Canvas(200, 40);
    const w = c.text(2, 2, 'Ag.,-+:%()/=_[]e 019', { scale: 1 });
    expect(w).toBe(textWidth('Ag.,-+:%()/=_[]e 019'));
    expect(inkBox(c).n).toBeGreaterThan(50);
    const blank = new Canvas(40, 40);
    blank.text(5, 5, ' ', { scale: 3 });
    expect(inkBox(blank).n).toBe(0);
    expect(textWidth(' ')).toBeGreaterThan(0);
  });

  it('every printable ASCII character has a glyph and scale multiplies its size', () => {
    for (let code = 33; code < 127; code++) {
      const c = new Canvas(20, 20);
      c.text(2, 2, String.fromCharCode(code));
      expect(inkBox(c).n, String.fromCharCode(code)).toBeGreaterThan(0);
    }
    const a = new Canvas(100, 60);
    a.text(1, 1, 'H', { scale: 1 });
    const b = new Canvas(100, 60);
    b.text(1, 1, 'H', { scale: 3 });
    expect(inkBox(b).n).toBe(9 * inkBox(a).n);
  });

  it('vertical text is rotated', () => {
    const c = new Canvas(100, 200);
    c.text(20, 150, 'vertical label', { vertical: true });
    const box = inkBox(c);
    expect(box.h).toBeGreaterThan(box.w * 3);
  });

  it('lines, dashes, circles and alpha blending', () => {
    const c = new Canvas(100, 100);
    c.line(10, 10.5, 90, 10.5, '#000000', { width: 2 });
    expect(c.getPixel(50, 10)).toEqual([0, 0, 0, 255]);
    c.dashedLine(10, 50.5, 90, 50.5, '#000000', 2, [5, 5]);
    let on = 0;
    for (let x = 10; x < 90; x++) if (c.getPixel(x, 50)[0] < 128) on++;
    expect(on).toBeGreaterThan(25);
    expect(on).toBeLessThan(60);
    c.setPixel(5, 90, [255, 0, 0, 128]);
    const [r, g] = c.getPixel(5, 90);
    expect(r).toBe(255);
    expect(g).toBeGreaterThan(100);
    expect(g).toBeLessThan(160);
    c.circle(70, 80, 6, '#0072B2');
    expect(c.getPixel(70, 80)).toEqual([...parseColor('#0072B2')]);
    // Huge coordinates (overflowed data) must neither hang nor throw.
    c.polyline([[0, 0], [1e300, 1e300], [-1e308, 5]], '#000', { width: 2, dash: [3, 3] });
  });
});

describe('charts', () => {
  const xs = Array.from({ length: 50 }, (_, i) => i);

  it('line chart renders to a PNG of the requested size with the series colour in the plot area', () => {
    const c = lineChart({
      title: 'Loss',
      xLabel: 'Epoch',
      yLabel: 'Loss',
      width: 640,
      height: 400,
      series: [
        { name: 'train', x: xs, y: xs.map((x) => 2 * Math.exp(-x / 10)), color: '#0072B2' },
        { name: 'test', x: xs, y: xs.map((x) => 2.2 * Math.exp(-x / 12)), color: '#D55E00', dashed: true, markers: true },
      ],
    });
    const path = join(dir, 'nested', 'deeper', 'line.png');
    savePng(c, path);
    const img = readPng(path);
    expect([img.width, img.height]).toEqual([640, 400]);
    expect(countColor(img, '#0072B2', PLOT_BOX)).toBeGreaterThan(100);
    expect(countColor(img, '#D55E00', PLOT_BOX)).toBeGreaterThan(50);
    expect(readdirSync(join(dir, 'nested', 'deeper'))).toEqual(['line.png']);
  });

  it('NaN, Infinity, empty and ragged series do not throw; a single point shows a marker', () => {
    const y = xs.map((x) => (x % 7 === 3 ? NaN : x === 20 ? Infinity : x === 30 ? -Infinity : x));
    const c = lineChart({
      title: 'Overflow',
      xLabel: 'step',
      yLabel: 'value',
      series: [
        { name: 'with holes', x: xs, y },
        { name: 'all NaN', x: xs, y: xs.map(() => NaN) },
        { name: 'empty', x: [], y: [] },
        { name: 'ragged', x: [1, 2, 3], y: [1] },
        { name: 'one point', x: [25], y: [25], color: '#CC79A7' },
      ],
    });
    expect(countColor(c, '#CC79A7', PLOT_BOX)).toBeGreaterThan(10);
    // Log axes drop non-positive values too.
    expect(() => lineChart({ title: '', xLabel: '', yLabel: '', logX: true, logY: true, series: [{ name: 'a', x: xs, y: xs.map((v) => v - 10) }] })).not.toThrow();
    // Nothing drawable at all.
    expect(() => lineChart({ title: 't', xLabel: 'x', yLabel: 'y', logY: true, series: [{ name: 'a', x: [1, 2], y: [NaN, -1] }] })).not.toThrow();
    expect(() => lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [] })).not.toThrow();
    // Enormous finite values on a linear axis.
    expect(() => lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', x: [0, 1, 2], y: [-1e308, 0, 1e308] }] })).not.toThrow();
  });

  it('log axes from 1 to 1e30 work', () => {
    const e = Array.from({ length: 31 }, (_, i) => i);
    const c = lineChart({
      title: 'Activation growth',
      xLabel: 'layer',
      yLabel: 'RMS',
      logY: true,
      series: [{ name: 'no BN', x: e, y: e.map((k) => 10 ** k), color: '#009E73' }],
    });
    expect(countColor(c, '#009E73', PLOT_BOX)).toBeGreaterThan(100);
    const both = lineChart({ title: '', xLabel: 'n', yLabel: 'y', logX: true, logY: true, series: [{ name: '', x: e.map((k) => 10 ** k), y: e.map((k) => 10 ** k) }] });
    expect(both.width).toBe(900);
  });

  it('yMin / yMax clip the data to the plot area', () => {
    const c = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', yMin: 0, yMax: 10, series: [{ name: 's', x: xs, y: xs.map((v) => v * 100), color: '#0072B2' }] });
    // The title row (top 5%) must not be painted by data shooting off the top.
    expect(countColor(c, '#0072B2', [0, 0, 1, 0.05])).toBe(0);
  });

  it('a reference line is drawn dashed grey on its row, with its label, and joins the y range', () => {
    const c = lineChart({ title: 'accuracy', xLabel: 'step', yLabel: '%', yMin: 0, yMax: 100, width: 640, height: 400, series: [{ name: 'test', x: [0, 10], y: [60, 80], color: '#0072B2' }], refLines: [{ y: 10, label: 'chance' }] });
    const { frame: f, y } = c.meta;
    const row = Math.floor(y(10));
    const grey = (r: number) => {
      let n = 0;
      for (let x = f.L; x < f.R; x++) if (c.getPixel(x, r).slice(0, 3).join() === '136,136,136') n++;
      return n;
    };
    // Dashes of 6 on, 4 off: over half the row, and nothing grey two rows away.
    expect(grey(row)).toBeGreaterThan(0.45 * (f.R - f.L));
    expect(grey(row + 3)).toBe(0);
    // Its label sits just above the line, at the right.
    let labelInk = 0;
    for (let yy = row - 30; yy < row - 2; yy++) for (let x = Math.round((f.L + f.R) / 2); x < f.R; x++) if (c.getPixel(x, yy)[0] === 0x66) labelInk++;
    expect(labelInk).toBeGreaterThan(10);
    // Off the data's range, the axis still reaches it.
    const far = lineChart({ title: '', xLabel: '', yLabel: '', series: [{ name: '', x: [0, 1], y: [50, 60] }], refLines: [{ y: 10, label: 'chance' }] });
    expect(far.meta.yRange[0]).toBeLessThanOrEqual(10);
    // Outside an explicit range it is left out, not drawn across the margin.
    const cut = lineChart({ title: '', xLabel: '', yLabel: '', yMin: 40, yMax: 70, series: [{ name: '', x: [0, 1], y: [50, 60] }], refLines: [{ y: 10, label: 'chance' }] });
    expect(countColor(cut, '#888888')).toBe(0);
    // Without refLines the drawing has no such grey.
    const none = lineChart({ title: 'accuracy', xLabel: 'step', yLabel: '%', yMin: 0, yMax: 100, width: 640, height: 400, series: [{ name: 'test', x: [0, 10], y: [60, 80], color: '#0072B2' }] });
    expect(countColor(none, '#888888')).toBe(0);
  });

  it('end points on the edges of the range are drawn whole: markers and line ends are not cut by the frame', () => {
    const opts = { title: '', xLabel: 'x', yLabel: 'y', xMin: 0, xMax: 10, yMin: 0, yMax: 10, width: 400, height: 300, scale: 2 };
    // The same marker at the right edge and in the middle: the same number of its pixels.
    const markerInk = (x: number) => {
      const c = lineChart({ ...opts, series: [{ name: '', x: [x], y: [5], color: '#CC79A7' }] });
      const [cx, cy] = [c.meta.x(x), c.meta.y(5)];
      let n = 0;
      for (let yy = Math.floor(cy - 12); yy <= cy + 12; yy++) for (let xx = Math.floor(cx - 12); xx <= cx + 12; xx++) if (c.getPixel(xx, yy).slice(0, 3).join() === '204,121,167') n++;
      return n;
    };
    expect(markerInk(5)).toBeGreaterThan(20);
    expect(markerInk(10)).toBe(markerInk(5));
    expect(markerInk(0)).toBe(markerInk(5));
    // A line ending on the right edge and one running along the top keep their full width there.
    const c = lineChart({ ...opts, series: [{ name: '', x: [0, 10], y: [2, 2], color: '#009E73' }, { name: '', x: [0, 10], y: [10, 10], color: '#0072B2' }] });
    const f = c.meta.frame;
    const green = (x: number) => [...Array(c.height).keys()].filter((y) => c.getPixel(x, y).slice(0, 3).join() === '0,158,115').length;
    expect(green(f.R)).toBe(green(Math.round((f.L + f.R) / 2))); // the end cap covers the frame's column
    const blueRows = [...Array(c.height).keys()].filter((y) => c.getPixel(Math.round((f.L + f.R) / 2), y).slice(0, 3).join() === '0,114,178');
    expect(blueRows.length).toBeGreaterThanOrEqual(2);
    expect(Math.min(...blueRows)).toBeLessThan(f.T); // half of the line lies above the top edge, over the frame
    // Points outside an explicit range are still not drawn.
    const out = lineChart({ ...opts, series: [{ name: '', x: [12], y: [5], color: '#CC79A7' }] });
    expect(countColor(out, '#CC79A7')).toBe(0);
  });

  it('the charts report where they drew (meta) for a page to map the mouse back to data', () => {
    const c = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', xMin: 0, xMax: 4, yMin: 0, yMax: 8, series: [{ name: 'a', x: [0, 2, 4, NaN], y: [0, 4, 8, 1] }] });
    const { frame: f, x, y, series } = c.meta;
    expect([x(0), x(4), y(0), y(8)]).toEqual([f.L, f.R, f.B, f.T]);
    expect(series[0]!.points.map((p) => [p.i, p.x, p.y])).toEqual([[0, 0, 0], [1, 2, 4], [2, 4, 8]]);
    const b = barChart({ title: 'b', yLabel: 'ms', groups: ['g0', 'g1'], stacks: [{ name: 's', values: [1, -2] }] });
    expect(b.meta.groups.map((g) => [g.name, g.values, g.total])).toEqual([['g0', [1], 1], ['g1', [0], 0]]);
    expect(b.meta.groups[0]!.x1).toBeCloseTo(b.meta.groups[1]!.x0);
    expect(b.meta.groups[0]!.barX0).toBeGreaterThanOrEqual(b.meta.groups[0]!.x0);
  });

  it('stacked bar chart renders groups, stacks and survives bad values', () => {
    const c = barChart({
      title: 'Time per step',
      yLabel: 'ms',
      groups: ['BN', 'no BN', 'a rather long group name'],
      stacks: [
        { name: 'conv', values: [40, 41, 39], color: '#0072B2' },
        { name: 'bn', values: [12, 0, NaN], color: '#D55E00' },
        { name: 'relu', values: [3, -1, Infinity], color: '#009E73' },
      ],
      unit: 'ms',
      width: 700,
      height: 450,
    });
    const path = join(dir, 'bars.png');
    savePng(c, path);
    const img = readPng(path);
    expect([img.width, img.height]).toEqual([700, 450]);
    expect(countColor(img, '#0072B2', PLOT_BOX)).toBeGreaterThan(1000);
    expect(countColor(img, '#D55E00', PLOT_BOX)).toBeGreaterThan(100);
    expect(() => barChart({ title: '', yLabel: '', groups: [], stacks: [] })).not.toThrow();
    expect(() => barChart({ title: 'n', yLabel: '%', normalize: true, groups: ['a', 'b'], stacks: [{ name: 'x', values: [0, 0] }] })).not.toThrow();
  });

  it('panels tile charts into one image', () => {
    const a = lineChart({ title: 'a', xLabel: 'x', yLabel: 'y', width: 300, height: 200, series: [{ name: 's', x: [0, 1], y: [0, 1] }] });
    const b = barChart({ title: 'b', yLabel: 'y', width: 300, height: 200, groups: ['g'], stacks: [{ name: 's', values: [1] }] });
    const p = panels([a, b, a], 2);
    expect([p.width, p.height]).toEqual([600, 400]);
    savePng(p, join(dir, 'panels.png'));
    expect(readPng(join(dir, 'panels.png')).width).toBe(600);
  });

  it('leaves no .tmp files behind', () => {
    const all = readdirSync(dir, { recursive: true }).map(String);
    expect(all.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(all.filter((f) => f.endsWith('.png')).length).toBeGreaterThanOrEqual(3);
  });
});
