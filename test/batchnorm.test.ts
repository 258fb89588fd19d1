import { beforeAll, describe, expect, it } from 'vitest';
import { gpu, mul, relu, runKernel, scope, sum, Tensor, type Device, type Shape } from '../src/index.js';
import {
  batchNorm,
  batchNormEvalRstdKernel,
  batchNormGradInputKernel,
  batchNormGradReduceKernel,
  batchNormNormalizeKernel,
  batchNormStatsKernel,
  type BatchNormState,
} from '../src/ops/batchnorm.js';
import { compareArrays, compareKernel, compareOnDevices, describeGpu, describeGpuProfiles, gradCheck, input, rand, randn, requireGpu, type Input } from './helpers/optest.js';

const numel = (s: Shape) => s.reduce((a, b) => a * b, 1);
/** [n, c, hw] of an NCHW or [N, C] shape. */
const dimsOf = (s: Shape) => ({ n: s[0], c: s[1], hw: s.length === 4 ? s[2] * s[3] : 1 });

// N=1, odd C, H=W=1, rank 2, H*W not a multiple of 4 (scalar paths), H*W a multiple of 4 (vec4
// paths), M = 1, and shapes with several slices per channel: [8, 3, 33, 31] (32 slices, the slice
// step stays inside a row), [16, 4, 16, 16] (16, vec4), and [600, 3, 1, 3], [200, 3, 3, 4],
// [1000, 5] where the slice step spans several images and wraps mid-row. H*W a multiple of 16
// ([1, 3, 4, 4]: spans of 4 vec4s; [4, 16, 8, 8], [16, 4, 16, 16]: of 8) in normalize and grad_x.
const SHAPES: Shape[] = [
  [1, 3, 5, 7], [2, 5, 1, 1], [7, 5], [1, 2, 1, 1], [3, 7, 2, 2], [1, 3, 4, 4], [4, 16, 8, 8],
  [8, 3, 33, 31], [16, 4, 16, 16], [600, 3, 1, 3], [200, 3, 3, 4], [1000, 5],
];

// Statistics over M <= 8184 values in [-1, 1]: the GPU's f32 Welford/Chan result vs the float64
// two-pass reference is good to a few f32 ulps of the std (measured <= 2e-7); 1e-6 + 1e-5 rel
// leaves margin for the merge depth without hiding a wrong slice (that is off by >1e-3).
const STATS_TOL = { atol: 1e-6, rtol: 1e-5 };
// Normalize and dx: a handful of f32 roundings per value of magnitude <~ 10 (measured ~1e-6).
const ELEMENTWISE_TOL = { atol: 1e-5, rtol: 1e-5 };
// dgamma, dbeta: f32 sums of M <= 8184 terms |dy * xhat| <~ 2 vs float64; rounding grows like
// sqrt(M) * 2^-24 * sum|term|, below 1e-4 of the sum of magnitudes.
const REDUCE_TOL = { atol: 1e-4, rtol: 1e-4 };

/** Per-channel inputs for the kernels: mean, rstd > 0, gamma (either sign), beta. */
function channelInputs(c: number, seed: number, beta: 'random' | 'zero'): Input[] {
  return [
    input([c], seed, -0.3, 0.3),
    input([c], seed + 1, 0.5, 2),
    input([c], seed + 2, -1.5, 1.5),
    beta === 'zero' ? { shape: [c], data: new Float32Array(c) } : input([c], seed + 3, -0.5, 0.5),
  ];
}

