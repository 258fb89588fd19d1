// Matrix product and the linear layer (what they mean, CPU references, autograd). GPU side:
// src/gpu/programs/matmul.ts; WGSL: shaders/matmul.wgsl, shaders/bias_add.wgsl.
import { biasAddProgram, matmulProgram } from '../gpu/programs/matmul.js';
import { fmtShape, numel, record, runKernel, sameDevice, Tensor, type Kernel } from '../tensor.js';
import { sum } from './reduce.js';
import { expectRank } from './shapes.js';
import { input, registerChecks } from '../check.js';
import type { MatmulParams } from '../gpu/programs/matmul.js';
export type { MatmulParams } from '../gpu/programs/matmul.js';


/** C[m, n] = op(A) @ op(B); A is [m, k] (or [k, m] if transA), B is [k, n] (or [n, k] if transB). */
export const matmulKernel: Kernel<MatmulParams> = {
  name: 'matmul',
  cpu([a, b], [c], { m, n, k, transA, transB }) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
        c[i * n + j] = acc;
      }
    }
  },
  webgpu: matmulProgram,
};

/** out = x + bias[c] for x viewed as [outer, C, inner]. */
export const biasAddKernel: Kernel<{ channels: number; inner: number }> = {
  name: 'bias_add',
  cpu([x, bias], [out], { channels, inner }) {
    for (let i = 0; i < out.length; i++) out[i] = x[i] + bias[Math.floor(i / inner) % channels];
  },
  webgpu: biasAddProgram,
};

function mm(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  const m = transA ? a.shape[1] : a.shape[0];
  const k = transA ? a.shape[0] : a.shape[1];
  const kb = transB ? b.shape[1] : b.shape[0];
  const n = transB ? b.shape[0] : b.shape[1];
  if (k !== kb) {
    throw new Error(`matmul: inner dimensions differ: ${fmtShape(a.shape)}${transA ? 'ᵀ' : ''} @ ${fmtShape(b.shape)}${transB ? 'ᵀ' : ''} (expected [m, k] @ [k, n])`);
  }
  return runKernel(matmulKernel, [a, b], [[m, n]], { m, n, k, transA, transB })[0];
}

/** a [m, k] @ b [k, n] -> [m, n] */
export function matmul(a: Tensor, b: Tensor): Tensor {
  expectRank('matmul', 'a', a, 2, '[m, k]');
  expectRank('matmul', 'b', b, 2, '[k, n]');
  const out = mm(a, b, false, false);
  return record('matmul', out, [a, b], (g) => [
    a.requiresGrad ? mm(g, b, false, true) : null, // dA = g @ Bᵀ
    b.requiresGrad ? mm(a, g, true, false) : null, // dB = Aᵀ @ g
  ]);
}

/** Add a per-channel bias: x [N, C, ...] + bias [C]. */
export function biasAdd(x: Tensor, bias: Tensor): Tensor {
  sameDevice('biasAdd', [x, bias]);
  if (x.shape.length < 2 || bias.shape.length !== 1 || bias.shape[0] !== x.shape[1]) {
    throw new Error(`biasAdd: bias ${fmtShape(bias.shape)} must be [C] for x ${fmtShape(x.shape)} ([N, C, ...])`);
  }
  const inner = numel(x.shape.slice(2));
  const [out] = runKernel(biasAddKernel, [x, bias], [x.shape], { channels: x.shape[1], inner });
  const reduceAxes = x.shape.map((_, i) => i).filter((i) => i !== 1);
  return record('biasAdd', out, [x, bias], (g) => [x.requiresGrad ? g.reshape(g.shape) : null, bias.requiresGrad ? sum(g, reduceAxes) : null]);
}

/** y = x @ wᵀ + b, with x [B, in], w [out, in], b [out] (optional). */
export function linear(x: Tensor, w: Tensor, b?: Tensor): Tensor {
  expectRank('linear', 'x', x, 2, '[batch, in]');
  expectRank('linear', 'weight', w, 2, '[out, in]');
  if (x.shape[1] !== w.shape[1]) throw new Error(`linear: x ${fmtShape(x.shape)} has ${x.shape[1]} features but weight ${fmtShape(w.shape)} expects ${w.shape[1]} ([out, in])`);
  const y = mm(x, w, false, true);
  const out = record('linear', y, [x, w], (g) => [
    x.requiresGrad ? mm(g, w, false, false) : null, // dx = g @ W
    w.requiresGrad ? mm(g, x, true, false) : null, // dW = gᵀ @ x
  ]);
  if (!b) return out;
  const withBias = biasAdd(out, b);
  return withBias;
}

// ---- checks for `wrn check` -------------------------------------------------------------------

const MM_TOL = { atol: 1e-4, rtol: 1e-5 }; // f32 dot products of <= 300 terms in [-1, 1] vs f64
registerChecks(
  { name: 'matmul', make: () => ({ kernel: matmulKernel, inputs: [input([65, 63], 1), input([63, 129], 2)], outputs: [[65, 129]], params: { m: 65, n: 129, k: 63, transA: false, transB: false }, tol: MM_TOL }) },
  { name: 'matmul (Aᵀ)', make: () => ({ kernel: matmulKernel, inputs: [input([63, 65], 1), input([63, 10], 2)], outputs: [[65, 10]], params: { m: 65, n: 10, k: 63, transA: true, transB: false }, tol: MM_TOL }) },
  { name: 'matmul (Bᵀ)', make: () => ({ kernel: matmulKernel, inputs: [input([5, 63], 1), input([10, 63], 2)], outputs: [[5, 10]], params: { m: 5, n: 10, k: 63, transA: false, transB: true }, tol: MM_TOL }) },
  { name: 'bias_add', make: () => ({ kernel: biasAddKernel, inputs: [input([2, 3, 5], 1), input([3], 2)], outputs: [[2, 3, 5]], params: { channels: 3, inner: 5 }, tol: { atol: 0, rtol: 1e-6 } }) },
);

/** x + b for a one-element tensor b (Fixup's scalar biases). */
export function addScalar(x: Tensor, b: Tensor): Tensor {
  sameDevice('addScalar', [x, b]);
  if (b.size !== 1) throw new Error(`addScalar: b ${fmtShape(b.shape)} must hold one value`);
  const [out] = runKernel(biasAddKernel, [x, b], [x.shape], { channels: 1, inner: 1 });
  return record('addScalar', out, [x, b], (g) => [x.requiresGrad ? g.reshape(g.shape) : null, b.requiresGrad ? sum(g).reshape([...b.shape]) : null]);
}
