// A tiny RGBA raster: alpha-blended pixels, anti-aliased strokes, markers and bitmap text.
// Pixel (i, j) covers [i, i+1) x [j, j+1); its centre is (i + 0.5, j + 0.5).
import { CAP_HEIGHT, FONT_HEIGHT, glyph } from './font.js';

export { CAP_HEIGHT, FONT_HEIGHT } from './font.js';

/** r, g, b, a in 0..255. */
export type RGBA = readonly [number, number, number, number];
/** '#rgb', '#rrggbb', '#rrggbbaa', a few CSS names, or an RGBA tuple. */
export type Color = string | RGBA;

const NAMED: Record<string, RGBA> = {
  black: [0, 0, 0, 255],
  white: [255, 255, 255, 255],
  gray: [128, 128, 128, 255],
  grey: [128, 128, 128, 255],
  red: [255, 0, 0, 255],
  green: [0, 128, 0, 255],
  blue: [0, 0, 255, 255],
  transparent: [0, 0, 0, 0],
  none: [0, 0, 0, 0],
};

export function parseColor(c: Color): RGBA {
  if (typeof c !== 'string') return c;
  const named = NAMED[c.toLowerCase()];
  if (named) return named;
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})$/i.exec(c.trim());
  if (!m) throw new Error(`plot: cannot parse colour ${JSON.stringify(c)}`);
  let h = m[1]!;
  if (h.length === 3) h = h.replace(/./g, (d) => d + d);
  const v = (i: number) => parseInt(h.slice(i, i + 2), 16);
  return [v(0), v(2), v(4), h.length === 8 ? v(6) : 255];
}

export type MarkerShape = 'circle' | 'square' | 'diamond' | 'triangle' | 'triangle-down';

export interface TextOptions {
  color?: Color;
  /** Integer magnification of the 5x7 font (default 1). */
  scale?: number;
  /** Horizontal anchor along the text direction. */
  align?: 'left' | 'center' | 'right';
  /** Anchor across the text: 'middle' centres the capital height, 'baseline' is the bottom of capitals. */
  valign?: 'top' | 'middle' | 'baseline' | 'bottom';
  bold?: boolean;
  /** Rotate 90 degrees counter-clockwise (reads bottom to top), for y-axis labels. */
  vertical?: boolean;
}

export interface StrokeOptions {
  width?: number;
  /** On/off lengths in pixels, e.g. [8, 5]. */
  dash?: readonly number[];
}

export interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Width in pixels of `s` drawn at `scale` (bold adds a pixel per glyph). */
export function textWidth(s: string, scale = 1, bold = false): number {
  let w = 0;
  let n = 0;
  for (const ch of s) {
    w += (glyph(ch).width + 1) * scale + (bold ? 1 : 0);
    n++;
  }
  return n === 0 ? 0 : w - scale;
}

/** Height in pixels of one line of text including descenders. */
export function textHeight(scale = 1): number {
  return FONT_HEIGHT * scale;
}

/** Greedy word wrap to lines no wider than maxWidth (a single long word is left as is). */
export function wrapText(s: string, maxWidth: number, scale = 1, bold = false): string[] {
  const out: string[] = [];
  for (const para of s.split('\n')) {
    let line = '';
    for (const word of para.split(/\s+/).filter((w) => w.length > 0)) {
      const next = line ? `${line} ${word}` : word;
      if (line && textWidth(next, scale, bold) > maxWidth) {
        out.push(line);
        line = word;
      } else line = next;
    }
    out.push(line);
  }
  return out;
}

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