describeGpuProfiles('batchnorm kernels under each version: WGSL vs CPU reference', () => {
  for (const shape of SHAPES) {
    const { n, c, hw } = dimsOf(shape);
    const name = JSON.stringify(shape);
    it(`stats (mean, rstd, running stats) on ${name}`, async () => {
      await compareKernel({
        kernel: batchNormStatsKernel,
        inputs: [input(shape, 1, -1, 1)],
        outputs: [[c], [c], input([c], 2), input([c], 3, 0.5, 1.5)],
        params: { n, c, hw, momentum: 0.1, eps: 1e-5 },
        tol: STATS_TOL,
      });
    });
    it(`eval rstd and normalize (with and without ReLU) on ${name}`, async () => {
      await compareKernel({ kernel: batchNormEvalRstdKernel, inputs: [input([c], 4, 0, 3)], outputs: [[c]], params: { c, eps: 1e-5 }, tol: ELEMENTWISE_TOL });
      for (const relu of [false, true]) {
        await compareKernel({ kernel: batchNormNormalizeKernel, inputs: [input(shape, 5), ...channelInputs(c, 6, 'random')], outputs: [shape], params: { n, c, hw, relu }, tol: ELEMENTWISE_TOL });
      }
    });
    // With beta = 0 the ReLU mask is sign(x - mean) * sign(gamma), exact in f32 and f64, so both
    // backends mask the same values; nonzero beta is covered by the op tests on kink-free inputs.
    it(`backward reduction and dx (training and eval, with and without ReLU) on ${name}`, async () => {
      for (const relu of [false, true]) {
        const per = channelInputs(c, 10, relu ? 'zero' : 'random');
        const x = input(shape, 7);
        const dy = input(shape, 8);
        await compareKernel({ kernel: batchNormGradReduceKernel, inputs: [x, dy, ...per], outputs: [[c], [c]], params: { n, c, hw, relu }, tol: REDUCE_TOL });
        for (const training of [true, false]) {
          const sums = [input([c], 20, -30, 30), input([c], 21, -30, 30)];
          await compareKernel({ kernel: batchNormGradInputKernel, inputs: training ? [x, dy, ...per, ...sums] : [x, dy, ...per], outputs: [shape], params: { n, c, hw, relu, training }, tol: ELEMENTWISE_TOL });
        }
      }
    });
  }

  it('padding past the last value never reaches the statistics or the sums (pool buffers poisoned with NaN)', async () => {
    // [3, 5, 3, 3] is 135 values; the 144-value NaN tensors share its pool class, so after their
    // release (and a flush) x and dy reuse those buffers with NaN in the padding.
    const shape = [3, 5, 3, 3];
    for (let i = 0; i < 4; i++) Tensor.full([144], NaN, 'webgpu').release();
    await gpu().sync();
    const { n, c, hw } = dimsOf(shape);
    await compareKernel({ kernel: batchNormStatsKernel, inputs: [input(shape, 1)], outputs: [[c], [c], [c], [c]], params: { n, c, hw, momentum: 0.5, eps: 1e-5 }, tol: STATS_TOL, compare: [0, 1] });
    await compareKernel({ kernel: batchNormGradReduceKernel, inputs: [input(shape, 2), input(shape, 3), ...channelInputs(c, 4, 'random')], outputs: [[c], [c]], params: { n, c, hw, relu: false }, tol: REDUCE_TOL });
  });
}, 'batchnorm');

// ---- statistics on ill-conditioned inputs, against float64 -------------------------------------

/** Float64 two-pass mean and biased variance per channel. */
function reference(x: ArrayLike<number>, shape: Shape): { mean: number[]; variance: number[] } {
  const { n, c, hw } = dimsOf(shape);
  const mean: number[] = [];
  const variance: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let i = 0; i < n; i++) for (let p = 0; p < hw; p++) s += x[(i * c + ch) * hw + p];
    const mu = s / (n * hw);
    let q = 0;
    for (let i = 0; i < n; i++) for (let p = 0; p < hw; p++) q += (x[(i * c + ch) * hw + p] - mu) ** 2;
    mean.push(mu);
    variance.push(q / (n * hw));
  }
  return { mean, variance };
}

