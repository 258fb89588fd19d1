// 2D convolution (NCHW), forward and both backward kernels, as tiled implicit GEMMs.
// WGSL: shaders/conv2d_tile.wgsl (the shared tile machinery, prepended to each kernel after the
// tile shape's constants; see pickTile),
// shaders/conv2d_forward.wgsl, conv2d_backward_input.wgsl, conv2d_backward_filter.wgsl and
// conv2d_reduce.wgsl (the sum of the filter gradient's split-K partials).
//
// Shapes: x [N, Cin, H, W], w [Cout, Cin, KH, KW], bias [Cout], y [N, Cout, Ho, Wo] with
// Ho = floor((H + 2*pad - KH) / stride) + 1 (zero padding).
import backwardFilterWgsl from '../../shaders/conv2d_backward_filter.wgsl';
import backwardInputWgsl from '../../shaders/conv2d_backward_input.wgsl';
import forwardWgsl from '../../shaders/conv2d_forward.wgsl';
import reduceWgsl from '../../shaders/conv2d_reduce.wgsl';
import tileWgsl from '../../shaders/conv2d_tile.wgsl';
import { gpu, grid1d, type GpuBuf } from '../gpu/index.js';
import type { KernelSpec } from '../gpu/kernel.js';
import { fmtShape, record, runKernel, sameDevice, Tensor, type Kernel, type Shape } from '../tensor.js';
import { sum } from './reduce.js';
import { expectRank } from './shapes.js';
import { input, registerChecks } from '../check.js';

/**
 * A tile shape of the implicit GEMM (conv2d_tile.wgsl): TM rows x TN columns of C per workgroup of
 * 64 invocations (8x8 accumulators each, so TM * TN = 4096), TK values of K staged per barrier pair
 * (TK * (TM + TN) floats of workgroup memory, at most 16 KiB). `cost` is its time per computed
 * entry of C relative to the square tile: the narrow tiles stage more values and pass more
 * barriers per FMA. Measured on SwiftShader with
 * `node node_modules/.cache/conv2d-bench.mjs --batch 8 --layer 64,64,16,3,1,1 --tile 32x128` (and
 * 16x256; see bench/conv2d.ts): 1.4x and 2.1x the 64x64 tile's forward time.
 */
export interface TileShape {
  tm: number;
  tn: number;
  tk: number;
  cost: number;
}
export const TILE_SHAPES: readonly TileShape[] = [
  { tm: 64, tn: 64, tk: 32, cost: 1 },
  { tm: 32, tn: 128, tk: 16, cost: 1.4 },
  { tm: 16, tn: 256, tk: 8, cost: 2 },
];

/**
 * The tile shape for a GEMM of rows x cols: the least padded work, ceil(rows / TM) * TM *
 * ceil(cols / TN) * TN entries of C, weighted by the shape's cost. With M = Cout = 16 (WRN width 1,
 * stage 1) the square tile would compute 4x the entries needed, the 16-row tile 1x at twice the cost.
 */
export function pickTile(rows: number, cols: number): TileShape {
  if (conv2dTuning.tile) return conv2dTuning.tile;
  let best = TILE_SHAPES[0];
  let bestCost = Infinity;
  for (const t of TILE_SHAPES) {
    const cost = Math.ceil(rows / t.tm) * t.tm * Math.ceil(cols / t.tn) * t.tn * t.cost;
    if (cost < bestCost) [best, bestCost] = [t, cost];
  }
  return best;
}

type ConvKernelName = 'forward' | 'backward_input' | 'backward_filter';
const SOURCES: Record<ConvKernelName, { wgsl: string; bindings: KernelSpec['bindings'] }> = {
  forward: { wgsl: forwardWgsl, bindings: { x: 'read', weight: 'read', bias: 'read', y: 'read_write', params: 'uniform' } },
  backward_input: { wgsl: backwardInputWgsl, bindings: { dy: 'read', weight: 'read', dx: 'read_write', params: 'uniform' } },
  backward_filter: { wgsl: backwardFilterWgsl, bindings: { x: 'read', dy: 'read', out: 'read_write', params: 'uniform' } },
};
const specCache = new Map<string, KernelSpec>();

