// Elementwise ops: add, mul, scale, relu. WGSL: shaders/elementwise.wgsl, shaders/relu.wgsl.
import elementwiseWgsl from '../../shaders/elementwise.wgsl';
import reluWgsl from '../../shaders/relu.wgsl';
import { gpu, grid1d } from '../gpu/index.js';
import type { KernelSpec } from '../gpu/kernel.js';
import { accumulate, record, runKernel, Tensor, type Kernel } from '../tensor.js';
import { expectSameShape } from './shapes.js';
import { input, registerChecks } from '../check.js';

const ew = (entry: string, bindings: KernelSpec['bindings']): KernelSpec => ({ name: `elementwise.${entry}`, source: elementwiseWgsl, entry, bindings });
const ADD = ew('add', { a: 'read', b: 'read', out: 'read_write', params: 'uniform' });
const MUL = ew('mul', { a: 'read', b: 'read', out: 'read_write', params: 'uniform' });
const SCALE = ew('scale', { a: 'read', out: 'read_write', params: 'uniform' });
const FILL = ew('fill', { out: 'read_write', params: 'uniform' });
const RELU_FWD: KernelSpec = { name: 'relu.forward', source: reluWgsl, entry: 'forward', bindings: { x: 'read', out: 'read_write', params: 'uniform' } };
const RELU_BWD: KernelSpec = { name: 'relu.backward', source: reluWgsl, entry: 'backward', bindings: { x: 'read', dy: 'read', out: 'read_write', params: 'uniform' } };

/** Dispatch a vec4 elementwise kernel over n values. */
function vec4Dispatch(spec: KernelSpec, buffers: Parameters<ReturnType<typeof gpu>['dispatch']>[1], n: number, extra: Record<string, number> = {}, label = ''): void {
  const n4 = Math.ceil(n / 4);
  gpu().dispatch(spec, buffers, { n4, ...extra }, grid1d(n4, 256), { label: label || `n=${n}` });
}

// ---- kernels (CPU reference beside the WGSL dispatch) ------------------------------------------

export const addKernel: Kernel<void> = {
  name: 'add',
  cpu([a, b], [out]) {
    for (let i = 0; i < out.length; i++) out[i] = a[i] + b[i];
  },
  webgpu([a, b], [out]) {
    vec4Dispatch(ADD, { a, b, out }, out.bytes / 4, { alpha: 0 }); // alpha: unused by add, but part of the shared params
  },
};

export const mulKernel: Kernel<void> = {
  name: 'mul',
  cpu([a, b], [out]) {
    for (let i = 0; i < out.length; i++) out[i] = a[i] * b[i];
  },
  webgpu([a, b], [out]) {
    vec4Dispatch(MUL, { a, b, out }, out.bytes / 4, { alpha: 0 });
  },
};

export const scaleKernel: Kernel<{ alpha: number }> = {
  name: 'scale',
  cpu([a], [out], { alpha }) {
    for (let i = 0; i < out.length; i++) out[i] = alpha * a[i];
  },
  webgpu([a], [out], { alpha }) {
    vec4Dispatch(SCALE, { a, out }, out.bytes / 4, { alpha });
  },
};

export const fillKernel: Kernel<{ value: number }> = {
  name: 'fill',
  cpu(_, [out], { value }) {
    out.fill(value);
  },
  webgpu(_, [out], { value }) {
    vec4Dispatch(FILL, { out }, out.bytes / 4, { alpha: value });
  },
};

export const reluForwardKernel: Kernel<void> = {
  name: 'relu.forward',
  cpu([x], [y]) {
    for (let i = 0; i < y.length; i++) y[i] = x[i] > 0 ? x[i] : 0;
  },
  webgpu([x], [y]) {
    vec4Dispatch(RELU_FWD, { x, out: y }, y.bytes / 4);
  },
};

export const reluBackwardKernel: Kernel<void> = {
  name: 'relu.backward',
  cpu([x, dy], [dx]) {
    for (let i = 0; i < dx.length; i++) dx[i] = x[i] > 0 ? dy[i] : 0;
  },
  webgpu([x, dy], [dx]) {
    vec4Dispatch(RELU_BWD, { x, dy, out: dx }, dx.bytes / 4);
  },
};

// ---- ops (what they mean, forward and backward side by side) ------------------------------------

export function add(a: Tensor, b: Tensor): Tensor {
  expectSameShape('add', a, b);
  const [out] = runKernel(addKernel, [a, b], [a.shape], undefined);
  return record('add', out, [a, b], (g) => [copy(g), copy(g)]);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  expectSameShape('mul', a, b);
  const [out] = runKernel(mulKernel, [a, b], [a.shape], undefined);
  return record('mul', out, [a, b], (g) => [a.requiresGrad ? mul(g, b) : null, b.requiresGrad ? mul(g, a) : null]);
}

export function scale(a: Tensor, alpha: number): Tensor {
  if (!Number.isFinite(alpha)) throw new Error(`scale: alpha must be a finite number, got ${alpha}`);
  const [out] = runKernel(scaleKernel, [a], [a.shape], { alpha });
  return record('scale', out, [a], (g) => [scale(g, alpha)]);
}


export function relu(x: Tensor): Tensor {
  const [y] = runKernel(reluForwardKernel, [x], [x.shape], undefined);
  return record('relu', y, [x], (g) => [reluBackward(x, g)]);
}

/** dx = dy * (x > 0), given the forward's input x. */
export function reluBackward(x: Tensor, dy: Tensor): Tensor {
  expectSameShape('relu backward', x, dy, ['x', 'dy']);
  return runKernel(reluBackwardKernel, [x, dy], [x.shape], undefined)[0];
}

export function copy(a: Tensor): Tensor {
  return scale(a, 1);
}

accumulate.add = (a, b) => add(a, b);
accumulate.ones = (like) => onesLike(like);

export function onesLike(like: Tensor): Tensor {
  return fillLike(like, 1);
}

export function fillLike(like: Tensor, value: number): Tensor {
  const out = Tensor.empty(like.shape, like.device);
  runKernel(fillKernel, [], [out], { value });
  return out;
}

// ---- checks for `wrn check` (awkward size: odd, not a multiple of 4 or of the workgroup) ------------

const EXACT = { atol: 0, rtol: 1e-6 }; // one f32 rounding
registerChecks(
  { name: 'add', make: () => ({ kernel: addKernel, inputs: [input([1031], 1), input([1031], 2)], outputs: [[1031]], params: undefined, tol: EXACT }) },
  { name: 'mul', make: () => ({ kernel: mulKernel, inputs: [input([1031], 1), input([1031], 2)], outputs: [[1031]], params: undefined, tol: EXACT }) },
  { name: 'scale', make: () => ({ kernel: scaleKernel, inputs: [input([1031], 1)], outputs: [[1031]], params: { alpha: 0.7 }, tol: EXACT }) },
  { name: 'relu.forward', make: () => ({ kernel: reluForwardKernel, inputs: [input([3, 5, 7, 7], 1)], outputs: [[3, 5, 7, 7]], params: undefined, tol: EXACT }) },
  { name: 'relu.backward', make: () => ({ kernel: reluBackwardKernel, inputs: [input([3, 5, 7, 7], 1), input([3, 5, 7, 7], 2)], outputs: [[3, 5, 7, 7]], params: undefined, tol: EXACT }) },
);