/** The GPU's batch mean and biased variance, read back through momentum-1 running statistics. */
async function gpuStats(x: Float32Array, shape: Shape): Promise<{ mean: Float32Array; variance: number[]; rstd: Float32Array }> {
  const { n, c, hw } = dimsOf(shape);
  const m = n * hw;
  const xs = Tensor.from(x, shape, 'webgpu');
  const rm = Tensor.zeros([c], 'webgpu');
  const rv = Tensor.zeros([c], 'webgpu');
  const [mean, rstd] = runKernel(batchNormStatsKernel, [xs], [[c], [c], rm, rv], { n, c, hw, momentum: 1, eps: 0 });
  // momentum 1: running_var is the unbiased variance of this batch
  const unbiased = await rv.toArray();
  const out = { mean: await rm.toArray(), variance: [...unbiased].map((v) => (v * (m - 1)) / m), rstd: await rstd.toArray() };
  expect([...(await mean.toArray())]).toEqual([...out.mean]);
  [xs, rm, rv, mean, rstd].forEach((t) => t.release());
  return out;
}

/** Largest relative error of `got` against `want`. */
const maxRel = (got: ArrayLike<number>, want: number[]) => Math.max(...want.map((w, i) => Math.abs(got[i] - w) / Math.abs(w)));

describeGpu('batchnorm statistics stay accurate in f32 on ill-conditioned inputs', () => {
  beforeAll(requireGpu);
  // Scalar path with 32 slices per channel, and the vec4 path with 16.
  const shapes: Shape[] = [[8, 3, 33, 31], [16, 4, 16, 16]];
  for (const shape of shapes) {
    it(`mean 1e4, std 1 on ${JSON.stringify(shape)}`, async () => {
      // The inputs are f32 (spacing 1e-3 at 1e4); the reference uses exactly those values.
      const x = randn(shape, 31, 1e4, 1);
      const ref = reference(x, shape);
      const got = await gpuStats(x, shape);
      const meanErr = maxRel(got.mean, ref.mean);
      const varErr = maxRel(got.variance, ref.variance);
      console.log(`mean 1e4 std 1 ${JSON.stringify(shape)}: mean rel err ${meanErr.toExponential(2)}, var rel err ${varErr.toExponential(2)}`);
      // mean: one f32 rounding of ~1e4 is 6e-8 relative; a few of them.
      expect(meanErr).toBeLessThan(3e-7);
      // var: Welford on shifted values carries O(std) quantities, so the error is a few ulps of
      // the variance times the merge depth, ~1e-6; 1e-5 leaves margin (E[x^2] - E[x]^2 in f32
      // would be off by ~1e8 * 2^-24 = 6, i.e. 600%).
      expect(varErr).toBeLessThan(1e-5);
      const rstdWant = ref.variance.map((v) => 1 / Math.sqrt(v));
      expect(maxRel(got.rstd, rstdWant)).toBeLessThan(1e-5);
    });
    it(`variance 1e12 (std 1e6, mean 3e6) on ${JSON.stringify(shape)}`, async () => {
      const x = randn(shape, 32, 3e6, 1e6);
      const ref = reference(x, shape);
      const got = await gpuStats(x, shape);
      const meanErr = maxRel(got.mean, ref.mean);
      const varErr = maxRel(got.variance, ref.variance);
      console.log(`std 1e6 mean 3e6 ${JSON.stringify(shape)}: mean rel err ${meanErr.toExponential(2)}, var rel err ${varErr.toExponential(2)}`);
      // Both well-conditioned here; the bounds are the same few-ulps arguments as above.
      expect(meanErr).toBeLessThan(3e-7);
      expect(varErr).toBeLessThan(1e-5);
    });
  }
});

// ---- the op -------------------------------------------------------------------------------------

function makeState(c: number, device: Device, momentum = 0.1, eps = 1e-5, seed = 50): BatchNormState {
  return {
    runningMean: Tensor.from(rand([c], seed, -0.5, 0.5), [c], device),
    runningVar: Tensor.from(rand([c], seed + 1, 0.5, 2), [c], device),
    momentum,
    eps,
  };
}

