// Sum and mean over all values or over chosen axes (what they mean, CPU references, autograd).
// GPU side: src/gpu/programs/reduce.ts; WGSL: shaders/reduce.wgsl, shaders/broadcast.wgsl.
// A multi-axis reduction is a sequence of single-axis ones (each viewed as [outer, k, inner]).
import { broadcastAxisProgram, sumAxisProgram, sumChannelsProgram, type ChannelReduce } from '../gpu/programs/reduce.js';
import { fmtShape, numel, record, runKernel, Tensor, type Kernel, type Shape } from '../tensor.js';
import { input, registerChecks } from '../check.js';
import type { AxisReduce } from '../gpu/programs/reduce.js';
export type { AxisReduce } from '../gpu/programs/reduce.js';


export const sumAxisKernel: Kernel<AxisReduce> = {
  name: 'sum_axis',
  cpu([x], [out], { outer, k, inner, scale }) {
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let acc = 0; // float64 accumulation
        for (let j = 0; j < k; j++) acc += x[(o * k + j) * inner + i];
        out[o * inner + i] = acc * scale;
      }
    }
  },
  webgpu: sumAxisProgram,
};

/** out[c] = scale * sum of channel c of x viewed as [n, c, hw]. */
export const sumChannelsKernel: Kernel<ChannelReduce> = {
  name: 'sum_channels',
  cpu([x], [out], { n, c, hw, scale }) {
    for (let ch = 0; ch < c; ch++) {
      let acc = 0; // float64 accumulation
      for (let i = 0; i < n; i++) for (let p = 0, base = (i * c + ch) * hw; p < hw; p++) acc += x[base + p];
      out[ch] = acc * scale;
    }
  },
  webgpu: sumChannelsProgram,
};

function normalizeAxes(op: string, shape: Shape, axes?: number | number[]): number[] {
  if (axes === undefined) return shape.map((_, i) => i);
  const list = (Array.isArray(axes) ? axes : [axes]).map((a) => (a < 0 ? a + shape.length : a));
  for (const a of list) {
    if (!Number.isInteger(a) || a < 0 || a >= shape.length) throw new Error(`${op}: axis ${a} is out of range for shape ${fmtShape(shape)}`);
  }
  if (new Set(list).size !== list.length) throw new Error(`${op}: axes [${list.join(', ')}] repeat an axis`);
  return list.sort((a, b) => b - a); // reduce the last axes first so the others keep their index
}

/**
 * The kept axes as one contiguous block, x viewed as [n, c, hw] = [before it, the block, after
 * it], or null when the kept axes are not contiguous. [0, 2, 3] of NCHW: [N, C, H*W]; every axis:
 * [1, 1, size]; [0] of [N, C]: [N, C, 1].
 */
function channelView(shape: Shape, axes: number[]): ChannelReduce | null {
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  if (kept.length && kept[kept.length - 1] - kept[0] !== kept.length - 1) return null;
  const first = kept.length ? kept[0] : shape.length;
  const last = kept.length ? kept[kept.length - 1] + 1 : shape.length;
  return { n: numel(shape.slice(0, first)), c: numel(shape.slice(first, last)), hw: numel(shape.slice(last)), scale: 1 };
}

/** Reduce the raw tensor over `axes` (no tape). The result keeps the reduced axes as size 1 if keepDims. */
function reduceRaw(x: Tensor, axes: number[], scale: number): Tensor {
  // The reductions a step makes (bias gradients: per channel or of everything) in one pass.
  const view = axes.length > 1 || (axes.length === 1 && x.shape.length <= 2) ? channelView(x.shape, axes) : null;
  if (view) return runKernel(sumChannelsKernel, [x], [x.shape.map((d, i) => (axes.includes(i) ? 1 : d))], { ...view, scale })[0];
  let cur = x;
  let shape = [...x.shape];
  axes.forEach((axis, idx) => {
    const outer = numel(shape.slice(0, axis));
    const k = shape[axis];
    const inner = numel(shape.slice(axis + 1));
    const nextShape = [...shape];
    nextShape[axis] = 1;
    const last = idx === axes.length - 1;
    const [out] = runKernel(sumAxisKernel, [cur], [nextShape], { outer, k, inner, scale: last ? scale : 1 });
    if (cur !== x) cur.release();
    cur = out;
    shape = nextShape;
  });
  return cur === x ? runKernel(sumAxisKernel, [x], [x.shape], { outer: x.size, k: 1, inner: 1, scale })[0] : cur;
}

