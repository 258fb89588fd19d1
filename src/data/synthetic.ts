// The embedded default dataset: 10 procedurally drawn classes of 32x32 RGB images, so training
// needs no download. Classes differ only by shape/texture; colours, position, scale, rotation,
// background gradient and noise are random and class-independent, so a net has to learn spatial
// features and crops/flips matter. Everything comes from a seeded 32-bit PRNG with integer
// arithmetic (Math.imul), so the bytes are identical on every machine.
import type { Dataset } from './dataset.js';
import { mixSeed, Rng } from '../util/rng.js';

// The synthetic images' geometry (the same as CIFAR-10's).
export const IMAGE_CHANNELS = 3;
export const IMAGE_SIZE = 32;
/** Bytes (and floats) per image: 3 * 32 * 32. */
export const IMAGE_NUMEL = IMAGE_CHANNELS * IMAGE_SIZE * IMAGE_SIZE;

export const SYNTHETIC_CLASSES = ['circle', 'ring', 'square', 'triangle', 'cross', 'hstripes', 'vstripes', 'checker', 'diagonal', 'dots'];

// ---- shapes as signed distances (local units: the shape's radius is ~1) ---------------------------

/**
 * sin and cos from + and * only: Math.sin/cos may differ by an ulp between JS engines, which
 * could flip a rounded pixel; IEEE + * / sqrt cannot.
 */
export function detSinCos(theta: number): [number, number] {
  const twoPi = 6.283185307179586;
  let x = theta - twoPi * Math.floor(theta / twoPi + 0.5); // [-pi, pi]
  let sign = 1;
  // cos is odd about pi/2: keep |x| <= pi/2 so the series converges fast.
  if (x > 1.5707963267948966) {
    x = 3.141592653589793 - x;
    sign = -1;
  } else if (x < -1.5707963267948966) {
    x = -3.141592653589793 - x;
    sign = -1;
  }
  const x2 = x * x;
  let sin = 0;
  let cos = 0;
  let ts = x;
  let tc = 1;
  for (let k = 1; k <= 12; k++) {
    sin += ts;
    cos += tc;
    ts *= -x2 / ((2 * k) * (2 * k + 1));
    tc *= -x2 / ((2 * k - 1) * (2 * k));
  }
  return [sin, sign * cos];
}

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);
/** Anti-aliased coverage of a signed distance given in pixels. */
const cover = (sdPx: number) => clamp01(0.5 - sdPx);

function sdBox(u: number, v: number, bx: number, by: number): number {
  const dx = Math.abs(u) - bx;
  const dy = Math.abs(v) - by;
  const ox = dx > 0 ? dx : 0;
  const oy = dy > 0 ? dy : 0;
  return Math.sqrt(ox * ox + oy * oy) + Math.min(Math.max(dx, dy), 0);
}

// Inigo Quilez's equilateral triangle, half side r, centroid at the origin.
function sdTriangle(u: number, v: number, r: number): number {
  const k = Math.sqrt(3);
  let x = Math.abs(u) - r;
  let y = v + r / k;
  if (x + k * y > 0) {
    const nx = (x - k * y) / 2;
    const ny = (-k * x - y) / 2;
    x = nx;
    y = ny;
  }
  x -= Math.min(Math.max(x, -2 * r), 0);
  return -Math.sqrt(x * x + y * y) * Math.sign(y);
}

/** Coverage of a square wave along t (pixels): stripes of half the period. */
function stripe(tPx: number, period: number, phase: number): number {
  const f = tPx / period + phase;
  const fr = f - Math.floor(f);
  return cover((Math.abs(fr - 0.5) - 0.25) * period);
}

type Coverage = (u: number, v: number) => number;

interface Layout {
  cov: Coverage;
  /** Pixels per local unit. */
  scale: number;
  angle: number;
}

