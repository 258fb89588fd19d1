import { describe, expect, it } from 'vitest';
import { gpu, runKernel, Tensor } from '../src/index.js';
import { skipAdd, skipAddBackwardKernel, skipAddKernel } from '../src/ops/skipadd.js';
import { compareKernel, compareOnDevices, describeGpuProfiles, gradCheck, input } from './helpers/optest.js';

// N=1, odd C, H=W=1, sizes not a multiple of 4 (vec4 tail) or of a workgroup; a backward
// workgroup covers 64 * 64 vec4s = 16384 values, so [3,17,19,23] spans 2 of them, [2,33,65,63]
// 17, and [1,17,257,241] 65, more than the final reduction's 64 invocations (a strided loop).
const SHAPES = [[1, 1, 1, 1], [1, 3, 1, 1], [2, 3, 5, 7], [1, 5, 9, 9], [3, 17, 19, 23], [2, 33, 65, 63], [1, 17, 257, 241]];
// out, d_skip and d_branch are one multiply-add per value: a couple of ulps.
const ELEMENTWISE = { atol: 1e-7, rtol: 1e-6 };
// d_alpha sums n products |g*b| <= 1 in f32 (64 serial per lane, then 64, then the partials)
// against a float64 sum. The worst-case bound, ~(64 + 64 + partials) * 2^-24 * n, is ~1e-5 * n;
// random-sign errors are far smaller, so 1e-6 * n still catches a dropped or doubled term.
const dAlphaTol = (n: number) => ({ atol: 1e-6 * n, rtol: 0 });
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

describeGpuProfiles('skipAdd kernels under each version: WGSL vs CPU reference', () => {
  for (const shape of SHAPES) {
    it(`forward and backward on ${JSON.stringify(shape)}`, async () => {
      const skip = input(shape, 1);
      const branch = input(shape, 2);
      const alpha = { shape: [1], data: [-0.37] };
      await compareKernel({ kernel: skipAddKernel, inputs: [skip, branch, alpha], outputs: [shape], params: undefined, tol: ELEMENTWISE });
      const g = input(shape, 3);
      const bwd = { kernel: skipAddBackwardKernel, inputs: [g, branch, alpha], outputs: [shape, shape, [1]], params: undefined };
      await compareKernel({ ...bwd, tol: ELEMENTWISE, compare: [0, 1] });
      const r = await compareKernel({ ...bwd, tol: dAlphaTol(numel(shape)), compare: [2] });
      console.log(`skipAdd d_alpha over ${numel(shape)} values: abs err ${r.maxAbsErr.toExponential(2)}`);
    });
  }
  it('the op on both devices, alpha of shape [1, 1, 1, 1], all three gradients', async () => {
    const shape = [2, 5, 3, 3];
    await compareOnDevices(([s, b, a]) => skipAdd(s, b, a), [input(shape, 4), input(shape, 5), { shape: [1, 1, 1, 1], data: [0.6] }], ELEMENTWISE, { atol: 1e-5, rtol: 1e-5 });
  });
  it('padding past n in the last vec4 never enters d_alpha (pool buffers poisoned with NaN)', async () => {
    // 210 values = 840 bytes; 224 NaNs fill the same 896-byte pool class, so after their release
    // (and a flush) g and branch reuse those buffers, with NaN in the 14 padding values.
    const poisoned = [Tensor.full([224], NaN, 'webgpu'), Tensor.full([224], NaN, 'webgpu')];
    const buffers = poisoned.map((t) => t.gpuBuf().buffer);
    for (const t of poisoned) t.release();
    await gpu().sync();
    const g = Tensor.from(input([210], 1).data, [210], 'webgpu');
    const branch = Tensor.from(input([210], 2).data, [210], 'webgpu');
    // The test means something only if the poisoned buffers were handed back.
    expect(buffers).toContain(g.gpuBuf().buffer);
    expect(buffers).toContain(branch.gpuBuf().buffer);
    const [, , dAlpha] = runKernel(skipAddBackwardKernel, [g, branch, Tensor.from([1], [1], 'webgpu')], [[210], [210], [1]], undefined);
    expect(Number.isFinite(await dAlpha.item())).toBe(true);
  });
  it('alpha stays on the GPU: changing it in place changes the result with no CPU read', async () => {
    const skip = Tensor.from([1, 2, 3, 4, 5], [5], 'webgpu');
    const branch = Tensor.from([1, 1, 1, 1, 1], [5], 'webgpu');
    const alpha = Tensor.from([0], [1], 'webgpu');
    expect(Array.from(await skipAdd(skip, branch, alpha).toArray())).toEqual([1, 2, 3, 4, 5]);
    alpha.assign(new Float32Array([2]));
    expect(Array.from(await skipAdd(skip, branch, alpha).toArray())).toEqual([3, 4, 5, 6, 7]);
  });
}, 'skipadd');

describe('skipAdd gradients (finite differences, float64)', () => {
  it('d_skip, d_branch and d_alpha', () => void gradCheck(([s, b, a]) => skipAdd(s, b, a), [input([2, 3, 2, 3], 1), input([2, 3, 2, 3], 2), { shape: [1], data: [0.7] }]));
  it('at alpha = 0 (SkipInit initialisation) alpha still gets its gradient', () =>
    void gradCheck(([s, b, a]) => skipAdd(s, b, a), [input([1, 3, 1, 1], 3), input([1, 3, 1, 1], 4), { shape: [1], data: [0] }]));
});

describe('skipAdd errors', () => {
  it('shape mismatch names both shapes', () => {
    expect(() => skipAdd(Tensor.zeros([2, 3, 4, 4]), Tensor.zeros([2, 3, 4, 5]), Tensor.zeros([1]))).toThrow(/skipAdd: skip \[2, 3, 4, 4\] and branch \[2, 3, 4, 5\] must have the same shape/);
  });
  it('alpha with more than one element', () => {
    expect(() => skipAdd(Tensor.zeros([2, 3]), Tensor.zeros([2, 3]), Tensor.zeros([3]))).toThrow(/skipAdd: alpha has shape \[3\] \(3 values\); expected a one-element tensor/);
    expect(() => skipAdd(Tensor.zeros([2, 3]), Tensor.zeros([2, 3]), Tensor.zeros([0]))).toThrow(/alpha has shape \[0\]/);
  });
});
