import { beforeAll, describe, it } from 'vitest';
import { biasAdd, biasAddKernel, linear, matmul, matmulKernel, mean, sum, sumAxisKernel, sumChannelsKernel } from '../src/index.js';
import { compareKernel, compareOnDevices, describeGpu, gradCheck, input, requireGpu } from './helpers/optest.js';

// Sums of up to ~10^5 values of magnitude <= 1 in f32 (tree order on the GPU, f64 on the CPU):
// the rounding error grows like sqrt(k) * 2^-24 * sum|x|, well below 1e-4 absolute here.
const SUM_TOL = { atol: 1e-4, rtol: 1e-5 };
// Dot products of length k <= 300 of values in [-1, 1]: error <= k * 2^-24 * k-ish, so 1e-4 abs.
const MM_TOL = { atol: 1e-4, rtol: 1e-5 };

describeGpu('reduction and matmul kernels: WGSL vs CPU reference', () => {
  beforeAll(requireGpu);
  const cases: [number, number, number][] = [[1, 1, 1], [1, 7, 1], [3, 5, 2], [2, 1000, 3], [1, 100_000, 1], [5, 9000, 1], [70_000, 2, 1]];
  for (const [outer, k, inner] of cases) {
    it(`sum over axis [${outer}, ${k}, ${inner}]`, async () => {
      const x = input([outer, k, inner], outer + k + inner);
      await compareKernel({ kernel: sumAxisKernel, inputs: [x], outputs: [[outer, 1, inner]], params: { outer, k, inner, scale: 1 / k }, tol: SUM_TOL });
    });
  }
  // Per-channel sums [n, c, hw]: N = 1, H*W = 1, one channel (a sum of everything, many slices,
  // the slice step wrapping mid-row and spanning images), odd channel counts, a classifier's bias.
  const channelCases: [number, number, number][] = [[1, 5, 1], [1, 1, 1], [3, 7, 35], [1, 1, 100_000], [32, 16, 1024], [600, 3, 1], [200, 3, 12], [9, 10, 1]];
  for (const [n, c, hw] of channelCases) {
    it(`sum per channel [N=${n}, C=${c}, HW=${hw}]`, async () => {
      await compareKernel({ kernel: sumChannelsKernel, inputs: [input([n, c, hw], n + c + hw)], outputs: [[c]], params: { n, c, hw, scale: 1 / (n * hw) }, tol: SUM_TOL });
    });
  }
  it('sum and mean over kept axes that are contiguous take the per-channel kernel, others the axis sequence: same values on both devices', async () => {
    for (const axes of [[0, 2, 3], [0, 1, 2, 3], [1, 2, 3], [0, 1], [0, 2]]) {
      await compareOnDevices(([t]) => sum(t, axes), [input([3, 4, 5, 6], 2)], SUM_TOL);
      await compareOnDevices(([t]) => mean(t, axes, true), [input([3, 4, 5, 6], 3)], SUM_TOL);
    }
  });
  const mms: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [65, 63, 129], [128, 300, 10]];
  for (const [m, k, n] of mms) {
    for (const [transA, transB] of [[false, false], [true, false], [false, true]] as const) {
      it(`matmul ${m}x${k} @ ${k}x${n} transA=${transA} transB=${transB}`, async () => {
        const a = input(transA ? [k, m] : [m, k], 11);
        const b = input(transB ? [n, k] : [k, n], 12);
        await compareKernel({ kernel: matmulKernel, inputs: [a, b], outputs: [[m, n]], params: { m, n, k, transA, transB }, tol: MM_TOL });
      });
    }
  }
  it('bias add on [2, 3, 5] and [7, 3]', async () => {
    await compareKernel({ kernel: biasAddKernel, inputs: [input([2, 3, 5], 1), input([3], 2)], outputs: [[2, 3, 5]], params: { channels: 3, inner: 5 }, tol: { atol: 0, rtol: 1e-6 } });
    await compareKernel({ kernel: biasAddKernel, inputs: [input([7, 3], 1), input([3], 2)], outputs: [[7, 3]], params: { channels: 3, inner: 1 }, tol: { atol: 0, rtol: 1e-6 } });
  });
  it('linear forward and gradients match on both devices', async () => {
    await compareOnDevices(([x, w, b]) => linear(x, w, b), [input([5, 7], 1), input([3, 7], 2), input([3], 3)], MM_TOL);
  });
});

describe('reduction and matmul gradients (finite differences, float64)', () => {
  const x = input([2, 3, 4], 5);
  it('sum over all', () => void gradCheck(([t]) => sum(t), [x]));
  it('sum over axes 0 and 2', () => void gradCheck(([t]) => sum(t, [0, 2]), [x]));
  it('mean over axis 1 keepDims', () => void gradCheck(([t]) => mean(t, 1, true), [x]));
  it('mean over axis -1', () => void gradCheck(([t]) => mean(t, -1), [x]));
  it('matmul', () => void gradCheck(([a, b]) => matmul(a, b), [input([3, 4], 1), input([4, 5], 2)]));
  it('linear with bias', () => void gradCheck(([a, w, b]) => linear(a, w, b), [input([3, 4], 1), input([5, 4], 2), input([5], 3)]));
  it('bias add', () => void gradCheck(([a, b]) => biasAdd(a, b), [input([2, 3, 2, 2], 1), input([3], 2)]));
});