/**
 * Inputs whose BN + ReLU pre-activations all stay at least ~0.015 away from the kink: per channel,
 * x = offset +- v with v in [0.3, 1.3] in mirrored pairs (plus the offset itself when M is odd),
 * so mean = offset, std <= 1.3 and |xhat| >= 0.23 (or 0); |gamma| in [0.5, 1.5] and
 * |beta| in [0.05, 0.1] then give |gamma * xhat + beta| >= 0.015. Eval mode with running mean =
 * offset and running var = 1 keeps the same bounds.
 */
function kinkFree(shape: Shape, seed: number): { x: Input; gamma: Input; beta: Input; offsets: number[] } {
  const { n, c, hw } = dimsOf(shape);
  const m = n * hw;
  const x = new Float32Array(numel(shape));
  const u = rand([c * m * 2], seed, 0, 1);
  const offsets: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    const offset = ch + 1;
    offsets.push(offset);
    const vals: number[] = [];
    for (let k = 0; k + 1 < m; k += 2) {
      const v = 0.3 + u[ch * m + k];
      vals.push(v, -v);
    }
    if (m % 2) vals.push(0);
    // deterministic shuffle so pairs are not adjacent
    for (let k = vals.length - 1; k > 0; k--) {
      const j = Math.floor(u[c * m + ch * m + k] * (k + 1));
      [vals[k], vals[j]] = [vals[j], vals[k]];
    }
    for (let i = 0; i < n; i++) for (let p = 0; p < hw; p++) x[(i * c + ch) * hw + p] = offset + vals[i * hw + p];
  }
  const sign = (s: number) => Array.from(rand([c], s, -1, 1), (r) => (r < 0 ? -1 : 1));
  const gs = sign(seed + 1);
  const bs = sign(seed + 2);
  const gamma = Array.from(rand([c], seed + 3, 0.5, 1.5), (g, i) => g * gs[i]);
  const beta = Array.from(rand([c], seed + 4, 0.05, 0.1), (b, i) => b * bs[i]);
  return { x: { shape, data: x }, gamma: { shape: [c], data: gamma }, beta: { shape: [c], data: beta }, offsets };
}

function evalState(offsets: number[], device: Device): BatchNormState {
  const c = offsets.length;
  return { runningMean: Tensor.from(offsets, [c], device), runningVar: Tensor.full([c], 1, device), momentum: 0.1, eps: 1e-5 };
}

/** Forward output and gradients of x, gamma, beta for sum(fn(...) * fixed weights). */
async function runWithGrads(fn: (xs: Tensor[]) => Tensor, inputs: Input[], device: Device): Promise<Float32Array[]> {
  const xs = inputs.map((i) => {
    const t = Tensor.from(i.data, i.shape, device).keep();
    t.requiresGrad = true;
    return t;
  });
  const y = scope(() => {
    const out = fn(xs);
    sum(mul(out, Tensor.from(rand(out.shape, 4242), out.shape, device))).backward();
    return out;
  });
  const res = [await y.toArray(), ...(await Promise.all(xs.map((x) => x.grad!.toArray())))];
  y.release();
  xs.forEach((x) => {
    x.grad?.release();
    x.release();
  });
  return res;
}

// dx, dgamma, dbeta in f32 on both devices: the sums have M terms, dx a cancellation of O(1)
// terms; 1e-4 relative (plus 1e-5 absolute for values near 0) is ~100 f32 ulps.
const OP_TOL = { atol: 1e-5, rtol: 1e-5 };
const OP_GRAD_TOL = { atol: 1e-5, rtol: 1e-4 };