export class Canvas {
  readonly data: Uint8Array;
  /** Drawing is restricted to this rectangle (pixel x0 <= x < x1) when set. */
  clip: Rect | null = null;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Color = '#ffffff',
  ) {
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0))
      throw new Error(`plot: bad canvas size ${width}x${height}`);
    this.data = new Uint8Array(width * height * 4);
    this.fill(background);
  }

  /** Overwrite every pixel (no blending, ignores the clip). */
  fill(color: Color): void {
    const [r, g, b, a] = parseColor(color);
    const d = this.data;
    for (let i = 0; i < d.length; i += 4) {
      d[i] = r;
      d[i + 1] = g;
      d[i + 2] = b;
      d[i + 3] = a;
    }
  }

  getPixel(x: number, y: number): RGBA {
    const i = (y * this.width + x) * 4;
    const d = this.data;
    return [d[i]!, d[i + 1]!, d[i + 2]!, d[i + 3]!];
  }

  private inside(x: number, y: number): boolean {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return false;
    const c = this.clip;
    return !c || (x >= c.x0 && x < c.x1 && y >= c.y0 && y < c.y1);
  }

  /** Source-over blend of `color` at integer pixel (x, y), its alpha further multiplied by `coverage`. */
  setPixel(x: number, y: number, color: Color, coverage = 1): void {
    this.blend(x, y, parseColor(color), coverage);
  }

  private blend(x: number, y: number, c: RGBA, coverage: number): void {
    if (!this.inside(x, y)) return;
    const sa = (c[3] / 255) * clamp01(coverage);
    if (sa <= 0) return;
    const d = this.data;
    const i = (y * this.width + x) * 4;
    const da = d[i + 3]! / 255;
    const oa = sa + da * (1 - sa);
    const k = da * (1 - sa);
    d[i] = Math.round((c[0] * sa + d[i]! * k) / oa);
    d[i + 1] = Math.round((c[1] * sa + d[i + 1]! * k) / oa);
    d[i + 2] = Math.round((c[2] * sa + d[i + 2]! * k) / oa);
    d[i + 3] = Math.round(oa * 255);
  }

  /** Axis-aligned rectangle on whole pixels (x, y rounded). */
  fillRect(x: number, y: number, w: number, h: number, color: Color): void {
    const c = parseColor(color);
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let py = y0; py < y1; py++) for (let px = x0; px < x1; px++) this.blend(px, py, c, 1);
  }

  strokeRect(x: number, y: number, w: number, h: number, color: Color, width = 1): void {
    this.fillRect(x, y, w, width, color);
    this.fillRect(x, y + h - width, w, width, color);
    this.fillRect(x, y + width, width, h - 2 * width, color);
    this.fillRect(x + w - width, y + width, width, h - 2 * width, color);
  }

  /** Anti-aliased line with round caps; coordinates are continuous (use i + 0.5 for pixel centres). */
  line(x0: number, y0: number, x1: number, y1: number, color: Color, opts: StrokeOptions = {}): void {
    this.polyline([[x0, y0], [x1, y1]], color, opts);
  }

  dashedLine(x0: number, y0: number, x1: number, y1: number, color: Color, width = 1, dash: readonly number[] = [6, 4]): void {
    this.polyline([[x0, y0], [x1, y1]], color, { width, dash });
  }

  /**
   * Anti-aliased connected stroke. Coverage is accumulated as a per-pixel max before blending once,
   * so joints between segments do not darken translucent colours.
   */
  polyline(points: readonly (readonly [number, number])[], color: Color, opts: StrokeOptions = {}): void {
    const r = Math.max(0.5, (opts.width ?? 1) / 2);
    const dash = opts.dash && opts.dash.length > 0 && opts.dash.some((d) => d > 0) ? opts.dash.map((d) => Math.max(0, d)) : null;
    const mask = new CoverageMask(this.width, this.height);
    // Segments are clipped first: with huge coordinates (overflowed data) dash walking would never end.
    const lim = this.clip ?? { x0: 0, y0: 0, x1: this.width, y1: this.height };
    const box: Rect = { x0: lim.x0 - r - 2, y0: lim.y0 - r - 2, x1: lim.x1 + r + 2, y1: lim.y1 + r + 2 };
    let phase = 0; // distance along the dash pattern
    for (let i = 0; i + 1 < points.length; i++) {
      const [ax, ay] = points[i]!;
      const [bx, by] = points[i + 1]!;
      if (![ax, ay, bx, by].every(Number.isFinite)) continue;
      const len = Math.hypot(bx - ax, by - ay);
      const seg = clipSegment(ax, ay, bx, by, box);
      if (!seg) {
        phase += len;
        continue;
      }
      if (!dash) {
        mask.capsule(seg[0], seg[1], seg[2], seg[3], r);
        continue;
      }
      const total = dash.reduce((s, d) => s + d, 0);
      const ux = (bx - ax) / (len || 1);
      const uy = (by - ay) / (len || 1);
      const t0 = Math.hypot(seg[0] - ax, seg[1] - ay);
      const t1 = Math.hypot(seg[2] - ax, seg[3] - ay);
      // Walk the pattern from the clipped start.
      let pos = (phase + t0) % total;
      let k = 0;
      while (pos >= dash[k]!) {
        pos -= dash[k]!;
        k = (k + 1) % dash.length;
      }
      let t = t0;
      while (t < t1) {
        const run = Math.min(dash[k]! - pos, t1 - t);
        if (k % 2 === 0 && run > 0) mask.capsule(ax + ux * t, ay + uy * t, ax + ux * (t + run), ay + uy * (t + run), r);
        t += run;
        pos += run;
        if (pos >= dash[k]! - 1e-9) {
          pos = 0;
          k = (k + 1) % dash.length;
        }
      }
      phase += len;
    }
    mask.blendInto(this, parseColor(color));
  }

  /** Filled anti-aliased circle. */
  circle(cx: number, cy: number, radius: number, color: Color): void {
    this.fillSdf(cx, cy, radius + 1, parseColor(color), (dx, dy) => Math.hypot(dx, dy) - radius);
  }

  /** Anti-aliased ring. */
  strokeCircle(cx: number, cy: number, radius: number, color: Color, width = 1): void {
    this.fillSdf(cx, cy, radius + width, parseColor(color), (dx, dy) => Math.abs(Math.hypot(dx, dy) - radius) - width / 2);
  }

  /** A data marker of roughly `size` pixels across, with an optional outline (e.g. white, to lift it off lines). */
  marker(cx: number, cy: number, shape: MarkerShape, size: number, color: Color, outline?: Color): void {
    const r = size / 2;
    const sdf = markerSdf(shape, r);
    if (outline !== undefined) this.fillSdf(cx, cy, r + 3, parseColor(outline), (dx, dy) => sdf(dx, dy) - 1.25);
    this.fillSdf(cx, cy, r + 2, parseColor(color), sdf);
  }

  /** Fills where sdf(dx, dy) < 0 around (cx, cy), with a one-pixel anti-aliased edge. */
  private fillSdf(cx: number, cy: number, extent: number, c: RGBA, sdf: (dx: number, dy: number) => number): void {
    if (![cx, cy, extent].every(Number.isFinite)) return;
    const x0 = Math.max(0, Math.floor(cx - extent - 1));
    const x1 = Math.min(this.width - 1, Math.ceil(cx + extent + 1));
    const y0 = Math.max(0, Math.floor(cy - extent - 1));
    const y1 = Math.min(this.height - 1, Math.ceil(cy + extent + 1));
    for (let y = y0; y <= y1; y++)
      for (let x = x0; x <= x1; x++) {
        const cov = clamp01(0.5 - sdf(x + 0.5 - cx, y + 0.5 - cy));
        if (cov > 0) this.blend(x, y, c, cov);
      }
  }

  /** Draws text anchored at (x, y); returns its width in pixels. */
  text(x: number, y: number, s: string, opts: TextOptions = {}): number {
    const scale = Math.max(1, Math.round(opts.scale ?? 1));
    const c = parseColor(opts.color ?? '#000000');
    const bold = opts.bold ?? false;
    const w = textWidth(s, scale, bold);
    const align = opts.align ?? 'left';
    const valign = opts.valign ?? 'top';
    const along0 = Math.round(align === 'left' ? 0 : align === 'center' ? -w / 2 : -w);
    const across0 = Math.round(
      valign === 'top' ? 0 : valign === 'middle' ? (-CAP_HEIGHT * scale) / 2 : valign === 'baseline' ? -CAP_HEIGHT * scale : -FONT_HEIGHT * scale,
    );
    const ox = Math.round(x);
    const oy = Math.round(y);
    let pen = along0;
    for (const ch of s) {
      const g = glyph(ch);
      for (let row = 0; row < FONT_HEIGHT; row++) {
        const bits = g.rows[row]!;
        if (bits === 0) continue;
        for (let col = 0; col < g.width; col++) {
          if (!(bits & (1 << col))) continue;
          const a = pen + col * scale; // along the text
          const b = across0 + row * scale; // down the glyph
          const run = scale + (bold ? 1 : 0);
          if (opts.vertical) this.fillRectRaw(ox + b, oy - a - run, scale, run, c);
          else this.fillRectRaw(ox + a, oy + b, run, scale, c);
        }
      }
      pen += (g.width + 1) * scale + (bold ? 1 : 0);
    }
    return w;
  }

  private fillRectRaw(x: number, y: number, w: number, h: number, c: RGBA): void {
    for (let py = y; py < y + h; py++) for (let px = x; px < x + w; px++) this.blend(px, py, c, 1);
  }

  /** Copies another canvas in at (dx, dy), alpha-blended. */
  drawImage(src: Canvas, dx: number, dy: number): void {
    const s = src.data;
    for (let y = 0; y < src.height; y++)
      for (let x = 0; x < src.width; x++) {
        const i = (y * src.width + x) * 4;
        this.blend(dx + x, dy + y, [s[i]!, s[i + 1]!, s[i + 2]!, s[i + 3]!], 1);
      }
  }
}