/** The kernel's spec for one tile shape: the shape's constants, then conv2d_tile.wgsl, then the kernel. */
function convSpec(kernel: ConvKernelName, t: TileShape): KernelSpec {
  const name = `conv2d.${kernel}.${t.tm}x${t.tn}`;
  let spec = specCache.get(name);
  if (!spec) {
    const header = `const TM: u32 = ${t.tm}u;\nconst TN: u32 = ${t.tn}u;\nconst TK: u32 = ${t.tk}u;\n`;
    spec = { name, source: `${header}${tileWgsl}\n${SOURCES[kernel].wgsl}`, bindings: SOURCES[kernel].bindings };
    specCache.set(name, spec);
  }
  return spec;
}
const REDUCE_SPLITS: KernelSpec = { name: 'conv2d.reduce_splits', source: reduceWgsl, bindings: { partials: 'read', dw: 'read_write', params: 'uniform' } };

// Split-K for the filter gradient: aim for this many workgroups in all (on a CPU adapter, for
// maxWorkgroups()), but give each split at least MIN_SPLIT_K values of K (shorter splits cost more
// in partial traffic and workgroup starts than they gain).
const FILTER_TARGET_WORKGROUPS = 512;
const MIN_SPLIT_K = 512;

export interface Conv2dOptions {
  stride?: number;
  pad?: number;
}

export interface Conv2dParams {
  stride: number;
  pad: number;
}

/** The geometry of one convolution. */
export interface ConvGeometry {
  batch: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  kh: number;
  kw: number;
  ho: number;
  wo: number;
  stride: number;
  pad: number;
}

/** Output size along one axis: floor((size + 2*pad - k) / stride) + 1. */
export function convOutSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

function geometry(xShape: Shape, wShape: Shape, { stride, pad }: Conv2dParams): ConvGeometry {
  const [batch, cin, h, w] = xShape;
  const [cout, , kh, kw] = wShape;
  return { batch, cin, h, w, cout, kh, kw, ho: convOutSize(h, kh, stride, pad), wo: convOutSize(w, kw, stride, pad), stride, pad };
}

function uniforms(g: ConvGeometry): Record<string, number> {
  const { batch, cin, h, w, cout, ho, wo, kh, kw, stride, pad } = g;
  return { batch, cin, h, w, cout, ho, wo, kh, kw, stride, pad };
}

const convLabel = (g: ConvGeometry) => `x[${g.batch},${g.cin},${g.h},${g.w}] w[${g.cout},${g.cin},${g.kh},${g.kw}] s${g.stride} p${g.pad}`;

/**
 * Workgroup grid for a GEMM of rows x cols in tiles of shape t, `layers` deep (phases or splits,
 * grid z). A GPU gets one workgroup per tile. A CPU adapter (SwiftShader) gets two per core, each looping over
 * its share of the tiles: there starting a workgroup that has barriers costs ~1 ms of CPU (measured
 * with bench/conv2d.ts: a 32-tile conv took 57 cpu-ms as 32 workgroups, 17 as 4), about three K-steps.
 */
function tileGrid(t: TileShape, rows: number, cols: number, layers: number): [number, number, number] {
  const tiles = Math.ceil(rows / t.tm) * Math.ceil(cols / t.tn);
  const [x, y] = grid1d(Math.max(1, Math.min(tiles, Math.ceil(maxWorkgroups() / layers))), 1);
  return [x, y, layers];
}

/**
 * Tuning knobs: tests set maxWorkgroups to make workgroups loop over several tiles on any adapter,
 * and tile to run every GEMM with one tile shape (the benchmark compares shapes with it).
 */
export const conv2dTuning: { maxWorkgroups: number | null; tile: TileShape | null } = { maxWorkgroups: null, tile: null };

/** Workgroups worth launching at once: unlimited on a GPU, two per core on a CPU adapter. */
function maxWorkgroups(): number {
  if (conv2dTuning.maxWorkgroups !== null) return conv2dTuning.maxWorkgroups;
  if (!gpu().isCpuAdapter) return Infinity;
  // navigator.hardwareConcurrency: browsers and Node >= 21; 4 cores where it is unknown.
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 4;
  return 2 * cores;
}

// ---- kernels (CPU reference beside the WGSL dispatch) ------------------------------------------