describeGpu('batchNorm op: webgpu vs cpu, fused vs unfused, running statistics', () => {
  beforeAll(requireGpu);
  const shapes: Shape[] = [[2, 3, 5, 5], [1, 5, 4, 4], [9, 5], [3, 4, 9, 11]];
  for (const shape of shapes) {
    for (const training of [true, false]) {
      for (const fused of [false, true]) {
        it(`${training ? 'training' : 'eval'}${fused ? ' + fused ReLU' : ''} on ${JSON.stringify(shape)}: forward and all gradients`, async () => {
          const k = kinkFree(shape, 7);
          await compareOnDevices(
            ([x, g, b]) => batchNorm(x, g, b, training ? makeState(shape[1], x.device) : evalState(k.offsets, x.device), { training, relu: fused }),
            [k.x, k.gamma, k.beta],
            OP_TOL,
            OP_GRAD_TOL,
          );
        });
      }
    }
  }

  for (const device of ['cpu', 'webgpu'] as const) {
    for (const training of [true, false]) {
      it(`fused BN+ReLU equals BN then ReLU (${device}, ${training ? 'training' : 'eval'}): forward and all gradients`, async () => {
        const shape = [3, 4, 6, 5];
        const k = kinkFree(shape, 11);
        const st = () => (training ? makeState(4, device) : evalState(k.offsets, device));
        const fused = await runWithGrads(([x, g, b]) => batchNorm(x, g, b, st(), { training, relu: true }), [k.x, k.gamma, k.beta], device);
        const unfused = await runWithGrads(([x, g, b]) => relu(batchNorm(x, g, b, st(), { training })), [k.x, k.gamma, k.beta], device);
        // Same arithmetic in both paths (the mask is recomputed with the forward's expression):
        // equal up to the order of a few f32 operations.
        const tol = { atol: 1e-6, rtol: 1e-6 };
        ['y', 'dx', 'dgamma', 'dbeta'].forEach((what, i) => compareArrays(what, fused[i], unfused[i], tol));
      });
    }
  }

  it('the fused path saves dispatches: 3 forward + 3 backward', async () => {
    const rt = gpu();
    const shape = [2, 4, 6, 6];
    const k = kinkFree(shape, 3);
    const count = (fused: boolean) =>
      scope(() => {
        const xs = [k.x, k.gamma, k.beta].map((i) => {
          const t = Tensor.from(i.data, i.shape, 'webgpu');
          t.requiresGrad = true;
          return t;
        });
        const st = makeState(4, 'webgpu');
        const before = rt.dispatchCount;
        const y = fused ? batchNorm(xs[0], xs[1], xs[2], st, { training: true, relu: true }) : relu(batchNorm(xs[0], xs[1], xs[2], st, { training: true }));
        const forward = rt.dispatchCount - before;
        const loss = sum(y);
        const mid = rt.dispatchCount;
        loss.backward();
        return [forward, rt.dispatchCount - mid];
      });
    const [fusedFwd, fusedBwd] = count(true);
    const [plainFwd, plainBwd] = count(false);
    expect(fusedFwd).toBe(3); // statistics partials, merge, normalize+ReLU
    expect(plainFwd).toBe(4);
    expect(plainBwd - fusedBwd).toBe(1); // the separate ReLU backward
    await rt.sync();
  });

  for (const device of ['cpu', 'webgpu'] as const) {
    it(`training updates the running statistics in place (momentum, unbiased variance) on ${device}`, async () => {
      const shape = [3, 2, 5, 3];
      const m = 3 * 15;
      const st = makeState(2, device, 0.25);
      const rm0 = await st.runningMean.toArray();
      const rv0 = await st.runningVar.toArray();
      const steps = [input(shape, 60, -2, 3), input(shape, 61, 0, 1)];
      let wantMean = [...rm0];
      let wantVar = [...rv0];
      for (const step of steps) {
        scope(() => void batchNorm(Tensor.from(step.data, shape, device), Tensor.full([2], 1, device), Tensor.zeros([2], device), st, { training: true }));
        const ref = reference(step.data, shape);
        wantMean = wantMean.map((r, c) => 0.75 * r + 0.25 * ref.mean[c]);
        wantVar = wantVar.map((r, c) => 0.75 * r + 0.25 * ref.variance[c] * (m / (m - 1)));
      }
      // f32 storage of the running values and statistics: a few ulps.
      compareArrays('running mean', await st.runningMean.toArray(), wantMean, { atol: 1e-6, rtol: 1e-5 });
      compareArrays('running var', await st.runningVar.toArray(), wantVar, { atol: 1e-6, rtol: 1e-5 });
      // eval mode leaves them alone
      scope(() => void batchNorm(Tensor.from(steps[0].data, shape, device), Tensor.full([2], 1, device), Tensor.zeros([2], device), st, { training: false }));
      compareArrays('running mean after eval', await st.runningMean.toArray(), wantMean, { atol: 1e-6, rtol: 1e-5 });
      st.runningMean.release();
      st.runningVar.release();
    });

    it(`eval mode normalizes with the running statistics on ${device}`, async () => {
      const shape = [2, 3, 3, 5];
      const st = makeState(3, device, 0.1, 1e-3);
      const x = input(shape, 70, -2, 2);
      const [g, b] = [input([3], 71), input([3], 72)];
      const y = scope(() => batchNorm(Tensor.from(x.data, shape, device), Tensor.from(g.data, [3], device), Tensor.from(b.data, [3], device), st, { training: false }));
      const rm = await st.runningMean.toArray();
      const rv = await st.runningVar.toArray();
      const want = Array.from(x.data, (v, i) => {
        const c = Math.floor(i / 15) % 3;
        return ((v - rm[c]) / Math.sqrt(rv[c] + 1e-3)) * g.data[c] + b.data[c];
      });
      compareArrays('eval y', await y.toArray(), want, ELEMENTWISE_TOL);
      [y, st.runningMean, st.runningVar].forEach((t) => t.release());
    });

    it(`batch size 1 normalizes over one image's pixels; M = 1 keeps running_var finite (${device})`, async () => {
      const shape = [1, 3, 4, 5];
      const st = makeState(3, device);
      const x = input(shape, 80, 5, 9);
      const y = await scope(() => batchNorm(Tensor.from(x.data, shape, device), Tensor.full([3], 1, device), Tensor.zeros([3], device), st, { training: true })).toArray();
      for (let c = 0; c < 3; c++) {
        const vals = y.slice(c * 20, (c + 1) * 20);
        const mu = vals.reduce((a, v) => a + v, 0) / 20;
        const v = vals.reduce((a, t) => a + (t - mu) ** 2, 0) / 20;
        expect(Math.abs(mu)).toBeLessThan(1e-5); // sums of 20 f32 values of magnitude ~1
        expect(Math.abs(v - 1)).toBeLessThan(1e-3); // var / (var + eps) with var ~1.3, eps 1e-5
      }
      // [1, C]: one value per channel. y = beta, running_var unchanged (no unbiased estimate).
      const rv0 = await st.runningVar.toArray();
      const y1 = await scope(() => batchNorm(Tensor.from([3, -4, 7], [1, 3], device), Tensor.full([3], 2, device), Tensor.from([0.5, -1, 0], [3], device), st, { training: true })).toArray();
      expect([...y1]).toEqual([0.5, -1, 0]);
      expect([...(await st.runningVar.toArray())]).toEqual([...rv0]);
      st.runningMean.release();
      st.runningVar.release();
    });
  }
});