/** out has the reduced axes removed (or kept as size 1). */
function reduce(op: string, x: Tensor, axes: number | number[] | undefined, keepDims: boolean, mean: boolean): Tensor {
  const list = normalizeAxes(op, x.shape, axes);
  const count = list.reduce((n, a) => n * x.shape[a], 1);
  if (mean && count === 0) throw new Error(`${op}: mean over zero values (shape ${fmtShape(x.shape)})`);
  const scale = mean ? 1 / count : 1;
  const kept = reduceRaw(x, list, scale);
  const outShape = keepDims ? kept.shape : x.shape.filter((_, i) => !list.includes(i));
  const out = keepDims ? kept : reshapeRaw(kept, outShape);
  return record(op, out, [x], (g) => [broadcastTo(reshapeRaw(g, kept.shape), x.shape, scale)]);
}

function reshapeRaw(t: Tensor, shape: Shape): Tensor {
  if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return t;
  const r = t.reshape(shape);
  t.release();
  return r;
}

export function sum(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  return reduce('sum', x, axes, keepDims, false);
}

export function mean(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  return reduce('mean', x, axes, keepDims, true);
}

// The gradient of a reduction: the reduced gradient repeated along the reduced axes. It is the
// transpose of the sum, done with the same [outer, k, inner] views.

export const broadcastAxisKernel: Kernel<AxisReduce> = {
  name: 'broadcast_axis',
  cpu([x], [out], { outer, k, inner, scale }) {
    for (let o = 0; o < outer; o++) for (let j = 0; j < k; j++) for (let i = 0; i < inner; i++) out[(o * k + j) * inner + i] = scale * x[o * inner + i];
  },
  webgpu: broadcastAxisProgram,
};

/** Repeat g (reduced axes of size 1) to `shape`, times `scale`. */
function broadcastTo(g: Tensor, shape: Shape, scale: number): Tensor {
  let cur = g;
  let curShape = [...g.shape];
  let first = true;
  for (let axis = 0; axis < shape.length; axis++) {
    if (curShape[axis] === shape[axis]) continue;
    const outer = numel(curShape.slice(0, axis));
    const inner = numel(curShape.slice(axis + 1));
    const next = [...curShape];
    next[axis] = shape[axis];
    const [out] = runKernel(broadcastAxisKernel, [cur], [next], { outer, k: shape[axis], inner, scale: first ? scale : 1 });
    if (cur !== g) cur.release();
    cur = out;
    curShape = next;
    first = false;
  }
  if (first) return runKernel(broadcastAxisKernel, [g], [shape], { outer: g.size, k: 1, inner: 1, scale })[0];
  if (g !== cur) g.release();
  return cur;
}

// ---- checks for `wrn check` -------------------------------------------------------------------

const SUM_TOL = { atol: 1e-4, rtol: 1e-5 }; // f32 tree order vs f64 over <= 10^5 values in [-1, 1]
registerChecks(
  { name: 'sum_axis (long axis, two passes)', make: () => ({ kernel: sumAxisKernel, inputs: [input([2, 9000, 3], 1)], outputs: [[2, 1, 3]], params: { outer: 2, k: 9000, inner: 3, scale: 1 }, tol: SUM_TOL }) },
  { name: 'sum_axis (many outputs)', make: () => ({ kernel: sumAxisKernel, inputs: [input([1500, 7, 1], 1)], outputs: [[1500, 1, 1]], params: { outer: 1500, k: 7, inner: 1, scale: 1 / 7 }, tol: SUM_TOL }) },
  { name: 'sum_channels [N=3, C=7, HW=35]', make: () => ({ kernel: sumChannelsKernel, inputs: [input([3, 7, 35], 1)], outputs: [[7]], params: { n: 3, c: 7, hw: 35, scale: 1 }, tol: SUM_TOL }) },
  { name: 'sum_channels (everything: [1, 1, 100000])', make: () => ({ kernel: sumChannelsKernel, inputs: [input([1, 1, 100000], 2)], outputs: [[1]], params: { n: 1, c: 1, hw: 100000, scale: 1e-5 }, tol: SUM_TOL }) },
  { name: 'broadcast_axis', make: () => ({ kernel: broadcastAxisKernel, inputs: [input([3, 1, 5], 1)], outputs: [[3, 7, 5]], params: { outer: 3, k: 7, inner: 5, scale: 0.5 }, tol: { atol: 0, rtol: 1e-6 } }) },
);