/** y = conv(x, w) (+ bias). Inputs [x, w] or [x, w, bias]; output y [N, Cout, Ho, Wo]. */
export const conv2dForwardKernel: Kernel<Conv2dParams> = {
  name: 'conv2d.forward',
  cpu(inputs, [y], p, shapes) {
    const [x, w, bias] = inputs;
    const g = geometry(shapes[0], shapes[1], p);
    const { batch, cin, h, w: W, cout, kh, kw, ho, wo, stride, pad } = g;
    for (let n = 0; n < batch; n++) {
      for (let co = 0; co < cout; co++) {
        for (let oh = 0; oh < ho; oh++) {
          for (let ow = 0; ow < wo; ow++) {
            let acc = bias ? bias[co] : 0; // float64 accumulation
            for (let ci = 0; ci < cin; ci++) {
              for (let r = 0; r < kh; r++) {
                const ih = oh * stride - pad + r;
                if (ih < 0 || ih >= h) continue;
                for (let s = 0; s < kw; s++) {
                  const iw = ow * stride - pad + s;
                  if (iw < 0 || iw >= W) continue;
                  acc += w[((co * cin + ci) * kh + r) * kw + s] * x[((n * cin + ci) * h + ih) * W + iw];
                }
              }
            }
            y[((n * cout + co) * ho + oh) * wo + ow] = acc;
          }
        }
      }
    }
  },
  webgpu(inputs, [y], p, shapes) {
    const [x, weight, bias] = inputs;
    const g = geometry(shapes[0], shapes[1], p);
    const [rows, cols] = [g.cout, g.batch * g.ho * g.wo];
    const t = pickTile(rows, cols);
    gpu().dispatch(convSpec('forward', t), { x, weight, bias: bias ?? weight, y }, uniforms(g), tileGrid(t, rows, cols, 1), {
      constants: { HAS_BIAS: bias ? 1 : 0 },
      label: convLabel(g),
    });
  },
};

/** dx from dy [N, Cout, Ho, Wo] and w; inputs [dy, w], output dx [N, Cin, H, W]. */
export const conv2dBackwardInputKernel: Kernel<Conv2dParams> = {
  name: 'conv2d.backward_input',
  cpu([dy, w], [dx], p, shapes) {
    const g = geometry(shapes[2], shapes[1], p);
    const { batch, cin, h, w: W, cout, kh, kw, ho, wo, stride, pad } = g;
    for (let n = 0; n < batch; n++) {
      for (let ci = 0; ci < cin; ci++) {
        for (let ih = 0; ih < h; ih++) {
          for (let iw = 0; iw < W; iw++) {
            let acc = 0;
            for (let r = 0; r < kh; r++) {
              const ohs = ih + pad - r; // = oh * stride
              if (ohs < 0 || ohs % stride !== 0 || ohs / stride >= ho) continue;
              const oh = ohs / stride;
              for (let s = 0; s < kw; s++) {
                const ows = iw + pad - s;
                if (ows < 0 || ows % stride !== 0 || ows / stride >= wo) continue;
                const ow = ows / stride;
                for (let co = 0; co < cout; co++) acc += w[((co * cin + ci) * kh + r) * kw + s] * dy[((n * cout + co) * ho + oh) * wo + ow];
              }
            }
            dx[((n * cin + ci) * h + ih) * W + iw] = acc;
          }
        }
      }
    }
  },
  webgpu([dy, weight], [dx], p, shapes) {
    const g = geometry(shapes[2], shapes[1], p);
    const phases = g.stride * g.stride; // one GEMM per (ih mod stride, iw mod stride); phase 0 is the largest
    const phase0Pixels = Math.ceil(g.h / g.stride) * Math.ceil(g.w / g.stride);
    const [rows, cols] = [g.cin, g.batch * phase0Pixels];
    const t = pickTile(rows, cols);
    gpu().dispatch(convSpec('backward_input', t), { dy, weight, dx }, uniforms(g), tileGrid(t, rows, cols, phases), { label: convLabel(g) });
  },
};

