// SkipInit's residual join: out = skip + alpha * branch, alpha a learnable one-element tensor.
// WGSL: shaders/skipadd.wgsl. alpha stays on the device and the kernels read it from a buffer.
import skipaddWgsl from '../../shaders/skipadd.wgsl';
import { gpu, grid1d } from '../gpu/index.js';
import type { KernelSpec } from '../gpu/kernel.js';
import { fmtShape, record, runKernel, sameDevice, Tensor, type Kernel } from '../tensor.js';
import { expectSameShape } from './shapes.js';
import { input, registerChecks } from '../check.js';

const spec = (entry: string, bindings: KernelSpec['bindings']): KernelSpec => ({ name: `skipadd.${entry}`, source: skipaddWgsl, entry, bindings });
const FORWARD = spec('forward', { skip: 'read', branch: 'read', alpha: 'read', out: 'read_write', params: 'uniform' });
const BACKWARD = spec('backward', { g: 'read', branch: 'read', alpha: 'read', d_skip: 'read_write', d_branch: 'read_write', partials: 'read_write', params: 'uniform' });
const REDUCE = spec('reduce_partials', { partials: 'read_write', d_alpha: 'read_write', params: 'uniform' });

const WG = 64;
// vec4s per invocation in `backward`: fewer, longer workgroups mean fewer barriers. On SwiftShader
// for [32, 64, 32, 32] (2 shared cores, noisy) 64 gave the backward in 41-57 ms vs 77-90 ms for
// 16, against 15-30 ms for one elementwise add; a real GPU would want more, shorter workgroups.
const PER_THREAD = 64;
const VEC4S_PER_GROUP = WG * PER_THREAD;
const FWD_WG = 256; // invocations per workgroup in `forward` (FWD_WG in the WGSL)

/** out = skip + alpha[0] * branch. Inputs: skip, branch, alpha (one element). */
export const skipAddKernel: Kernel<void> = {
  name: 'skipAdd',
  cpu([skip, branch, alpha], [out]) {
    const a = alpha[0];
    for (let i = 0; i < out.length; i++) out[i] = skip[i] + a * branch[i];
  },
  webgpu([skip, branch, alpha], [out]) {
    const n = out.bytes / 4;
    const n4 = Math.ceil(n / 4);
    gpu().dispatch(FORWARD, { skip, branch, alpha, out }, { n4, n, partials: 0, per_thread: 0 }, grid1d(n4, FWD_WG), { label: `n=${n}` });
  },
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
  webgpu([g, branch, alpha], [dSkip, dBranch, dAlpha]) {
    const rt = gpu();
    const n = g.bytes / 4;
    const n4 = Math.ceil(n / 4);
    const groups = Math.max(1, Math.ceil(n4 / VEC4S_PER_GROUP));
    const partials = rt.alloc(4 * groups);
    const uniforms = { n4, n, partials: groups, per_thread: PER_THREAD };
    rt.dispatch(BACKWARD, { g, branch, alpha, d_skip: dSkip, d_branch: dBranch, partials }, uniforms, grid1d(groups, 1), { label: `n=${n}` });
    rt.dispatch(REDUCE, { partials, d_alpha: dAlpha }, uniforms, [1], { label: `${groups} partials` });
    rt.release(partials);
  },
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

const ELEMENTWISE = { atol: 1e-7, rtol: 1e-6 }; // one multiply-add per value
const S = [3, 17, 19, 23]; // 22287 values: two backward workgroups
registerChecks(
  { name: 'skipAdd', make: () => ({ kernel: skipAddKernel, inputs: [input(S, 1), input(S, 2), { shape: [1], data: [-0.37] }], outputs: [S], params: undefined, tol: ELEMENTWISE }) },
  {
    name: 'skipAdd.backward',
    // d_alpha sums 22287 products in f32 (blocked) against f64: far below 1e-6 per term
    make: () => ({ kernel: skipAddBackwardKernel, inputs: [input(S, 3), input(S, 2), { shape: [1], data: [-0.37] }], outputs: [S, S, [1]], params: undefined, tol: { atol: 2e-2, rtol: 1e-6 } }),
  },
);