function markerSdf(shape: MarkerShape, r: number): (dx: number, dy: number) => number {
  switch (shape) {
    case 'circle':
      return (dx, dy) => Math.hypot(dx, dy) - r;
    case 'square': {
      const h = r * 0.85; // same visual weight as the circle
      return (dx, dy) => Math.max(Math.abs(dx), Math.abs(dy)) - h;
    }
    case 'diamond':
      return (dx, dy) => (Math.abs(dx) + Math.abs(dy) - r * 1.15) / Math.SQRT2;
    case 'triangle':
    case 'triangle-down': {
      // Equilateral triangle with circumradius ~1.2 r, centred on its centroid.
      const R = r * 1.25;
      const s = shape === 'triangle' ? 1 : -1;
      return (dx, dy) => {
        const y = -dy * s; // y up, apex at +R
        const x = Math.abs(dx);
        const e1 = (x * Math.sqrt(3)) / 2 + y / 2 - R / 2; // slanted edge
        const e2 = -y - R / 2; // base
        return Math.max(e1, e2);
      };
    }
  }
}

/** Liang-Barsky: the parameter interval [t0, t1] of the segment (x0, y0)-(x1, y1) inside box, or null. */
export function clipParams(x0: number, y0: number, x1: number, y1: number, b: Rect): [number, number] | null {
  const dx = x1 - x0;
  const dy = y1 - y0;
  let t0 = 0;
  let t1 = 1;
  const edges: [number, number][] = [
    [-dx, x0 - b.x0],
    [dx, b.x1 - x0],
    [-dy, y0 - b.y0],
    [dy, b.y1 - y0],
  ];
  for (const [p, q] of edges) {
    if (p === 0) {
      if (q < 0) return null;
      continue;
    }
    const t = q / p;
    if (p < 0) {
      if (t > t1) return null;
      if (t > t0) t0 = t;
    } else {
      if (t < t0) return null;
      if (t < t1) t1 = t;
    }
  }
  return [t0, t1];
}

