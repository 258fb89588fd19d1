import { describe, expect, it } from 'vitest';
import { gpu, noGrad, scope, Tensor, withFloat64 } from '../src/index.js';
import { argmaxRows, labelsTensor, softmaxCrossEntropy, softmaxCrossEntropyBackwardKernel, softmaxCrossEntropyKernel } from '../src/ops/loss.js';
import { globalAvgPool, globalAvgPoolBackwardKernel, globalAvgPoolKernel } from '../src/ops/pool.js';
import { compareKernel, compareOnDevices, describeGpuProfiles, gradCheck, input, rand, type Input } from './helpers/optest.js';

// N=1, odd C, H=W=1, H=1, sizes not a multiple of 4; [70,33,2,3] has 2310 planes (37 workgroups
// of 64) and 13860 values in the backward; [1,2,64,63] has long planes.
const POOL_SHAPES = [[1, 1, 1, 1], [1, 3, 1, 1], [2, 3, 1, 5], [2, 5, 3, 3], [1, 7, 8, 8], [70, 33, 2, 3], [1, 2, 64, 63]];
// f32 sum of <= 4032 values in [-1, 1] then one scaling vs f64: serial rounding error is at most
// hw * 2^-24 * sum|x| / hw ~ 4032 * 6e-8 = 2.4e-4 in the worst case, ~sqrt(hw) * 6e-8 typically.
const POOL_TOL = { atol: 1e-5, rtol: 1e-5 };
// dx = dy * (1/hw): one rounding of the reciprocal and one of the product.
const POOL_BWD_TOL = { atol: 0, rtol: 1e-6 };

// B=1, K=1 (loss 0), K not a multiple of 4, more rows than a workgroup, many classes.
const LOSS_SHAPES = [[1, 1], [1, 10], [7, 13], [130, 10], [3, 1000]];
// f32 exp and log (a few ulps each) over K terms of logits in [-5, 5] vs f64; the row losses are
// <= ~15 and the mean adds B roundings: 1e-5 relative. Gradients are (p - onehot) / B <= 1.
const LOSS_TOL = { atol: 1e-6, rtol: 1e-5 };

const labelsFor = (b: number, k: number): Input => ({ shape: [b], data: Array.from({ length: b }, (_, i) => (i * 7 + 3) % k) });

/** Mean softmax cross-entropy in float64, written out independently of the kernels. */
function referenceLoss(logits: ArrayLike<number>, labels: ArrayLike<number>, b: number, k: number): number {
  let total = 0;
  for (let r = 0; r < b; r++) {
    const row = Array.from({ length: k }, (_, j) => logits[r * k + j]);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
    total += lse - row[labels[r]];
  }
  return total / b;
}

describeGpuProfiles('pool and loss kernels: WGSL vs CPU reference', () => {
  for (const shape of POOL_SHAPES) {
    it(`globalAvgPool forward and backward on ${JSON.stringify(shape)}`, async () => {
      const [n, c] = shape;
      await compareKernel({ kernel: globalAvgPoolKernel, inputs: [input(shape, 1)], outputs: [[n, c]], params: undefined, tol: POOL_TOL });
      await compareKernel({ kernel: globalAvgPoolBackwardKernel, inputs: [input([n, c], 2)], outputs: [shape], params: undefined, tol: POOL_BWD_TOL });
    });
  }
  it('globalAvgPool op on both devices (forward and gradient)', async () => {
    await compareOnDevices(([x]) => globalAvgPool(x), [input([3, 5, 3, 3], 3)], POOL_TOL, POOL_BWD_TOL);
  });

  for (const [b, k] of LOSS_SHAPES) {
    it(`softmaxCrossEntropy forward (loss and saved gradient) and backward on [${b}, ${k}]`, async () => {
      const logits = input([b, k], b + k, -5, 5);
      await compareKernel({ kernel: softmaxCrossEntropyKernel, inputs: [logits, labelsFor(b, k)], outputs: [[1], [b, k]], params: undefined, tol: LOSS_TOL });
      await compareKernel({ kernel: softmaxCrossEntropyBackwardKernel, inputs: [input([b, k], 5), { shape: [1], data: [-0.3] }], outputs: [[b, k]], params: undefined, tol: { atol: 0, rtol: 1e-6 } });
    });
  }
  it('softmaxCrossEntropy op on both devices; the incoming gradient (not 1) scales the saved one', async () => {
    // compareOnDevices back-propagates from sum(loss * w) with a random w, so dloss = w[0] != 1
    await compareOnDevices(([l, lab]) => softmaxCrossEntropy(l, lab), [input([9, 10], 4, -3, 3), labelsFor(9, 10)], LOSS_TOL, LOSS_TOL, [1]);
  });
  it('logits of +-1000 stay finite on both backends and match the float64 log-sum-exp', async () => {
    // exp(1000) overflows even float64; the max-subtracted form does not.
    const b = 4;
    const k = 5;
    const data = [1000, 999.5, -1000, 0, 1000, -1000, 1000, 3, 2, 1, 998, 999, 1000, 1000, 997, 1000, -1000, -1000, -1000, -1000];
    const labels = [1, 0, 4, 0];
    expect(Math.exp(1000)).toBe(Infinity);
    const want = referenceLoss(data, labels, b, k);
    expect(Number.isFinite(want)).toBe(true);
    for (const device of ['cpu', 'webgpu'] as const) {
      const x = Tensor.from(data, [b, k], device);
      x.requiresGrad = true;
      const loss = softmaxCrossEntropy(x, labelsTensor(labels, k, device));
      const got = await loss.item();
      // row losses up to 2000 summed in f32: a few ulps of 2000 / 4
      expect(Math.abs(got - want), `${device}: ${got} vs ${want}`).toBeLessThan(1e-4);
      loss.backward();
      const g = await x.grad!.toArray();
      expect(g.every(Number.isFinite), `${device} gradient finite`).toBe(true);
      // row 1: label 0 holds -1000 against 1000: p ~ 0, so its gradient is -1/B
      expect(g[5]).toBeCloseTo(-1 / b, 7);
      x.grad!.release();
    }
  });
  it('an invalid label that reached the GPU gives a NaN loss (the GPU cannot throw)', async () => {
    const logits = Tensor.from(rand([2, 5], 1), [2, 5], 'webgpu');
    for (const bad of [7, 5, -1, 1.5]) {
      const loss = noGrad(() => softmaxCrossEntropy(logits, Tensor.from([0, bad], [2], 'webgpu')));
      expect(await loss.item(), `label ${bad}`).toBeNaN();
    }
  });
  it('forward + backward leaves no GPU memory behind (the saved gradient goes with the tape)', async () => {
    const x = Tensor.from(rand([6, 10], 2), [6, 10], 'webgpu').param('logits');
    const labels = labelsTensor([1, 2, 3, 4, 5, 6], 10, 'webgpu').keep();
    const step = () => scope(() => softmaxCrossEntropy(x, labels).backward());
    step();
    x.grad!.release();
    x.grad = null;
    await gpu().sync();
    const before = gpu().memory().bytesInUse;
    for (let i = 0; i < 3; i++) {
      step();
      x.grad!.release();
      x.grad = null;
      noGrad(() => scope(() => void softmaxCrossEntropy(x, labels)));
    }
    await gpu().sync();
    expect(gpu().memory().bytesInUse).toBe(before);
  });
});