// ---- gradients against finite differences (float64, CPU) ---------------------------------------

describe('batchNorm gradients (finite differences, float64)', () => {
  const cases: Shape[] = [[2, 3, 3, 2], [1, 3, 2, 3], [5, 3]];
  for (const shape of cases) {
    const c = shape[1];
    for (const fused of [false, true]) {
      it(`training${fused ? ' + fused ReLU' : ''} on ${JSON.stringify(shape)}`, () => {
        const k = kinkFree(shape, 21);
        const st = makeState(c, 'cpu');
        gradCheck(([x, g, b]) => batchNorm(x, g, b, st, { training: true, relu: fused }), [k.x, k.gamma, k.beta]);
      });
      it(`eval${fused ? ' + fused ReLU' : ''} on ${JSON.stringify(shape)}`, () => {
        const k = kinkFree(shape, 22);
        const st = evalState(k.offsets, 'cpu');
        gradCheck(([x, g, b]) => batchNorm(x, g, b, st, { training: false, relu: fused }), [k.x, k.gamma, k.beta]);
      });
    }
  }
  it('training with only gamma and beta requiring gradients, and with only x', () => {
    const k = kinkFree([2, 3, 2, 2], 23);
    const st = makeState(3, 'cpu');
    gradCheck(([x, g, b]) => batchNorm(x, g, b, st, { training: true, relu: true }), [k.x, k.gamma, k.beta], { noGrad: [0] });
    gradCheck(([x, g, b]) => batchNorm(x, g, b, st, { training: true, relu: true }), [k.x, k.gamma, k.beta], { noGrad: [1, 2] });
    gradCheck(([x, g, b]) => batchNorm(x, g, b, st, { training: false }), [k.x, k.gamma, k.beta], { noGrad: [0] });
  });
});