// Each class draws its own random geometry; s is pixels per local unit.
function layoutFor(label: number, rng: Rng): Layout {
  switch (label) {
    case 0: {
      const s = rng.uniform(5.5, 11);
      return { scale: s, angle: 0, cov: (u, v) => cover((Math.sqrt(u * u + v * v) - 1) * s) };
    }
    case 1: {
      const s = rng.uniform(6, 11.5);
      const t = Math.max(rng.uniform(0.22, 0.42), 1.6 / s);
      const mid = 1 - t / 2;
      return { scale: s, angle: 0, cov: (u, v) => cover((Math.abs(Math.sqrt(u * u + v * v) - mid) - t / 2) * s) };
    }
    case 2: {
      const s = rng.uniform(5, 10);
      const a = rng.uniform(0.8, 1);
      return { scale: s, angle: rng.uniform(0, Math.PI / 2), cov: (u, v) => cover(sdBox(u, v, a, a) * s) };
    }
    case 3: {
      const s = rng.uniform(6, 11.5);
      return { scale: s, angle: rng.uniform(0, 2 * Math.PI), cov: (u, v) => cover(sdTriangle(u, v, 1.05) * s) };
    }
    case 4: {
      const s = rng.uniform(6, 11.5);
      const w = Math.max(rng.uniform(0.16, 0.3), 0.9 / s);
      return { scale: s, angle: rng.uniform(0, Math.PI / 2), cov: (u, v) => cover(Math.min(sdBox(u, v, 1, w), sdBox(u, v, w, 1)) * s) };
    }
    case 5:
    case 6: {
      const s = rng.uniform(7, 12);
      const hx = rng.uniform(0.75, 1);
      const hy = rng.uniform(0.75, 1);
      const period = rng.uniform(3.5, 6.5);
      const phase = rng.float();
      const horizontal = label === 5;
      return {
        scale: s,
        angle: rng.uniform(-0.2, 0.2),
        cov: (u, v) => Math.min(cover(sdBox(u, v, hx, hy) * s), stripe((horizontal ? v : u) * s, period, phase)),
      };
    }
    case 7: {
      const s = rng.uniform(7, 12);
      const h = rng.uniform(0.75, 1);
      const period = rng.uniform(4, 7.5);
      const px = rng.float();
      const py = rng.float();
      return {
        scale: s,
        angle: rng.uniform(0, Math.PI / 2),
        cov: (u, v) => {
          const a = stripe(u * s, period, px);
          const b = stripe(v * s, period, py);
          return Math.min(cover(sdBox(u, v, h, h) * s), a + b - 2 * a * b);
        },
      };
    }
    case 8: {
      // 1-3 parallel capsules, lying horizontally in local space, turned 30-60 degrees either way.
      const s = rng.uniform(7, 12);
      const n = 1 + rng.int(3);
      const halfW = rng.uniform(0.6, 1.25) / s;
      const gap = rng.uniform(4, 7) / s;
      const half = rng.uniform(0.85, 1.25);
      const offs = Array.from({ length: n }, (_, i) => (i - (n - 1) / 2) * gap);
      const tilt = rng.uniform(Math.PI / 6, Math.PI / 3);
      return {
        scale: s,
        angle: rng.float() < 0.5 ? tilt : -tilt,
        cov: (u, v) => {
          const du = Math.max(Math.abs(u) - half, 0);
          let best = Infinity;
          for (const o of offs) best = Math.min(best, (v - o) * (v - o));
          best = Math.sqrt(du * du + best);
          return cover((best - halfW) * s);
        },
      };
    }
    case 9: {
      const s = rng.uniform(7, 12);
      const n = 5 + rng.int(8);
      const xs: number[] = [];
      const ys: number[] = [];
      const rs: number[] = [];
      for (let i = 0; i < n; i++) {
        xs.push(rng.uniform(-1, 1));
        ys.push(rng.uniform(-1, 1));
        rs.push(rng.uniform(1, 2) / s);
      }
      return {
        scale: s,
        angle: 0,
        cov: (u, v) => {
          let best = Infinity;
          for (let i = 0; i < n; i++) {
            const du = u - xs[i];
            const dv = v - ys[i];
            best = Math.min(best, Math.sqrt(du * du + dv * dv) - rs[i]);
          }
          return cover(best * s);
        },
      };
    }
    default:
      throw new RangeError(`synthetic label ${label} outside 0-9`);
  }
}

const dist3 = (a: number[], b: number[]) => Math.sqrt(sq(a[0] - b[0]) + sq(a[1] - b[1]) + sq(a[2] - b[2]));
const sq = (x: number) => x * x;

// Scratch for one image's noise; a separate tight loop is much faster than drawing inside the pixel loop.
const noise = new Float64Array(IMAGE_NUMEL);
function fillNoise(rng: Rng, out: Float64Array): void {
  for (let i = 0; i < out.length; i++) out[i] = rng.normalish();
}