/** dw from x and dy; inputs [x, dy], output dw [Cout, Cin, KH, KW]. */
export const conv2dBackwardFilterKernel: Kernel<Conv2dParams> = {
  name: 'conv2d.backward_filter',
  cpu([x, dy], [dw], p, shapes) {
    const g = geometry(shapes[0], shapes[2], p);
    const { batch, cin, h, w: W, cout, kh, kw, ho, wo, stride, pad } = g;
    for (let co = 0; co < cout; co++) {
      for (let ci = 0; ci < cin; ci++) {
        for (let r = 0; r < kh; r++) {
          for (let s = 0; s < kw; s++) {
            let acc = 0;
            for (let n = 0; n < batch; n++) {
              for (let oh = 0; oh < ho; oh++) {
                const ih = oh * stride - pad + r;
                if (ih < 0 || ih >= h) continue;
                for (let ow = 0; ow < wo; ow++) {
                  const iw = ow * stride - pad + s;
                  if (iw < 0 || iw >= W) continue;
                  acc += dy[((n * cout + co) * ho + oh) * wo + ow] * x[((n * cin + ci) * h + ih) * W + iw];
                }
              }
            }
            dw[((co * cin + ci) * kh + r) * kw + s] = acc;
          }
        }
      }
    }
  },
  webgpu([x, dy], [dw], p, shapes) {
    const g = geometry(shapes[0], shapes[2], p);
    const rows = g.cout;
    const cols = g.cin * g.kh * g.kw;
    const k = g.batch * g.ho * g.wo;
    const t = pickTile(rows, cols);
    const { splits, chunk } = filterSplits(t, rows, cols, k, Math.min(FILTER_TARGET_WORKGROUPS, maxWorkgroups()));
    const rt = gpu();
    const out: GpuBuf = splits === 1 ? dw : rt.alloc(4 * splits * rows * cols);
    rt.dispatch(convSpec('backward_filter', t), { x, dy, out }, { ...uniforms(g), chunk }, tileGrid(t, rows, cols, splits), { label: `${convLabel(g)} splits=${splits}` });
    if (splits > 1) {
      const count = rows * cols;
      rt.dispatch(REDUCE_SPLITS, { partials: out, dw }, { count, splits }, grid1d(count, 64), { label: `${count}x${splits}` });
      rt.release(out);
    }
  },
};

/** How the filter gradient's K = batch*Ho*Wo is split across workgroups. */
export function filterSplits(t: TileShape, rows: number, cols: number, k: number, targetWorkgroups = FILTER_TARGET_WORKGROUPS): { splits: number; chunk: number } {
  const tiles = Math.ceil(rows / t.tm) * Math.ceil(cols / t.tn);
  const wanted = Math.max(1, Math.min(Math.ceil(targetWorkgroups / tiles), Math.floor(k / MIN_SPLIT_K), 65535));
  const chunk = Math.ceil(Math.ceil(k / wanted) / t.tk) * t.tk; // a whole number of K-steps per split
  return { splits: Math.max(1, Math.ceil(k / chunk)), chunk };
}

// ---- ops --------------------------------------------------------------------------------------

function checkConv(x: Tensor, w: Tensor, b: Tensor | undefined, opts: Conv2dOptions): Conv2dParams {
  sameDevice('conv2d', b ? [x, w, b] : [x, w]);
  expectRank('conv2d', 'x', x, 4, '[N, Cin, H, W]');
  expectRank('conv2d', 'weight', w, 4, '[Cout, Cin, KH, KW]');
  const stride = opts.stride ?? 1;
  const pad = opts.pad ?? 0;
  if (!Number.isInteger(stride) || stride < 1) throw new Error(`conv2d: stride must be an integer >= 1, got ${stride}`);
  if (!Number.isInteger(pad) || pad < 0) throw new Error(`conv2d: pad must be an integer >= 0, got ${pad}`);
  if (x.shape.some((d) => d === 0) || w.shape.some((d) => d === 0)) {
    throw new Error(`conv2d: x ${fmtShape(x.shape)} and weight ${fmtShape(w.shape)} must have no empty dimension`);
  }
  if (x.shape[1] !== w.shape[1]) {
    throw new Error(`conv2d: x ${fmtShape(x.shape)} has ${x.shape[1]} channels but weight ${fmtShape(w.shape)} expects ${w.shape[1]} (x [N, Cin, H, W], weight [Cout, Cin, KH, KW])`);
  }
  if (b && (b.shape.length !== 1 || b.shape[0] !== w.shape[0])) {
    throw new Error(`conv2d: bias ${fmtShape(b.shape)} must be [Cout] = [${w.shape[0]}] for weight ${fmtShape(w.shape)}`);
  }
  const ho = convOutSize(x.shape[2], w.shape[2], stride, pad);
  const wo = convOutSize(x.shape[3], w.shape[3], stride, pad);
  if (ho < 1 || wo < 1) {
    throw new Error(
      `conv2d: a ${w.shape[2]}x${w.shape[3]} kernel with stride ${stride} and pad ${pad} does not fit x ${fmtShape(x.shape)} (output would be ${ho}x${wo}; need H + 2*pad >= KH and W + 2*pad >= KW)`,
    );
  }
  return { stride, pad };
}