describe('pool and loss gradients (finite differences, float64)', () => {
  it('globalAvgPool', () => void gradCheck(([x]) => globalAvgPool(x), [input([2, 3, 2, 3], 1)]));
  it('globalAvgPool with H = W = 1', () => void gradCheck(([x]) => globalAvgPool(x), [input([1, 3, 1, 1], 2)]));
  it('softmaxCrossEntropy', () => void gradCheck(([l, lab]) => softmaxCrossEntropy(l, lab), [input([4, 7], 1, -3, 3), labelsFor(4, 7)], { noGrad: [1] }));
  it('softmaxCrossEntropy with logits near 1000', () =>
    void gradCheck(([l, lab]) => softmaxCrossEntropy(l, lab), [input([3, 5], 2, 997, 1003), labelsFor(3, 5)], { noGrad: [1] }));
  it('softmaxCrossEntropy forward matches the float64 reference with logits of 1000 (CPU, float64)', () =>
    withFloat64(() => {
      const data = [1000, 999.5, -1000, 0, 1000, -1000, 1000.25, 1000, 1000.5];
      const loss = softmaxCrossEntropy(Tensor.from(data, [3, 3]), labelsTensor([1, 1, 0], 3));
      expect(loss.cpuData()).toBeInstanceOf(Float64Array);
      expect(loss.cpuData()[0]).toBeCloseTo(referenceLoss(data, [1, 1, 0], 3, 3), 12);
    }));
});

describe('pool and loss errors and helpers', () => {
  it('globalAvgPool needs [N, C, H, W]', () => {
    expect(() => globalAvgPool(Tensor.zeros([2, 3, 4]))).toThrow(/globalAvgPool: x has shape \[2, 3, 4\]; expected rank 4 \(\[N, C, H, W\]\)/);
    expect(() => globalAvgPool(Tensor.zeros([2, 3, 0, 4]))).toThrow(/empty planes/);
  });
  it('labelsTensor names the bad label and its index', () => {
    expect(() => labelsTensor([0, 1, 10, 2], 10)).toThrow(/labelsTensor: label 10 at index 2 is not a class index for 10 classes \(expected an integer in \[0, 10\)\)/);
    expect(() => labelsTensor([0, -1], 10)).toThrow(/label -1 at index 1/);
    expect(() => labelsTensor([0.5], 10)).toThrow(/label 0.5 at index 0/);
    expect(() => labelsTensor([0], 0)).toThrow(/numClasses must be an integer/);
    expect(Array.from(labelsTensor([3, 0, 9], 10).cpuData())).toEqual([3, 0, 9]);
  });
  it('softmaxCrossEntropy checks shapes and CPU labels', () => {
    expect(() => softmaxCrossEntropy(Tensor.zeros([2, 3, 1]), Tensor.zeros([2]))).toThrow(/logits has shape \[2, 3, 1\]; expected rank 2 \(\[B, K\]\)/);
    expect(() => softmaxCrossEntropy(Tensor.zeros([2, 3]), Tensor.zeros([3]))).toThrow(/labels \[3\] must be \[B\] = \[2\] for logits \[2, 3\]/);
    expect(() => softmaxCrossEntropy(Tensor.zeros([2, 3]), Tensor.from([0, 3], [2]))).toThrow(/softmaxCrossEntropy: label 3 at index 1 is not a class index for 3 classes/);
  });
  it('argmaxRows', async () => {
    expect(Array.from(await argmaxRows(Tensor.from([0, 2, 1, 5, -1, 4], [2, 3])))).toEqual([1, 0]);
  });
});
