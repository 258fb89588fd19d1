// Elementwise ops: add, mul, scale, relu (what they mean, CPU references, autograd). The GPU side
// is src/gpu/programs/elementwise.ts; the WGSL is shaders/elementwise.wgsl and shaders/relu.wgsl.
import { addProgram, fillProgram, mulProgram, reluBackwardProgram, reluForwardProgram, scaleProgram } from '../gpu/programs/elementwise.js';
import { accumulate, record, runKernel, Tensor, type Kernel } from '../tensor.js';
import { expectSameShape } from './shapes.js';
import { input, registerChecks } from '../check.js';

// ---- kernels (the CPU reference beside the GPU program) ------------------------------------------

export const addKernel: Kernel<void> = {
  name: 'add',
  cpu([a, b], [out]) {
    for (let i = 0; i < out.length; i++) out[i] = a[i] + b[i];
  },
  webgpu: addProgram,
};

export const mulKernel: Kernel<void> = {
  name: 'mul',
  cpu([a, b], [out]) {
    for (let i = 0; i < out.length; i++) out[i] = a[i] * b[i];
  },
  webgpu: mulProgram,
};

export const scaleKernel: Kernel<{ alpha: number }> = {
  name: 'scale',
  cpu([a], [out], { alpha }) {
    for (let i = 0; i < out.length; i++) out[i] = alpha * a[i];
  },
  webgpu: scaleProgram,
};

export const fillKernel: Kernel<{ value: number }> = {
  name: 'fill',
  cpu(_, [out], { value }) {
    out.fill(value);
  },
  webgpu: fillProgram,
};

export const reluForwardKernel: Kernel<void> = {
  name: 'relu.forward',
  cpu([x], [y]) {
    for (let i = 0; i < y.length; i++) y[i] = x[i] > 0 ? x[i] : 0;
  },
  webgpu: reluForwardProgram,
};

export const reluBackwardKernel: Kernel<void> = {
  name: 'relu.backward',
  cpu([x, dy], [dx]) {
    for (let i = 0; i < dx.length; i++) dx[i] = x[i] > 0 ? dy[i] : 0;
  },
  webgpu: reluBackwardProgram,
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