describe('batchNorm errors', () => {
  const x = Tensor.zeros([2, 3, 4, 4]);
  const c3 = () => Tensor.zeros([3]);
  const st = (over: Partial<BatchNormState> = {}): BatchNormState => ({ runningMean: c3(), runningVar: Tensor.full([3], 1), momentum: 0.1, eps: 1e-5, ...over });
  it('x rank', () => {
    expect(() => batchNorm(Tensor.zeros([2, 3, 4]), c3(), c3(), st(), { training: true })).toThrow('batchNorm: x has shape [2, 3, 4]; expected rank 4 ([N, C, H, W]) or rank 2 ([N, C])');
  });
  it('per-channel tensors', () => {
    expect(() => batchNorm(x, Tensor.zeros([4]), c3(), st(), { training: true })).toThrow('batchNorm: gamma has shape [4]; expected [C] = [3] (one value per channel of x [2, 3, 4, 4])');
    expect(() => batchNorm(x, c3(), Tensor.zeros([1, 3]), st(), { training: true })).toThrow('batchNorm: beta has shape [1, 3]; expected [C] = [3]');
    expect(() => batchNorm(x, c3(), c3(), st({ runningMean: Tensor.zeros([2]) }), { training: false })).toThrow('batchNorm: state.runningMean has shape [2]; expected [C] = [3]');
    expect(() => batchNorm(x, c3(), c3(), st({ runningVar: Tensor.zeros([6]) }), { training: true })).toThrow('batchNorm: state.runningVar has shape [6]; expected [C] = [3]');
  });
  it('hyper-parameters and options', () => {
    expect(() => batchNorm(x, c3(), c3(), st({ momentum: 1.5 }), { training: true })).toThrow('batchNorm: state.momentum must be a number in [0, 1], got 1.5');
    expect(() => batchNorm(x, c3(), c3(), st({ eps: -1 }), { training: true })).toThrow('batchNorm: state.eps must be a finite number >= 0, got -1');
    expect(() => batchNorm(x, c3(), c3(), st(), {} as { training: boolean })).toThrow('batchNorm: opts.training must be true or false, got undefined');
  });
  it('no values per channel in training mode', () => {
    expect(() => batchNorm(Tensor.zeros([0, 3, 4, 4]), c3(), c3(), st(), { training: true })).toThrow('batchNorm: x [0, 3, 4, 4] has no values per channel (N*H*W = 0)');
  });
});
