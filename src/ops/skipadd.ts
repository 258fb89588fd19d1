// SkipInit's residual join: out = skip + alpha * branch, alpha a learnable one-element tensor (what
// it means, its CPU reference, autograd). The GPU side is src/gpu/programs/skipadd.ts; the WGSL is
// shaders/skipadd.wgsl. alpha stays on the device and the kernels read it from a buffer.
import { skipAddBackwardProgram, skipAddProgram } from '../gpu/programs/skipadd.js';
import { fmtShape, record, runKernel, sameDevice, Tensor, type Kernel } from '../tensor.js';
import { expectSameShape } from './shapes.js';
import { input, registerChecks } from '../check.js';

/** out = skip + alpha[0] * branch. Inputs: skip, branch, alpha (one element). */
export const skipAddKernel: Kernel<void> = {
  name: 'skipAdd',
  cpu([skip, branch, alpha], [out]) {
    const a = alpha[0];
    for (let i = 0; i < out.length; i++) out[i] = skip[i] + a * branch[i];
  },
  webgpu: skipAddProgram,
};

/**
 * Inputs: g (the output's gradient), branch, alpha. Outputs: d_skip = g, d_branch = alpha * g,
 * d_alpha = sum(g * branch) (one element).
 */
export const skipAddBackwardKernel: Kernel<void> = {
  name: 'skipAdd.backward',
  cpu([g, branch, alpha], [dSkip, dBranch, dAlpha]) {
    const a = alpha[0];
    let acc = 0; // float64 accumulation
    for (let i = 0; i < g.length; i++) {
      dSkip[i] = g[i];
      dBranch[i] = a * g[i];
      acc += g[i] * branch[i];
    }
    dAlpha[0] = acc;
  },
  webgpu: skipAddBackwardProgram,
};

/** SkipInit join: skip + alpha * branch, with alpha a one-element tensor (any shape of size 1). */
export function skipAdd(skip: Tensor, branch: Tensor, alpha: Tensor): Tensor {
  sameDevice('skipAdd', [skip, branch, alpha]);
  expectSameShape('skipAdd', skip, branch, ['skip', 'branch']);
  if (alpha.size !== 1) {
    throw new Error(`skipAdd: alpha has shape ${fmtShape(alpha.shape)} (${alpha.size} values); expected a one-element tensor such as [1]`);
  }
  const [out] = runKernel(skipAddKernel, [skip, branch, alpha], [skip.shape], undefined);
  return record('skipAdd', out, [skip, branch, alpha], (g) => {
    const grads = runKernel(skipAddBackwardKernel, [g, branch, alpha], [skip.shape, branch.shape, alpha.shape], undefined);
    return grads.map((d, i) => {
      if ([skip, branch, alpha][i].requiresGrad) return d;
      d.release();
      return null;
    });
  });
}

// ---- checks for `wrn check` (odd sizes; the backward spans several workgroups of partials) ------

export const ELEMENTWISE = { atol: 1e-7, rtol: 1e-6 }; // one multiply-add per value
// d_alpha sums 22287 products in f32 (blocked) against f64: far below 1e-6 per term
export const D_ALPHA_TOL = { atol: 2e-2, rtol: 1e-6 };
const S = [3, 17, 19, 23]; // 22287 values: two backward workgroups
registerChecks(
  { name: 'skipAdd', make: () => ({ kernel: skipAddKernel, inputs: [input(S, 1), input(S, 2), { shape: [1], data: [-0.37] }], outputs: [S], params: undefined, tol: ELEMENTWISE }) },
  {
    name: 'skipAdd.backward',
    make: () => ({ kernel: skipAddBackwardKernel, inputs: [input(S, 3), input(S, 2), { shape: [1], data: [-0.37] }], outputs: [S, S, [1]], params: undefined, tol: D_ALPHA_TOL }),
  },
);