/**
 * 2D convolution: x [N, Cin, H, W], weight [Cout, Cin, KH, KW], optional bias [Cout] ->
 * [N, Cout, Ho, Wo], Ho = floor((H + 2*pad - KH) / stride) + 1. Zero padding; stride >= 1.
 */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | undefined, opts: Conv2dOptions = {}): Tensor {
  const p = checkConv(x, w, b, opts);
  const g = geometry(x.shape, w.shape, p);
  const [y] = runKernel(conv2dForwardKernel, b ? [x, w, b] : [x, w], [[g.batch, g.cout, g.ho, g.wo]], p);
  return record('conv2d', y, b ? [x, w, b] : [x, w], (dy) => [
    x.requiresGrad ? conv2dBackwardInput(dy, w, x.shape, p) : null,
    w.requiresGrad ? conv2dBackwardFilter(x, dy, w.shape, p) : null,
    b?.requiresGrad ? sum(dy, [0, 2, 3]) : null,
  ]);
}

/** Check that dy is conv2d's output shape for x and w. */
function checkDy(op: string, dy: Tensor, xShape: Shape, wShape: Shape, p: Conv2dParams): void {
  const g = geometry(xShape, wShape, p);
  const want = [g.batch, g.cout, g.ho, g.wo];
  if (dy.shape.length !== 4 || dy.shape.some((d, i) => d !== want[i])) {
    throw new Error(`${op}: dy ${fmtShape(dy.shape)} must be ${fmtShape(want)} for x ${fmtShape(xShape)}, weight ${fmtShape(wShape)}, stride ${p.stride}, pad ${p.pad}`);
  }
}

/** The gradient of conv2d with respect to x (of shape xShape), given dy and the weights. */
export function conv2dBackwardInput(dy: Tensor, w: Tensor, xShape: Shape, p: Conv2dParams): Tensor {
  checkDy('conv2dBackwardInput', dy, xShape, w.shape, p);
  return runKernel(conv2dBackwardInputKernel, [dy, w], [xShape], p)[0];
}

/** The gradient of conv2d with respect to the weights (of shape wShape), given x and dy. */
export function conv2dBackwardFilter(x: Tensor, dy: Tensor, wShape: Shape, p: Conv2dParams): Tensor {
  checkDy('conv2dBackwardFilter', dy, x.shape, wShape, p);
  return runKernel(conv2dBackwardFilterKernel, [x, dy], [wShape], p)[0];
}

// ---- checks for `wrn check` and the browser page ----------------------------------------------

// Dot products of up to Cin*9 = 144 terms of values in [-1, 1]: f32 vs f64 within 1e-4.
const CONV_TOL = { atol: 1e-4, rtol: 1e-4 };
const stem = { x: [1, 3, 9, 7], w: [5, 3, 3, 3], y: [1, 5, 9, 7], p: { stride: 1, pad: 1 } };
const down = { x: [2, 16, 9, 9], w: [24, 16, 3, 3], y: [2, 24, 5, 5], p: { stride: 2, pad: 1 } };
registerChecks(
  { name: 'conv2d.forward (stem: N=1, Cin=3, Cout=5, 3x3 pad 1)', make: () => ({ kernel: conv2dForwardKernel, inputs: [input(stem.x, 1), input(stem.w, 2)], outputs: [stem.y], params: stem.p, tol: CONV_TOL }) },
  { name: 'conv2d.forward + bias (3x3 stride 2)', make: () => ({ kernel: conv2dForwardKernel, inputs: [input(down.x, 1), input(down.w, 2), input([24], 3)], outputs: [down.y], params: down.p, tol: CONV_TOL }) },
  { name: 'conv2d.backward_input (3x3 stride 2)', make: () => ({ kernel: conv2dBackwardInputKernel, inputs: [input(down.y, 4), input(down.w, 2)], outputs: [down.x], params: down.p, tol: CONV_TOL }) },
  { name: 'conv2d.backward_filter (3x3 stride 2)', make: () => ({ kernel: conv2dBackwardFilterKernel, inputs: [input(down.x, 1), input(down.y, 4)], outputs: [down.w], params: down.p, tol: CONV_TOL }) },
);