/** Draw one image of class `label` into out[offset .. offset + 3072), CHW bytes. */
export function renderSyntheticImage(label: number, rng: Rng, out: Uint8Array, offset = 0): void {
  const N = IMAGE_SIZE;
  const P = N * N;
  const { cov, scale, angle } = layoutFor(label, rng);
  // Keep most of the shape inside the frame; the reach is ~1.2 local units.
  const margin = Math.min(1.1 * scale, N / 2 - 1);
  const cx = rng.uniform(margin, N - margin);
  const cy = rng.uniform(margin, N - margin);
  const [sa, ca] = detSinCos(angle);
  const cos = ca / scale;
  const sin = sa / scale;

  // Colours: background and foreground uniform in RGB, drawn apart by rejection (symmetric, so
  // every class has the same expected colours).
  const bg = [rng.float(), rng.float(), rng.float()];
  let fg = [rng.float(), rng.float(), rng.float()];
  for (let tries = 0; tries < 20 && dist3(fg, bg) < 0.4; tries++) {
    fg = [rng.float(), rng.float(), rng.float()];
  }
  const gdir = rng.uniform(0, 2 * Math.PI);
  const [gs, gc] = detSinCos(gdir);
  const gx = gc / N;
  const gy = gs / N;
  const grad = [rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3)];
  const sigma = rng.uniform(0.02, 0.1);

  // A clamped view does the clamp-and-round to bytes (ties to even, as the spec fixes), fast.
  const px = new Uint8ClampedArray(out.buffer, out.byteOffset + offset, IMAGE_NUMEL);
  fillNoise(rng, noise);
  const [br, bgc, bb] = bg;
  const [fr, fgc, fb] = fg;
  const [gr, gg, gb] = grad;
  for (let y = 0; y < N; y++) {
    const dy = y + 0.5 - cy;
    for (let x = 0; x < N; x++) {
      const dx = x + 0.5 - cx;
      const a = cov(dx * cos + dy * sin, -dx * sin + dy * cos);
      const t = (x + 0.5 - N / 2) * gx + (y + 0.5 - N / 2) * gy;
      const p = y * N + x;
      const r0 = br + gr * t;
      const g0 = bgc + gg * t;
      const b0 = bb + gb * t;
      px[p] = (r0 + (fr - r0) * a + sigma * noise[p]) * 255;
      px[p + P] = (g0 + (fgc - g0) * a + sigma * noise[p + P]) * 255;
      px[p + 2 * P] = (b0 + (fb - b0) * a + sigma * noise[p + 2 * P]) * 255;
    }
  }
}

// The most images one synthetic split may have: 200000 x 3072 bytes = 614 MB (and about a minute
// to draw). Past a few million the byte array cannot even be allocated ('Invalid typed array length').
export const SYNTHETIC_MAX_COUNT = 200_000;

function makeSplit(count: number, seed: number, name: string): Dataset {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`${name}: count must be a non-negative integer, got ${count}`);
  if (count > SYNTHETIC_MAX_COUNT) {
    throw new RangeError(`${name}: ${count} images is more than the cap of ${SYNTHETIC_MAX_COUNT} (${Math.round((SYNTHETIC_MAX_COUNT * IMAGE_NUMEL) / 1e6)} MB); ask for fewer`);
  }
  const rng = new Rng(seed);
  // Exactly balanced classes (counts differ by at most one), in a shuffled order.
  const labels = rng.shuffle(Uint8Array.from({ length: count }, (_, i) => i % 10));
  const images = new Uint8Array(count * IMAGE_NUMEL);
  for (let i = 0; i < count; i++) renderSyntheticImage(labels[i], rng, images, i * IMAGE_NUMEL);
  return { images, labels, count, channels: IMAGE_CHANNELS, height: IMAGE_SIZE, width: IMAGE_SIZE, classes: [...SYNTHETIC_CLASSES], name };
}

export interface SyntheticOptions {
  trainCount?: number;
  testCount?: number;
  seed?: number;
}

/** The default dataset: deterministic for `seed`; train and test come from independent streams; each at most SYNTHETIC_MAX_COUNT images. */
export function makeSynthetic({ trainCount = 5000, testCount = 1000, seed = 0 }: SyntheticOptions = {}): { train: Dataset; test: Dataset } {
  return {
    train: makeSplit(trainCount, mixSeed(seed, 1), 'synthetic-train'),
    test: makeSplit(testCount, mixSeed(seed, 2), 'synthetic-test'),
  };
}