/** The part of a segment inside box, or null. */
function clipSegment(x0: number, y0: number, x1: number, y1: number, b: Rect): [number, number, number, number] | null {
  const t = clipParams(x0, y0, x1, y1, b);
  if (!t) return null;
  const dx = x1 - x0;
  const dy = y1 - y0;
  return [x0 + t[0] * dx, y0 + t[0] * dy, x0 + t[1] * dx, y0 + t[1] * dy];
}

/** Per-pixel max coverage over a canvas-sized grid, tracking the touched bounding box. */
class CoverageMask {
  private readonly cov: Float32Array;
  private bx0 = Infinity;
  private by0 = Infinity;
  private bx1 = -Infinity;
  private by1 = -Infinity;

  constructor(
    private readonly w: number,
    private readonly h: number,
  ) {
    this.cov = new Float32Array(w * h);
  }

  /** Stadium around segment a-b of radius r; each row only scans the x span near the line. */
  capsule(ax: number, ay: number, bx: number, by: number, r: number): void {
    const dx = bx - ax;
    const dy = by - ay;
    const len2 = dx * dx + dy * dy;
    const len = Math.sqrt(len2);
    const reach = r + 1;
    const y0 = Math.max(0, Math.floor(Math.min(ay, by) - reach));
    const y1 = Math.min(this.h - 1, Math.ceil(Math.max(ay, by) + reach));
    const xmin = Math.max(0, Math.floor(Math.min(ax, bx) - reach));
    const xmax = Math.min(this.w - 1, Math.ceil(Math.max(ax, bx) + reach));
    for (let y = y0; y <= y1; y++) {
      const py = y + 0.5;
      let xa = xmin;
      let xb = xmax;
      if (Math.abs(dy) > 1e-9 && len > 0) {
        // |(p - a) x d| <= reach * len  <=>  x within a band around the line at this row.
        const xc = ax + ((py - ay) * dx) / dy;
        const half = Math.abs((reach * len) / dy);
        xa = Math.max(xmin, Math.floor(xc - half));
        xb = Math.min(xmax, Math.ceil(xc + half));
      }
      for (let x = xa; x <= xb; x++) {
        const px = x + 0.5;
        let t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const d = Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
        const c = r + 0.5 - d;
        if (c <= 0) continue;
        const i = y * this.w + x;
        const v = c > 1 ? 1 : c;
        if (v > this.cov[i]!) this.cov[i] = v;
        if (x < this.bx0) this.bx0 = x;
        if (x > this.bx1) this.bx1 = x;
        if (y < this.by0) this.by0 = y;
        if (y > this.by1) this.by1 = y;
      }
    }
  }

  blendInto(canvas: Canvas, c: RGBA): void {
    for (let y = this.by0; y <= this.by1; y++)
      for (let x = this.bx0; x <= this.bx1; x++) {
        const v = this.cov[y * this.w + x]!;
        if (v > 0) canvas.setPixel(x, y, c, v);
      }
  }
}
